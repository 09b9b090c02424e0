//! Exports, their files (as numbered chunks), and the rows they are written from.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    audit::{AuditAction, AuditEntity, ports::AuditLogFilter},
    exports::{
        Export, ExportFilters, ExportFormat, ExportId, ExportResource, ExportStatus,
        ports::{ExportBatch, ExportRepository, ExportSource},
    },
    projects::ports::{ProjectFilter, ProjectView},
    users::ports::UserFilter,
};
use forge_domain::{
    projects::{ProjectId, ProjectStatus},
    users::{Role, UserId},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait as _, QueryFilter,
    QueryOrder, QuerySelect, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{
    Database, FetchUnique as _, SeaProjectRepository,
    entities::{audit_logs, export_chunks, exports, projects, users},
    errors::{CorruptRow, unexpected},
    placeholder, stored,
};

/// [`ExportRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaExportRepository {
    db: DatabaseConnection,
}

impl SeaExportRepository {
    /// The exports of `database`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl ExportRepository for SeaExportRepository {
    #[tracing::instrument(skip_all, fields(export_id = %export.id))]
    async fn create(&self, export: &Export) -> Result<(), UnexpectedError> {
        let row = exports::ActiveModel {
            id: Set(export.id.as_uuid()),
            owner_id: Set(export.owner_id.as_uuid()),
            resource: Set(export.resource().as_str().to_owned()),
            format: Set(export.format.as_str().to_owned()),
            filters: Set(filters_to_json(&export.filters)),
            status: Set(export.status.as_str().to_owned()),
            current: Set(i64::try_from(export.current).unwrap_or(i64::MAX)),
            total: Set(export.total.map(|t| i64::try_from(t).unwrap_or(i64::MAX))),
            chunks: Set(i32::try_from(export.chunks).unwrap_or(i32::MAX)),
            cursor: Set(export.cursor.map(|c| c.to_string())),
            bytes: Set(i64::try_from(export.bytes).unwrap_or(i64::MAX)),
            error: Set(export.error.clone()),
            created_at: Set(stored(export.created_at)),
            completed_at: Set(export.completed_at.map(stored)),
            expires_at: Set(stored(export.expires_at)),
        };
        exports::Entity::insert(row).exec_without_returning(&self.db).await.map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(export_id = %id))]
    async fn by_id(&self, id: ExportId) -> Result<Option<Export>, UnexpectedError> {
        exports::Entity::find_by_id(id.as_uuid()).unique(&self.db).await.map_err(unexpected)?.map(to_domain).transpose()
    }

    #[tracing::instrument(skip_all, fields(export_id = %id, total))]
    async fn start(&self, id: ExportId, total: u64) -> Result<(), UnexpectedError> {
        let backend = self.db.get_database_backend();
        let sql = format!(
            "UPDATE exports SET status = 'running', total = {} WHERE id = {} AND status IN ('queued', 'running')",
            placeholder(backend, 1),
            placeholder(backend, 2)
        );
        let values = [i64::try_from(total).unwrap_or(i64::MAX).into(), id.as_uuid().into()];
        self.db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(export_id = %id, chunk, rows))]
    async fn append(
        &self,
        id: ExportId,
        chunk: u32,
        data: Vec<u8>,
        cursor: Uuid,
        rows: u64,
    ) -> Result<bool, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let tx = self.db.begin_with_options(options).await.map_err(unexpected)?;
        let seq = i32::try_from(chunk).map_err(|_| UnexpectedError::internal("too many chunks"))?;
        // Moves the export on only from exactly `chunk` chunks: a second attempt writing the
        // same batch finds the count moved and writes nothing.
        let sql = format!(
            "UPDATE exports SET chunks = chunks + 1, cursor = {}, current = current + {}, bytes = bytes + {} \
             WHERE id = {} AND chunks = {} AND status = 'running'",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3),
            placeholder(backend, 4),
            placeholder(backend, 5)
        );
        let values = [
            (!cursor.is_nil()).then(|| cursor.to_string()).into(),
            i64::try_from(rows).unwrap_or(i64::MAX).into(),
            i64::try_from(data.len()).unwrap_or(i64::MAX).into(),
            id.as_uuid().into(),
            seq.into(),
        ];
        let moved = tx
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .map_err(unexpected)?
            .rows_affected();
        if moved != 1 {
            tx.rollback().await.map_err(unexpected)?;
            return Ok(false);
        }
        let row = export_chunks::ActiveModel { export_id: Set(id.as_uuid()), seq: Set(seq), data: Set(data) };
        export_chunks::Entity::insert(row).exec_without_returning(&tx).await.map_err(unexpected)?;
        tx.commit().await.map_err(unexpected)?;
        Ok(true)
    }

    #[tracing::instrument(skip_all, fields(export_id = %id))]
    async fn finish(&self, id: ExportId, error: Option<String>, at: DateTime<Utc>) -> Result<(), UnexpectedError> {
        let backend = self.db.get_database_backend();
        let status = if error.is_some() { ExportStatus::Failed } else { ExportStatus::Completed };
        let sql = format!(
            "UPDATE exports SET status = {}, error = {}, completed_at = {} WHERE id = {} AND status IN ('queued', 'running')",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3),
            placeholder(backend, 4)
        );
        let values = [status.as_str().into(), error.into(), stored(at).into(), id.as_uuid().into()];
        self.db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(export_id = %id, chunk))]
    async fn chunk(&self, id: ExportId, chunk: u32) -> Result<Option<Vec<u8>>, UnexpectedError> {
        let seq = i32::try_from(chunk).map_err(|_| UnexpectedError::internal("too many chunks"))?;
        let data: Option<Vec<u8>> = export_chunks::Entity::find()
            .select_only()
            .column(export_chunks::Column::Data)
            .filter(export_chunks::Column::ExportId.eq(id.as_uuid()))
            .filter(export_chunks::Column::Seq.eq(seq))
            .into_tuple()
            .unique(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(data)
    }

    #[tracing::instrument(skip_all)]
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, UnexpectedError> {
        purge_expired_exports(&self.db, now).await
    }
}

