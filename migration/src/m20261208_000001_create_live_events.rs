//! `live_events` and `ws_tickets`: the recent real-time events, in the order they were stored,
//! that a reconnecting client replays; and the single-use tickets a browser opens a WebSocket
//! with (only their digests).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LiveEvents::Table)
                    .col(big_integer(LiveEvents::Seq).auto_increment().primary_key())
                    .col(uuid_uniq(LiveEvents::Id))
                    .col(string_len(LiveEvents::EventType, 64))
                    .col(uuid_null(LiveEvents::UserId))
                    .col(uuid_null(LiveEvents::ProjectId))
                    .col(json_binary(LiveEvents::Data))
                    .col(timestamp_with_time_zone(LiveEvents::OccurredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_live_events_occurred_at")
                    .table(LiveEvents::Table)
                    .col(LiveEvents::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WsTickets::Table)
                    .col(string_len(WsTickets::Digest, 64).primary_key())
                    .col(uuid(WsTickets::UserId))
                    .col(uuid(WsTickets::SessionId))
                    .col(timestamp_with_time_zone(WsTickets::ExpiresAt))
                    .col(timestamp_with_time_zone_null(WsTickets::UsedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ws_tickets_expires_at")
                    .table(WsTickets::Table)
                    .col(WsTickets::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WsTickets::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(LiveEvents::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum LiveEvents {
    Table,
    Seq,
    Id,
    EventType,
    UserId,
    ProjectId,
    Data,
    OccurredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WsTickets {
    Table,
    Digest,
    UserId,
    SessionId,
    ExpiresAt,
    UsedAt,
}
