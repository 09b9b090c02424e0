//! Percentiles of measured durations.

use std::time::Duration;

/// Count, percentiles (nearest rank) and extremes of a set of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub count: usize,
    pub min: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    /// Summarises `values` (sorting them); `None` when there are none.
    pub fn of(values: &mut [Duration]) -> Option<Self> {
        values.sort_unstable();
        Some(Self {
            count: values.len(),
            min: *values.first()?,
            p50: nearest_rank(values, 500),
            p90: nearest_rank(values, 900),
            p99: nearest_rank(values, 990),
            max: *values.last()?,
        })
    }

    /// `NAME count=… min=… p50=… p90=… p99=… max=…`, in milliseconds.
    pub fn line(&self, name: &str) -> String {
        format!(
            "{name} count={} min={:.2} p50={:.2} p90={:.2} p99={:.2} max={:.2}",
            self.count,
            ms(self.min),
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// The `NAME` line of `values`, or `NAME count=0` without any.
pub fn line(name: &str, values: &mut [Duration]) -> String {
    Summary::of(values).map_or_else(|| format!("{name} count=0"), |s| s.line(name))
}

/// The smallest value with at least `per_mille`/1000 of the values at or below it.
fn nearest_rank(sorted: &[Duration], per_mille: usize) -> Duration {
    let rank = (sorted.len() * per_mille).div_ceil(1000).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_are_nearest_ranks() {
        let mut values = millis((1..=100).rev());
        let s = Summary::of(&mut values).unwrap();
        assert_eq!(s.count, 100);
        assert_eq!(s.min, Duration::from_millis(1));
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p90, Duration::from_millis(90));
        assert_eq!(s.p99, Duration::from_millis(99));
        assert_eq!(s.max, Duration::from_millis(100));
    }

    #[test]
    fn one_value_is_every_percentile_and_none_is_none() {
        let s = Summary::of(&mut millis([7])).unwrap();
        assert_eq!(
            (s.p50, s.p99, s.max),
            (Duration::from_millis(7), Duration::from_millis(7), Duration::from_millis(7))
        );
        assert!(Summary::of(&mut []).is_none());
        assert_eq!(line("x", &mut []), "x count=0");
    }

    #[test]
    fn the_line_is_in_milliseconds() {
        let line = line("latency_ms", &mut millis([1, 2, 3]));
        assert_eq!(line, "latency_ms count=3 min=1.00 p50=2.00 p90=3.00 p99=3.00 max=3.00");
    }
}
