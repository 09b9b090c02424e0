//! Counts of the statements a connection pool runs: the figures behind "this request makes one
//! database round trip", and with the pool's own figures the database metrics.

use super::Database;
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use forge_application::metrics::{DatabaseBackend, DatabaseFigures, DatabaseMetrics, PoolFigures};
use sea_orm::DatabaseConnection;

/// Statement figures of one connection pool, updated by SeaORM's metric callback.
#[derive(Debug, Default)]
pub struct QueryStats {
    statements: AtomicU64,
    failed: AtomicU64,
}

impl QueryStats {
    /// Installs a counter on `database` (before it is cloned: clones share the callback) and
    /// returns it.
    pub fn attach(database: &mut Database) -> Arc<Self> {
        let stats = Arc::new(Self::default());
        let recorder = stats.clone();
        database.connection_mut().set_metric_callback(move |info| {
            recorder.statements.fetch_add(1, Ordering::Relaxed);
            if info.failed {
                recorder.failed.fetch_add(1, Ordering::Relaxed);
            }
        });
        stats
    }

    /// Statements run so far.
    #[must_use]
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Statements that failed so far.
    #[must_use]
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// [`DatabaseMetrics`] from the sqlx pool under SeaORM and the pool's [`QueryStats`].
#[derive(Debug, Clone)]
pub struct SeaDatabaseMetrics {
    db: DatabaseConnection,
    stats: Arc<QueryStats>,
}

impl SeaDatabaseMetrics {
    /// The figures of `db`, whose statements `stats` counts.
    #[must_use]
    pub fn new(database: &Database, stats: Arc<QueryStats>) -> Self {
        Self { db: database.connection().clone(), stats }
    }

    fn pool(&self) -> (DatabaseBackend, PoolFigures) {
        let figures = |size: u32, idle: usize, max: u32| {
            let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
            PoolFigures { size, idle, in_use: size - idle, max }
        };
        match self.db.get_database_backend() {
            #[cfg(feature = "postgres")]
            sea_orm::DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (DatabaseBackend::Postgres, figures(pool.size(), pool.num_idle(), pool.options().get_max_connections()))
            }
            // The server connects to SQLite or PostgreSQL only.
            _ => {
                let pool = self.db.get_sqlite_connection_pool();
                (DatabaseBackend::Sqlite, figures(pool.size(), pool.num_idle(), pool.options().get_max_connections()))
            }
        }
    }
}

impl DatabaseMetrics for SeaDatabaseMetrics {
    fn figures(&self) -> DatabaseFigures {
        let (backend, pool) = self.pool();
        DatabaseFigures { backend, pool, statements: self.stats.statements(), failed_statements: self.stats.failed() }
    }
}
