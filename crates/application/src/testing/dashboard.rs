//! The dashboard's statistics in memory: the [`StatsSource`] of the store, counting its tables,
//! and a [`StatsCache`] holding the latest statistics.

use std::sync::{PoisonError, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::{projects::ProjectStatus, users::Role};

use super::store::{InMemoryStore, count};
use crate::{
    common::UnexpectedError,
    dashboard::{
        DashboardStats, ProjectCounts, UserCounts,
        ports::{StatsCache, StatsSource},
    },
};

#[async_trait]
impl StatsSource for InMemoryStore {
    async fn user_counts(&self, today: DateTime<Utc>, week: DateTime<Utc>) -> Result<UserCounts, UnexpectedError> {
        let tables = self.tables();
        let live = || tables.users.values().filter(|user| !user.is_deleted());
        Ok(UserCounts {
            total: count(live()),
            active: count(live().filter(|user| user.is_active())),
            admins: count(live().filter(|user| user.role() == Role::Admin)),
            new_today: count(live().filter(|user| user.created_at() >= today)),
            new_week: count(live().filter(|user| user.created_at() >= week)),
        })
    }

    async fn project_counts(&self) -> Result<ProjectCounts, UnexpectedError> {
        let tables = self.tables();
        let live = || tables.projects.values().filter(|project| !project.is_deleted());
        Ok(ProjectCounts {
            total: count(live()),
            active: count(live().filter(|project| project.status() == ProjectStatus::Active)),
        })
    }
}

/// [`StatsCache`] holding the latest statistics, as the server's in-process cache does; the use
/// case judges their age.
#[derive(Debug, Default)]
pub struct FakeStatsCache {
    latest: RwLock<Option<DashboardStats>>,
}

impl FakeStatsCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl StatsCache for FakeStatsCache {
    async fn get(&self) -> Result<Option<DashboardStats>, UnexpectedError> {
        Ok(*self.latest.read().unwrap_or_else(PoisonError::into_inner))
    }

    async fn put(&self, stats: &DashboardStats) -> Result<(), UnexpectedError> {
        *self.latest.write().unwrap_or_else(PoisonError::into_inner) = Some(*stats);
        Ok(())
    }
}
