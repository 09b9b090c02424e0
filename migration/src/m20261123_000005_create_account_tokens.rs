//! The `account_tokens` table: single-use e-mail verification and password reset tokens.
//!
//! A token is stored by the hex SHA-256 digest of the token, never the token, with its purpose
//! (`verify_email` or `reset_password`), the address it was mailed to and its expiry. A used
//! token is deleted, and issuing a token deletes the account's earlier ones of the same purpose,
//! so lookups go by digest and deletions by `(user_id, purpose)`. Tokens cascade with their user.

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
                    .table(AccountTokens::Table)
                    .col(string_len(AccountTokens::Digest, 64).primary_key())
                    .col(uuid(AccountTokens::UserId))
                    .col(string_len(AccountTokens::Purpose, 32))
                    .col(string_len(AccountTokens::Email, 254))
                    .col(timestamp_with_time_zone(AccountTokens::CreatedAt))
                    .col(timestamp_with_time_zone(AccountTokens::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_account_tokens_user_id")
                            .from(AccountTokens::Table, AccountTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_account_tokens_user_id_purpose")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::UserId)
                    .col(AccountTokens::Purpose)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccountTokens::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum AccountTokens {
    Table,
    Digest,
    UserId,
    Purpose,
    Email,
    CreatedAt,
    ExpiresAt,
}
