//! A row of `exports`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner_id: Uuid,
    pub resource: String,
    pub format: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub filters: Json,
    pub status: String,
    pub current: i64,
    pub total: Option<i64>,
    pub chunks: i32,
    pub cursor: Option<String>,
    pub bytes: i64,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
