//! The maintenance purges, one statement each.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    maintenance::{Housekeeping, PurgeCounts},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

use super::{Database, errors::unexpected, exports::purge_expired_exports, placeholder, stored};

/// [`Housekeeping`] over SeaORM, the job tables included.
#[derive(Debug, Clone)]
pub struct SeaHousekeeping {
    db: DatabaseConnection,
}

impl SeaHousekeeping {
    /// The purges of `database`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }

    /// Runs `DELETE FROM {table} WHERE {condition}`, `condition` naming its one value `{}`.
    async fn delete(&self, table: &str, condition: &str, at: Value) -> Result<u64, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let sql = format!("DELETE FROM {table} WHERE {}", condition.replace("{}", &placeholder(backend, 1)));
        let result =
            self.db.execute_raw(Statement::from_sql_and_values(backend, sql, [at])).await.map_err(unexpected)?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl Housekeeping for SeaHousekeeping {
    #[tracing::instrument(skip_all)]
    async fn purge(&self, now: DateTime<Utc>, kept_before: DateTime<Utc>) -> Result<PurgeCounts, UnexpectedError> {
        let at = || Value::from(stored(now));
        let refresh_tokens = self.delete("refresh_tokens", "expires_at <= {}", at()).await?
            + self
                .delete("refresh_tokens", "session_id IN (SELECT id FROM sessions WHERE expires_at <= {})", at())
                .await?;
        let sessions = self.delete("sessions", "expires_at <= {}", at()).await?;
        let account_tokens = self.delete("account_tokens", "expires_at <= {}", at()).await?;
        let idempotency_keys = self.delete("idempotency_keys", "expires_at <= {}", at()).await?;
        let outbox_events = self.delete("outbox_events", "published_at < {}", Value::from(stored(kept_before))).await?;
        let exports = purge_expired_exports(&self.db, now).await?;
        let live_events = self.delete("live_events", "occurred_at < {}", Value::from(stored(kept_before))).await?;
        let ws_tickets = self.delete("ws_tickets", "expires_at <= {}", at()).await?;
        let finished_jobs = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                self.delete("apalis.jobs", "status = 'Done' AND done_at < {}", Value::from(kept_before)).await?
            }
            // apalis keeps SQLite times as Unix seconds.
            _ => self.delete("Jobs", "status = 'Done' AND done_at < {}", Value::from(kept_before.timestamp())).await?,
        };
        Ok(PurgeCounts {
            sessions,
            refresh_tokens,
            account_tokens,
            idempotency_keys,
            outbox_events,
            exports,
            finished_jobs,
            live_events,
            ws_tickets,
        })
    }
}
