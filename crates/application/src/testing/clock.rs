//! A clock that only moves when a test moves it.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use crate::common::Clock;

/// [`Clock`] stopped at an instant until a test sets it or moves it forward, so a test crosses an
/// expiry (an access token's, a lock's, a link's) by moving time instead of sleeping.
///
/// Share one clock between the use cases and the test through an `Arc`: an `Arc<FixedClock>` is
/// an `Arc<dyn Clock>`.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    /// The instant a [default](FixedClock::default) clock starts at: 2026-01-01T00:00:00Z, whole
    /// seconds, so instants survive storage at microsecond precision and tokens at seconds.
    #[must_use]
    pub fn default_start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// A clock stopped at `start`.
    #[must_use]
    pub const fn new(start: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(start) }
    }

    /// Stops the clock at `at` (backwards too).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at;
    }

    /// Moves the clock forward by `by` (backwards for a negative duration), stopping at the
    /// ends of time; returns the new now.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        let mut now = self.lock();
        let end = if by < Duration::zero() { DateTime::<Utc>::MIN_UTC } else { DateTime::<Utc>::MAX_UTC };
        *now = now.checked_add_signed(by).unwrap_or(end);
        *now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A plain value, always whole: a poisoned lock still holds a valid instant.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for FixedClock {
    fn default() -> Self {
        Self::new(Self::default_start())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}