/// Deletes the exports expired at `now` and their chunks; returns how many exports.
pub(crate) async fn purge_expired_exports(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, UnexpectedError> {
    let backend = db.get_database_backend();
    // The chunks first, in their own statement: SQLite enforces the cascade only with foreign
    // keys on, and the chunks are most of the bytes.
    let chunks = format!(
        "DELETE FROM export_chunks WHERE export_id IN (SELECT id FROM exports WHERE expires_at <= {})",
        placeholder(backend, 1)
    );
    db.execute_raw(Statement::from_sql_and_values(backend, chunks, [stored(now).into()])).await.map_err(unexpected)?;
    let deleted = exports::Entity::delete_many()
        .filter(exports::Column::ExpiresAt.lte(stored(now)))
        .exec(db)
        .await
        .map_err(unexpected)?;
    Ok(deleted.rows_affected)
}

/// An export of a row; anything unreadable is a [`CorruptRow`].
fn to_domain(row: exports::Model) -> Result<Export, UnexpectedError> {
    let corrupt = |column, reason: &str| CorruptRow::error("exports", row.id, column, reason);
    let resource =
        ExportResource::from_name(&row.resource).ok_or_else(|| corrupt("resource", "an unknown resource"))?;
    let count = |value: i64, column| u64::try_from(value).map_err(|_| corrupt(column, "negative"));
    Ok(Export {
        id: ExportId::from_uuid(row.id),
        owner_id: UserId::from_uuid(row.owner_id),
        filters: filters_from_json(resource, &row.filters).ok_or_else(|| corrupt("filters", "not of a known form"))?,
        format: ExportFormat::from_name(&row.format).ok_or_else(|| corrupt("format", "an unknown format"))?,
        status: ExportStatus::from_name(&row.status).ok_or_else(|| corrupt("status", "an unknown status"))?,
        current: count(row.current, "current")?,
        total: row.total.map(|t| count(t, "total")).transpose()?,
        chunks: u32::try_from(row.chunks).map_err(|_| corrupt("chunks", "negative"))?,
        cursor: row.cursor.as_deref().map(Uuid::parse_str).transpose().map_err(|_| corrupt("cursor", "not a UUID"))?,
        bytes: count(row.bytes, "bytes")?,
        error: row.error,
        created_at: row.created_at,
        completed_at: row.completed_at,
        expires_at: row.expires_at,
    })
}

/// The stored form of an export's filters: an object of the filters that are set.
fn filters_to_json(filters: &ExportFilters) -> Value {
    let mut map = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            map.insert(name.to_owned(), value);
        }
    };
    match filters {
        ExportFilters::Users(f) => {
            put("search", f.search.clone().map(Value::from));
            put("role", f.role.map(|r| json!(r.as_str())));
            put("is_active", f.is_active.map(Value::from));
            put("is_verified", f.is_verified.map(Value::from));
        }
        ExportFilters::Projects(f) => {
            put("search", f.search.clone().map(Value::from));
            put("status", f.status.map(|s| json!(s.as_str())));
            put("owner_id", f.owner_id.map(|id| json!(id.to_string())));
            put("member", f.member.map(|id| json!(id.to_string())));
        }
        ExportFilters::AuditLogs(f) => {
            put("actor_id", f.actor_id.map(|id| json!(id.to_string())));
            put("entity_type", f.entity_type.map(|e| json!(e.as_str())));
            put("entity_id", f.entity_id.clone().map(Value::from));
            put("project_id", f.project_id.map(|id| json!(id.to_string())));
            put("action", f.action.map(|a| json!(a.as_str())));
            put("from", f.from.map(|t| json!(t.to_rfc3339())));
            put("to", f.to.map(|t| json!(t.to_rfc3339())));
        }
    }
    Value::Object(map)
}

