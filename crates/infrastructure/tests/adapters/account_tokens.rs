use chrono::Duration;
use forge_application::account::AccountTokenChange;
use forge_application::users::UserChange;
use forge_application::{
    account::ports::AccountTokenRepository,
    common::{CommitError, UnexpectedKind, UnitOfWork},
};
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    sessions::TokenDigest,
    users::User,
};
use forge_infrastructure::SeaAccountTokenRepository;

use crate::common::{Harness, t0, user};

fn token(user: &User, digest: &str, purpose: TokenPurpose) -> AccountToken {
    AccountToken::issue(
        TokenDigest::new(format!("{digest:0>64}")),
        user.id(),
        purpose,
        user.email().clone(),
        t0(),
        Duration::hours(24),
    )
}

async fn with_user() -> (Harness, SeaAccountTokenRepository, User) {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    h.uow.commit(changes![UserChange::Insert(ada.clone())]).await.unwrap();
    let tokens = SeaAccountTokenRepository::new(&h.database);
    (h, tokens, ada)
}

#[tokio::test]
async fn an_account_token_round_trips_with_its_purpose_address_and_expiry() {
    let (h, tokens, ada) = with_user().await;
    let verify = token(&ada, "a1", TokenPurpose::VerifyEmail);
    let reset = token(&ada, "b2", TokenPurpose::ResetPassword);
    h.uow
        .commit(changes![AccountTokenChange::Insert(verify.clone()), AccountTokenChange::Insert(reset.clone())])
        .await
        .unwrap();

    assert_eq!(tokens.by_digest(&verify.digest).await.unwrap(), Some(verify));
    assert_eq!(tokens.by_digest(&reset.digest).await.unwrap(), Some(reset));
    assert_eq!(tokens.by_digest(&TokenDigest::new("0".repeat(64))).await.unwrap(), None);
}

#[tokio::test]
async fn consuming_a_token_deletes_it_and_a_second_consumption_is_stale() {
    let (h, tokens, ada) = with_user().await;
    let verify = token(&ada, "a1", TokenPurpose::VerifyEmail);
    h.uow.commit(changes![AccountTokenChange::Insert(verify.clone())]).await.unwrap();

    h.uow.commit(changes![AccountTokenChange::Consume { digest: verify.digest.clone() }]).await.unwrap();
    assert_eq!(tokens.by_digest(&verify.digest).await.unwrap(), None);

    let err = h.uow.commit(changes![AccountTokenChange::Consume { digest: verify.digest.clone() }]).await.unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");
}

#[tokio::test]
async fn a_stale_consumption_rolls_back_everything_committed_with_it() {
    let (h, tokens, ada) = with_user().await;
    let fresh = token(&ada, "c3", TokenPurpose::ResetPassword);

    let err = h
        .uow
        .commit(changes![
            AccountTokenChange::Insert(fresh.clone()),
            AccountTokenChange::Consume { digest: TokenDigest::new("f".repeat(64)) },
        ])
        .await
        .unwrap_err();

    assert!(matches!(err, CommitError::Stale), "{err:?}");
    assert_eq!(tokens.by_digest(&fresh.digest).await.unwrap(), None);
}

#[tokio::test]
async fn discarding_removes_every_token_of_that_purpose_and_account_only() {
    let (h, tokens, ada) = with_user().await;
    let grace = user("grace@example.com", "grace");
    h.uow.commit(changes![UserChange::Insert(grace.clone())]).await.unwrap();
    let (first, second) = (token(&ada, "a1", TokenPurpose::VerifyEmail), token(&ada, "a2", TokenPurpose::VerifyEmail));
    let reset = token(&ada, "b1", TokenPurpose::ResetPassword);
    let other = token(&grace, "c1", TokenPurpose::VerifyEmail);
    h.uow
        .commit([&first, &second, &reset, &other].into_iter().map(|t| AccountTokenChange::Insert(t.clone())).collect())
        .await
        .unwrap();

    h.uow
        .commit(changes![AccountTokenChange::Discard { user_id: ada.id(), purpose: TokenPurpose::VerifyEmail }])
        .await
        .unwrap();

    assert_eq!(tokens.by_digest(&first.digest).await.unwrap(), None);
    assert_eq!(tokens.by_digest(&second.digest).await.unwrap(), None);
    assert_eq!(tokens.by_digest(&reset.digest).await.unwrap(), Some(reset));
    assert_eq!(tokens.by_digest(&other.digest).await.unwrap(), Some(other));
    // Nothing to discard is fine.
    h.uow
        .commit(changes![AccountTokenChange::Discard { user_id: ada.id(), purpose: TokenPurpose::VerifyEmail }])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_token_of_an_unknown_account_is_refused_by_the_foreign_key() {
    let h = Harness::new().await;
    let stranger = user("stranger@example.com", "stranger");
    let err = h
        .uow
        .commit(changes![AccountTokenChange::Insert(token(&stranger, "d1", TokenPurpose::VerifyEmail))])
        .await
        .unwrap_err();
    assert!(matches!(&err, CommitError::Unexpected(e) if e.kind() == UnexpectedKind::Internal), "{err:?}");
}
