//! What a rate limiter keeps under one key, and the rules of counting: the same for every
//! in-process limiter (the server's, the in-memory fake); a shared limiter applies the same rules
//! where every instance counts together.

use chrono::{DateTime, Duration, Utc};

use super::{Decision, Limit, ports::FailureStreak};

/// The hits of a fixed window, or a streak of failures, under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Hits in a fixed window opened by the first of them.
    Window {
        /// Hits so far, refused ones included.
        hits: u64,
        /// When the window ends.
        ends_at: DateTime<Utc>,
    },
    /// Failures in a row, forgotten at `forget_at` unless another one comes first.
    Streak {
        /// How many, and the latest.
        streak: FailureStreak,
        /// When the streak is forgotten.
        forget_at: DateTime<Utc>,
    },
}

impl Counter {
    /// When the counter lapses and its key counts as new.
    #[must_use]
    pub const fn lapses_at(&self) -> DateTime<Utc> {
        match self {
            Self::Window { ends_at, .. } => *ends_at,
            Self::Streak { forget_at, .. } => *forget_at,
        }
    }

    /// Whether the counter still counts at `now`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.lapses_at()
    }

    /// A hit at `now` on a key holding `current`: the live window goes on; otherwise (nothing, a
    /// lapsed counter, a streak) a window of `limit` opens. Returns the counter to keep and the
    /// decision.
    #[must_use]
    pub fn hit(current: Option<&Self>, limit: &Limit, now: DateTime<Utc>) -> (Self, Decision) {
        let (hits, ends_at) = match current {
            Some(Self::Window { hits, ends_at }) if now < *ends_at => (hits.saturating_add(1), *ends_at),
            _ => (1, now + limit.window()),
        };
        (Self::Window { hits, ends_at }, Decision::from_count(limit, hits, ends_at - now))
    }

    /// A failure at `now` on a key holding `current`: the live streak grows by one, or a streak of
    /// one begins; either is forgotten `forget_after` from now. Returns the counter to keep and the
    /// streak.
    #[must_use]
    pub fn fail(current: Option<&Self>, forget_after: Duration, now: DateTime<Utc>) -> (Self, FailureStreak) {
        let before = match current {
            Some(Self::Streak { streak, forget_at }) if now < *forget_at => streak.failures,
            _ => 0,
        };
        let streak = FailureStreak { failures: before.saturating_add(1), last_failure_at: now };
        (Self::Streak { streak, forget_at: now + forget_after }, streak)
    }

    /// The live streak `current` holds at `now`, if any.
    #[must_use]
    pub fn streak(current: Option<&Self>, now: DateTime<Utc>) -> Option<FailureStreak> {
        match current {
            Some(Self::Streak { streak, forget_at }) if now < *forget_at => Some(*streak),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn a_window_opens_on_the_first_hit_counts_until_it_ends_then_opens_again() {
        let limit = Limit::new(2, Duration::seconds(60)).unwrap_or_else(|e| panic!("{e}"));
        let (first, decision) = Counter::hit(None, &limit, t(0));
        assert!(decision.allowed);
        let (second, _) = Counter::hit(Some(&first), &limit, t(30));
        let (third, refused) = Counter::hit(Some(&second), &limit, t(59));
        assert!(!refused.allowed);
        assert_eq!(third, Counter::Window { hits: 3, ends_at: t(60) });
        let (fresh, allowed) = Counter::hit(Some(&third), &limit, t(60));
        assert!(allowed.allowed);
        assert_eq!(fresh, Counter::Window { hits: 1, ends_at: t(120) });
    }

    #[test]
    fn a_streak_grows_while_failures_keep_coming_and_is_forgotten_after_a_quiet_spell() {
        let forget = Duration::minutes(15);
        let (one, _) = Counter::fail(None, forget, t(0));
        let (two, streak) = Counter::fail(Some(&one), forget, t(60));
        assert_eq!(streak.failures, 2);
        assert_eq!(Counter::streak(Some(&two), t(60 + 899)).map(|s| s.failures), Some(2));
        assert_eq!(Counter::streak(Some(&two), t(60 + 900)), None);
        let (_, again) = Counter::fail(Some(&two), forget, t(60 + 900));
        assert_eq!(again.failures, 1);
    }
}
