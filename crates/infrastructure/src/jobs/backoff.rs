//! Exponential back-off with jitter between the attempts of a job.

use std::time::Duration;

use super::settings::QueueSettings;

/// The wait after failed attempt number `attempt` (from 1) under `settings`, before jitter:
/// `first_delay`, doubled after each further failure, never more than `max_delay`.
#[must_use]
pub fn delay_after(settings: &QueueSettings, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
    settings.first_delay.saturating_mul(factor).min(settings.max_delay)
}

/// `delay` with jitter: a point drawn from its upper half, `fraction` (0 to 1) saying where.
/// Half of the wait is kept so that a retry never comes at once; the other half spreads the
/// retries of jobs that failed together.
#[must_use]
pub fn jittered(delay: Duration, fraction: f64) -> Duration {
    let fraction = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
    let half = delay / 2;
    half + half.mul_f64(fraction)
}

/// The back-off of one job's attempts, for the retry layer: each call is the next wait.
#[derive(Debug, Clone)]
pub struct JitteredBackoff {
    settings: QueueSettings,
    failures: u32,
}

impl JitteredBackoff {
    /// The back-off of a job on a queue with `settings`, before any failure.
    #[must_use]
    pub const fn new(settings: QueueSettings) -> Self {
        Self { settings, failures: 0 }
    }

    /// The next wait, counting one more failure.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        jittered(delay_after(&self.settings, self.failures), rand::random::<f64>())
    }
}

impl tower::retry::backoff::Backoff for JitteredBackoff {
    type Future = tokio::time::Sleep;

    fn next_backoff(&mut self) -> Self::Future {
        tokio::time::sleep(self.next_delay())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> QueueSettings {
        QueueSettings {
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            ..QueueSettings::default()
        }
    }

    #[test]
    fn the_delay_doubles_after_each_failure_up_to_the_maximum() {
        let delays: Vec<u64> = (1..=6).map(|a| delay_after(&settings(), a).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60]);
        assert_eq!(delay_after(&settings(), u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_keeps_the_upper_half_of_the_delay() {
        let delay = Duration::from_secs(10);
        assert_eq!(jittered(delay, 0.0), Duration::from_secs(5));
        assert_eq!(jittered(delay, 1.0), Duration::from_secs(10));
        assert_eq!(jittered(delay, 0.5), Duration::from_millis(7500));
        assert_eq!(jittered(delay, f64::NAN), Duration::from_secs(5));
        assert_eq!(jittered(delay, 7.0), Duration::from_secs(10));
    }

    #[test]
    fn a_backoff_grows_with_each_failure_within_its_bounds() {
        let mut backoff = JitteredBackoff::new(settings());
        for attempt in 1..=8 {
            let delay = backoff.next_delay();
            let full = delay_after(&settings(), attempt);
            assert!(delay >= full / 2 && delay <= full, "attempt {attempt}: {delay:?} outside {full:?}");
        }
    }
}
