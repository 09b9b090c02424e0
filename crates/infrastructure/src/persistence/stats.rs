//! Counts of the statements a connection pool runs: the figures behind "this request makes one
//! database round trip", and with the pool's own figures the database metrics.

use super::Database;
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use forge_application::metrics::{DatabaseBackend, DatabaseFigures, DatabaseMetrics, PoolFigures};
use sea_orm::DatabaseConnection;

/// The upper bounds, in microseconds, of the statement latency buckets (the last bucket,
/// beyond them, is unbounded).
pub const LATENCY_BOUNDS_MICROS: [u64; 10] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000, 1_000_000];

/// Statement figures of a [`Database`]'s two pools, updated by SeaORM's metric callback and by
/// the statements run on sqlx directly (`persistence::direct`).
#[derive(Debug, Default)]
pub struct QueryStats {
    statements: AtomicU64,
    failed: AtomicU64,
    /// Statements per latency bucket: one per bound of [`LATENCY_BOUNDS_MICROS`], and one more.
    latency_buckets: [AtomicU64; LATENCY_BOUNDS_MICROS.len() + 1],
    latency_sum_micros: AtomicU64,
}

/// How long statements took: a histogram with [`LATENCY_BOUNDS_MICROS`] as bucket bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLatency {
    /// Statements per bucket (not cumulative): one per bound, then those over the last bound.
    pub buckets: Vec<u64>,
    /// The time all statements took together, in microseconds.
    pub sum_micros: u64,
}

impl QueryStats {
    /// Installs a counter on `database` (before it is cloned: clones share the callback) and
    /// returns it.
    pub fn attach(database: &mut Database) -> Arc<Self> {
        let stats = Arc::new(Self::default());
        for pool in database.pools_mut() {
            let recorder = stats.clone();
            pool.set_metric_callback(move |info| recorder.record(info.elapsed, info.failed));
        }
        database.stats = Some(stats.clone());
        stats
    }

    /// Statements run so far.
    #[must_use]
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Counts one statement: how long it took and whether it failed.
    pub(crate) fn record(&self, elapsed: std::time::Duration, failed: bool) {
        self.statements.fetch_add(1, Ordering::Relaxed);
        self.observe(elapsed);
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one statement's latency.
    fn observe(&self, elapsed: std::time::Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket =
            LATENCY_BOUNDS_MICROS.iter().position(|bound| micros <= *bound).unwrap_or(LATENCY_BOUNDS_MICROS.len());
        if let Some(counter) = self.latency_buckets.get(bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// How long the statements run so far took.
    #[must_use]
    pub fn latency(&self) -> StatementLatency {
        StatementLatency {
            buckets: self.latency_buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            sum_micros: self.latency_sum_micros.load(Ordering::Relaxed),
        }
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

#[cfg(test)]
mod latency_tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn statements_fall_into_the_bucket_of_their_latency() {
        let stats = QueryStats::default();
        stats.observe(Duration::from_micros(50));
        stats.observe(Duration::from_micros(100));
        stats.observe(Duration::from_micros(3_000));
        stats.observe(Duration::from_secs(5));
        let latency = stats.latency();
        assert_eq!(latency.buckets.len(), LATENCY_BOUNDS_MICROS.len() + 1);
        assert_eq!(latency.buckets[0], 2);
        assert_eq!(latency.buckets[5], 1, "3 ms is in the 5 ms bucket");
        assert_eq!(latency.buckets[LATENCY_BOUNDS_MICROS.len()], 1, "5 s is past the last bound");
        assert_eq!(latency.buckets.iter().sum::<u64>(), 4);
        assert_eq!(latency.sum_micros, 5_003_150);
    }
}
