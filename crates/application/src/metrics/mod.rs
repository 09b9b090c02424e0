//! Operational figures for admins: the database connection pool and the statements run on it.

use std::sync::Arc;

use forge_domain::users::Permission;

use crate::common::Actor;

/// Which database the installation runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// The embedded SQLite file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The connection pool as it is now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolFigures {
    /// Connections open (idle and in use).
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// Open connections lending themselves to a request.
    pub in_use: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The database's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatabaseFigures {
    /// Which database.
    pub backend: DatabaseBackend,
    /// Its pool.
    pub pool: PoolFigures,
    /// Statements run since start-up.
    pub statements: u64,
    /// Statements that failed since start-up.
    pub failed_statements: u64,
}

/// Reads the database's figures (in memory: no round trip).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait DatabaseMetrics: Send + Sync {
    /// The figures as they are now.
    fn figures(&self) -> DatabaseFigures;
}

/// Why no figures were given.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The actor may not see them.
    #[error("not allowed")]
    Forbidden,
}

/// Operational figures, for admins.
#[derive(Clone)]
pub struct MetricsService {
    database: Arc<dyn DatabaseMetrics>,
}

impl MetricsService {
    /// Builds the service.
    #[must_use]
    pub fn new(database: Arc<dyn DatabaseMetrics>) -> Self {
        Self { database }
    }

    /// The database pool and statement counts.
    ///
    /// # Errors
    /// [`MetricsError::Forbidden`] for anyone but admins.
    pub fn database(&self, actor: &Actor) -> Result<DatabaseFigures, MetricsError> {
        if !actor.can(Permission::ViewSystemMetrics) {
            return Err(MetricsError::Forbidden);
        }
        Ok(self.database.figures())
    }
}

#[cfg(test)]
mod tests {
    use forge_domain::users::Role;

    use super::*;
    use crate::test_support::{a_user, acting_as};

    fn figures() -> DatabaseFigures {
        DatabaseFigures {
            backend: DatabaseBackend::Sqlite,
            pool: PoolFigures { size: 3, idle: 2, in_use: 1, max: 8 },
            statements: 42,
            failed_statements: 1,
        }
    }

    #[test]
    fn admins_see_the_database_figures() {
        let mut metrics = MockDatabaseMetrics::new();
        metrics.expect_figures().times(1).returning(figures);

        let seen = MetricsService::new(Arc::new(metrics)).database(&acting_as(&a_user(Role::Admin).build())).unwrap();

        assert_eq!(seen, figures());
    }

    #[test]
    fn managers_and_members_do_not_and_nothing_is_read() {
        for role in [Role::Manager, Role::Member] {
            let mut metrics = MockDatabaseMetrics::new();
            metrics.expect_figures().never();

            let result = MetricsService::new(Arc::new(metrics)).database(&acting_as(&a_user(role).build()));

            assert!(matches!(result, Err(MetricsError::Forbidden)), "{role}");
        }
    }
}
