//! Idempotency claims in the `idempotency_keys` table, shared by every instance on the database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    idempotency::{
        IdempotencyKey,
        ports::{ClaimState, ExistingClaim, IdempotencyStore, NewClaim, StoredResponse},
    },
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TryInsertResult,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Database, FetchUnique,
    entities::idempotency_keys::{self, Column},
    errors::{CorruptRow, unexpected},
    stored,
};

const RUNNING: &str = "running";
const COMPLETED: &str = "completed";

/// How many times a claim is tried when the row it met vanished before it could be read (its
/// holder released it or it was purged in between).
const CLAIM_ATTEMPTS: usize = 3;

/// [`IdempotencyStore`] over SeaORM.
///
/// A claim is `INSERT ... ON CONFLICT (caller, key) DO NOTHING`: the primary key decides, on
/// SQLite and PostgreSQL alike and across instances, which of concurrent requests holds a key.
/// Completing and releasing are guarded by the claim's id, so a request whose claim expired and
/// was taken over cannot overwrite or free the new holder's.
#[derive(Debug, Clone)]
pub struct SeaIdempotencyStore {
    db: DatabaseConnection,
}

impl SeaIdempotencyStore {
    /// A store writing through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }

    fn of(caller: &str, key: &IdempotencyKey) -> sea_orm::Condition {
        sea_orm::Condition::all().add(Column::Caller.eq(caller)).add(Column::Key.eq(key.as_ref()))
    }
}

#[async_trait]
impl IdempotencyStore for SeaIdempotencyStore {
    #[tracing::instrument(skip_all)]
    async fn begin(&self, claim: &NewClaim) -> Result<Option<ExistingClaim>, UnexpectedError> {
        for _ in 0..CLAIM_ATTEMPTS {
            let row = idempotency_keys::ActiveModel {
                caller: Set(claim.caller.clone()),
                key: Set(claim.key.as_ref().to_owned()),
                request_hash: Set(claim.fingerprint.clone()),
                claim_id: Set(claim.claim_id),
                state: Set(RUNNING.to_owned()),
                status: Set(None),
                headers: Set(None),
                body: Set(None),
                created_at: Set(stored(claim.created_at)),
                expires_at: Set(stored(claim.expires_at)),
            };
            let inserted = idempotency_keys::Entity::insert(row)
                .on_conflict_do_nothing_on([Column::Caller, Column::Key])
                .exec_without_returning(&self.db)
                .await
                .map_err(unexpected)?;
            if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
                return Ok(None);
            }
            let existing = idempotency_keys::Entity::find()
                .filter(Self::of(&claim.caller, &claim.key))
                .unique(&self.db)
                .await
                .map_err(unexpected)?;
            if let Some(row) = existing {
                return existing_claim(row).map(Some);
            }
        }
        Err(UnexpectedError::internal("an idempotency key could neither be claimed nor read"))
    }

    #[tracing::instrument(skip_all, fields(status = response.status))]
    async fn complete(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        claim_id: Uuid,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        let headers = Value::Array(
            response
                .headers
                .iter()
                .map(|(name, value)| Value::Array(vec![Value::from(name.as_str()), Value::from(value.as_str())]))
                .collect(),
        );
        let completed = idempotency_keys::ActiveModel {
            caller: NotSet,
            key: NotSet,
            request_hash: NotSet,
            claim_id: NotSet,
            state: Set(COMPLETED.to_owned()),
            status: Set(Some(i32::from(response.status))),
            headers: Set(Some(headers)),
            body: Set(Some(response.body.clone())),
            created_at: NotSet,
            expires_at: Set(stored(expires_at)),
        };
        idempotency_keys::Entity::update_many()
            .set(completed)
            .filter(Self::of(caller, key))
            .filter(Column::ClaimId.eq(claim_id))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn release(&self, caller: &str, key: &IdempotencyKey, claim_id: Uuid) -> Result<(), UnexpectedError> {
        idempotency_keys::Entity::delete_many()
            .filter(Self::of(caller, key))
            .filter(Column::ClaimId.eq(claim_id))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn forget_expired(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        idempotency_keys::Entity::delete_many()
            .filter(Self::of(caller, key))
            .filter(Column::ExpiresAt.lte(stored(now)))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, UnexpectedError> {
        let deleted = idempotency_keys::Entity::delete_many()
            .filter(Column::ExpiresAt.lte(stored(now)))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(deleted.rows_affected)
    }
}

/// The claim a row holds. A completed row must have its status, headers and body.
fn existing_claim(row: idempotency_keys::Model) -> Result<ExistingClaim, UnexpectedError> {
    let key = format!("{}/{}", row.caller, row.key);
    let corrupt = |column, reason: &str| CorruptRow::error("idempotency_keys", &key, column, reason);
    let state = match row.state.as_str() {
        RUNNING => ClaimState::Running,
        COMPLETED => {
            let status = row
                .status
                .and_then(|s| u16::try_from(s).ok())
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| corrupt("status", "not an HTTP status"))?;
            let headers = match row.headers {
                Some(Value::Array(pairs)) => pairs
                    .iter()
                    .map(|pair| match pair.as_array().map(Vec::as_slice) {
                        Some([Value::String(name), Value::String(value)]) => Some((name.clone(), value.clone())),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| corrupt("headers", "not a list of [name, value] pairs"))?,
                _ => return Err(corrupt("headers", "missing or not a list")),
            };
            let body = row.body.ok_or_else(|| corrupt("body", "missing"))?;
            ClaimState::Completed(StoredResponse { status, headers, body })
        }
        _ => return Err(corrupt("state", "neither running nor completed")),
    };
    Ok(ExistingClaim { fingerprint: row.request_hash, state, expires_at: row.expires_at })
}
