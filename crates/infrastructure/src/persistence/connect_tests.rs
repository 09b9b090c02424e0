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
use forge_domain::users::UserId;
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