/// The filters of a stored object; `None` when a value is not of its form.
fn filters_from_json(resource: ExportResource, value: &Value) -> Option<ExportFilters> {
    let map = value.as_object()?;
    let text = |name: &str| -> Option<Option<String>> {
        match map.get(name) {
            None => Some(None),
            Some(v) => v.as_str().map(|s| Some(s.to_owned())),
        }
    };
    let flag = |name: &str| -> Option<Option<bool>> {
        match map.get(name) {
            None => Some(None),
            Some(v) => v.as_bool().map(Some),
        }
    };
    let uuid = |name: &str| -> Option<Option<Uuid>> {
        match text(name)? {
            None => Some(None),
            Some(s) => Uuid::parse_str(&s).ok().map(Some),
        }
    };
    let time = |name: &str| -> Option<Option<DateTime<Utc>>> {
        match text(name)? {
            None => Some(None),
            Some(s) => DateTime::parse_from_rfc3339(&s).ok().map(|t| Some(t.with_timezone(&Utc))),
        }
    };
    Some(match resource {
        ExportResource::Users => ExportFilters::Users(UserFilter {
            search: text("search")?,
            role: match text("role")? {
                None => None,
                Some(s) => Some(s.parse::<Role>().ok()?),
            },
            is_active: flag("is_active")?,
            is_verified: flag("is_verified")?,
        }),
        ExportResource::Projects => ExportFilters::Projects(ProjectFilter {
            search: text("search")?,
            status: match text("status")? {
                None => None,
                Some(s) => Some(s.parse::<ProjectStatus>().ok()?),
            },
            owner_id: uuid("owner_id")?.map(UserId::from_uuid),
            member: uuid("member")?.map(UserId::from_uuid),
        }),
        ExportResource::AuditLogs => ExportFilters::AuditLogs(AuditLogFilter {
            actor_id: uuid("actor_id")?.map(UserId::from_uuid),
            entity_type: match text("entity_type")? {
                None => None,
                Some(s) => Some(AuditEntity::parse(&s)?),
            },
            entity_id: text("entity_id")?,
            project_id: uuid("project_id")?.map(ProjectId::from_uuid),
            action: match text("action")? {
                None => None,
                Some(s) => Some(AuditAction::parse(&s)?),
            },
            from: time("from")?,
            to: time("to")?,
        }),
    })
}

