//! The `login_throttles` table: the failed logins of an account in a row, and the lock they
//! may have put on it.
//!
//! A table of its own rather than columns of `users`, so that a failed login changes neither the
//! account's version nor its `ETag`, and the hot write of every failed login touches a small row.
//! A row exists only while an account has failures on record; a successful login or an unlock
//! deletes it. It belongs to its user and goes with it.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottles::Table)
                    .col(uuid(LoginThrottles::UserId).primary_key())
                    .col(integer(LoginThrottles::Failures))
                    .col(timestamp_with_time_zone(LoginThrottles::LastFailureAt))
                    .col(timestamp_with_time_zone_null(LoginThrottles::LockedUntil))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_login_throttles_user_id")
                            .from(LoginThrottles::Table, LoginThrottles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LoginThrottles::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum LoginThrottles {
    Table,
    UserId,
    Failures,
    LastFailureAt,
    LockedUntil,
}
