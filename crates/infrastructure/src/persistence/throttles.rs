//! Reading login throttles, and the mapping between their rows and the application's type.

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    limits::ports::{LoginThrottle, LoginThrottleRepository},
};
use forge_domain::users::UserId;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::{
    entities::login_throttles,
    errors::{CorruptRow, unexpected},
    stored,
};

/// [`LoginThrottleRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaLoginThrottleRepository {
    db: DatabaseConnection,
}

impl SeaLoginThrottleRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub const fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl LoginThrottleRepository for SeaLoginThrottleRepository {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn for_user(&self, user_id: UserId) -> Result<Option<LoginThrottle>, UnexpectedError> {
        let row = login_throttles::Entity::find_by_id(user_id.as_uuid()).one(&self.db).await.map_err(unexpected)?;
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
pub(super) fn stored_failures(failures: u32) -> i32 {
    i32::try_from(failures).unwrap_or(i32::MAX)
}

pub(super) fn to_active_model(throttle: &LoginThrottle) -> login_throttles::ActiveModel {
    login_throttles::ActiveModel {
        user_id: Set(throttle.user_id.as_uuid()),
        failures: Set(stored_failures(throttle.failures)),
        last_failure_at: Set(stored(throttle.last_failure_at)),
        locked_until: Set(throttle.locked_until.map(stored)),
    }
}
