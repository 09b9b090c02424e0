//! `outbox_events.traceparent`: the W3C trace context of the request that stored an event (when
//! traces are on), so that its consumers' work, and the jobs they queue, continue that trace.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxEvents::Table)
                    .add_column(string_len_null(OutboxEvents::Traceparent, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(OutboxEvents::Table).drop_column(OutboxEvents::Traceparent).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum OutboxEvents {
    Table,
    Traceparent,
}
