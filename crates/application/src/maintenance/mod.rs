//! Housekeeping: the periodic purges of what has expired or is no longer needed, run as one job
//! of the `maintenance` queue per period for the whole cluster (however many workers run).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::common::{Clock, UnexpectedError};

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Sessions past their expiry (with their refresh tokens).
    pub sessions: u64,
    /// Refresh tokens past their expiry.
    pub refresh_tokens: u64,
    /// Verification and reset tokens past their expiry.
    pub account_tokens: u64,
    /// Idempotency keys past their expiry.
    pub idempotency_keys: u64,
    /// Outbox events delivered before the retention period.
    pub outbox_events: u64,
    /// Exports (and their files) past their expiry.
    pub exports: u64,
    /// Jobs that succeeded before the retention period.
    pub finished_jobs: u64,
    /// Real-time events logged before the retention period.
    pub live_events: u64,
    /// WebSocket tickets past their expiry.
    pub ws_tickets: u64,
}

/// Deletes what has expired.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Housekeeping: Send + Sync {
    /// Deletes what expired at `now`, and the delivered events and finished jobs older than
    /// `kept_before`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn purge(&self, now: DateTime<Utc>, kept_before: DateTime<Utc>) -> Result<PurgeCounts, UnexpectedError>;
}

/// The maintenance job.
#[derive(Clone)]
pub struct MaintenanceService {
    housekeeping: Arc<dyn Housekeeping>,
    clock: Arc<dyn Clock>,
    retention: Duration,
}

impl MaintenanceService {
    /// Purges over `housekeeping`, keeping delivered events and finished jobs for `retention`.
    #[must_use]
    pub fn new(housekeeping: Arc<dyn Housekeeping>, clock: Arc<dyn Clock>, retention: Duration) -> Self {
        Self { housekeeping, clock, retention }
    }

    /// Runs every purge once; running it again at once purges nothing more.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails (the job is then retried).
    #[tracing::instrument(skip_all)]
    pub async fn run(&self) -> Result<PurgeCounts, UnexpectedError> {
        let now = self.clock.now();
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(7));
        let counts = self.housekeeping.purge(now, now - retention).await?;
        tracing::info!(?counts, "maintenance purges done");
        Ok(counts)
    }
}
