//! The database figures: the pool as sqlx sees it, and the statements counted on it.

use forge_application::metrics::{DatabaseBackend, DatabaseMetrics};
use forge_infrastructure::{QueryStats, SeaDatabaseMetrics, connect};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::common::Harness;

#[tokio::test]
async fn the_figures_name_the_backend_the_pool_and_the_statements_run() {
    let h = Harness::new().await;
    let mut conn = connect(h.db.url(), 3).await.unwrap();
    let stats = QueryStats::attach(&mut conn);
    let metrics = SeaDatabaseMetrics::new(conn.clone(), stats);
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
