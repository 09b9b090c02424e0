//! The real clock.

use chrono::{DateTime, SubsecRound as _, Utc};
use forge_application::common::Clock;

/// [`Clock`] reading the system's wall clock, at microsecond precision: what both databases
/// store, so an entity a use case returns reads back identical from storage.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike as _;

    use super::*;

    #[test]
    fn the_clock_keeps_whole_microseconds() {
        for _ in 0..100 {
            assert_eq!(SystemClock.now().nanosecond() % 1_000, 0);
        }
    }
}
