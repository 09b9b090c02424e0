//! How the statistics look in responses.

use chrono::{DateTime, Utc};
use forge_application::dashboard::DashboardStats;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Counts across the installation. Soft-deleted users and projects never count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DashboardStatsResponse {
    /// Every user.
    pub total_users: u64,
    /// Users who may log in.
    pub active_users: u64,
    /// Users who may not log in.
    pub inactive_users: u64,
    /// Users with the admin role.
    pub admins: u64,
    /// Users created since midnight UTC.
    pub new_users_today: u64,
    /// Users created in the last seven days.
    pub new_users_week: u64,
    /// Every project.
    pub total_projects: u64,
    /// Projects that are active (not archived).
    pub active_projects: u64,
    /// When these counts were computed: they are cached for up to 60 seconds.
    pub generated_at: DateTime<Utc>,
}

impl From<DashboardStats> for DashboardStatsResponse {
    fn from(stats: DashboardStats) -> Self {
        Self {
            total_users: stats.users.total,
            active_users: stats.users.active,
            inactive_users: stats.users.inactive(),
            admins: stats.users.admins,
            new_users_today: stats.users.new_today,
            new_users_week: stats.users.new_week,
            total_projects: stats.projects.total,
            active_projects: stats.projects.active,
            generated_at: stats.generated_at,
        }
    }
}
