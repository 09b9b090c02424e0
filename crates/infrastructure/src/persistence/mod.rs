//! Storage in SQLite or PostgreSQL through SeaORM: the repositories (reads), the unit of work
//! (writes) and the connection pool they share.
//!
//! The same code serves both databases. Where they differ, the difference is handled here and
//! said where it is: SQLite needs WAL, a busy timeout and foreign keys turned on per
//! connection, and its write transactions start `IMMEDIATE` so that concurrent writers queue
//! instead of failing.
//!
//! Timestamps are stored at microsecond precision (PostgreSQL's), on SQLite too, so both
//! databases give back exactly what the other would.

mod account_tokens;
mod api_keys;
mod audit;
mod dashboard;
pub(crate) mod direct;
pub(crate) mod entities;
mod errors;
mod exports;
mod housekeeping;
pub(crate) use errors::unexpected;
mod idempotency;
mod live;
mod local;
mod outbox;
mod probe;
pub(crate) mod projects;
mod sessions;
mod stats;
mod throttles;
mod unit_of_work;
pub(crate) mod users;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod connect_tests;

use std::{path::Path, sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound as _, Utc};
use forge_application::UnexpectedError;
use forge_migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, DatabaseConnection, DbBackend, DbErr, EntityTrait, RuntimeErr, Select, Selector, SelectorTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

pub use account_tokens::SeaAccountTokenRepository;
pub use api_keys::SeaApiKeyRepository;
pub use audit::SeaAuditLogRepository;
pub(crate) use audit::{value_from_json, value_json};
pub use dashboard::SeaStatsSource;
pub use exports::{SeaExportRepository, SeaExportSource};
pub use housekeeping::SeaHousekeeping;
pub use idempotency::SeaIdempotencyStore;
pub use live::{SeaAudiences, SeaEventLog, SeaTicketStore};
pub use outbox::SeaOutboxStore;
pub use probe::DatabaseProbe;
pub use projects::SeaProjectRepository;
pub use sessions::SeaSessionRepository;
pub use stats::{LATENCY_BOUNDS_MICROS, QueryStats, SeaDatabaseMetrics, StatementLatency};
pub use throttles::SeaLoginThrottleRepository;
pub use unit_of_work::SeaUnitOfWork;
pub use users::SeaUserRepository;

/// How many rows one batched `INSERT` holds: 500 users are 7,500 parameters, well within both
/// databases' limits (32,766 on SQLite, 65,535 on PostgreSQL).
const BATCH_ROWS: usize = 500;

/// How long a SQLite connection waits for another writer before giving up with "database is
/// locked". Writers queue on the write lock one transaction at a time, so this bounds the
/// queue, not one transaction.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for a pooled connection before the database counts as unavailable.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a pooled connection may have been idle and still be handed out without a ping. A
/// ping on every checkout (sqlx's default) is a second round trip for each statement; a
/// connection the server, a proxy or a firewall dropped has been idle for much longer than this.
pub(crate) const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// How many connections the background pool opens at most (see [`Database`]): SQLite has one
/// writer at a time, so two serve its job workers; PostgreSQL's workers poll four queues.
const BACKGROUND_CONNECTIONS_SQLITE: u32 = 2;
const BACKGROUND_CONNECTIONS_POSTGRES: u32 = 4;

/// How long a background connection may stay unused before it is closed: an instance that runs
/// no job workers keeps none after its start.
const BACKGROUND_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Which database a [`Database`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: the embedded default.
    Sqlite,
    /// PostgreSQL: production.
    Postgres,
}

/// Connections to SQLite or PostgreSQL, in two pools. SeaORM's types stay inside: callers
/// connect by URL, hand the `Database` to adapters, and manage the schema through its methods.
///
/// - The **request pool** (`max_connections`), shared by every repository and the unit of work,
///   is opened lazily: its connections are made by the request workers that first need them.
///   A PostgreSQL connection answers on the event loop of the thread that opened it, so a
///   connection opened by a request worker wakes no other thread when its answer arrives.
/// - The **background pool** (at most 2 connections on SQLite, 4 on PostgreSQL, closed after
///   60 s unused) serves what runs off the request path: the job workers, the event relay,
///   housekeeping and exports ([`Database::background`]). Its connections are opened on the
///   background runtime, and it never takes the request pool's. Schema changes (migrations) run
///   on a connection of their own, opened for them.
///
/// An in-memory SQLite database is one connection, which both pools are.
#[derive(Debug, Clone)]
pub struct Database {
    connection: DatabaseConnection,
    background: DatabaseConnection,
    /// The URL, for the connection schema changes run on; `None` for an in-memory database,
    /// whose one connection they run on.
    url: Option<Arc<str>>,
    /// The counter [`QueryStats::attach`] installed, for the statement run on sqlx directly.
    stats: Option<Arc<QueryStats>>,
    /// The identity of the connections each thread keeps for the statements run on sqlx
    /// directly ([`local`]).
    local: Arc<local::LocalConnections>,
}

