//! An isolated, fully migrated database for each test.
//!
//! By default each [`TestDatabase`] is a SQLite file in its own temporary directory. When
//! `TEST_DATABASE_URL` names a PostgreSQL database (for example
//! `postgres://postgres@127.0.0.1:5432/postgres`), a fresh database `forge_test_<random hex>` is
//! created on that server instead, and dropped again when the [`TestDatabase`] is dropped.
//!
//! This is test support: it panics with a message saying what went wrong instead of returning
//! errors, because a test cannot do anything better with them.

#![allow(
    clippy::expect_used,
    reason = "test support: a failure is a failed test, and the panic says which step failed"
)]

use std::{path::Path, time::Duration};

use sea_orm_migration::{
    MigratorTrait,
    sea_orm::{
        ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
        sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
    },
};
use tempfile::TempDir;

use crate::Migrator;

/// The environment variable naming a PostgreSQL server to test against.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// Enough for the concurrency tests (20 writers) without exhausting a shared PostgreSQL server
/// when many tests run at once.
const MAX_CONNECTIONS: u32 = 10;

/// A migrated database that belongs to one test and disappears with it.
pub struct TestDatabase {
    // Declared first so that it is dropped before the directory or database it points to.
    connection: DatabaseConnection,
    url: String,
    backing: Backing,
}

enum Backing {
    Sqlite {
        // Kept only to be removed on drop.
        _dir: TempDir,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    /// Creates, connects to and migrates a new database: PostgreSQL if `TEST_DATABASE_URL` is set,
    /// a temporary SQLite file otherwise.
    ///
    /// # Panics
    /// When the database cannot be created, reached or migrated.
    pub async fn new() -> Self {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(admin_url) if !admin_url.trim().is_empty() => {
                let admin_url = admin_url.trim().to_owned();
                assert!(
                    admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://"),
                    "{TEST_DATABASE_URL} must be a postgres:// URL, got {admin_url}"
                );
                Self::postgres(admin_url).await
            }
            _ => Self::sqlite().await,
        }
    }

    /// The connection URL of this database, for code that opens its own pool.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pooled connection to this database.
    #[must_use]
    pub const fn connection(&self) -> &DatabaseConnection {
        &self.connection
    }

    async fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("forge-test-")
            .tempdir()
            .expect("cannot create a temporary directory for a SQLite test database");
        let url = sqlite_url(&dir.path().join("forge.db"));
        let mut options = ConnectOptions::new(url.clone());
        options.max_connections(MAX_CONNECTIONS).sqlx_logging(false).map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
        });
        let connection = Database::connect(options).await.expect("cannot open the SQLite test database");
        Migrator::up(&connection, None).await.expect("cannot migrate the SQLite test database");
        Self { connection, url, backing: Backing::Sqlite { _dir: dir } }
    }

    async fn postgres(admin_url: String) -> Self {
        let name = format!("forge_test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect_admin(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {TEST_DATABASE_URL} ({admin_url}): {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        // Closing errors are irrelevant: the pool is gone either way.
        let _ = admin.close().await;

        // From here on, dropping `test_db` (also while panicking) drops the database again.
        let url = with_database(&admin_url, &name);
        let mut test_db =
            Self { connection: DatabaseConnection::default(), url, backing: Backing::Postgres { admin_url, name } };
        let mut options = ConnectOptions::new(test_db.url.clone());
        options.max_connections(MAX_CONNECTIONS).sqlx_logging(false);
        test_db.connection = Database::connect(options)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test database {}: {e}", test_db.url));
        Migrator::up(&test_db.connection, None).await.expect("cannot migrate the PostgreSQL test database");
        test_db
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Backing::Postgres { admin_url, name } = &self.backing else {
            // The pool closes as it is dropped; the temporary directory removes itself.
            return;
        };
        // Dropping our pool closes its idle connections; `WITH (FORCE)` ends whatever a clone of
        // the connection still holds open.
        drop(std::mem::take(&mut self.connection));

        // Drop runs inside the test's tokio runtime, where blocking on a future is not allowed,
        // so the cleanup gets a thread and a runtime of its own, and is waited for: a test
        // process that exits right after must not leave the database behind.
        let admin_url = admin_url.clone();
        let name = name.clone();
        let cleanup = std::thread::spawn(move || -> Result<(), String> {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let admin = connect_admin(&admin_url).await.map_err(|e| e.to_string())?;
                let dropped = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let _ = admin.close().await;
                dropped
            })
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop the test database: {e}"),
            Err(_) => eprintln!("warning: the thread dropping the test database panicked"),
        }
    }
}

async fn connect_admin(url: &str) -> Result<DatabaseConnection, sea_orm_migration::DbErr> {
    // Many tests start at once: a server at its connection limit refuses some of them for a
    // moment, which is worth a few retries rather than a failed test.
    let mut attempt = 1;
    loop {
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(1).min_connections(0).acquire_timeout(Duration::from_secs(30)).sqlx_logging(false);
        match Database::connect(options).await {
            Ok(admin) => return Ok(admin),
            Err(_) if attempt < 5 => {
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// `url` with its database name (the path) replaced by `name`, keeping credentials, host, port
/// and query parameters.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(base, query)| (base, Some(query)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut replaced = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        replaced.push('?');
        replaced.push_str(query);
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "forge_test_1"),
            "postgres://postgres@127.0.0.1:5432/forge_test_1"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432/app?sslmode=disable", "t"),
            "postgres://u:p@db:5432/t?sslmode=disable"
        );
        assert_eq!(with_database("postgres://db:5432", "t"), "postgres://db:5432/t");
        assert_eq!(with_database("postgres://db?sslmode=disable", "t"), "postgres://db/t?sslmode=disable");
    }

    #[tokio::test]
    async fn a_test_database_is_migrated_and_isolated() {
        let first = TestDatabase::new().await;
        let second = TestDatabase::new().await;
        assert_ne!(first.url(), second.url());
        for db in [&first, &second] {
            let applied = Migrator::get_applied_migrations(db.connection()).await.unwrap();
            assert_eq!(applied.len(), Migrator::migrations().len());
        }
    }

    #[tokio::test]
    async fn every_migration_can_be_rolled_back_and_applied_again() {
        let db = TestDatabase::new().await;
        Migrator::down(db.connection(), None).await.unwrap();
        assert!(Migrator::get_applied_migrations(db.connection()).await.unwrap().is_empty());
        Migrator::up(db.connection(), None).await.unwrap();
        assert_eq!(Migrator::get_pending_migrations(db.connection()).await.unwrap().len(), 0);
    }
}
