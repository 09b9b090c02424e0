//! What the statistics need from the outside world: the counts, and a cache for them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{DashboardStats, ProjectCounts, UserCounts};
use crate::common::UnexpectedError;

/// Counts rows, one aggregate query per table. Soft-deleted rows never count.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StatsSource: Send + Sync {
    /// The users: all, active, admins, and those created at or after `today` and `week`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn user_counts(&self, today: DateTime<Utc>, week: DateTime<Utc>) -> Result<UserCounts, UnexpectedError>;

    /// The projects: all, and active ones.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn project_counts(&self) -> Result<ProjectCounts, UnexpectedError>;
}

/// Keeps the latest statistics. In-process for one instance; a shared cache (Redis) lets several
/// instances share one computation. Freshness is judged by the use case from
/// [`DashboardStats::generated_at`], so a cache may keep an entry longer than it is used.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StatsCache: Send + Sync {
    /// The statistics last stored, if any.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the cache fails (the use case then computes afresh).
    async fn get(&self) -> Result<Option<DashboardStats>, UnexpectedError>;

    /// Stores `stats`, replacing what was there.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the cache fails (the statistics are still answered).
    async fn put(&self, stats: &DashboardStats) -> Result<(), UnexpectedError>;
}
