//! How long job attempts take, by queue and outcome, in this process: histograms for the
//! metrics.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

/// The histograms' upper bounds, in seconds (the last bucket is everything above).
pub const JOB_DURATION_BOUNDS: [f64; 9] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0];

/// One histogram: the attempts in each bucket (not cumulative), their total time and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DurationHistogram {
    /// Attempts per bucket of [`JOB_DURATION_BOUNDS`], then above the last bound.
    pub buckets: [u64; JOB_DURATION_BOUNDS.len() + 1],
    /// The attempts' total time, in seconds.
    pub sum_seconds: f64,
    /// How many attempts.
    pub count: u64,
}

/// The attempts' durations by `(queue, outcome)`; outcome is `succeeded` or `failed`.
#[derive(Debug, Default)]
pub struct JobDurations {
    histograms: Mutex<BTreeMap<(&'static str, &'static str), DurationHistogram>>,
}

impl JobDurations {
    /// Records one attempt on `queue` that ended with `outcome` after `took`.
    pub fn record(&self, queue: &'static str, outcome: &'static str, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket =
            JOB_DURATION_BOUNDS.iter().position(|bound| seconds <= *bound).unwrap_or(JOB_DURATION_BOUNDS.len());
        let mut histograms = self.histograms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let histogram = histograms.entry((queue, outcome)).or_default();
        histogram.buckets[bucket] += 1;
        histogram.sum_seconds += seconds;
        histogram.count += 1;
    }

    /// Every histogram so far.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, DurationHistogram)> {
        let histograms = self.histograms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        histograms.iter().map(|((queue, outcome), histogram)| (*queue, *outcome, histogram.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_land_in_their_bucket_by_queue_and_outcome() {
        let durations = JobDurations::default();
        durations.record("mail", "succeeded", Duration::from_millis(5));
        durations.record("mail", "succeeded", Duration::from_millis(700));
        durations.record("mail", "failed", Duration::from_secs(1000));
        let snapshot = durations.snapshot();
        assert_eq!(snapshot.len(), 2);
        let (_, _, failed) = snapshot.iter().find(|(_, outcome, _)| *outcome == "failed").unwrap();
        assert_eq!((failed.count, failed.buckets[JOB_DURATION_BOUNDS.len()]), (1, 1));
        let (_, _, succeeded) = snapshot.iter().find(|(_, outcome, _)| *outcome == "succeeded").unwrap();
        assert_eq!(succeeded.count, 2);
        assert_eq!((succeeded.buckets[0], succeeded.buckets[4]), (1, 1));
        assert!((succeeded.sum_seconds - 0.705).abs() < 1e-9);
    }
}
