//! Password hashing and tokens for tests: cheap, deterministic where a test needs it, and as
//! strict as the real adapters about what they accept. **None of them is secure**: they hash and
//! seal with a non-cryptographic function (FNV-1a), so they must never guard real data.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_domain::{
    sessions::{SessionId, TokenDigest},
    users::{PasswordHash, UserId},
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::{
    auth::ports::{AccessClaims, AccessTokenError, AccessTokens, IssuedAccessToken, OpaqueTokens, PasswordHasher},
    common::UnexpectedError,
};

/// A 128-bit fingerprint of `parts` (each length-prefixed, so `("ab", "c")` and `("a", "bc")`
/// differ) as 32 hex digits: FNV-1a from two offset bases. Deterministic and quick; trivially
/// forged by anyone who wants to, which no test does.
fn fingerprint(parts: &[&[u8]]) -> String {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut halves = [0xcbf2_9ce4_8422_2325_u64, 0x8422_2325_cbf2_9ce4_u64];
    for half in &mut halves {
        for part in parts {
            for byte in u64::try_from(part.len()).unwrap_or(u64::MAX).to_le_bytes().iter().chain(part.iter()) {
                *half ^= u64::from(*byte);
                *half = half.wrapping_mul(PRIME);
            }
        }
    }
    let [high, low] = halves;
    format!("{high:016x}{low:016x}")
}

/// The tag that opens every hash of [`FakePasswordHasher`], as `$argon2id$` opens the real ones.
const HASH_TAG: &str = "$fake$";

/// [`PasswordHasher`] for tests, taking microseconds instead of argon2's fraction of a second
/// (seconds in a debug build).
///
/// A hash reads `$fake$<salt>$<fingerprint of salt and password>`: salted (two hashes of one
/// password differ) and not the password in clear, but **not secure**. [`PasswordHasher::verify`]
/// answers `false` for no hash (an unknown account, as the port's contract says) and for a hash
/// it did not make (a malformed or real argon2 hash), never an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct FakePasswordHasher;

impl FakePasswordHasher {
    /// The hasher.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }

    /// The hash of `password` with a fresh salt, at once (for seeding users without a runtime).
    #[must_use]
    pub fn hash_now(&self, password: &str) -> PasswordHash {
        let salt = Uuid::new_v4().simple().to_string();
        PasswordHash::new(format!("{HASH_TAG}{salt}${}", fingerprint(&[salt.as_bytes(), password.as_bytes()])))
    }

    /// Whether `password` is the one `hash` was made from (`false` for a hash of another kind).
    #[must_use]
    pub fn matches(&self, password: &str, hash: &PasswordHash) -> bool {
        hash.expose()
            .strip_prefix(HASH_TAG)
            .and_then(|rest| rest.split_once('$'))
            .is_some_and(|(salt, sealed)| sealed == fingerprint(&[salt.as_bytes(), password.as_bytes()]))
    }
}

#[async_trait]
impl PasswordHasher for FakePasswordHasher {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, UnexpectedError> {
        Ok(self.hash_now(password.expose_secret()))
    }

    async fn verify(&self, password: SecretString, hash: Option<PasswordHash>) -> Result<bool, UnexpectedError> {
        Ok(hash.is_some_and(|hash| self.matches(password.expose_secret(), &hash)))
    }
}

/// The prefix of every access token of [`FakeAccessTokens`].
const ACCESS_PREFIX: &str = "fake-access.";

/// Tolerance for clocks that disagree slightly, as the JWT adapter allows.
const LEEWAY_SECONDS: i64 = 5;

/// [`AccessTokens`] for tests: readable tokens sealed with a key of their own.
///
/// A token reads `fake-access.<user>.<session>.<token id>.<iat>.<exp>.<seal>`, instants in whole
/// seconds as in a JWT. [`AccessTokens::verify`] refuses anything it did not issue itself
/// ([`AccessTokenError::Invalid`]: a changed character, another instance's token, a real JWT)
/// and judges expiry against the `now` it is given, like the JWT adapter: expired once `now`
/// reaches `exp` plus five seconds of leeway ([`AccessTokenError::Expired`]). The seal is a
/// keyed FNV fingerprint, **not a signature**: it catches tampering in tests, not an attacker.
pub struct FakeAccessTokens {
    key: String,
    ttl: Duration,
}

impl FakeAccessTokens {
    /// Tokens valid for `ttl`, sealed with a fresh random key.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self { key: Uuid::new_v4().simple().to_string(), ttl }
    }

    fn seal(&self, payload: &str) -> String {
        fingerprint(&[self.key.as_bytes(), payload.as_bytes()])
    }
}

impl std::fmt::Debug for FakeAccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAccessTokens").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl AccessTokens for FakeAccessTokens {
    fn issue(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, UnexpectedError> {
        let issued_at = now.timestamp();
        let payload = format!(
            "{}.{}.{}.{issued_at}.{}",
            user_id.as_uuid().simple(),
            session_id.as_uuid().simple(),
            Uuid::new_v4().simple(),
            issued_at.saturating_add(self.ttl.num_seconds()),
        );
        let token = format!("{ACCESS_PREFIX}{payload}.{}", self.seal(&payload));
        Ok(IssuedAccessToken { token: SecretString::from(token), expires_in: self.ttl.num_seconds() })
    }

    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AccessTokenError> {
        let (payload, seal) = token
            .strip_prefix(ACCESS_PREFIX)
            .and_then(|rest| rest.rsplit_once('.'))
            .ok_or(AccessTokenError::Invalid)?;
        if seal != self.seal(payload) {
            return Err(AccessTokenError::Invalid);
        }
        let fields: Vec<&str> = payload.split('.').collect();
        let [user, session, token_id, issued_at, expires_at] = fields.as_slice() else {
            return Err(AccessTokenError::Invalid);
        };
        let uuid = |raw: &str| Uuid::parse_str(raw).map_err(|_| AccessTokenError::Invalid);
        let seconds = |raw: &str| raw.parse::<i64>().map_err(|_| AccessTokenError::Invalid);
        let instant = |secs: i64| DateTime::from_timestamp(secs, 0).ok_or(AccessTokenError::Invalid);
        let exp = seconds(expires_at)?;
        let claims = AccessClaims {
            user_id: UserId::from_uuid(uuid(user)?),
            session_id: SessionId::from(uuid(session)?),
            token_id: uuid(token_id)?,
            issued_at: instant(seconds(issued_at)?)?,
            expires_at: instant(exp)?,
        };
        if now.timestamp() >= exp.saturating_add(LEEWAY_SECONDS) {
            return Err(AccessTokenError::Expired);
        }
        Ok(claims)
    }
}

/// [`OpaqueTokens`] for tests: every token is new (a random part and a counter, 48 hex digits,
/// safe in a URL), and the digest of a token is always the same: an FNV-1a fingerprint of it,
/// 32 hex digits. **Not secure**: the random part has 122 bits, and the digest can be
/// forged.
#[derive(Debug, Default)]
pub struct FakeOpaqueTokens {
    issued: AtomicU64,
}

impl FakeOpaqueTokens {
    /// The token maker.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl OpaqueTokens for FakeOpaqueTokens {
    fn generate(&self) -> (SecretString, TokenDigest) {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}{n:016x}", Uuid::new_v4().simple());
        let digest = self.digest(&token);
        (SecretString::from(token), digest)
    }

    fn digest(&self, token: &str) -> TokenDigest {
        TokenDigest::new(fingerprint(&[token.as_bytes()]))
    }
}
