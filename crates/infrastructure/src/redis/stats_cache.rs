//! The dashboard statistics, shared in Redis.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    dashboard::{DashboardStats, ProjectCounts, UserCounts, ports::StatsCache},
};
use redis::AsyncTypedCommands as _;
use serde::{Deserialize, Serialize};

use super::{Redis, unavailable};

/// How long the entry is kept: its freshness is the use case's call, this only bounds it.
const TTL_SECS: u64 = 60 * 60;

/// [`StatsCache`] in one Redis key, so every instance shares one computation.
#[derive(Debug, Clone)]
pub struct RedisStatsCache {
    redis: Redis,
}

impl RedisStatsCache {
    /// The statistics under `<prefix>:stats`.
    #[must_use]
    pub fn new(redis: &Redis) -> Self {
        Self { redis: redis.clone() }
    }
}

/// The statistics as stored.
#[derive(Serialize, Deserialize)]
struct Stored {
    users: [u64; 5],
    projects: [u64; 2],
    generated_at: DateTime<Utc>,
}

#[async_trait]
impl StatsCache for RedisStatsCache {
    #[tracing::instrument(name = "redis.stats.get", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "GET"))]
    async fn get(&self) -> Result<Option<DashboardStats>, UnexpectedError> {
        let raw = self.redis.connection().get(self.redis.key("stats")).await.map_err(unavailable)?;
        Ok(raw.and_then(|raw| serde_json::from_str::<Stored>(&raw).ok()).map(|stored| {
            let [total, active, admins, new_today, new_week] = stored.users;
            let [projects_total, projects_active] = stored.projects;
            DashboardStats {
                users: UserCounts { total, active, admins, new_today, new_week },
                projects: ProjectCounts { total: projects_total, active: projects_active },
                generated_at: stored.generated_at,
            }
        }))
    }

    #[tracing::instrument(name = "redis.stats.put", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "SET"))]
    async fn put(&self, stats: &DashboardStats) -> Result<(), UnexpectedError> {
        let u = &stats.users;
        let stored = Stored {
            users: [u.total, u.active, u.admins, u.new_today, u.new_week],
            projects: [stats.projects.total, stats.projects.active],
            generated_at: stats.generated_at,
        };
        let raw = serde_json::to_string(&stored).map_err(UnexpectedError::internal)?;
        self.redis.connection().set_ex(self.redis.key("stats"), raw, TTL_SECS).await.map_err(unavailable)
    }
}
