//! How the database figures look in responses.

use forge_application::metrics::{DatabaseBackend, DatabaseFigures};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The database in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    /// The embedded SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The connection pool as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PoolResponse {
    /// Connections open.
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// Open connections serving a request.
    pub in_use: u32,
    /// The most the pool opens (`database.max_connections`).
    pub max: u32,
}

/// Database figures of this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatabaseMetricsResponse {
    /// Which database.
    pub backend: BackendName,
    /// Its connection pool.
    pub pool: PoolResponse,
    /// Statements run by this instance since it started.
    pub statements: u64,
    /// Of those, how many failed.
    pub failed_statements: u64,
}

impl From<DatabaseFigures> for DatabaseMetricsResponse {
    fn from(f: DatabaseFigures) -> Self {
        Self {
            backend: match f.backend {
                DatabaseBackend::Sqlite => BackendName::Sqlite,
                DatabaseBackend::Postgres => BackendName::Postgres,
            },
            pool: PoolResponse { size: f.pool.size, idle: f.pool.idle, in_use: f.pool.in_use, max: f.pool.max },
            statements: f.statements,
            failed_statements: f.failed_statements,
        }
    }
}
