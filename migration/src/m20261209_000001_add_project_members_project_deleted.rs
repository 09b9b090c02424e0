//! `project_members.project_deleted`: whether the membership's project is soft-deleted, kept in
//! step by the unit of work that deletes the project. A soft-deleted project keeps its memberships
//! (its last events still reach its members), but a member's list of projects must not read them:
//! the partial index `idx_project_members_user_live` on `(user_id, project_id)` `WHERE NOT
//! project_deleted` holds a member's live memberships only, so that list costs what the member
//! belongs to now, not every project the member ever belonged to.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ProjectMembers::Table)
                    .add_column(boolean(ProjectMembers::ProjectDeleted).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(ProjectMembers::Table)
                    .value(ProjectMembers::ProjectDeleted, true)
                    .and_where(
                        Expr::col(ProjectMembers::ProjectId).in_subquery(
                            Query::select()
                                .column(Projects::Id)
                                .from(Projects::Table)
                                .and_where(Expr::col(Projects::DeletedAt).is_not_null())
                                .to_owned(),
                        ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_project_members_user_live")
                    .table(ProjectMembers::Table)
                    .col(ProjectMembers::UserId)
                    .col(ProjectMembers::ProjectId)
                    .and_where(Expr::col(ProjectMembers::ProjectDeleted).eq(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_project_members_user_live").table(ProjectMembers::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(ProjectMembers::Table).drop_column(ProjectMembers::ProjectDeleted).to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    ProjectDeleted,
}

#[derive(DeriveIden, Clone, Copy)]
enum Projects {
    Table,
    Id,
    DeletedAt,
}
