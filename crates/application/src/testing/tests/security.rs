use chrono::Duration;
use forge_domain::{
    sessions::SessionId,
    users::{PasswordHash, UserId},
};
use secrecy::{ExposeSecret, SecretString};

use super::t0;
use crate::{
    auth::ports::{AccessTokenError, AccessTokens, OpaqueTokens, PasswordHasher},
    testing::{FakeAccessTokens, FakeOpaqueTokens, FakePasswordHasher},
};

#[tokio::test]
async fn a_hash_verifies_its_password_only_and_no_hash_or_a_foreign_one_is_false() {
    let hasher = FakePasswordHasher::new();
    let secret = || SecretString::from("Correct-Horse-9");

    let hash = hasher.hash(secret()).await.unwrap();
    let again = hasher.hash(secret()).await.unwrap();

    assert_ne!(hash, again, "salted");
    assert!(hash.expose().starts_with("$fake$") && !hash.expose().contains("Correct-Horse-9"));
    assert!(hasher.verify(secret(), Some(hash.clone())).await.unwrap());
    assert!(!hasher.verify(SecretString::from("correct-horse-9"), Some(hash)).await.unwrap());
    assert!(!hasher.verify(secret(), None).await.unwrap());
    let foreign = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    assert!(!hasher.verify(secret(), Some(foreign)).await.unwrap());
    assert_eq!(hasher.hash_many(vec![secret(), secret()]).await.unwrap().len(), 2);
}

#[test]
fn an_access_token_carries_its_claims_until_it_expires() {
    let tokens = FakeAccessTokens::new(Duration::minutes(15));
    let (user, session) = (UserId::generate(), SessionId::generate());

    let issued = tokens.issue(user, session, t0()).unwrap();
    let claims = tokens.verify(issued.token.expose_secret(), t0() + Duration::minutes(14)).unwrap();

    assert_eq!(issued.expires_in, 900);
    assert_eq!((claims.user_id, claims.session_id), (user, session));
    assert_eq!((claims.issued_at, claims.expires_at), (t0(), t0() + Duration::minutes(15)));
    let expired = tokens.verify(issued.token.expose_secret(), t0() + Duration::minutes(15) + Duration::seconds(5));
    assert_eq!(expired, Err(AccessTokenError::Expired));
    let within_leeway =
        tokens.verify(issued.token.expose_secret(), t0() + Duration::minutes(15) + Duration::seconds(4));
    assert!(within_leeway.is_ok(), "five seconds of leeway, as the JWT adapter allows");
}

#[test]
fn a_tampered_foreign_or_malformed_access_token_is_invalid() {
    let tokens = FakeAccessTokens::new(Duration::minutes(15));
    let issued = tokens.issue(UserId::generate(), SessionId::generate(), t0()).unwrap();
    let token = issued.token.expose_secret();

    let other_user = UserId::generate().as_uuid().simple().to_string();
    let (prefix, rest) = token.split_at("fake-access.".len());
    let tampered = format!("{prefix}{other_user}{}", &rest[other_user.len()..]);
    let later_expiry = token.replacen(&(t0().timestamp() + 900).to_string(), &(t0().timestamp() + 9000).to_string(), 1);
    let foreign = FakeAccessTokens::new(Duration::minutes(15)).issue(UserId::generate(), SessionId::generate(), t0());

    for bad in [tampered.as_str(), later_expiry.as_str(), foreign.unwrap().token.expose_secret(), "", "fake-access.x.y"]
    {
        assert_eq!(tokens.verify(bad, t0()), Err(AccessTokenError::Invalid), "{bad}");
    }
}

#[test]
fn opaque_tokens_are_distinct_url_safe_and_their_digest_is_deterministic() {
    let tokens = FakeOpaqueTokens::new();
    let generated: Vec<_> = (0..100).map(|_| tokens.generate()).collect();

    let mut distinct: Vec<&str> = generated.iter().map(|(token, _)| token.expose_secret()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 100);
    for (token, digest) in &generated {
        assert!(token.expose_secret().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(&tokens.digest(token.expose_secret()), digest);
        assert_eq!(FakeOpaqueTokens::new().digest(token.expose_secret()), *digest, "the same in another instance");
        assert_ne!(digest.as_str(), token.expose_secret());
    }
    assert_ne!(tokens.digest("a"), tokens.digest("b"));
}
