//! Login sessions and the refresh tokens that keep them alive.
//!
//! A session is opened by a login and ended by logout, revocation or expiry. Each refresh token
//! can be used once: using it yields the next token of the same session. Presenting a token that
//! was already used is the mark of a stolen token, and ends the whole session.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::users::UserId;

/// The identifier of a session (UUID v7). Access tokens carry it as their `sid` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A new, time-ordered identifier.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
    /// The underlying UUID.
    #[must_use]
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for SessionId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The SHA-256 digest (hex) of an opaque token. Only digests are stored, never the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenDigest(String);

impl TokenDigest {
    /// Wraps a digest computed by the token adapter or read from storage.
    #[must_use]
    pub fn new(hex: String) -> Self {
        Self(hex)
    }
    /// The hex digest.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The absolute end of the session, whatever its use.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Why a session can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionState {
    /// Ended by logout, revocation or a detected token reuse.
    #[error("the session was revoked")]
    Revoked,
    /// Past its absolute or idle lifetime.
    #[error("the session expired")]
    Expired,
}

impl Session {
    /// Opens a session at `now` lasting at most `lifetime`.
    #[must_use]
    pub fn open(
        user_id: UserId,
        now: DateTime<Utc>,
        lifetime: Duration,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> Self {
        Self {
            id: SessionId::generate(),
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
            ip,
            user_agent,
        }
    }

    /// Whether the session may still be used at `now`, given an idle timeout.
    ///
    /// # Errors
    /// [`SessionState`] saying why not.
    pub fn ensure_usable(&self, now: DateTime<Utc>, idle_timeout: Duration) -> Result<(), SessionState> {
        if self.revoked_at.is_some() {
            Err(SessionState::Revoked)
        } else if now >= self.expires_at || now >= self.last_used_at + idle_timeout {
            Err(SessionState::Expired)
        } else {
            Ok(())
        }
    }

    /// When the session ends if it is not used again: its absolute expiry, or the end of its
    /// idle timeout, whichever comes first.
    #[must_use]
    pub fn effective_expiry(&self, idle_timeout: Duration) -> DateTime<Utc> {
        self.expires_at.min(self.last_used_at + idle_timeout)
    }

    /// Ends the session (idempotent: the first revocation time is kept).
    pub fn revoke(&mut self, now: DateTime<Utc>) {
        self.revoked_at.get_or_insert(now);
    }
}

/// One refresh token of a session, stored by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct RefreshToken {
    pub digest: TokenDigest,
    pub session_id: SessionId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for the next token; a token is single-use.
    pub used_at: Option<DateTime<Utc>>,
}

/// What presenting a refresh token amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshVerdict {
    /// First use: exchange it for a new pair.
    Rotate,
    /// Already used, but within the configured grace window: a parallel refresh from the same
    /// client; issue another pair without ending the session.
    GraceReuse,
    /// Already used outside the grace window: the token leaked; end the session.
    Reuse,
    /// Past its lifetime.
    Expired,
}

impl RefreshToken {
    /// Judges a presentation of this token at `now`.
    #[must_use]
    pub fn judge(&self, now: DateTime<Utc>, grace: Duration) -> RefreshVerdict {
        match self.used_at {
            Some(used) if grace > Duration::zero() && now - used <= grace => RefreshVerdict::GraceReuse,
            Some(_) => RefreshVerdict::Reuse,
            None if now >= self.expires_at => RefreshVerdict::Expired,
            None => RefreshVerdict::Rotate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn session() -> Session {
        Session::open(UserId::generate(), t0(), Duration::days(30), None, None)
    }

    #[test]
    fn a_fresh_session_is_usable_until_its_idle_or_absolute_limit() {
        let s = session();
        assert_eq!(s.ensure_usable(t0() + Duration::days(1), Duration::days(7)), Ok(()));
        assert_eq!(s.ensure_usable(t0() + Duration::days(8), Duration::days(7)), Err(SessionState::Expired));
        assert_eq!(s.ensure_usable(t0() + Duration::days(30), Duration::days(60)), Err(SessionState::Expired));
    }

    #[test]
    fn the_effective_expiry_is_the_earlier_of_idle_and_absolute_limits() {
        let mut s = session();
        assert_eq!(s.effective_expiry(Duration::days(7)), t0() + Duration::days(7));
        s.last_used_at = t0() + Duration::days(28);
        assert_eq!(s.effective_expiry(Duration::days(7)), t0() + Duration::days(30));
    }

    #[test]
    fn a_revoked_session_stays_revoked_and_keeps_its_first_revocation_time() {
        let mut s = session();
        s.revoke(t0() + Duration::hours(1));
        s.revoke(t0() + Duration::hours(2));
        assert_eq!(s.revoked_at, Some(t0() + Duration::hours(1)));
        assert_eq!(s.ensure_usable(t0() + Duration::hours(3), Duration::days(7)), Err(SessionState::Revoked));
    }

    fn token(used_at: Option<DateTime<Utc>>) -> RefreshToken {
        RefreshToken {
            digest: TokenDigest::new("d".into()),
            session_id: SessionId::generate(),
            issued_at: t0(),
            expires_at: t0() + Duration::days(30),
            used_at,
        }
    }

    #[test]
    fn an_unused_token_rotates_until_it_expires() {
        assert_eq!(token(None).judge(t0(), Duration::zero()), RefreshVerdict::Rotate);
        assert_eq!(token(None).judge(t0() + Duration::days(30), Duration::zero()), RefreshVerdict::Expired);
    }

    #[test]
    fn a_used_token_is_reuse_unless_within_the_grace_window() {
        let used = token(Some(t0()));
        assert_eq!(used.judge(t0() + Duration::seconds(1), Duration::zero()), RefreshVerdict::Reuse);
        assert_eq!(used.judge(t0() + Duration::seconds(5), Duration::seconds(10)), RefreshVerdict::GraceReuse);
        assert_eq!(used.judge(t0() + Duration::seconds(11), Duration::seconds(10)), RefreshVerdict::Reuse);
    }
}
