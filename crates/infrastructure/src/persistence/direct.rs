//! The statement behind every authenticated request, run on sqlx directly instead of through
//! SeaORM's execution path. That path (its statement values, boxed futures of several kilobytes
//! moved on every call, rows wrapped in `QueryResult`) cost about 50k instructions per statement,
//! a quarter of a `GET /users/me`. The statement is still counted in the statement metrics
//! ([`QueryStats`]) and traced as a client span with the attributes SeaORM's spans carry.
//!
//! Only this one statement: it runs on every authenticated request. Everything else goes
//! through SeaORM.

use chrono::{DateTime, Utc};
use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, RuntimeErr,
    sqlx::{self, ColumnIndex, Decode, Row, Type},
};
use tracing::Instrument as _;
use uuid::Uuid;

use super::{QueryStats, entities::users};

/// The statement behind every authenticated request: the account, left-joined to the session
/// with id `$2` **and** that account. Its last column is NULL when no such session exists, and
/// otherwise whether it is not revoked. The account's columns come first, in table order.
/// `$n` parameters are understood by SQLite as by PostgreSQL.
pub(crate) const PRINCIPAL_SQL: &str = "SELECT u.id, u.email, u.username, u.username_lower, u.full_name, \
     u.full_name_lower, u.role, u.password_hash, u.is_active, u.is_verified, u.created_at, u.updated_at, \
     u.last_login_at, u.deleted_at, u.version, \
     CASE WHEN s.id IS NULL THEN NULL ELSE s.revoked_at IS NULL END AS session_live \
     FROM users u LEFT JOIN sessions s ON s.id = $2 AND s.user_id = u.id WHERE u.id = $1";

/// The account `user_id` and, when `session_id` is a session of that account, whether that
/// session is live: [`PRINCIPAL_SQL`], one statement.
pub(crate) async fn principal_row(
    db: &DatabaseConnection,
    stats: Option<&QueryStats>,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<(users::Model, Option<bool>)>, DbErr> {
    let backend = db.get_database_backend();
    let span =
        tracing::info_span!("db.query", otel.kind = "client", db.system = system(backend), db.operation = "SELECT",);
    let started = std::time::Instant::now();
    let result = async {
        match backend {
            DbBackend::Sqlite => {
                let row = sqlx::query(PRINCIPAL_SQL)
                    .bind(user_id)
                    .bind(session_id)
                    .fetch_optional(db.get_sqlite_connection_pool())
                    .await?;
                row.as_ref().map(principal_from_row).transpose()
            }
            #[cfg(feature = "postgres")]
            DbBackend::Postgres => {
                let row = sqlx::query(PRINCIPAL_SQL)
                    .bind(user_id)
                    .bind(session_id)
                    .fetch_optional(db.get_postgres_connection_pool())
                    .await?;
                row.as_ref().map(principal_from_row).transpose()
            }
            other => Err(sqlx::Error::Configuration(format!("no support for {other:?}").into())),
        }
    }
    .instrument(span)
    .await;
    if let Some(stats) = stats {
        stats.record(started.elapsed(), result.is_err());
    }
    result.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))
}

/// The `db.system` of SeaORM's spans.
const fn system(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "postgresql",
        DbBackend::Sqlite => "sqlite",
        _ => "other_sql",
    }
}

/// The account and the session's state from a row of [`PRINCIPAL_SQL`], read by position with
/// the decoders SeaORM reads them with.
fn principal_from_row<'r, R>(row: &'r R) -> Result<(users::Model, Option<bool>), sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let user = users::Model {
        id: row.try_get(0)?,
        email: row.try_get(1)?,
        username: row.try_get(2)?,
        username_lower: row.try_get(3)?,
        full_name: row.try_get(4)?,
        full_name_lower: row.try_get(5)?,
        role: row.try_get(6)?,
        password_hash: row.try_get(7)?,
        is_active: row.try_get(8)?,
        is_verified: row.try_get(9)?,
        created_at: row.try_get(10)?,
        updated_at: row.try_get(11)?,
        last_login_at: row.try_get(12)?,
        deleted_at: row.try_get(13)?,
        version: row.try_get(14)?,
    };
    Ok((user, row.try_get(15)?))
}
