use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use forge_application::auth::ports::{AccessTokenError, AccessTokens, OpaqueTokens, PasswordHasher};
use forge_domain::{
    sessions::SessionId,
    users::{PasswordHash, UserId},
};
use forge_infrastructure::{Argon2Hasher, HashingPoolSettings, HashingPriority, JwtAccessTokens, RandomTokens};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn secret(raw: &str) -> SecretString {
    SecretString::from(raw.to_owned())
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap()
}

fn tokens() -> JwtAccessTokens {
    JwtAccessTokens::new(SECRET, "forge".to_owned(), "forge-api".to_owned(), Duration::minutes(15))
}

/// A token for the claims in `claims`, signed with `key` by `alg`.
fn forge_token(alg: Algorithm, key: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

fn valid_claims() -> Value {
    json!({
        "iss": "forge", "aud": "forge-api",
        "sub": UserId::generate().as_uuid(), "sid": SessionId::generate().as_uuid(), "jti": uuid::Uuid::new_v4(),
        "iat": now().timestamp(), "exp": now().timestamp() + 900, "typ": "access",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

mod passwords {
    use forge_application::common::UnexpectedKind;

    use super::*;

    fn pool(threads: usize, queue_capacity: usize) -> HashingPoolSettings {
        HashingPoolSettings { threads, queue_capacity, priority: HashingPriority::Nice(0), idle_release: None }
    }

    fn owasp() -> Argon2Hasher {
        Argon2Hasher::owasp(pool(2, 32)).unwrap()
    }

    #[tokio::test]
    async fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let hasher = owasp();
        let hash = hasher.hash(secret("Correct-Horse-42")).await.unwrap();

        assert!(hash.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.expose());
        assert!(hasher.verify(secret("Correct-Horse-42"), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify(secret("correct-horse-42"), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn each_hash_has_its_own_salt() {
        let hasher = owasp();
        let first = hasher.hash(secret("Correct-Horse-42")).await.unwrap();
        let second = hasher.hash(secret("Correct-Horse-42")).await.unwrap();
        assert_ne!(first.expose(), second.expose());
    }

    #[tokio::test]
    async fn verifying_without_a_hash_is_false() {
        let hasher = owasp();
        assert!(!hasher.verify(secret("anything"), None).await.unwrap());
    }

    #[tokio::test]
    async fn a_stored_hash_that_is_not_a_phc_string_is_false_not_an_error() {
        let hasher = owasp();
        for stored in ["", "plain-text-password", "$argon2id$v=19$m=19456,t=2,p=1$notbase64!$x", "$md5$abc$def"] {
            let verdict =
                hasher.verify(secret("plain-text-password"), Some(PasswordHash::new(stored.to_owned()))).await;
            assert!(!verdict.unwrap(), "{stored:?}");
        }
    }

    #[tokio::test]
    async fn hashing_many_keeps_the_order_salts_each_and_uses_the_configured_parameters() {
        let hasher = owasp();
        let passwords: Vec<String> = (0..5).map(|i| format!("Correct-Horse-{i}")).collect();

        let hashes = hasher.hash_many(passwords.iter().map(|p| secret(p)).collect()).await.unwrap();

        assert_eq!(hashes.len(), 5);
        for (password, hash) in passwords.iter().zip(&hashes) {
            assert!(hash.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.expose());
            assert!(hasher.verify(secret(password), Some(hash.clone())).await.unwrap(), "{password}");
        }
        assert!(!hasher.verify(secret(&passwords[1]), Some(hashes[0].clone())).await.unwrap(), "in order");
        assert!(hasher.hash_many(Vec::new()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_still_verify() {
        let cheap = Argon2Hasher::new(argon2::Params::new(8 * 1024, 1, 1, None).unwrap(), pool(1, 4)).unwrap();
        let hash = cheap.hash(secret("Correct-Horse-42")).await.unwrap();
        assert!(hash.expose().contains("m=8192,t=1,p=1"));
        assert!(owasp().verify(secret("Correct-Horse-42"), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn the_pool_never_runs_more_hashes_at_once_than_it_has_threads() {
        let hasher = Argon2Hasher::owasp(pool(2, 64)).unwrap();
        let stored = hasher.hash(secret("Correct-Horse-42")).await.unwrap();

        let verifications = (0..12).map(|i| {
            let (hasher, stored) = (hasher.clone(), stored.clone());
            // Known and unknown accounts alike: the dummy verification runs on the pool too.
            tokio::spawn(async move { hasher.verify(secret("Correct-Horse-42"), (i % 2 == 0).then_some(stored)).await })
        });
        let hashes = (0..4).map(|_| {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(secret("Correct-Horse-42")).await.map(|_| true) })
        });
        for task in verifications.chain(hashes).collect::<Vec<_>>() {
            task.await.unwrap().unwrap();
        }

        let stats = hasher.stats();
        assert_eq!(stats.completed, 1 + 12 + 4, "{stats:?}");
        // Never more than the threads; and as many, or the counter would prove nothing.
        assert_eq!(stats.peak_in_flight, 2, "{stats:?}");
        assert_eq!((stats.in_flight, stats.queued, stats.rejected), (0, 0, 0), "{stats:?}");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_with_busy_and_hashes_nothing_for_the_refused() {
        let hasher = Argon2Hasher::owasp(pool(1, 1)).unwrap();

        let attempts: Vec<_> = (0..8)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(secret("Correct-Horse-42")).await })
            })
            .collect();
        let mut accepted = 0;
        let mut refused = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(e) => {
                    let UnexpectedKind::Busy { retry_after } = e.kind() else { panic!("not busy: {e:?}") };
                    assert!(retry_after >= chrono::Duration::seconds(1), "{retry_after}");
                    refused += 1;
                }
            }
        }

        let stats = hasher.stats();
        assert!(refused >= 1, "one thread and one place in the queue cannot take eight hashes at once");
        assert_eq!(stats.rejected, refused, "{stats:?}");
        assert_eq!(stats.completed, accepted, "only accepted work was hashed: {stats:?}");
        assert!(stats.peak_in_flight <= 1, "{stats:?}");
    }

    #[tokio::test]
    async fn a_verification_is_refused_with_busy_too() {
        let hasher = Argon2Hasher::owasp(pool(1, 1)).unwrap();
        let attempts: Vec<_> = (0..8)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.verify(secret("guess"), None).await.map(|_| i) })
            })
            .collect();
        let mut refused = 0;
        for attempt in attempts {
            if let Err(e) = attempt.await.unwrap() {
                assert!(matches!(e.kind(), UnexpectedKind::Busy { .. }), "{e:?}");
                refused += 1;
            }
        }
        assert!(refused >= 1);
    }

    #[tokio::test]
    async fn hashing_many_goes_through_the_pool_a_few_at_a_time() {
        let hasher = Argon2Hasher::owasp(pool(2, 2)).unwrap();
        let passwords: Vec<_> = (0..9).map(|i| secret(&format!("Correct-Horse-{i}"))).collect();

        let hashes = hasher.hash_many(passwords).await.unwrap();

        let stats = hasher.stats();
        assert_eq!(hashes.len(), 9);
        assert_eq!(stats.completed, 9, "every hash ran on the pool: {stats:?}");
        assert!(stats.peak_in_flight <= 2, "{stats:?}");
        assert_eq!(stats.rejected, 0, "a batch never takes more of the queue than the pool has threads");
    }

    #[tokio::test]
    async fn hashing_many_fails_busy_when_the_queue_is_full_and_returns_no_hash() {
        let hasher = Argon2Hasher::owasp(pool(1, 1)).unwrap();
        // Occupy the thread, then the one place in the queue.
        let running = spawn_hash(&hasher);
        until(&hasher, |s| s.in_flight == 1).await;
        let queued = spawn_hash(&hasher);
        until(&hasher, |s| s.queued == 1).await;

        let refused = hasher.hash_many(vec![secret("a"), secret("b"), secret("c")]).await.unwrap_err();

        assert!(matches!(refused.kind(), UnexpectedKind::Busy { .. }), "{refused:?}");
        running.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
        assert_eq!(hasher.stats().completed, 2, "nothing of the batch was hashed");
    }

    fn spawn_hash(
        hasher: &Argon2Hasher,
    ) -> tokio::task::JoinHandle<Result<PasswordHash, forge_application::UnexpectedError>> {
        let hasher = hasher.clone();
        tokio::spawn(async move { hasher.hash(secret("Correct-Horse-42")).await })
    }

    /// Waits (a few seconds at most) until the pool's figures satisfy `condition`.
    async fn until(hasher: &Argon2Hasher, condition: impl Fn(&forge_infrastructure::HashingPoolStats) -> bool) {
        for _ in 0..1000 {
            if condition(&hasher.stats()) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        panic!("the pool never reached the state: {:?}", hasher.stats());
    }
}

mod access_tokens {
    use super::*;

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let (user, session) = (UserId::generate(), SessionId::generate());
        let issued = tokens().issue(user, session, now()).unwrap();
        assert_eq!(issued.expires_in, 900);

        let claims = tokens().verify(issued.token.expose_secret(), now() + Duration::minutes(14)).unwrap();
        assert_eq!((claims.user_id, claims.session_id), (user, session));
        assert_eq!(claims.issued_at, now());
        assert_eq!(claims.expires_at, now() + Duration::minutes(15));
    }

    #[test]
    fn every_token_has_its_own_id() {
        let (user, session) = (UserId::generate(), SessionId::generate());
        let id = |token: SecretString| tokens().verify(token.expose_secret(), now()).unwrap().token_id;
        let first = id(tokens().issue(user, session, now()).unwrap().token);
        let second = id(tokens().issue(user, session, now()).unwrap().token);
        assert_ne!(first, second);
    }

    #[test]
    fn a_token_past_its_expiry_is_expired() {
        let issued = tokens().issue(UserId::generate(), SessionId::generate(), now()).unwrap();
        let token = issued.token.expose_secret();

        assert_eq!(tokens().verify(token, now() + Duration::minutes(16)), Err(AccessTokenError::Expired));
        assert_eq!(tokens().verify(token, now() + Duration::days(365)), Err(AccessTokenError::Expired));
        // Within the few seconds of leeway it still passes.
        assert!(tokens().verify(token, now() + Duration::minutes(15) + Duration::seconds(2)).is_ok());
    }

    #[test]
    fn a_remembered_token_still_expires_and_its_tampered_copies_are_still_invalid() {
        let tokens = tokens();
        let issued = tokens.issue(UserId::generate(), SessionId::generate(), now()).unwrap();
        let token = issued.token.expose_secret();
        let first = tokens.verify(token, now()).unwrap();
        assert_eq!(tokens.remembered(), 1, "a valid token is remembered");
        assert_eq!(tokens.verify(token, now() + Duration::minutes(1)).unwrap(), first);
        assert_eq!(tokens.remembered(), 1, "and not twice");

        // Expiry is checked on every use, remembered or not.
        assert_eq!(tokens.verify(token, now() + Duration::minutes(16)), Err(AccessTokenError::Expired));

        // A copy differing in one character of its signature or payload is checked, and refused.
        let mut signature_changed = token.to_owned();
        let last = signature_changed.pop().unwrap();
        signature_changed.push(if last == 'A' { 'B' } else { 'A' });
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(with(valid_claims(), "sub", json!(UserId::generate().as_uuid())).to_string());
        for tampered in [signature_changed, format!("{}.{}.{}", parts[0], forged_payload, parts[2])] {
            assert_eq!(tokens.verify(&tampered, now()), Err(AccessTokenError::Invalid));
        }
        assert_eq!(tokens.remembered(), 1, "an invalid token is never remembered");
    }

    #[test]
    fn an_expired_token_is_not_remembered() {
        let tokens = tokens();
        let issued = tokens.issue(UserId::generate(), SessionId::generate(), now()).unwrap();
        let later = now() + Duration::minutes(20);
        assert_eq!(tokens.verify(issued.token.expose_secret(), later), Err(AccessTokenError::Expired));
        assert_eq!(tokens.remembered(), 0);
    }

    #[test]
    fn a_tampered_payload_or_signature_is_invalid() {
        let issued = tokens().issue(UserId::generate(), SessionId::generate(), now()).unwrap();
        let parts: Vec<&str> = issued.token.expose_secret().split('.').collect();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(with(valid_claims(), "sub", json!(UserId::generate().as_uuid())).to_string());
        let tampered_payload = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[0] ^= 1;
        let tampered_signature = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(signature));

        for token in [tampered_payload, tampered_signature] {
            assert_eq!(tokens().verify(&token, now()), Err(AccessTokenError::Invalid));
        }
    }

    #[test]
    fn an_unsigned_alg_none_token_is_invalid() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(valid_claims().to_string());
        for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
            assert_eq!(tokens().verify(&token, now()), Err(AccessTokenError::Invalid));
        }
    }

    #[test]
    fn a_token_signed_with_another_algorithm_or_secret_is_invalid() {
        let claims = valid_claims();
        assert!(tokens().verify(&forge_token(Algorithm::HS256, SECRET, &claims), now()).is_ok());
        assert_eq!(
            tokens().verify(&forge_token(Algorithm::HS512, SECRET, &claims), now()),
            Err(AccessTokenError::Invalid)
        );
        assert_eq!(
            tokens().verify(&forge_token(Algorithm::HS256, b"another-secret-another-secret-!!", &claims), now()),
            Err(AccessTokenError::Invalid)
        );
    }

    #[test]
    fn a_token_for_another_audience_issuer_or_type_is_invalid() {
        for claims in [
            with(valid_claims(), "aud", json!("another-api")),
            with(valid_claims(), "iss", json!("someone-else")),
            with(valid_claims(), "typ", json!("refresh")),
        ] {
            assert_eq!(
                tokens().verify(&forge_token(Algorithm::HS256, SECRET, &claims), now()),
                Err(AccessTokenError::Invalid)
            );
        }
    }

    #[test]
    fn a_token_with_missing_or_malformed_claims_is_invalid() {
        let without = |key: &str| {
            let mut claims = valid_claims();
            claims.as_object_mut().unwrap().remove(key);
            claims
        };
        for claims in [
            without("exp"),
            without("iat"),
            without("sub"),
            without("sid"),
            without("typ"),
            with(valid_claims(), "sub", json!("not-a-uuid")),
            with(valid_claims(), "sid", json!(42)),
            with(valid_claims(), "exp", json!("tomorrow")),
        ] {
            assert_eq!(
                tokens().verify(&forge_token(Algorithm::HS256, SECRET, &claims), now()),
                Err(AccessTokenError::Invalid),
                "{claims}"
            );
        }
        for garbage in ["", "a.b.c", "not a token"] {
            assert_eq!(tokens().verify(garbage, now()), Err(AccessTokenError::Invalid));
        }
    }
}

mod opaque_tokens {
    use super::*;

    #[test]
    fn tokens_are_distinct_url_safe_and_at_least_43_characters() {
        let (first, _) = RandomTokens::new().generate();
        let (second, _) = RandomTokens::new().generate();
        for token in [&first, &second] {
            let raw = token.expose_secret();
            assert!(raw.len() >= 43, "{raw}");
            assert!(raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{raw}");
        }
        assert_ne!(first.expose_secret(), second.expose_secret());
    }

    #[test]
    fn the_digest_is_the_stable_hex_sha256_of_the_token() {
        let tokens = RandomTokens::new();
        let (token, digest) = tokens.generate();
        assert_eq!(tokens.digest(token.expose_secret()), digest);
        assert_eq!(digest.as_str(), hex::encode(Sha256::digest(token.expose_secret().as_bytes())));
        assert_eq!(digest.as_str().len(), 64);
        assert!(digest.as_str().chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_ne!(tokens.digest("another token"), digest);
    }
}
