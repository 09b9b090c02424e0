//! The dashboard statistics, cached in memory.

use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    dashboard::{DashboardStats, ports::StatsCache},
};

/// [`StatsCache`] holding the latest statistics in the process: one small value, replaced
/// whole. How old it may be when read is the use case's call (by `generated_at` and the
/// injected clock), so an entry needs no expiry of its own here.
#[derive(Debug, Default)]
pub struct InMemoryStatsCache {
    latest: RwLock<Option<DashboardStats>>,
}

impl InMemoryStatsCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl StatsCache for InMemoryStatsCache {
    async fn get(&self) -> Result<Option<DashboardStats>, UnexpectedError> {
        Ok(*self.latest.read().unwrap_or_else(PoisonError::into_inner))
    }

    async fn put(&self, stats: &DashboardStats) -> Result<(), UnexpectedError> {
        *self.latest.write().unwrap_or_else(PoisonError::into_inner) = Some(*stats);
        Ok(())
    }
}
