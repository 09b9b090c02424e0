//! Readiness of the database.

use super::Database;
use std::time::Duration;

use async_trait::async_trait;
use forge_application::{UnexpectedError, health::Probe};
use sea_orm::DatabaseConnection;

use super::errors::unexpected;

/// [`Probe`] that pings the database (a pooled round trip) within a time limit.
#[derive(Debug, Clone)]
pub struct DatabaseProbe {
    db: DatabaseConnection,
    timeout: Duration,
}

impl DatabaseProbe {
    /// A probe of `db` that gives up after `timeout`.
    #[must_use]
    pub fn new(database: &Database, timeout: Duration) -> Self {
        Self { db: database.connection().clone(), timeout }
    }
}

#[async_trait]
impl Probe for DatabaseProbe {
    async fn check(&self) -> Result<(), UnexpectedError> {
        match tokio::time::timeout(self.timeout, self.db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(unexpected(e)),
            Err(elapsed) => Err(UnexpectedError::unavailable(elapsed)),
        }
    }
}
