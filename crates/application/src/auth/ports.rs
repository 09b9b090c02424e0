//! What authentication needs from the outside world.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::{
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::{PasswordHash, User, UserId},
};
use secrecy::SecretString;
use uuid::Uuid;

use crate::common::UnexpectedError;

/// Hashes and verifies passwords. Implementations run the work off the async executor, on a
/// bounded amount of CPU and memory: when too much work is already waiting they refuse more at
/// once with a [`UnexpectedKind::Busy`](crate::common::UnexpectedKind::Busy) error, before
/// anything is hashed, so a use case that hashes before it writes changes nothing then.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a password with a fresh salt.
    ///
    /// # Errors
    /// [`UnexpectedError`] if hashing fails, of kind `Busy` when the hasher has no room for it.
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, UnexpectedError>;

    /// Hashes many passwords, each with a fresh salt, returning the hashes in the same order.
    /// Implementations spread the work over the cores (bounded, so one call cannot take every
    /// thread); this default hashes them one after the other.
    ///
    /// # Errors
    /// [`UnexpectedError`] if any hashing fails (then no hash is returned), of kind `Busy` when
    /// the hasher has no room for the work.
    async fn hash_many(&self, passwords: Vec<SecretString>) -> Result<Vec<PasswordHash>, UnexpectedError> {
        let mut hashes = Vec::with_capacity(passwords.len());
        for password in passwords {
            hashes.push(self.hash(password).await?);
        }
        Ok(hashes)
    }

    /// Whether `password` matches `hash`. With no hash (unknown account) it verifies against a
    /// dummy hash and returns `false`, taking as long as a real verification, so that timing does
    /// not tell whether an account exists.
    ///
    /// # Errors
    /// [`UnexpectedError`] if verification cannot run (a malformed stored hash is `Ok(false)`),
    /// of kind `Busy` when the hasher has no room for it (with or without a hash).
    async fn verify(&self, password: SecretString, hash: Option<PasswordHash>) -> Result<bool, UnexpectedError>;
}

/// The claims of a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    /// `sub`: the user.
    pub user_id: UserId,
    /// `sid`: the session it belongs to.
    pub session_id: SessionId,
    /// `jti`: this token's id.
    pub token_id: Uuid,
    /// `iat`.
    pub issued_at: DateTime<Utc>,
    /// `exp`.
    pub expires_at: DateTime<Utc>,
}

/// An access token ready to hand to a client.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    /// The encoded token.
    pub token: SecretString,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Why an access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    /// Well-formed and correctly signed, but past its `exp`.
    #[error("the access token has expired")]
    Expired,
    /// Anything else: bad signature, wrong algorithm, issuer, audience or type, malformed.
    #[error("the access token is invalid")]
    Invalid,
}

/// Issues and verifies signed access tokens (JWT).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AccessTokens: Send + Sync {
    /// Issues a token for `user_id` in `session_id`, valid from `now` for the configured lifetime.
    ///
    /// # Errors
    /// [`UnexpectedError`] if signing fails.
    fn issue(
        &self,
        user_id: UserId,
        session_id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken, UnexpectedError>;

    /// Verifies signature, algorithm, issuer, audience, type and expiry at `now`.
    ///
    /// # Errors
    /// [`AccessTokenError`] saying why the token is refused.
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AccessTokenError>;
}

/// Makes and digests opaque random tokens (refresh tokens now; reset and verification tokens
/// later).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait OpaqueTokens: Send + Sync {
    /// A new token of at least 256 random bits, and its digest (the only thing stored).
    fn generate(&self) -> (SecretString, TokenDigest);

    /// The digest of a presented token, to look it up.
    fn digest(&self, token: &str) -> TokenDigest;
}

/// Reads sessions and refresh tokens. Writes go through [`UnitOfWork`](crate::common::UnitOfWork).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// The session with this id.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_id(&self, id: SessionId) -> Result<Option<Session>, UnexpectedError>;

    /// The refresh token with this digest.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn refresh_token(&self, digest: &TokenDigest) -> Result<Option<RefreshToken>, UnexpectedError>;

    /// The user's sessions that are neither revoked nor past their absolute expiry at `now`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn active_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> Result<Vec<Session>, UnexpectedError>;
}

/// Who an access token stands for, as stored now: the account, and whether the token's session
/// is still live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account, as it is now.
    pub user: User,
    /// False when the session has been ended (or does not exist, or is another account's): its
    /// access tokens are refused from that moment on, on every instance.
    pub session_live: bool,
}

/// The read made on every authenticated request: the account behind an access token and the
/// state of its session, together. Adapters read both in one statement (one round trip), so an
/// ended session is refused on the very next request by every instance, with no shared store
/// beside the database; a caching adapter must be invalidated by every write of either.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PrincipalRepository: Send + Sync {
    /// The account `user_id` and whether its session `session_id` is live; `None` when there is
    /// no such account.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails (callers must then refuse, not allow).
    async fn principal(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Principal>, UnexpectedError>;
}
