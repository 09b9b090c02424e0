//! A row of `users`.

use sea_orm::entity::prelude::*;

/// Serializable: the shared level of the cache keeps rows as JSON.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    /// The spelling the user chose.
    pub username: String,
    /// The unique, lower-cased form.
    pub username_lower: String,
    pub full_name: Option<String>,
    /// The display name lower-cased in Rust, for case-insensitive search: SQLite's `LOWER()`
    /// folds ASCII only, so the database cannot be asked to do it.
    #[sea_orm(column_type = "Text", nullable)]
    pub full_name_lower: Option<String>,
    pub role: String,
    #[sea_orm(column_type = "Text")]
    pub password_hash: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_login_at: Option<DateTimeUtc>,
    pub deleted_at: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
