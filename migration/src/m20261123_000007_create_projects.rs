//! The `projects` and `project_members` tables.
//!
//! "Exactly one owner per project" holds in storage too, not only in the domain: `owner_id` is
//! required, and the partial unique index `uq_project_members_owner` on `(project_id, role)`
//! `WHERE role = 'owner'` lets no project have a second owner membership. The unit of work keeps
//! `owner_id` and the owner's membership in step inside one transaction (a transfer demotes the
//! old owner before it promotes the new one).
//!
//! A name is unique per owner among live projects, ignoring case: `name_lower` holds the name
//! lower-cased in Rust (SQLite's `LOWER()` folds ASCII only), and the partial unique index
//! `uq_projects_owner_name` on `(owner_id, name_lower)` `WHERE deleted_at IS NULL` lets a deleted
//! project's name be used again. Indexes and constraints are named so that the error messages of
//! both databases tell which rule a write broke (PostgreSQL names the index; SQLite names its
//! columns, which differ for each of them).
//!
//! Memberships go with their project and with their user (`ON DELETE CASCADE`; both are only
//! soft-deleted by the application, so this matters for administrative purges only). A project
//! keeps its memberships while soft-deleted.

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
                    .table(Projects::Table)
                    .col(uuid(Projects::Id).primary_key())
                    .col(uuid(Projects::OwnerId))
                    .col(string_len(Projects::Name, 100))
                    .col(text(Projects::NameLower))
                    .col(text_null(Projects::Description))
                    .col(string_len(Projects::Status, 16))
                    .col(big_integer(Projects::Version))
                    .col(timestamp_with_time_zone(Projects::CreatedAt))
                    .col(timestamp_with_time_zone(Projects::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Projects::DeletedAt))
                    .check(("ck_projects_status", Expr::col(Projects::Status).is_in(["active", "archived"])))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_projects_owner_id")
                            .from(Projects::Table, Projects::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_projects_owner_name")
                    .table(Projects::Table)
                    .col(Projects::OwnerId)
                    .col(Projects::NameLower)
                    .unique()
                    .and_where(Expr::col(Projects::DeletedAt).is_null())
                    .to_owned(),
            )
            .await?;
        let plain = [
            ("idx_projects_owner_id", Projects::OwnerId),
            ("idx_projects_status", Projects::Status),
            ("idx_projects_name_lower", Projects::NameLower),
            ("idx_projects_created_at", Projects::CreatedAt),
            ("idx_projects_updated_at", Projects::UpdatedAt),
            ("idx_projects_deleted_at", Projects::DeletedAt),
        ];
        for (name, column) in plain {
            manager.create_index(Index::create().name(name).table(Projects::Table).col(column).to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .col(uuid(ProjectMembers::ProjectId))
                    .col(uuid(ProjectMembers::UserId))
                    .col(string_len(ProjectMembers::Role, 16))
                    .col(big_integer(ProjectMembers::Version))
                    .col(timestamp_with_time_zone(ProjectMembers::AddedAt))
                    .col(timestamp_with_time_zone(ProjectMembers::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_project_members")
                            .col(ProjectMembers::ProjectId)
                            .col(ProjectMembers::UserId),
                    )
                    .check((
                        "ck_project_members_role",
                        Expr::col(ProjectMembers::Role).is_in(["owner", "maintainer", "viewer"]),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_project_members_project_id")
                            .from(ProjectMembers::Table, ProjectMembers::ProjectId)
                            .to(Projects::Table, Projects::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_project_members_user_id")
                            .from(ProjectMembers::Table, ProjectMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_project_members_owner")
                    .table(ProjectMembers::Table)
                    .col(ProjectMembers::ProjectId)
                    .col(ProjectMembers::Role)
                    .unique()
                    .and_where(Expr::col(ProjectMembers::Role).eq("owner"))
                    .to_owned(),
            )
            .await?;
        // "The projects of a user": the primary key serves lookups by project.
        manager
            .create_index(
                Index::create()
                    .name("idx_project_members_user_id")
                    .table(ProjectMembers::Table)
                    .col(ProjectMembers::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ProjectMembers::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Projects::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Projects {
    Table,
    Id,
    OwnerId,
    Name,
    NameLower,
    Description,
    Status,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    Version,
    AddedAt,
    UpdatedAt,
}