impl Database {
    /// Opens a pool of at most `max_connections` to `url`, a `sqlite://` or `postgres://` URL.
    ///
    /// For SQLite the file and its parent directory are created if missing, and every pooled
    /// connection uses write-ahead logging, a busy timeout and foreign keys. An in-memory SQLite
    /// database (`sqlite::memory:`) is a single connection, since each connection would
    /// otherwise see a database of its own.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the URL is unusable (internal), or the directory cannot be
    /// created or the database reached (unavailable).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, UnexpectedError> {
        let (connection, background, url) = match sqlite_target(url) {
            Some(SqliteTarget::Memory) => {
                let only = connect(url, Pool::Request(1)).await.map_err(errors::unexpected)?;
                (only.clone(), only, None)
            }
            target => {
                let background =
                    if target.is_some() { BACKGROUND_CONNECTIONS_SQLITE } else { BACKGROUND_CONNECTIONS_POSTGRES };
                // The background pool connects at once, so that a wrong URL or an unreachable
                // server is an error here; it also creates a missing SQLite file.
                let background = connect(url, Pool::Background(background)).await.map_err(errors::unexpected)?;
                let connection = connect(url, Pool::Request(max_connections)).await.map_err(errors::unexpected)?;
                (connection, background, Some(Arc::from(url)))
            }
        };
        Ok(Self { connection, background, url, stats: None, local: Arc::default() })
    }

    /// The same database seen through its background pool: adapters built on it run their
    /// statements there. For the job workers, the event relay and housekeeping, which run off
    /// the request path.
    #[must_use]
    pub fn background(&self) -> Self {
        Self {
            connection: self.background.clone(),
            background: self.background.clone(),
            url: self.url.clone(),
            stats: self.stats.clone(),
            local: self.local.clone(),
        }
    }

    /// Which database this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.connection.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// Applies every pending migration and returns how many there were.
    ///
    /// # Errors
    /// [`UnexpectedError`] when a migration fails (it is rolled back where the database allows).
    pub async fn migrate_up(&self) -> Result<usize, UnexpectedError> {
        let pending = self.pending_migrations().await?;
        self.change_schema(async |one| Migrator::up(one, None).await).await?;
        Ok(pending)
    }

    /// Reverts the latest `steps` migrations.
    ///
    /// # Errors
    /// [`UnexpectedError`] when a migration cannot be reverted.
    pub async fn migrate_down(&self, steps: u32) -> Result<(), UnexpectedError> {
        self.change_schema(async |one| Migrator::down(one, Some(steps)).await).await
    }

    /// Drops every table and applies every migration again: all data is lost.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the schema cannot be dropped or created.
    pub async fn migrate_fresh(&self) -> Result<(), UnexpectedError> {
        self.change_schema(async |one| Migrator::fresh(one).await).await
    }

    /// Runs `change` on a connection of its own, closed after. Every statement of a schema change
    /// must run on one connection: SQLite's `PRAGMA foreign_keys`, which dropping tables turns
    /// off, holds for the connection that ran it.
    async fn change_schema<T>(
        &self,
        change: impl AsyncFnOnce(&DatabaseConnection) -> Result<T, DbErr>,
    ) -> Result<T, UnexpectedError> {
        let Some(url) = &self.url else {
            return change(&self.background).await.map_err(errors::unexpected);
        };
        let one = connect(url, Pool::Background(1)).await.map_err(errors::unexpected)?;
        let result = change(&one).await;
        if let Err(e) = one.close().await {
            tracing::warn!(error = %e, "the connection of a schema change did not close cleanly");
        }
        result.map_err(errors::unexpected)
    }

    /// How many migrations are not applied yet.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the migration table cannot be read.
    pub async fn pending_migrations(&self) -> Result<usize, UnexpectedError> {
        Migrator::get_pending_migrations(&self.background)
            .await
            .map(|pending| pending.len())
            .map_err(errors::unexpected)
    }

    /// Every migration by name, and whether it is applied.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the migration table cannot be read.
    pub async fn migrations(&self) -> Result<Vec<(String, bool)>, UnexpectedError> {
        let all = Migrator::get_migration_with_status(&self.background).await.map_err(errors::unexpected)?;
        Ok(all.iter().map(|m| (m.name().to_owned(), m.status() == MigrationStatus::Applied)).collect())
    }

    /// Closes every connection of the pool.
    ///
    /// # Errors
    /// [`UnexpectedError`] when closing fails.
    pub async fn close(self) -> Result<(), UnexpectedError> {
        self.local.close();
        self.background.clone().close().await.map_err(errors::unexpected)?;
        self.connection.close().await.map_err(errors::unexpected)
    }

    pub(crate) const fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    /// Both pools, for [`QueryStats::attach`].
    pub(crate) fn pools_mut(&mut self) -> [&mut DatabaseConnection; 2] {
        [&mut self.connection, &mut self.background]
    }
}

