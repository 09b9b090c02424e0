//! `exports` and `export_chunks`: an export of users, projects or audit entries requested by a
//! user, its progress, and its file as numbered chunks. The file lives in the database so that
//! any instance can serve what any worker wrote, and so that each batch is written together with
//! the progress (and the position) it reaches: a worker killed half-way resumes after the last
//! batch written, never writing a row twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Exports::Table)
                    .col(uuid(Exports::Id).primary_key())
                    .col(uuid(Exports::OwnerId))
                    .col(string_len(Exports::Resource, 16))
                    .col(string_len(Exports::Format, 8))
                    .col(json_binary(Exports::Filters))
                    .col(string_len(Exports::Status, 16))
                    .col(big_integer(Exports::Current).default(0))
                    .col(big_integer_null(Exports::Total))
                    .col(integer(Exports::Chunks).default(0))
                    .col(string_len_null(Exports::Cursor, 64))
                    .col(big_integer(Exports::Bytes).default(0))
                    .col(text_null(Exports::Error))
                    .col(timestamp_with_time_zone(Exports::CreatedAt))
                    .col(timestamp_with_time_zone_null(Exports::CompletedAt))
                    .col(timestamp_with_time_zone(Exports::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Exports::Table, Exports::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("idx_exports_expires_at").table(Exports::Table).col(Exports::ExpiresAt).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ExportChunks::Table)
                    .col(uuid(ExportChunks::ExportId))
                    .col(integer(ExportChunks::Seq))
                    .col(blob(ExportChunks::Data))
                    .primary_key(Index::create().col(ExportChunks::ExportId).col(ExportChunks::Seq))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ExportChunks::Table, ExportChunks::ExportId)
                            .to(Exports::Table, Exports::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ExportChunks::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Exports::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Exports {
    Table,
    Id,
    OwnerId,
    Resource,
    Format,
    Filters,
    Status,
    Current,
    Total,
    Chunks,
    Cursor,
    Bytes,
    Error,
    CreatedAt,
    CompletedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ExportChunks {
    Table,
    ExportId,
    Seq,
    Data,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}
