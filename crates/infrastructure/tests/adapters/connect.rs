use std::time::Duration;

use forge_application::{UnexpectedError, common::UnexpectedKind, health::Probe, users::ports::UserRepository};
use forge_domain::users::UserId;
use forge_infrastructure::{DatabaseProbe, SeaUserRepository, connect};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn pragma(conn: &DatabaseConnection, name: &str) -> String {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), format!("PRAGMA {name}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).map_or_else(|_| row.try_get_by_index::<String>(0).unwrap(), |n| n.to_string())
}

#[tokio::test]
async fn connecting_to_sqlite_creates_the_missing_directories_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/forge.db");
    let conn = connect(&format!("sqlite://{}", path.display()), 2).await.unwrap();
    conn.ping().await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn every_sqlite_connection_uses_wal_a_busy_timeout_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&format!("sqlite://{}", dir.path().join("forge.db").display()), 3).await.unwrap();
    // Several rounds, so that more than one pooled connection answers.
    for _ in 0..3 {
        let (journal, busy, fks) =
            tokio::join!(pragma(&conn, "journal_mode"), pragma(&conn, "busy_timeout"), pragma(&conn, "foreign_keys"));
        assert_eq!(journal, "wal");
        assert!(busy.parse::<i64>().unwrap() >= 5_000, "busy_timeout is {busy} ms");
        assert_eq!(fks, "1");
    }
}

#[tokio::test]
async fn an_in_memory_sqlite_database_is_one_shared_connection() {
    let conn = connect("sqlite::memory:", 8).await.unwrap();
    conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await.unwrap();
    // Would fail on a second connection, which would see an empty database of its own.
    for _ in 0..3 {
        conn.execute_unprepared("INSERT INTO t (x) VALUES (1)").await.unwrap();
    }
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let conn = connect(&format!("sqlite://{}", dir.path().join("forge.db").display()), 1).await.unwrap();
    conn.close_by_ref().await.unwrap();
    let err: UnexpectedError = SeaUserRepository::new(conn).by_id(UserId::generate()).await.unwrap_err();
    assert_eq!(err.kind(), UnexpectedKind::Unavailable, "{err:?}");
}

#[tokio::test]
async fn the_database_probe_answers_while_the_database_does_and_reports_it_unavailable_after() {
    let h = crate::common::Harness::new().await;
    let probe = DatabaseProbe::new(h.conn.clone(), Duration::from_secs(5));
    probe.check().await.unwrap();

    h.conn.close_by_ref().await.unwrap();
    let err = probe.check().await.unwrap_err();
    assert_eq!(err.kind(), UnexpectedKind::Unavailable, "{err:?}");
}

#[tokio::test]
async fn query_stats_count_every_statement_of_the_pool_and_its_clones() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = connect(&format!("sqlite://{}", dir.path().join("forge.db").display()), 2).await.unwrap();
    let stats = forge_infrastructure::QueryStats::attach(&mut conn);
    let clone = conn.clone();
    let before = stats.statements();

    pragma(&conn, "journal_mode").await;
    pragma(&clone, "foreign_keys").await;
    let _ =
        clone.query_one_raw(Statement::from_string(clone.get_database_backend(), "SELECT * FROM no_such_table")).await;

    assert_eq!(stats.statements() - before, 3);
    assert_eq!(stats.failed(), 1);
}
