//! Readiness: whether the dependencies a request needs answer, and how fast.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::common::{UnexpectedError, UnexpectedKind};

/// One dependency that must answer for the service to be ready (database, cache, ...).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Probe: Send + Sync {
    /// Performs the cheapest real round trip to the dependency, within its own time limit.
    ///
    /// # Errors
    /// [`UnexpectedError`] when it does not answer.
    async fn check(&self) -> Result<(), UnexpectedError>;

    /// Whether the service is unready while this dependency does not answer. A dependency the
    /// service can do without for a while (a cache: reads then go to the database) says no: its
    /// failure is reported as degraded, and readiness holds.
    fn required(&self) -> bool {
        true
    }
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The dependency's name, e.g. `database`.
    pub name: &'static str,
    /// `None` when it answered; otherwise `unreachable` or `failed` (details are logged).
    pub error: Option<String>,
    /// How long the probe took.
    pub latency: Duration,
    /// Whether readiness depends on it ([`Probe::required`]).
    pub required: bool,
}

/// Every probe's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// One result per probe, in registration order.
    pub checks: Vec<CheckResult>,
}

impl HealthReport {
    /// Whether every required dependency answered.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.error.is_none() || !c.required)
    }
}

/// Runs the registered probes. Each probe bounds its own duration (adapters know how).
#[derive(Clone, Default)]
pub struct HealthService {
    probes: Vec<(&'static str, Arc<dyn Probe>)>,
}

impl HealthService {
    /// A service with no probes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a probe under `name`.
    #[must_use]
    pub fn with_probe(mut self, name: &'static str, probe: Arc<dyn Probe>) -> Self {
        self.probes.push((name, probe));
        self
    }

    /// Runs every probe, one after the other.
    pub async fn check(&self) -> HealthReport {
        let mut checks = Vec::with_capacity(self.probes.len());
        for (name, probe) in &self.probes {
            let started = Instant::now();
            // The report is public (`/health/ready`): it says how a dependency failed, never the
            // adapter's own message, which may name hosts; that goes to the log.
            let error = probe.check().await.err().map(|e| {
                tracing::warn!(probe = name, error = ?e, "readiness probe failed");
                match e.kind() {
                    UnexpectedKind::Unavailable => "unreachable".to_owned(),
                    UnexpectedKind::Busy { .. } => "busy".to_owned(),
                    UnexpectedKind::Internal => "failed".to_owned(),
                }
            });
            checks.push(CheckResult { name, error, latency: started.elapsed(), required: probe.required() });
        }
        HealthReport { checks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_report_is_ready_only_when_every_probe_answers() {
        let mut up = MockProbe::new();
        up.expect_check().returning(|| Ok(()));
        up.expect_required().return_const(true);
        let mut down = MockProbe::new();
        down.expect_check().returning(|| Err(UnexpectedError::unavailable("connection refused")));
        down.expect_required().return_const(true);
        let service = HealthService::new().with_probe("database", Arc::new(up)).with_probe("cache", Arc::new(down));
        let report = service.check().await;
        assert!(!report.is_ready());
        assert_eq!(report.checks[0].error, None);
        assert_eq!(report.checks[1].name, "cache");
        assert_eq!(report.checks[1].error.as_deref(), Some("unreachable"), "no adapter text in the public report");
    }

    #[tokio::test]
    async fn a_dependency_that_is_not_required_reports_its_failure_without_failing_readiness() {
        let mut up = MockProbe::new();
        up.expect_check().returning(|| Ok(()));
        up.expect_required().return_const(true);
        let mut cache = MockProbe::new();
        cache.expect_check().returning(|| Err(UnexpectedError::unavailable("connection refused")));
        cache.expect_required().return_const(false);
        let report = HealthService::new()
            .with_probe("database", Arc::new(up))
            .with_probe("cache", Arc::new(cache))
            .check()
            .await;
        assert!(report.is_ready());
        assert_eq!(report.checks[1].error.as_deref(), Some("unreachable"));
        assert!(!report.checks[1].required);
    }
}
