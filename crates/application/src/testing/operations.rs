//! Operations: database figures and readiness probes that report what a test tells them.

use std::sync::{
    PoisonError, RwLock,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;

use crate::{
    common::UnexpectedError,
    health::Probe,
    metrics::{DatabaseBackend, DatabaseFigures, DatabaseMetrics, PoolFigures},
};

/// [`DatabaseMetrics`] reporting the figures it is given. There is no database behind the fakes:
/// by default it reports an idle SQLite pool that ran no statements.
#[derive(Debug)]
pub struct FakeDatabaseMetrics {
    figures: RwLock<DatabaseFigures>,
}

impl FakeDatabaseMetrics {
    /// Reports `figures` until told otherwise.
    #[must_use]
    pub const fn new(figures: DatabaseFigures) -> Self {
        Self { figures: RwLock::new(figures) }
    }

    /// Reports `figures` from now on.
    pub fn set(&self, figures: DatabaseFigures) {
        *self.figures.write().unwrap_or_else(PoisonError::into_inner) = figures;
    }
}

impl Default for FakeDatabaseMetrics {
    fn default() -> Self {
        Self::new(DatabaseFigures {
            backend: DatabaseBackend::Sqlite,
            pool: PoolFigures::default(),
            statements: 0,
            failed_statements: 0,
        })
    }
}

impl DatabaseMetrics for FakeDatabaseMetrics {
    fn figures(&self) -> DatabaseFigures {
        *self.figures.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`Probe`] that answers while it is up and fails as an unavailable dependency while it is
/// down, for testing readiness.
#[derive(Debug)]
pub struct FakeProbe {
    up: AtomicBool,
}

impl FakeProbe {
    /// A probe that answers.
    #[must_use]
    pub const fn up() -> Self {
        Self { up: AtomicBool::new(true) }
    }

    /// A probe that fails.
    #[must_use]
    pub const fn down() -> Self {
        Self { up: AtomicBool::new(false) }
    }

    /// Makes the probe answer (`true`) or fail (`false`) from now on.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl Default for FakeProbe {
    fn default() -> Self {
        Self::up()
    }
}

#[async_trait]
impl Probe for FakeProbe {
    async fn check(&self) -> Result<(), UnexpectedError> {
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(UnexpectedError::unavailable("the fake probe is down"))
        }
    }
}
