//! The `audit_logs` and `outbox_events` tables.
//!
//! Audit entries keep no foreign key to `users`: the trail outlives whatever it describes, an
//! administrative purge included. `changes` holds `{"before", "after"}` as JSON (`jsonb` on
//! PostgreSQL). Outbox events belong to their recipient and go with it; `published_at` stays null
//! until a relay has delivered the event.

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
                    .table(AuditLogs::Table)
                    .col(uuid(AuditLogs::Id).primary_key())
                    .col(uuid_null(AuditLogs::ActorId))
                    .col(string_len(AuditLogs::Action, 64))
                    .col(string_len(AuditLogs::EntityType, 32))
                    .col(string_len(AuditLogs::EntityId, 80))
                    .col(json_binary(AuditLogs::Changes))
                    .col(string_len_null(AuditLogs::Ip, 64))
                    .col(string_len_null(AuditLogs::UserAgent, 512))
                    .col(string_len_null(AuditLogs::RequestId, 128))
                    .col(timestamp_with_time_zone(AuditLogs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        let indexes: [(&str, &[AuditLogs]); 4] = [
            ("idx_audit_logs_created_at", &[AuditLogs::CreatedAt]),
            ("idx_audit_logs_entity", &[AuditLogs::EntityType, AuditLogs::EntityId]),
            ("idx_audit_logs_actor_id", &[AuditLogs::ActorId]),
            ("idx_audit_logs_action", &[AuditLogs::Action]),
        ];
        for (name, columns) in indexes {
            let mut index = Index::create().name(name).table(AuditLogs::Table).to_owned();
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .col(uuid(OutboxEvents::Id).primary_key())
                    .col(string_len(OutboxEvents::EventType, 64))
                    .col(uuid(OutboxEvents::RecipientId))
                    .col(json_binary(OutboxEvents::Data))
                    .col(timestamp_with_time_zone(OutboxEvents::OccurredAt))
                    .col(timestamp_with_time_zone_null(OutboxEvents::PublishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_events_recipient_id")
                            .from(OutboxEvents::Table, OutboxEvents::RecipientId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_recipient_id")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::RecipientId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_pending")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::PublishedAt)
                    .col(OutboxEvents::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(OutboxEvents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(AuditLogs::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLogs {
    Table,
    Id,
    ActorId,
    Action,
    EntityType,
    EntityId,
    Changes,
    Ip,
    UserAgent,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    EventType,
    RecipientId,
    Data,
    OccurredAt,
    PublishedAt,
}
