//! # forge-migration
//!
//! Forge's schema, as an ordered list of `sea-orm-migration` migrations that run unchanged on
//! SQLite and PostgreSQL. Every migration is written with the schema builder (no raw SQL), has
//! an `up` and a `down`, and runs in a transaction on both databases, so a failed migration
//! leaves the schema as it was.
//!
//! This crate owns table and index definitions only. It must not hold entities or queries (those
//! are `forge-infrastructure`'s) nor any data migration that needs domain rules.
//!
//! With the `testing` feature, [`testing::TestDatabase`] gives each test its own migrated
//! database.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{DatabaseConnection, DbErr},
};

mod m20261123_000001_create_users;
mod m20261123_000002_create_sessions;
mod m20261123_000003_create_audit_and_outbox;
mod m20261123_000004_create_api_keys;
mod m20261123_000005_create_account_tokens;
mod m20261123_000006_create_login_throttles;
mod m20261123_000007_create_projects;
mod m20261123_000008_create_idempotency_keys;
mod m20261124_000001_add_audit_logs_project_id;
mod m20261206_000001_add_outbox_leases;
mod m20261207_000001_create_exports;
mod m20261208_000001_create_live_events;
mod m20261208_000002_add_outbox_traceparent;
mod m20261209_000001_add_project_members_project_deleted;

#[cfg(feature = "testing")]
pub mod testing;

pub use sea_orm_migration::{MigrationStatus, MigratorTrait};

/// Every migration of the schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_sessions::Migration),
            Box::new(m20261123_000003_create_audit_and_outbox::Migration),
            Box::new(m20261123_000004_create_api_keys::Migration),
            Box::new(m20261123_000005_create_account_tokens::Migration),
            Box::new(m20261123_000006_create_login_throttles::Migration),
            Box::new(m20261123_000007_create_projects::Migration),
            Box::new(m20261123_000008_create_idempotency_keys::Migration),
            Box::new(m20261124_000001_add_audit_logs_project_id::Migration),
            Box::new(m20261206_000001_add_outbox_leases::Migration),
            Box::new(m20261207_000001_create_exports::Migration),
            Box::new(m20261208_000001_create_live_events::Migration),
            Box::new(m20261208_000002_add_outbox_traceparent::Migration),
            Box::new(m20261209_000001_add_project_members_project_deleted::Migration),
        ]
    }
}

/// Applies every pending migration to `db`.
///
/// # Errors
/// The [`DbErr`] of the first migration that failed; that migration is rolled back, earlier
/// ones stay applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}
