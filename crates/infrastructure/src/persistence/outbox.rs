//! The outbox as the relay reads it: claims under a lease, delivered marks, purges.
//!
//! Claims are serialized: on PostgreSQL by a transaction-scoped advisory lock taken before the
//! claiming statement, on SQLite by its single writer (`BEGIN IMMEDIATE`). A claim therefore
//! sees every lease taken before it, and the rule "no event while an earlier one of the same
//! recipient is held or waiting" holds across any number of relays.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    audit::{EventType, StoredSnapshot},
    relay::{OutboxStore, RelayedEvent},
};
use forge_domain::users::UserId;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};
use uuid::Uuid;

use super::{
    Database,
    audit::value_from_json,
    entities::outbox_events::{self, Column},
    errors::{CorruptRow, unexpected},
    placeholder, stored,
};

/// An arbitrary, fixed key of the advisory lock that serializes claims on PostgreSQL.
const CLAIM_LOCK: i64 = 0x0F0E_7E1A_7000_0001;

/// [`OutboxStore`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaOutboxStore {
    db: DatabaseConnection,
}

impl SeaOutboxStore {
    /// The outbox of `database`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

impl SeaOutboxStore {
    /// When the oldest event not yet delivered occurred, if one waits.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be read.
    pub async fn oldest_undelivered(&self) -> Result<Option<DateTime<Utc>>, UnexpectedError> {
        let oldest: Option<Option<DateTime<Utc>>> = outbox_events::Entity::find()
            .select_only()
            .column(Column::OccurredAt)
            .filter(Column::PublishedAt.is_null())
            .order_by_asc(Column::OccurredAt)
            .limit(1)
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(oldest.flatten())
    }
}

#[async_trait]
impl OutboxStore for SeaOutboxStore {
    #[tracing::instrument(skip_all, fields(owner))]
    async fn claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<RelayedEvent>, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let tx = self.db.begin_with_options(options).await.map_err(unexpected)?;
        if backend == DbBackend::Postgres {
            tx.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT pg_advisory_xact_lock($1)",
                [CLAIM_LOCK.into()],
            ))
            .await
            .map_err(unexpected)?;
        }
        let sql = format!(
            "UPDATE outbox_events SET lease_owner = {owner}, lease_until = {until} WHERE id IN ( \
               SELECT e.id FROM outbox_events e \
               WHERE e.published_at IS NULL AND (e.lease_until IS NULL OR e.lease_until < {now}) \
               AND NOT EXISTS ( \
                 SELECT 1 FROM outbox_events o \
                 WHERE o.recipient_id = e.recipient_id AND o.published_at IS NULL AND o.lease_until >= {now} \
                 AND (o.occurred_at < e.occurred_at OR (o.occurred_at = e.occurred_at AND o.id < e.id))) \
               ORDER BY e.occurred_at, e.id LIMIT {limit})",
            owner = placeholder(backend, 1),
            until = placeholder(backend, 2),
            now = placeholder(backend, 3),
            limit = placeholder(backend, 4),
        );
        let values: [Value; 4] =
            [owner.into(), stored(until).into(), stored(now).into(), i64::try_from(limit).unwrap_or(i64::MAX).into()];
        tx.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map_err(unexpected)?;
        let rows = outbox_events::Entity::find()
            .filter(Column::LeaseOwner.eq(owner))
            .filter(Column::PublishedAt.is_null())
            .filter(Column::LeaseUntil.gt(stored(now)))
            .order_by_asc(Column::OccurredAt)
            .order_by_asc(Column::Id)
            .all(&tx)
            .await
            .map_err(unexpected)?;
        tx.commit().await.map_err(unexpected)?;
        rows.into_iter().map(relayed).collect()
    }

    async fn delivered(&self, owner: &str, ids: &[Uuid], at: DateTime<Utc>) -> Result<(), UnexpectedError> {
        for chunk in ids.chunks(500) {
            outbox_events::Entity::update_many()
                .col_expr(Column::PublishedAt, sea_orm::sea_query::Expr::value(stored(at)))
                .col_expr(Column::LeaseOwner, sea_orm::sea_query::Expr::value(Option::<String>::None))
                .col_expr(Column::LeaseUntil, sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None))
                .filter(Column::Id.is_in(chunk.iter().copied()))
                .filter(Column::LeaseOwner.eq(owner))
                .exec(&self.db)
                .await
                .map_err(unexpected)?;
        }
        Ok(())
    }

    async fn release(
        &self,
        owner: &str,
        ids: &[Uuid],
        retry_at: DateTime<Utc>,
        error: Option<String>,
    ) -> Result<(), UnexpectedError> {
        use sea_orm::sea_query::{Expr, ExprTrait as _};
        let mut update = outbox_events::Entity::update_many()
            .col_expr(Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(Column::LeaseUntil, Expr::value(stored(retry_at)));
        if let Some(error) = error {
            let error: String = error.chars().take(2000).collect();
            update = update
                .col_expr(Column::LastError, Expr::value(error))
                .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1));
        }
        update
            .filter(Column::Id.is_in(ids.iter().copied()))
            .filter(Column::LeaseOwner.eq(owner))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    async fn purge_delivered(&self, before: DateTime<Utc>) -> Result<u64, UnexpectedError> {
        let deleted = outbox_events::Entity::delete_many()
            .filter(Column::PublishedAt.lt(stored(before)))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }
}

/// The relayed event of a row; an unknown type or data of an unknown form is a [`CorruptRow`].
fn relayed(row: outbox_events::Model) -> Result<RelayedEvent, UnexpectedError> {
    let corrupt = |column, reason: &str| CorruptRow::error("outbox_events", row.id, column, reason);
    let event_type = EventType::parse(&row.event_type).ok_or_else(|| corrupt("event_type", "an unknown event type"))?;
    let serde_json::Value::Object(fields) = &row.data else {
        return Err(corrupt("data", "not a JSON object"));
    };
    let data = fields
        .iter()
        .map(|(name, value)| value_from_json(value).map(|v| (name.clone(), v)))
        .collect::<Option<Vec<_>>>()
        .map(StoredSnapshot::from_fields)
        .ok_or_else(|| corrupt("data", "a value of an unknown form"))?;
    Ok(RelayedEvent {
        id: row.id,
        event_type,
        recipient: UserId::from_uuid(row.recipient_id),
        data,
        occurred_at: row.occurred_at,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        traceparent: row.traceparent,
    })
}
