use chrono::Duration;
use forge_application::auth::SessionChange;
use forge_application::users::UserChange;
use forge_application::{
    auth::ports::{PrincipalRepository, SessionRepository},
    common::{Changes, CommitError, UnexpectedKind, UnitOfWork},
};
use forge_domain::{
    sessions::{Session, SessionId, TokenDigest},
    users::{User, UserId},
};
use forge_infrastructure::{Database, QueryStats, SeaUserRepository};
use tokio::task::JoinSet;

use crate::common::{Harness, refresh_token, session_for, t0, user};

/// A harness with one user in it.
async fn with_user() -> (Harness, User) {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    h.uow.commit(changes![UserChange::Insert(ada.clone())]).await.unwrap();
    (h, ada)
}

#[tokio::test]
async fn a_session_and_its_refresh_token_round_trip() {
    let (h, ada) = with_user().await;
    let session = session_for(&ada, t0());
    let token = refresh_token(session.id, "abc", t0());
    h.uow
        .commit(changes![SessionChange::Open(session.clone()), SessionChange::IssueRefreshToken(token.clone())])
        .await
        .unwrap();

    assert_eq!(h.sessions.by_id(session.id).await.unwrap(), Some(session));
    assert_eq!(h.sessions.refresh_token(&token.digest).await.unwrap(), Some(token));
    assert_eq!(h.sessions.by_id(SessionId::generate()).await.unwrap(), None);
    assert_eq!(h.sessions.refresh_token(&TokenDigest::new("0".repeat(64))).await.unwrap(), None);
}

#[tokio::test]
async fn client_details_longer_than_their_columns_are_cut_rather_than_refused() {
    let (h, ada) = with_user().await;
    let mut session = session_for(&ada, t0());
    session.ip = Some("9".repeat(100));
    session.user_agent = Some("é".repeat(600));
    h.uow.commit(changes![SessionChange::Open(session.clone())]).await.unwrap();

    let stored = h.sessions.by_id(session.id).await.unwrap().unwrap();
    assert_eq!(stored.ip.unwrap().chars().count(), 64);
    assert_eq!(stored.user_agent.unwrap().chars().count(), 512);
}

#[tokio::test]
async fn a_session_of_an_unknown_user_is_refused_by_the_foreign_key() {
    let h = Harness::new().await;
    let stranger = user("stranger@example.com", "stranger");
    let err = h.uow.commit(changes![SessionChange::Open(session_for(&stranger, t0()))]).await.unwrap_err();
    assert!(matches!(&err, CommitError::Unexpected(e) if e.kind() == UnexpectedKind::Internal), "{err:?}");
}

#[tokio::test]
async fn consuming_a_refresh_token_twice_is_stale_the_second_time() {
    let (h, ada) = with_user().await;
    let session = session_for(&ada, t0());
    let token = refresh_token(session.id, "abc", t0());
    h.uow
        .commit(changes![SessionChange::Open(session), SessionChange::IssueRefreshToken(token.clone())])
        .await
        .unwrap();
    let used_at = t0() + Duration::minutes(5);
    let consume = |at| changes![SessionChange::ConsumeRefreshToken { digest: token.digest.clone(), at }];

    h.uow.commit(consume(used_at)).await.unwrap();
    let err = h.uow.commit(consume(used_at + Duration::minutes(1))).await.unwrap_err();

    assert!(matches!(err, CommitError::Stale), "{err:?}");
    let stored = h.sessions.refresh_token(&token.digest).await.unwrap().unwrap();
    assert_eq!(stored.used_at, Some(used_at));
}

