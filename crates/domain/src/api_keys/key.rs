use std::fmt;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{AccessIntent, ApiKeyName, ApiKeyScopes};
use crate::{FieldViolation, sessions::TokenDigest, users::UserId};

/// What every API key starts with, so that a key is recognised as one wherever it is presented
/// (and by secret scanners when it leaks).
pub const KEY_PREFIX: &str = "sk_";

/// How many characters after [`KEY_PREFIX`] are kept in the clear, to tell keys apart.
const VISIBLE_CHARS: usize = 8;

/// `last_used_at` is written at most this often per key, so that using a key is not a write per
/// request.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// The identifier of an API key (UUID v7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(Uuid);

impl ApiKeyId {
    /// A new, time-ordered identifier.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Wraps an identifier read from storage or from a request path.
    #[must_use]
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The underlying UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a requested expiry is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExpiryError {
    /// Not an RFC 3339 timestamp.
    #[error("must be an RFC 3339 timestamp, e.g. 2030-01-31T00:00:00Z")]
    InvalidFormat,
    /// Now or earlier: the key would never work.
    #[error("must be in the future")]
    NotInFuture,
}

impl FieldViolation for ExpiryError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidFormat => "INVALID_FORMAT",
            Self::NotInFuture => "OUT_OF_RANGE",
        }
    }
}

/// Why a key can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyState {
    /// Revoked by its owner or an admin.
    #[error("the API key was revoked")]
    Revoked,
    /// Past its expiry.
    #[error("the API key has expired")]
    Expired,
}

/// What is needed to issue a key. The secret itself is made (and shown) by the caller; the key
/// keeps only its digest and visible prefix. `Debug` leaves the secret out.
#[derive(Clone)]
pub struct NewApiKey {
    /// The owner.
    pub user_id: UserId,
    /// What the owner calls it.
    pub name: ApiKeyName,
    /// What it may be used for.
    pub scopes: ApiKeyScopes,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// The full key (`sk_…`), only to take its visible prefix from.
    pub secret: String,
    /// The digest of the full key.
    pub digest: TokenDigest,
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewApiKey")
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("prefix", &ApiKey::visible_prefix(&self.secret))
            .finish_non_exhaustive()
    }
}

/// Every field of a stored key, for repositories rebuilding it from a row.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct ApiKeyParts {
    pub id: ApiKeyId,
    pub user_id: UserId,
    pub name: ApiKeyName,
    pub prefix: String,
    pub digest: TokenDigest,
    pub scopes: ApiKeyScopes,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An API key, as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    id: ApiKeyId,
    user_id: UserId,
    name: ApiKeyName,
    prefix: String,
    digest: TokenDigest,
    scopes: ApiKeyScopes,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Parses a requested expiry: an RFC 3339 timestamp after `now`, in UTC.
