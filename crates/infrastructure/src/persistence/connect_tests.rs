//! The pool as `Database::connect` opens it: the settings every connection gets, and the
//! statement counts. Unit tests, since they look through `Database` at the SeaORM pool.

use std::time::Duration;

use forge_application::{
    UnexpectedError,
    common::UnexpectedKind,
    health::Probe,
    metrics::{DatabaseBackend, DatabaseMetrics},
    users::ports::UserRepository,
};
use forge_domain::{sessions::SessionId, users::UserId};
use forge_migration::testing::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::{Database, DatabaseProbe, QueryStats, SeaDatabaseMetrics, SeaUserRepository};

async fn pragma(conn: &DatabaseConnection, name: &str) -> String {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), format!("PRAGMA {name}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).map_or_else(|_| row.try_get_by_index::<String>(0).unwrap(), |n| n.to_string())
}

async fn sqlite_in(dir: &tempfile::TempDir, max: u32) -> Database {
    Database::connect(&format!("sqlite://{}", dir.path().join("forge.db").display()), max).await.unwrap()
}

#[tokio::test]
async fn connecting_to_sqlite_creates_the_missing_directories_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/forge.db");
    let database = Database::connect(&format!("sqlite://{}", path.display()), 2).await.unwrap();
    database.connection().ping().await.unwrap();
    assert!(path.exists());
    assert_eq!(database.backend(), super::Backend::Sqlite);
}

#[tokio::test]
async fn every_sqlite_connection_uses_wal_a_busy_timeout_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_in(&dir, 3).await;
    let conn = database.connection();
    // Several rounds, so that more than one pooled connection answers.
    for _ in 0..3 {
        let (journal, busy, fks) =
            tokio::join!(pragma(conn, "journal_mode"), pragma(conn, "busy_timeout"), pragma(conn, "foreign_keys"));
        assert_eq!(journal, "wal");
        assert!(busy.parse::<i64>().unwrap() >= 5_000, "busy_timeout is {busy} ms");
        assert_eq!(fks, "1");
    }
}

#[tokio::test]
async fn an_in_memory_sqlite_database_is_one_shared_connection() {
    let database = Database::connect("sqlite::memory:", 8).await.unwrap();
    let conn = database.connection();
    conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
    // Would fail on a second connection, which would see an empty database of its own.
    for _ in 0..3 {
        conn.execute_unprepared("INSERT INTO t (x) VALUES (1)").await.unwrap();
    }
}

#[tokio::test]
async fn migrations_apply_once_and_report_their_status() {
    let database = Database::connect("sqlite::memory:", 1).await.unwrap();
    let total = database.pending_migrations().await.unwrap();
    assert!(total > 0);
    assert_eq!(database.migrate_up().await.unwrap(), total);
    assert_eq!(database.pending_migrations().await.unwrap(), 0);
    assert_eq!(database.migrate_up().await.unwrap(), 0);
    let status = database.migrations().await.unwrap();
    assert_eq!(status.len(), total);
    assert!(status.iter().all(|(_, applied)| *applied));
    database.migrate_down(1).await.unwrap();
    assert_eq!(database.pending_migrations().await.unwrap(), 1);
}

#[tokio::test]
async fn the_request_pool_opens_a_connection_only_when_a_request_needs_one() {
    let db = TestDatabase::new().await;
    let database = Database::connect(db.url(), 4).await.unwrap();
    let stats = std::sync::Arc::new(QueryStats::default());
    let request = SeaDatabaseMetrics::new(&database, stats.clone());
    let background = SeaDatabaseMetrics::new(&database.background(), stats);

    // Connecting and migrating take background connections only (but on SQLite the one SeaORM
    // reads the SQLite version through).
    database.migrate_up().await.unwrap();
    let opened = if database.backend() == super::Backend::Sqlite { 1 } else { 0 };
    assert_eq!(request.figures().pool.size, opened);
    let figures = background.figures().pool;
    assert!(figures.size >= 1, "{figures:?}");
    assert_eq!(figures.max, if database.backend() == super::Backend::Sqlite { 2 } else { 4 });

    SeaUserRepository::new(&database).by_id(UserId::generate()).await.unwrap();
    assert!(request.figures().pool.size >= 1);
    assert_eq!(request.figures().pool.max, 4);
}

