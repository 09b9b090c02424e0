//! `audit_logs.project_id`: the project an entry concerns, so the trail can be read project by
//! project (the project's own entries and those of its memberships).
//!
//! The column is nullable (most entries concern no project) and, like the rest of the trail,
//! keeps no foreign key: the trail outlives what it describes. It is indexed with `created_at`,
//! the order the trail is read in.
//!
//! Existing entries are backfilled from their `entity_id`: a project's entry holds the project's
//! id, a membership's `project_id:user_id`. Turning that text into the column's type differs
//! between the databases: PostgreSQL casts it to `uuid`; SQLite stores UUIDs as 16-byte blobs,
//! which `unhex` makes of the text without its hyphens. An `entity_id` of any other length is
//! left without a project.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_audit_logs_project_id";
/// The length of a hyphenated UUID.
const UUID_CHARS: i32 = 36;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(AuditLogs::Table).add_column(uuid_null(AuditLogs::ProjectId)).to_owned())
            .await?;

        let backend = manager.get_database_backend();
        // A project's own id is the whole `entity_id`; a membership's `project_id:user_id` starts
        // with it (36 characters, a colon, 36 more).
        let whole = Expr::col(AuditLogs::EntityId);
        let prefix = Expr::from(Func::cust("SUBSTR").arg(Expr::col(AuditLogs::EntityId)).arg(1).arg(UUID_CHARS));
        let backfills = [("project", UUID_CHARS, whole), ("membership", 2 * UUID_CHARS + 1, prefix)];
        for (entity_type, length, text) in backfills {
            manager
                .exec_stmt(
                    Query::update()
                        .table(AuditLogs::Table)
                        .value(AuditLogs::ProjectId, uuid_of_text(backend, text))
                        .and_where(Expr::col(AuditLogs::EntityType).eq(entity_type))
                        .and_where(Expr::expr(Func::cust("LENGTH").arg(Expr::col(AuditLogs::EntityId))).eq(length))
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(AuditLogs::Table)
                    .col(AuditLogs::ProjectId)
                    .col(AuditLogs::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite refuses to drop an indexed column: the index goes first.
        manager.drop_index(Index::drop().name(INDEX).table(AuditLogs::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(AuditLogs::Table).drop_column(AuditLogs::ProjectId).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

/// The UUID a hyphenated text spells, in the form `backend` stores UUIDs in.
fn uuid_of_text(backend: DatabaseBackend, text: Expr) -> Expr {
    match backend {
        DatabaseBackend::Sqlite => Func::cust("UNHEX").arg(Func::cust("REPLACE").arg(text).arg("-").arg("")).into(),
        _ => Func::cast_as(text, "uuid").into(),
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLogs {
    Table,
    EntityType,
    EntityId,
    ProjectId,
    CreatedAt,
}
