//! A row of `account_tokens`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_tokens")]
pub struct Model {
    /// Hex SHA-256 of the token; the token itself is never stored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: String,
    pub user_id: Uuid,
    /// `verify_email` or `reset_password`.
    pub purpose: String,
    /// The address the token was mailed to.
    pub email: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