/// [`ExportSource`] over SeaORM: the list filters of each resource, read in id order.
#[derive(Debug, Clone)]
pub struct SeaExportSource {
    db: DatabaseConnection,
    projects: SeaProjectRepository,
}

impl SeaExportSource {
    /// The rows of `database`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone(), projects: SeaProjectRepository::new(database) }
    }
}

#[async_trait]
impl ExportSource for SeaExportSource {
    #[tracing::instrument(skip_all, fields(resource = filters.resource().as_str()))]
    async fn count(&self, filters: &ExportFilters) -> Result<u64, UnexpectedError> {
        match filters {
            ExportFilters::Users(f) => users::Entity::find().filter(super::users::matching(f)).count(&self.db).await,
            ExportFilters::Projects(f) => {
                projects::Entity::find().filter(super::projects::matching(f)).count(&self.db).await
            }
            ExportFilters::AuditLogs(f) => {
                audit_logs::Entity::find().filter(super::audit::matching(f)).count(&self.db).await
            }
        }
        .map_err(unexpected)
    }

    #[tracing::instrument(skip_all, fields(resource = filters.resource().as_str(), limit))]
    async fn batch(
        &self,
        filters: &ExportFilters,
        viewer: UserId,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<ExportBatch, UnexpectedError> {
        match filters {
            ExportFilters::Users(f) => {
                let mut select = users::Entity::find().filter(super::users::matching(f));
                if let Some(after) = after {
                    select = select.filter(users::Column::Id.gt(after));
                }
                let rows =
                    select.order_by_asc(users::Column::Id).limit(limit).all(&self.db).await.map_err(unexpected)?;
                Ok(ExportBatch::Users(rows.into_iter().map(super::users::to_domain).collect::<Result<_, _>>()?))
            }
            ExportFilters::Projects(f) => {
                let mut select = projects::Entity::find().filter(super::projects::matching(f));
                if let Some(after) = after {
                    select = select.filter(projects::Column::Id.gt(after));
                }
                let rows =
                    select.order_by_asc(projects::Column::Id).limit(limit).all(&self.db).await.map_err(unexpected)?;
                let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
                if ids.is_empty() {
                    return Ok(ExportBatch::Projects(Vec::new()));
                }
                let counts = self.projects.member_counts(&ids).await?;
                let roles = self.projects.roles_of(viewer, &ids).await?;
                let views = rows
                    .into_iter()
                    .map(|row| {
                        let id = row.id;
                        Ok(ProjectView {
                            project: super::projects::to_domain(row)?,
                            member_count: counts.get(&id).copied().unwrap_or_default(),
                            viewer_role: roles.get(&id).copied(),
                        })
                    })
                    .collect::<Result<_, UnexpectedError>>()?;
                Ok(ExportBatch::Projects(views))
            }
            ExportFilters::AuditLogs(f) => {
                let mut select = audit_logs::Entity::find().filter(super::audit::matching(f));
                if let Some(after) = after {
                    select = select.filter(audit_logs::Column::Id.gt(after));
                }
                let rows =
                    select.order_by_asc(audit_logs::Column::Id).limit(limit).all(&self.db).await.map_err(unexpected)?;
                Ok(ExportBatch::AuditLogs(
                    rows.into_iter().map(super::audit::entry_from_row).collect::<Result<_, _>>()?,
                ))
            }
        }
    }
}
