//! What limits and the lockout need from the outside world: counters with expiry (shared by
//! every instance in production) and the stored failed logins of each account.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_domain::users::UserId;

use super::{Decision, Limit};
use crate::common::UnexpectedError;

/// The longest subject a key keeps: anything longer (a junk login identifier) is cut, so one key
/// never costs more than a few hundred bytes whatever a client sends.
const MAX_SUBJECT_CHARS: usize = 256;

/// What a counter is kept for: a scope (`login:ip`, `login:account`, `lockout`) and a subject
/// (an address or a normalized identifier), as one string `scope:subject`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RateKey(String);

impl RateKey {
    /// The key of `subject` in `scope`; the subject is cut to 256 characters.
    #[must_use]
    pub fn new(scope: &str, subject: &str) -> Self {
        let subject: String = subject.chars().take(MAX_SUBJECT_CHARS).collect();
        Self(format!("{scope}:{subject}"))
    }

    /// The key as one string (what a shared store names its entry, after its own prefix).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Failures in a row, as a [`RateLimiter`] counts them for a login identifier that names no
/// account: how many, and when the last one was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureStreak {
    /// Failures since the streak began, at least 1.
    pub failures: u32,
    /// The latest of them.
    pub last_failure_at: DateTime<Utc>,
}

/// Counters with expiry. The in-process adapter keeps them in a bounded map; a shared adapter
/// (Redis) keeps them where every instance counts together. Both must count atomically: two
/// requests at once are two hits, never one.
///
/// Instants are passed in (`now`), read by the caller from the injectable clock, so adapters
/// judge expiry by the same clock as the use cases and tests move time instead of sleeping.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one hit of `key` against `limit`, in a fixed window that the first hit opens and
    /// that ends `limit.window()` later (Redis: `INCR`, with `EXPIRE` when the count is 1).
    /// Hits beyond the limit are counted too, but they never extend the window.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the store fails (callers refuse the request rather than let it
    /// through uncounted).
    async fn hit(&self, key: &RateKey, limit: &Limit, now: DateTime<Utc>) -> Result<Decision, UnexpectedError>;

    /// Counts one failure of `key`: a streak that is forgotten once `forget_after` passes without
    /// a further failure (each failure pushes the expiry back). Returns the streak including this
    /// failure.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the store fails.
    async fn record_failure(
        &self,
        key: &RateKey,
        forget_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<FailureStreak, UnexpectedError>;

    /// The streak of `key` at `now`, unless it has been forgotten.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the store fails.
    async fn failures(&self, key: &RateKey, now: DateTime<Utc>) -> Result<Option<FailureStreak>, UnexpectedError>;
}

/// The failed logins of one account in a row, stored in a table of their own (not on the user,
/// so that a failed login changes neither the account's version nor its `ETag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// The account.
    pub user_id: UserId,
    /// Failed logins since the last success, unlock or lapse, at least 1.
    pub failures: u32,
    /// The latest of them.
    pub last_failure_at: DateTime<Utc>,
    /// Until when the account is locked, if the failures reached the lock threshold.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Reads the stored login throttles. Writes go through [`UnitOfWork`](crate::common::UnitOfWork)
/// ([`ThrottleChange`](super::ThrottleChange)).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LoginThrottleRepository: Send + Sync {
    /// The throttle of `user_id`, if it has any failed logins on record (lapsed or not).
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn for_user(&self, user_id: UserId) -> Result<Option<LoginThrottle>, UnexpectedError>;
}
