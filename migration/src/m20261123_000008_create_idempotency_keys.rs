//! The `idempotency_keys` table: one row per caller and `Idempotency-Key`, claimed by the first
//! request that uses the key and holding its response once it is done.
//!
//! The primary key `(caller, key)` is what makes claiming atomic on every instance: a claim is an
//! insert that does nothing if the row exists. `request_hash` is the SHA-256 (hex) of the method,
//! path and body of the request that claimed the key; `claim_id` tells that claim apart from a
//! later one of the same key, so a request can only complete or release its own. `state` is
//! `running` or `completed`; `status`, `headers` (a JSON array of `[name, value]`) and `body` are
//! set on completion. `expires_at` is when the row may be forgotten: soon after the claim while
//! it runs (so a crashed instance does not hold a key for a day), the retention period once
//! completed. Expired rows are purged by `expires_at`, which is indexed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(string_len(IdempotencyKeys::Caller, 160))
                    .col(string_len(IdempotencyKeys::Key, 255))
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(uuid(IdempotencyKeys::ClaimId))
                    .col(string_len(IdempotencyKeys::State, 16))
                    .col(integer_null(IdempotencyKeys::Status))
                    .col(json_binary_null(IdempotencyKeys::Headers))
                    .col(blob_null(IdempotencyKeys::Body))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                    .primary_key(Index::create().col(IdempotencyKeys::Caller).col(IdempotencyKeys::Key))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_keys_expires_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Caller,
    Key,
    RequestHash,
    ClaimId,
    State,
    Status,
    Headers,
    Body,
    CreatedAt,
    ExpiresAt,
}