/// Backends connected to the test database now.
async fn backends(conn: &DatabaseConnection) -> i64 {
    let sql = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()";
    let row = conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn on_postgresql_the_principal_is_read_on_a_connection_of_the_thread_and_survives_its_loss() {
    let db = TestDatabase::new().await;
    let database = Database::connect(db.url(), 4).await.unwrap();
    let request = SeaDatabaseMetrics::new(&database, std::sync::Arc::new(QueryStats::default()));
    let users = SeaUserRepository::new(&database);
    let read = || users.principal_row(UserId::generate(), SessionId::generate());
    if database.backend() == super::Backend::Sqlite {
        assert!(read().await.unwrap().is_none());
        assert!(request.figures().pool.size >= 1, "on SQLite the principal is read on the request pool");
        return;
    }
    let before = backends(db.connection()).await;
    // Many at once: they wait their turn for the thread's connections.
    let reads = futures::future::join_all((0..10).map(|_| read())).await;
    assert!(reads.into_iter().all(|found| found.unwrap().is_none()));
    let opened = backends(db.connection()).await - before;
    assert!((1..=i64::try_from(super::local::PER_THREAD).unwrap()).contains(&opened), "{opened} connections");
    assert_eq!(request.figures().pool.size, 0, "the request pool was not needed");

    // The server ends them: a read fails on each of them once, and runs again on the pool.
    let terminate = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()";
    db.connection().execute_unprepared(terminate).await.unwrap();
    for _ in 0..super::local::PER_THREAD {
        assert!(read().await.unwrap().is_none());
    }
    let fallbacks = request.figures().pool.size;
    assert!((1..=super::local::PER_THREAD).contains(&usize::try_from(fallbacks).unwrap()), "{fallbacks}");
    // Then the thread opens connections of its own again: the pool is not needed.
    for _ in 0..5 {
        assert!(read().await.unwrap().is_none());
    }
    assert_eq!(request.figures().pool.size, fallbacks);
}

#[tokio::test]
async fn an_in_memory_database_is_one_connection_for_both_pools() {
    let database = Database::connect("sqlite::memory:", 8).await.unwrap();
    database.background().connection().execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
    // The table a background statement made is there for a request's.
    database.connection().execute_unprepared("INSERT INTO t (x) VALUES (1)").await.unwrap();
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite_in(&dir, 1).await;
    database.connection().close_by_ref().await.unwrap();
    let err: UnexpectedError = SeaUserRepository::new(&database).by_id(UserId::generate()).await.unwrap_err();
    assert_eq!(err.kind(), UnexpectedKind::Unavailable, "{err:?}");
}

#[tokio::test]
async fn the_database_probe_answers_while_the_database_does_and_reports_it_unavailable_after() {
    let db = TestDatabase::new().await;
    let database = Database::connect(db.url(), 2).await.unwrap();
    let probe = DatabaseProbe::new(&database, Duration::from_secs(5));
    probe.check().await.unwrap();

    database.connection().close_by_ref().await.unwrap();
    let err = probe.check().await.unwrap_err();
    assert_eq!(err.kind(), UnexpectedKind::Unavailable, "{err:?}");
}

#[tokio::test]
async fn query_stats_count_every_statement_of_the_pool_and_its_clones() {
    let dir = tempfile::tempdir().unwrap();
    let mut database = sqlite_in(&dir, 2).await;
    let stats = QueryStats::attach(&mut database);
    let clone = database.clone();
    let before = stats.statements();

    pragma(database.connection(), "journal_mode").await;
    pragma(clone.connection(), "foreign_keys").await;
    let conn = clone.connection();
    let _ =
        conn.query_one_raw(Statement::from_string(conn.get_database_backend(), "SELECT * FROM no_such_table")).await;

    assert_eq!(stats.statements() - before, 3);
    assert_eq!(stats.failed(), 1);
}

#[tokio::test]
async fn the_figures_name_the_backend_the_pool_and_the_statements_run() {
    let db = TestDatabase::new().await;
    let mut database = Database::connect(db.url(), 3).await.unwrap();
    let stats = QueryStats::attach(&mut database);
    let metrics = SeaDatabaseMetrics::new(&database, stats);
    let conn = database.connection();
    let backend = conn.get_database_backend();

    conn.query_one_raw(Statement::from_string(backend, "SELECT 1")).await.unwrap();
    let failed = conn.query_one_raw(Statement::from_string(backend, "SELECT * FROM no_such_table")).await;
    assert!(failed.is_err());
    let figures = metrics.figures();

    let expected = if backend == DbBackend::Postgres { DatabaseBackend::Postgres } else { DatabaseBackend::Sqlite };
    assert_eq!(figures.backend, expected);
    assert_eq!((figures.statements, figures.failed_statements), (2, 1));
    assert_eq!(figures.pool.max, 3);
    assert!(figures.pool.size >= 1 && figures.pool.size <= 3, "{figures:?}");
    assert_eq!(figures.pool.idle + figures.pool.in_use, figures.pool.size);
}
