//! The statistics of the dashboard: one aggregate query per table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    dashboard::{ProjectCounts, UserCounts, ports::StatsSource},
};
use forge_domain::{projects::ProjectStatus, users::Role};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Alias, Expr, ExprTrait, Func, IntoCondition, Query},
};

use super::{
    Database,
    entities::{
        projects,
        users::{self, Column},
    },
    errors::unexpected,
    stored,
};

/// [`StatsSource`] over SeaORM.
///
/// Each count is one aggregate query over its table, soft-deleted rows left out.
#[derive(Debug, Clone)]
pub struct SeaStatsSource {
    db: DatabaseConnection,
}

impl SeaStatsSource {
    /// A source reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

/// `COALESCE(SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0)`: how many rows meet `condition`
/// (0, not NULL, over no rows).
fn count_where(condition: impl IntoCondition) -> Expr {
    Func::coalesce([Func::sum(Expr::case(condition, 1).finally(0)).into(), Expr::val(0)]).into()
}

/// A count from the database as the port's unsigned number (counts are never negative).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

#[async_trait]
impl StatsSource for SeaStatsSource {
    #[tracing::instrument(skip_all)]
    async fn user_counts(&self, today: DateTime<Utc>, week: DateTime<Utc>) -> Result<UserCounts, UnexpectedError> {
        let row: Option<(i64, i64, i64, i64, i64)> = users::Entity::find()
            .select_only()
            .expr_as(Func::count(Expr::col(Column::Id)), "total")
            .expr_as(count_where(Column::IsActive.eq(true)), "active")
            .expr_as(count_where(Column::Role.eq(Role::Admin.as_str())), "admins")
            .expr_as(count_where(Column::CreatedAt.gte(stored(today))), "new_today")
            .expr_as(count_where(Column::CreatedAt.gte(stored(week))), "new_week")
            .filter(Column::DeletedAt.is_null())
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        let (total, active, admins, new_today, new_week) = row.unwrap_or_default();
        Ok(UserCounts {
            total: count(total),
            active: count(active),
            admins: count(admins),
            new_today: count(new_today),
            new_week: count(new_week),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn project_counts(&self) -> Result<ProjectCounts, UnexpectedError> {
        let query = Query::select()
            .expr_as(Func::count(Expr::col((projects::Entity, projects::Column::Id))), Alias::new("total"))
            .expr_as(
                count_where(Expr::col((projects::Entity, projects::Column::Status)).eq(ProjectStatus::Active.as_str())),
                Alias::new("active"),
            )
            .from(projects::Entity)
            .and_where(Expr::col((projects::Entity, projects::Column::DeletedAt)).is_null())
            .to_owned();
        let row = self.db.query_one(&query).await.map_err(unexpected)?;
        let (total, active): (i64, i64) = match row {
            Some(row) => {
                (row.try_get("", "total").map_err(unexpected)?, row.try_get("", "active").map_err(unexpected)?)
            }
            None => (0, 0),
        };
        Ok(ProjectCounts { total: count(total), active: count(active) })
    }
}