#[tokio::test]
async fn consuming_an_unknown_refresh_token_is_stale_and_rolls_back_the_rest() {
    let (h, ada) = with_user().await;
    let session = session_for(&ada, t0());
    h.uow.commit(changes![SessionChange::Open(session.clone())]).await.unwrap();
    let next = refresh_token(session.id, "next", t0());

    let err = h
        .uow
        .commit(changes![
            SessionChange::ConsumeRefreshToken { digest: TokenDigest::new("f".repeat(64)), at: t0() },
            SessionChange::IssueRefreshToken(next.clone()),
        ])
        .await
        .unwrap_err();

    assert!(matches!(err, CommitError::Stale), "{err:?}");
    assert_eq!(h.sessions.refresh_token(&next.digest).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_consumptions_of_one_refresh_token_succeed_exactly_once() {
    let (h, ada) = with_user().await;
    let session = session_for(&ada, t0());
    let token = refresh_token(session.id, "contested", t0());
    h.uow
        .commit(changes![SessionChange::Open(session.clone()), SessionChange::IssueRefreshToken(token.clone())])
        .await
        .unwrap();

    let mut tasks = JoinSet::new();
    for i in 0..10 {
        let uow = h.uow.clone();
        let digest = token.digest.clone();
        // Each racer also stores its successor token, as a refresh does.
        let next = refresh_token(session.id, &format!("next{i}"), t0());
        tasks.spawn(async move {
            uow.commit(changes![
                SessionChange::ConsumeRefreshToken { digest, at: t0() },
                SessionChange::IssueRefreshToken(next)
            ])
            .await
        });
    }
    let (mut won, mut stale) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(()) => won += 1,
            Err(CommitError::Stale) => stale += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((won, stale), (1, 9));
    let mut successors = 0;
    for i in 0..10 {
        let digest = refresh_token(session.id, &format!("next{i}"), t0()).digest;
        successors += usize::from(h.sessions.refresh_token(&digest).await.unwrap().is_some());
    }
    assert_eq!(successors, 1, "only the winner's successor token is stored");
}

#[tokio::test]
async fn revoking_a_session_keeps_the_first_revocation_time() {
    let (h, ada) = with_user().await;
    let session = session_for(&ada, t0());
    h.uow.commit(changes![SessionChange::Open(session.clone())]).await.unwrap();
    let first = t0() + Duration::minutes(1);

    h.uow.commit(changes![SessionChange::Revoke { id: session.id, at: first }]).await.unwrap();
    h.uow.commit(changes![SessionChange::Revoke { id: session.id, at: first + Duration::minutes(1) }]).await.unwrap();

    assert_eq!(h.sessions.by_id(session.id).await.unwrap().unwrap().revoked_at, Some(first));
}

#[tokio::test]
async fn touching_a_session_moves_last_used_at_forward_only() {
    let (h, ada) = with_user().await;
    let session = session_for(&ada, t0());
    h.uow.commit(changes![SessionChange::Open(session.clone())]).await.unwrap();
    let later = t0() + Duration::hours(2);

    h.uow.commit(changes![SessionChange::Touch { id: session.id, at: later }]).await.unwrap();
    h.uow.commit(changes![SessionChange::Touch { id: session.id, at: t0() + Duration::hours(1) }]).await.unwrap();

    assert_eq!(h.sessions.by_id(session.id).await.unwrap().unwrap().last_used_at, later);
}

#[tokio::test]
async fn active_for_user_lists_only_the_users_unrevoked_unexpired_sessions() {
    let (h, ada) = with_user().await;
    let grace = user("grace@example.com", "grace");
    let now = t0() + Duration::days(10);
    let open = |at| session_for(&ada, at);
    let (older, newer) = (open(t0()), open(t0() + Duration::days(1)));
    let revoked = open(t0());
    let expired = Session { expires_at: now, ..open(t0()) };
    let others = session_for(&grace, t0());
    h.uow
        .commit(changes![
            UserChange::Insert(grace),
            SessionChange::Open(older.clone()),
            SessionChange::Open(newer.clone()),
            SessionChange::Open(revoked.clone()),
            SessionChange::Open(expired),
            SessionChange::Open(others),
            SessionChange::Revoke { id: revoked.id, at: t0() + Duration::days(2) },
        ])
        .await
        .unwrap();

    let active = h.sessions.active_for_user(ada.id(), now).await.unwrap();
    assert_eq!(active, [newer, older], "newest first");
}

#[tokio::test]
async fn the_principal_is_the_account_with_the_state_of_its_session_read_together() {
    let (h, ada) = with_user().await;
    let live = session_for(&ada, t0());
    let ended = session_for(&ada, t0());
    let bob = user("bob@example.com", "bob");
    h.uow.commit(UserChange::Insert(bob.clone()).into()).await.unwrap();
    let others = session_for(&bob, t0());
    h.uow
        .commit(Changes::from_iter([
            SessionChange::Open(live.clone()),
            SessionChange::Open(ended.clone()),
            SessionChange::Open(others.clone()),
            SessionChange::Revoke { id: ended.id, at: t0() + Duration::hours(1) },
        ]))
        .await
        .unwrap();

    let principal = h.users.principal(ada.id(), live.id).await.unwrap().unwrap();
    assert_eq!(principal.user, ada);
    assert!(principal.session_live);
    assert!(!h.users.principal(ada.id(), ended.id).await.unwrap().unwrap().session_live, "revoked");
    assert!(!h.users.principal(ada.id(), others.id).await.unwrap().unwrap().session_live, "another account's");
    assert!(!h.users.principal(ada.id(), SessionId::generate()).await.unwrap().unwrap().session_live, "none");
    assert!(h.users.principal(UserId::generate(), live.id).await.unwrap().is_none(), "no such account");
}

#[tokio::test]
async fn the_principal_is_one_statement_counted_in_the_statement_figures() {
    let (h, ada) = with_user().await;
    let session = session_for(&ada, t0());
    h.uow.commit(SessionChange::Open(session.clone()).into()).await.unwrap();
    // A pool of the test's own, counted from its start, and a repository built on it after.
    let mut database = Database::connect(h.db.url(), 2).await.unwrap();
    let stats = QueryStats::attach(&mut database);
    let users = SeaUserRepository::new(&database);

    let before = (stats.statements(), stats.latency().buckets.iter().sum::<u64>());
    let principal = users.principal(ada.id(), session.id).await.unwrap().unwrap();
    assert_eq!(principal.user, ada);
    assert!(principal.session_live);
    assert_eq!(stats.statements() - before.0, 1, "one statement");
    assert_eq!(stats.latency().buckets.iter().sum::<u64>() - before.1, 1, "and its latency");
    assert_eq!(stats.failed(), 0);

    // A statement that fails is counted as failed, and reported as the database being away.
    database.close().await.unwrap();
    let err = users.principal(ada.id(), session.id).await.unwrap_err();
    assert_eq!(err.kind(), UnexpectedKind::Unavailable, "{err:?}");
    assert_eq!(stats.statements() - before.0, 2);
    assert_eq!(stats.failed(), 1);
}
