//! Reading and writing login throttles, and the mapping between their rows and the application's
//! type.

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    common::CommitError,
    limits::{
        ThrottleChange,
        ports::{LoginThrottle, LoginThrottleRepository},
    },
};
use forge_domain::users::UserId;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, TryInsertResult,
};

use super::{
    Database, FetchUnique,
    entities::login_throttles,
    errors::{CorruptRow, guard, unexpected, write_error},
    stored,
    unit_of_work::Store,
};

/// [`LoginThrottleRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaLoginThrottleRepository {
    db: DatabaseConnection,
}

impl SeaLoginThrottleRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl LoginThrottleRepository for SeaLoginThrottleRepository {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn for_user(&self, user_id: UserId) -> Result<Option<LoginThrottle>, UnexpectedError> {
        let row = login_throttles::Entity::find_by_id(user_id.as_uuid()).unique(&self.db).await.map_err(unexpected)?;
        row.map(to_domain).transpose()
    }
}

/// A row back into a throttle; a negative count is refused as corrupt rather than read as some
/// other number.
fn to_domain(row: login_throttles::Model) -> Result<LoginThrottle, UnexpectedError> {
    let failures =
        u32::try_from(row.failures).map_err(|e| CorruptRow::error("login_throttles", row.user_id, "failures", e))?;
    Ok(LoginThrottle {
        user_id: UserId::from_uuid(row.user_id),
        failures,
        last_failure_at: row.last_failure_at,
        locked_until: row.locked_until,
    })
}

/// The count as stored: the column is a 32-bit integer, and a count past it means the same.
fn stored_failures(failures: u32) -> i32 {
    i32::try_from(failures).unwrap_or(i32::MAX)
}

fn to_active_model(throttle: &LoginThrottle) -> login_throttles::ActiveModel {
    login_throttles::ActiveModel {
        user_id: Set(throttle.user_id.as_uuid()),
        failures: Set(stored_failures(throttle.failures)),
        last_failure_at: Set(stored(throttle.last_failure_at)),
        locked_until: Set(throttle.locked_until.map(stored)),
    }
}

#[async_trait]
impl Store for ThrottleChange {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        for change in run {
            match change {
                Self::Save { throttle, expected } => {
                    tracing::debug!(user_id = %throttle.user_id, failures = throttle.failures, "save login throttle");
                    let written = match expected {
                        // No row was read: insert, unless another failure inserted one meanwhile.
                        None => match login_throttles::Entity::insert(to_active_model(&throttle))
                            .on_conflict_do_nothing()
                            .exec_without_returning(tx)
                            .await
                            .map_err(write_error)?
                        {
                            TryInsertResult::Inserted(rows) => rows,
                            TryInsertResult::Conflicted | TryInsertResult::Empty => 0,
                        },
                        // The row as read, down to the instant of its latest failure: a row that
                        // was cleared and counted up again to the same number is still a
                        // different row.
                        Some(previous) => {
                            login_throttles::Entity::update_many()
                                .set(to_active_model(&throttle))
                                .filter(login_throttles::Column::UserId.eq(previous.user_id.as_uuid()))
                                .filter(login_throttles::Column::Failures.eq(stored_failures(previous.failures)))
                                .filter(login_throttles::Column::LastFailureAt.eq(stored(previous.last_failure_at)))
                                .exec(tx)
                                .await
                                .map_err(write_error)?
                                .rows_affected
                        }
                    };
                    guard(written)?;
                }
                Self::Clear { user_id } => {
                    tracing::debug!(%user_id, "clear login throttle");
                    login_throttles::Entity::delete_many()
                        .filter(login_throttles::Column::UserId.eq(user_id.as_uuid()))
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                }
            }
        }
        Ok(())
    }
}
