//! Counts of the statements a connection pool runs: the figures behind "this request makes one
//! database round trip", and later the database metrics.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::DatabaseConnection;

/// Statement figures of one connection pool, updated by SeaORM's metric callback.
#[derive(Debug, Default)]
pub struct QueryStats {
    statements: AtomicU64,
    failed: AtomicU64,
}

impl QueryStats {
    /// Installs a counter on `db` (before it is cloned: clones share the callback) and returns it.
    pub fn attach(db: &mut DatabaseConnection) -> Arc<Self> {
        let stats = Arc::new(Self::default());
        let recorder = stats.clone();
        db.set_metric_callback(move |info| {
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
