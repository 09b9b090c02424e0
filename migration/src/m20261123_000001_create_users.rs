//! The `users` table.
//!
//! E-mail addresses are stored lower-cased by the domain, so a plain unique index makes them
//! unique regardless of case. Usernames keep their spelling in `username`; uniqueness ignoring
//! case is enforced on `username_lower`, which works the same on SQLite and PostgreSQL (no
//! functional index, no `citext`). The unique indexes are named `uq_users_email` and
//! `uq_users_username_lower`: the error messages of both databases then name the column at
//! fault, which is how the adapter tells `EmailTaken` from `UsernameTaken`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid(Users::Id).primary_key())
                    .col(string_len(Users::Email, 254))
                    .col(string_len(Users::Username, 50))
                    .col(string_len(Users::UsernameLower, 50))
                    .col(string_len_null(Users::FullName, 100))
                    .col(text_null(Users::FullNameLower))
                    .col(string_len(Users::Role, 16))
                    .col(text(Users::PasswordHash))
                    .col(boolean(Users::IsActive))
                    .col(boolean(Users::IsVerified))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .col(timestamp_with_time_zone_null(Users::DeletedAt))
                    .col(big_integer(Users::Version))
                    .to_owned(),
            )
            .await?;

        let unique = [("uq_users_email", Users::Email), ("uq_users_username_lower", Users::UsernameLower)];
        for (name, column) in unique {
            manager
                .create_index(Index::create().name(name).table(Users::Table).col(column).unique().to_owned())
                .await?;
        }

        let plain = [
            ("idx_users_is_active", Users::IsActive),
            ("idx_users_role", Users::Role),
            ("idx_users_created_at", Users::CreatedAt),
            ("idx_users_deleted_at", Users::DeletedAt),
        ];
        for (name, column) in plain {
            manager.create_index(Index::create().name(name).table(Users::Table).col(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Dropping the table drops its indexes with it, on both databases.
        manager.drop_table(Table::drop().table(Users::Table).to_owned()).await
    }

    fn use_transaction(&self) -> Option<bool> {
        // SQLite's DDL is transactional too; without this, sea-orm-migration would run it
        // statement by statement and a failure could leave half a table behind.
        Some(true)
    }
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    Username,
    UsernameLower,
    FullName,
    FullNameLower,
    Role,
    PasswordHash,
    IsActive,
    IsVerified,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
    DeletedAt,
    Version,
}