/// Which of [`Database`]'s pools [`connect`] opens, and its size.
#[derive(Clone, Copy)]
enum Pool {
    Request(u32),
    Background(u32),
}

/// Opens one of the SeaORM pools behind [`Database::connect`].
async fn connect(url: &str, pool: Pool) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    match pool {
        Pool::Request(max) => options.max_connections(max.max(1)).connect_lazy(true),
        Pool::Background(max) => options.max_connections(max).min_connections(0).idle_timeout(BACKGROUND_IDLE_TIMEOUT),
    };
    options
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        // Statements are traced by SeaORM's own spans; sqlx's per-statement log lines at INFO
        // would flood the logs.
        .sqlx_logging(false);

    if let Some(target) = sqlite_target(url) {
        match target {
            SqliteTarget::Memory => {
                options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None).connect_lazy(false);
            }
            SqliteTarget::File(path) => {
                if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
                    tokio::fs::create_dir_all(parent).await.map_err(|e| {
                        DbErr::Conn(RuntimeErr::Internal(format!(
                            "cannot create the directory {}: {e}",
                            parent.display()
                        )))
                    })?;
                }
            }
        }
        options.map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // Durable across a crash of the process; a power cut may lose the last commits.
                // This is the setting SQLite recommends with WAL.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                // 512 KiB of page cache per connection instead of SQLite's 2 MiB: the operating
                // system caches the file as well, and a long read (an export) that passes through
                // every pooled connection would otherwise grow the process by 2 MiB per
                // connection and keep it.
                .pragma("cache_size", "-512")
        });
        // A connection given back while still inside a transaction (its COMMIT or ROLLBACK failed,
        // as on a full disk) is closed instead of pooled: whatever it ran next would run inside
        // that transaction, never committed, holding the write lock the other connections wait for.
        options.map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_release(|connection, _| {
                Box::pin(async move {
                    let in_transaction = sea_orm::sqlx::Connection::is_in_transaction(connection);
                    if in_transaction {
                        tracing::warn!("a database connection still inside a transaction was closed");
                    }
                    Ok(!in_transaction)
                })
            })
        });
    }

    sea_orm::Database::connect(options).await
}

enum SqliteTarget<'a> {
    Memory,
    File(&'a str),
}

/// Where a `sqlite:` URL points, or `None` for any other URL.
fn sqlite_target(url: &str) -> Option<SqliteTarget<'_>> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.split('&').any(|pair| pair == "mode=memory");
    Some(if in_memory { SqliteTarget::Memory } else { SqliteTarget::File(path) })
}

/// Fetching the one row a unique key names.
pub(crate) trait FetchUnique: Sized {
    /// What a row is read as.
    type Row;

    /// The row the query's primary or unique key names, if any. Unlike SeaORM's `one`, it adds
    /// no `LIMIT ?`: SQLite plans a bound `LIMIT` by its value, so a statement holding one is
    /// prepared again at every execution, which cost a third of the instructions of an
    /// authenticated request. Only for queries that match at most one row.
    async fn unique(self, db: &DatabaseConnection) -> Result<Option<Self::Row>, DbErr>;
}

impl<E: EntityTrait> FetchUnique for Select<E>
where
    E::Model: Send + Sync,
{
    type Row = E::Model;

    async fn unique(self, db: &DatabaseConnection) -> Result<Option<E::Model>, DbErr> {
        Ok(self.all(db).await?.into_iter().next())
    }
}

impl<S: SelectorTrait + Send + Sync> FetchUnique for Selector<S>
where
    S::Item: Send + Sync,
{
    type Row = S::Item;

    async fn unique(self, db: &DatabaseConnection) -> Result<Option<S::Item>, DbErr> {
        Ok(self.all(db).await?.into_iter().next())
    }
}

/// The `n`th bind placeholder (from 1) of a raw statement: `?n` on SQLite, `$n` on PostgreSQL.
pub(crate) fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// An instant as it is stored: truncated to microseconds.
fn stored(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_told_apart_from_others_and_from_memory() {
        assert!(sqlite_target("postgres://localhost/forge").is_none());
        assert!(matches!(sqlite_target("sqlite://data/forge.db?mode=rwc"), Some(SqliteTarget::File("data/forge.db"))));
        assert!(matches!(sqlite_target("sqlite:///tmp/x/forge.db"), Some(SqliteTarget::File("/tmp/x/forge.db"))));
        assert!(matches!(sqlite_target("sqlite:forge.db"), Some(SqliteTarget::File("forge.db"))));
        assert!(matches!(sqlite_target("sqlite::memory:"), Some(SqliteTarget::Memory)));
        assert!(matches!(sqlite_target("sqlite://shared?mode=memory&cache=shared"), Some(SqliteTarget::Memory)));
    }
}
