use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use forge_domain::users::Permission;

use super::ports::{StatsCache, StatsSource};
use crate::common::{Actor, Clock, UnexpectedError};

/// Counts of users that are not soft-deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserCounts {
    /// Every user.
    pub total: u64,
    /// Users who may log in.
    pub active: u64,
    /// Users with the admin role.
    pub admins: u64,
    /// Users created since midnight (UTC).
    pub new_today: u64,
    /// Users created in the last seven days.
    pub new_week: u64,
}

impl UserCounts {
    /// Users who may not log in.
    #[must_use]
    pub const fn inactive(&self) -> u64 {
        self.total.saturating_sub(self.active)
    }
}

/// Counts of projects that are not soft-deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProjectCounts {
    /// Every project.
    pub total: u64,
    /// Projects whose status is `active` (not archived).
    pub active: u64,
}

/// The statistics, as of `generated_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashboardStats {
    /// The users.
    pub users: UserCounts,
    /// The projects.
    pub projects: ProjectCounts,
    /// When they were computed.
    pub generated_at: DateTime<Utc>,
}

/// Why no statistics were given.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The actor may not see them.
    #[error("not allowed")]
    Forbidden,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// The statistics use case.
#[derive(Clone)]
pub struct DashboardService {
    source: Arc<dyn StatsSource>,
    cache: Arc<dyn StatsCache>,
    clock: Arc<dyn Clock>,
    max_age: Duration,
}

impl DashboardService {
    /// How old cached statistics may be by default.
    pub const DEFAULT_MAX_AGE: Duration = Duration::seconds(60);

    /// Builds the service; statistics are recomputed once they are older than `max_age`.
    #[must_use]
    pub fn new(
        source: Arc<dyn StatsSource>,
        cache: Arc<dyn StatsCache>,
        clock: Arc<dyn Clock>,
        max_age: Duration,
    ) -> Self {
        Self { source, cache, clock, max_age }
    }

    /// The statistics, at most `max_age` old (`generated_at` says how old), for admins and
    /// managers. A failing cache is logged and bypassed, never fatal.
    ///
    /// # Errors
    /// [`DashboardError::Forbidden`] for members; [`DashboardError::Unexpected`] when the counts
    /// cannot be read.
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn stats(&self, actor: &Actor) -> Result<DashboardStats, DashboardError> {
        if !actor.can(Permission::ViewDashboard) {
            return Err(DashboardError::Forbidden);
        }
        let now = self.clock.now();
        match self.cache.get().await {
            Ok(Some(cached)) if now - cached.generated_at < self.max_age && cached.generated_at <= now => {
                return Ok(cached);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "the statistics cache failed; computing afresh"),
        }
        let today = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        let users = self.source.user_counts(today, now - Duration::days(7)).await?;
        let projects = self.source.project_counts().await?;
        let stats = DashboardStats { users, projects, generated_at: now };
        if let Err(e) = self.cache.put(&stats).await {
            tracing::warn!(error = ?e, "the statistics could not be cached");
        }
        Ok(stats)
    }
}
