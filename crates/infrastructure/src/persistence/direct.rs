//! The statements of the two hottest reads, run on sqlx directly instead of through SeaORM's
//! execution path: the principal behind every authenticated request, and a page of the users
//! list. That path (its statement values, boxed futures of several kilobytes moved on every
//! call, rows wrapped in `QueryResult` and read by name or through a second lookup) cost about
//! 50k instructions per statement, a quarter of a `GET /users/me`.
//!
//! The statements are still built by SeaQuery where they have parameters of their own (bound by
//! `sea-query-sqlx`, the binder SeaORM binds with), counted in the statement metrics
//! ([`QueryStats`]) and traced as client spans with the attributes SeaORM's spans carry. Rows are
//! read by position, with the decoders SeaORM reads them with. Everything else goes through
//! SeaORM.

use chrono::{DateTime, Utc};
use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement,
    sea_query::Values,
    sqlx::{self, ColumnIndex, Decode, FromRow, Row, Type, sqlite::SqliteRow},
};
use sea_query_sqlx::SqlxValues;
use std::sync::Arc;
use tracing::Instrument as _;
use uuid::Uuid;

use super::{QueryStats, entities::users, local::LocalConnections};

/// The statement behind every authenticated request: the account, left-joined to the session
/// with id `$2` **and** that account. Its last column is NULL when no such session exists, and
/// otherwise whether it is not revoked. The account's columns come first, in table order.
/// `$n` parameters are understood by SQLite as by PostgreSQL.
pub(crate) const PRINCIPAL_SQL: &str = "SELECT u.id, u.email, u.username, u.username_lower, u.full_name, \
     u.full_name_lower, u.role, u.password_hash, u.is_active, u.is_verified, u.created_at, u.updated_at, \
     u.last_login_at, u.deleted_at, u.version, \
     CASE WHEN s.id IS NULL THEN NULL ELSE s.revoked_at IS NULL END AS session_live \
     FROM users u LEFT JOIN sessions s ON s.id = $2 AND s.user_id = u.id WHERE u.id = $1";

/// A `users` row and one more value: the row's fifteen columns in table order (as
/// `users::Entity::find` selects them), then a sixteenth column read as `X`.
#[derive(Debug)]
pub(crate) struct UserWith<X> {
    pub user: users::Model,
    pub extra: X,
}

impl<'r, R, X> FromRow<'r, R> for UserWith<X>
where
    R: Row,
    usize: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    X: Decode<'r, R::Database> + Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
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
        Ok(Self { user, extra: row.try_get(15)? })
    }
}

/// What [`fetch`] can read a row into, on every database this build supports.
#[cfg(feature = "postgres")]
pub(crate) trait FromAnyRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin
{
}
#[cfg(feature = "postgres")]
impl<T> FromAnyRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin
{
}
/// What [`fetch`] can read a row into, on every database this build supports.
#[cfg(not(feature = "postgres"))]
pub(crate) trait FromAnyRow: for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}
#[cfg(not(feature = "postgres"))]
impl<T> FromAnyRow for T where T: for<'r> FromRow<'r, SqliteRow> + Send + Unpin {}

/// The account `user_id` and, when `session_id` is a session of that account, whether that
/// session is live: [`PRINCIPAL_SQL`], one statement.
pub(crate) async fn principal_row(
    on: Direct<'_>,
    user_id: Uuid,
    session_id: Uuid,
) -> Result<Option<UserWith<Option<bool>>>, DbErr> {
    let values = Values(vec![user_id.into(), session_id.into()]);
    Ok(fetch(on, PRINCIPAL_SQL, values, Rows::AtMostOne).await?.pop())
}

/// The rows of the `SELECT` statement `stmt` (built for `db`'s backend), each read as a `T`:
/// one statement, run where `on` says, counted and traced as a `db.query` client span.
pub(crate) async fn fetch_all<T: FromAnyRow>(on: Direct<'_>, stmt: Statement) -> Result<Vec<T>, DbErr> {
    fetch(on, &stmt.sql, stmt.values.unwrap_or_else(|| Values(Vec::new())), Rows::All).await
}

/// Where a statement run on sqlx directly runs: the pool of `db` (on PostgreSQL, a connection of
/// the thread's own from `local` first), counted in `stats`.
#[derive(Clone, Copy)]
pub(crate) struct Direct<'a> {
    pub db: &'a DatabaseConnection,
    pub stats: Option<&'a QueryStats>,
    pub local: &'a Arc<LocalConnections>,
}

/// How many rows [`fetch`] reads.
#[derive(Clone, Copy)]
enum Rows {
    /// The first, if any: sqlx's `fetch_optional`, which reads the connection's answer directly
    /// rather than through the boxed row stream `fetch_all` collects (about 3k instructions less
    /// on a `GET /users/me`).
    AtMostOne,
    All,
}

async fn fetch<T: FromAnyRow>(on: Direct<'_>, sql: &str, values: Values, rows: Rows) -> Result<Vec<T>, DbErr> {
    let Direct { db, stats, local } = on;
    let backend = db.get_database_backend();
    let span =
        tracing::info_span!("db.query", otel.kind = "client", db.system = system(backend), db.operation = "SELECT",);
    let started = std::time::Instant::now();
    let result = async {
        match backend {
            DbBackend::Sqlite => run(db.get_sqlite_connection_pool(), sql, values, rows).await,
            #[cfg(feature = "postgres")]
            DbBackend::Postgres => on_postgres(db.get_postgres_connection_pool(), local, sql, values, rows).await,
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

/// `sql` with `values` (bound by `sea-query-sqlx`, as SeaORM binds them) on `executor` (a pool or
/// a connection), each row read as a `T`.
async fn run<'e, DB, T, E>(executor: E, sql: &str, values: Values, rows: Rows) -> Result<Vec<T>, sqlx::Error>
where
    DB: sqlx::Database,
    SqlxValues: sqlx::IntoArguments<DB>,
    T: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    E: sqlx::Executor<'e, Database = DB>,
{
    let query = sqlx::query_as_with::<DB, T, _>(sqlx::AssertSqlSafe(sql), SqlxValues(values));
    match rows {
        Rows::AtMostOne => query.fetch_optional(executor).await.map(Vec::from_iter),
        Rows::All => query.fetch_all(executor).await,
    }
}

/// Runs the statement on a connection of this thread's ([`super::local`]), waiting for one to be
/// free; again on `pool` if it failed there.
#[cfg(feature = "postgres")]
async fn on_postgres<T>(
    pool: &sqlx::PgPool,
    local: &Arc<LocalConnections>,
    sql: &str,
    values: Values,
    rows: Rows,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let mut lease = super::local::Lease::take(local, pool).await?;
    if let Some(connection) = lease.connection()
        && let Ok(found) = run(connection, sql, values.clone(), rows).await
    {
        lease.give_back();
        return Ok(found);
    }
    // The connection failed (a server restart, a dropped socket): closed with the lease, and
    // the statement runs again on the pool.
    drop(lease);
    run(pool, sql, values, rows).await
}

/// The `db.system` of SeaORM's spans.
const fn system(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "postgresql",
        DbBackend::Sqlite => "sqlite",
        _ => "other_sql",
    }
}