///
/// # Errors
/// [`ExpiryError`] saying what is wrong with it.
pub fn parse_expiry(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ExpiryError> {
    let at = DateTime::parse_from_rfc3339(raw.trim()).map_err(|_| ExpiryError::InvalidFormat)?.with_timezone(&Utc);
    if at <= now { Err(ExpiryError::NotInFuture) } else { Ok(at) }
}

impl ApiKey {
    /// Issues a key at `now`.
    ///
    /// # Errors
    /// [`ExpiryError::NotInFuture`] when `expires_at` is not after `now`.
    pub fn issue(new: NewApiKey, now: DateTime<Utc>) -> Result<Self, ExpiryError> {
        if new.expires_at.is_some_and(|at| at <= now) {
            return Err(ExpiryError::NotInFuture);
        }
        Ok(Self {
            id: ApiKeyId::generate(),
            user_id: new.user_id,
            name: new.name,
            prefix: Self::visible_prefix(&new.secret),
            digest: new.digest,
            scopes: new.scopes,
            created_at: now,
            last_used_at: None,
            expires_at: new.expires_at,
            revoked_at: None,
        })
    }

    /// Rebuilds a stored key.
    #[must_use]
    pub fn from_parts(p: ApiKeyParts) -> Self {
        Self {
            id: p.id,
            user_id: p.user_id,
            name: p.name,
            prefix: p.prefix,
            digest: p.digest,
            scopes: p.scopes,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            expires_at: p.expires_at,
            revoked_at: p.revoked_at,
        }
    }

    /// The part of a key shown in lists: [`KEY_PREFIX`] and the next 8 characters.
    #[must_use]
    pub fn visible_prefix(secret: &str) -> String {
        secret.chars().take(KEY_PREFIX.len() + VISIBLE_CHARS).collect()
    }

    /// Whether `raw` has the shape of a key at all (the prefix and something after it); anything
    /// else can be refused without a lookup.
    #[must_use]
    pub fn looks_like_key(raw: &str) -> bool {
        raw.len() > KEY_PREFIX.len() && raw.starts_with(KEY_PREFIX)
    }

    /// The identifier.
    #[must_use]
    pub const fn id(&self) -> ApiKeyId {
        self.id
    }
    /// The owner.
    #[must_use]
    pub const fn user_id(&self) -> UserId {
        self.user_id
    }
    /// What the owner calls it.
    #[must_use]
    pub const fn name(&self) -> &ApiKeyName {
        &self.name
    }
    /// `sk_` and the next 8 characters of the key.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    /// The SHA-256 digest of the key.
    #[must_use]
    pub const fn digest(&self) -> &TokenDigest {
        &self.digest
    }
    /// What it may be used for.
    #[must_use]
    pub const fn scopes(&self) -> &ApiKeyScopes {
        &self.scopes
    }
    /// When it was issued.
    #[must_use]
    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When it was last used, to the minute ([`TOUCH_INTERVAL`]).
    #[must_use]
    pub const fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.last_used_at
    }
    /// When it stops working, if ever.
    #[must_use]
    pub const fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
    /// When it was revoked, if it was.
    #[must_use]
    pub const fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at
    }
    /// Whether it was revoked.
    #[must_use]
    pub const fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// Whether the key may be used at `now`.
    ///
    /// # Errors
    /// [`ApiKeyState`] saying why not.
    pub fn ensure_usable(&self, now: DateTime<Utc>) -> Result<(), ApiKeyState> {
        if self.revoked_at.is_some() {
            Err(ApiKeyState::Revoked)
        } else if self.expires_at.is_some_and(|at| now >= at) {
            Err(ApiKeyState::Expired)
        } else {
            Ok(())
        }
    }

    /// Whether a request with `intent` is within the key's scopes.
    #[must_use]
    pub fn allows(&self, intent: AccessIntent) -> bool {
        self.scopes.allow(intent)
    }

    /// Whether using the key at `now` should be recorded: never used, or last recorded at least
    /// [`TOUCH_INTERVAL`] ago.
    #[must_use]
    pub fn is_due_for_touch(&self, now: DateTime<Utc>) -> bool {
        self.last_used_at.is_none_or(|at| now - at >= TOUCH_INTERVAL)
    }

    /// Records a use at `now` (only forward).
    pub fn touch(&mut self, now: DateTime<Utc>) {
        if self.last_used_at.is_none_or(|at| at < now) {
            self.last_used_at = Some(now);
        }
    }

    /// Revokes the key (idempotent: the first revocation time is kept).
    pub fn revoke(&mut self, now: DateTime<Utc>) {
        self.revoked_at.get_or_insert(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    const SECRET: &str = "sk_Ab3dE9xQrest-of-the-key-0123456789abcdefghi";

    fn new_key(expires_at: Option<DateTime<Utc>>) -> NewApiKey {
        NewApiKey {
            user_id: UserId::generate(),
            name: ApiKeyName::parse("ci").unwrap(),
            scopes: ApiKeyScopes::parse(["read"]).unwrap(),
            expires_at,
            secret: SECRET.to_owned(),
            digest: TokenDigest::new("d".repeat(64)),
        }
    }

    #[test]
    fn an_issued_key_shows_only_its_prefix_and_was_never_used() {
        let key = ApiKey::issue(new_key(None), t0()).unwrap();
        assert_eq!(key.prefix(), "sk_Ab3dE9xQ");
        assert_eq!(key.created_at(), t0());
        assert_eq!(key.last_used_at(), None);
        assert_eq!(key.ensure_usable(t0() + Duration::days(3650)), Ok(()));
        assert_eq!(key.id().as_uuid().get_version_num(), 7);
    }

    #[test]
    fn a_key_cannot_be_issued_already_expired() {
        assert_eq!(ApiKey::issue(new_key(Some(t0())), t0()), Err(ExpiryError::NotInFuture));
        assert!(ApiKey::issue(new_key(Some(t0() + Duration::seconds(1))), t0()).is_ok());
    }

    #[test]
    fn a_key_expires_at_its_expiry_and_revocation_wins_and_sticks() {
        let mut key = ApiKey::issue(new_key(Some(t0() + Duration::days(1))), t0()).unwrap();
        assert_eq!(key.ensure_usable(t0() + Duration::hours(23)), Ok(()));
        assert_eq!(key.ensure_usable(t0() + Duration::days(1)), Err(ApiKeyState::Expired));
        key.revoke(t0() + Duration::hours(1));
        key.revoke(t0() + Duration::hours(2));
        assert_eq!(key.revoked_at(), Some(t0() + Duration::hours(1)));
        assert_eq!(key.ensure_usable(t0() + Duration::days(2)), Err(ApiKeyState::Revoked));
    }

    #[test]
    fn use_is_recorded_at_most_once_a_minute() {
        let mut key = ApiKey::issue(new_key(None), t0()).unwrap();
        assert!(key.is_due_for_touch(t0()));
        key.touch(t0());
        assert!(!key.is_due_for_touch(t0() + Duration::seconds(59)));
        assert!(key.is_due_for_touch(t0() + Duration::seconds(60)));
        key.touch(t0() - Duration::hours(1));
        assert_eq!(key.last_used_at(), Some(t0()), "never moves back");
    }

    #[test]
    fn scopes_decide_what_a_key_allows() {
        let key = ApiKey::issue(new_key(None), t0()).unwrap();
        assert!(key.allows(AccessIntent::Read));
        assert!(!key.allows(AccessIntent::Write));
    }

    #[test]
    fn expiries_parse_as_rfc_3339_in_the_future_only() {
        assert_eq!(parse_expiry("2030-01-31T00:00:00Z", t0()).unwrap().to_rfc3339(), "2030-01-31T00:00:00+00:00");
        assert_eq!(
            parse_expiry("2030-01-31T02:00:00+02:00", t0()).unwrap(),
            parse_expiry("2030-01-31T00:00:00Z", t0()).unwrap()
        );
        assert_eq!(parse_expiry("tomorrow", t0()), Err(ExpiryError::InvalidFormat));
        assert_eq!(parse_expiry("2020-01-01T00:00:00Z", t0()), Err(ExpiryError::NotInFuture));
        assert_eq!(ExpiryError::NotInFuture.code(), "OUT_OF_RANGE");
    }

    #[test]
    fn the_debug_form_of_a_new_key_shows_its_prefix_not_the_secret() {
        let shown = format!("{:?}", new_key(None));
        assert!(shown.contains("sk_Ab3dE9xQ"), "{shown}");
        assert!(!shown.contains("rest-of-the-key"), "{shown}");
    }

    #[test]
    fn only_strings_with_the_prefix_look_like_keys() {
        assert!(ApiKey::looks_like_key(SECRET));
        assert!(!ApiKey::looks_like_key("sk_"));
        assert!(!ApiKey::looks_like_key("eyJhbGciOiJIUzI1NiJ9.x.y"));
    }
}
