//! Leases on `outbox_events`, for the relay: `lease_owner` and `lease_until` name the relay that
//! claimed an event and until when (another relay takes it over once the lease has run out), and
//! `attempts` and `last_error` keep what became of its deliveries so far.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        let columns = [
            string_len_null(OutboxEvents::LeaseOwner, 128),
            timestamp_with_time_zone_null(OutboxEvents::LeaseUntil),
            integer(OutboxEvents::Attempts).default(0).to_owned(),
            text_null(OutboxEvents::LastError),
        ];
        for column in columns {
            let mut column = column;
            manager.alter_table(Table::alter().table(OutboxEvents::Table).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in
            [OutboxEvents::LastError, OutboxEvents::Attempts, OutboxEvents::LeaseUntil, OutboxEvents::LeaseOwner]
        {
            manager.alter_table(Table::alter().table(OutboxEvents::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum OutboxEvents {
    Table,
    LeaseOwner,
    LeaseUntil,
    Attempts,
    LastError,
}
