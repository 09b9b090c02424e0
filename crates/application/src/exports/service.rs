//! The export use cases: asking for an export, following it, downloading it, and the job that
//! writes it.

use std::{sync::Arc, time::Duration};

use forge_domain::users::Permission;

use super::{
    Cell, Export, ExportFilters, ExportFormat, ExportId, ExportResource, ExportStatus,
    ports::{ExportBatch, ExportEncoder, ExportRepository, ExportSource},
};
use crate::{
    audit::{AuditEntry, AuditValue, Snapshot, StoredSnapshot},
    common::{Actor, Clock, FieldError, UnexpectedError, ValidationErrors},
    jobs::{Job, JobQueue},
    projects::ports::ProjectView,
    realtime::{Audience, LiveEvent, LiveEventType, LiveEvents, Signal},
};

/// Why an export use case refused.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The actor may not export this resource.
    #[error("not allowed")]
    Forbidden,
    /// No such export for this actor (someone else's, expired, or never made).
    #[error("not found")]
    NotFound,
    /// The export's file is not written (yet, or ever: it failed).
    #[error("the export is {0}")]
    NotReady(&'static str),
    /// The filters are inconsistent.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// The export settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSettings {
    /// How long an export and its file exist after it was asked for (default 24 hours).
    pub retention: Duration,
    /// Rows per batch, each batch one chunk of the file written in one transaction (default
    /// 500).
    pub batch_size: u32,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self { retention: Duration::from_secs(24 * 3600), batch_size: 500 }
    }
}

/// What the export use cases need.
#[derive(Clone)]
pub struct ExportPorts {
    /// Exports and their files.
    pub exports: Arc<dyn ExportRepository>,
    /// The rows.
    pub source: Arc<dyn ExportSource>,
    /// The formats.
    pub encoder: Arc<dyn ExportEncoder>,
    /// Where the job that writes an export goes.
    pub jobs: Arc<dyn JobQueue>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Where the owner's connected clients are told of the progress.
    pub live: Arc<dyn LiveEvents>,
}

/// Exports of users, projects and the audit trail, written in the background in batches.
#[derive(Clone)]
pub struct ExportService {
    ports: ExportPorts,
    settings: ExportSettings,
}

impl ExportService {
    /// Builds the service.
    #[must_use]
    pub const fn new(ports: ExportPorts, settings: ExportSettings) -> Self {
        Self { ports, settings }
    }

    /// Asks for an export of the rows `filters` select, in `format`: stored as queued, with the
    /// job that writes it on the `exports` queue. Users and the audit trail: admins and
    /// managers. Projects: anyone, each exporting the projects it may list (an admin every one,
    /// anyone else those it is a member of).
    ///
    /// # Errors
    /// [`ExportError::Forbidden`]; [`ExportError::Validation`] naming `filters.from` when it
    /// is after `filters.to`; [`ExportError::Unexpected`] when the export or its job cannot be
    /// stored (the export is then marked failed, and nothing runs).
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), resource = filters.resource().as_str()))]
    pub async fn request(
        &self,
        actor: &Actor,
        mut filters: ExportFilters,
        format: ExportFormat,
    ) -> Result<Export, ExportError> {
        match &mut filters {
            ExportFilters::Users(_) | ExportFilters::AuditLogs(_) if !actor.can(Permission::ExportData) => {
                return Err(ExportError::Forbidden);
            }
            ExportFilters::AuditLogs(filter) => {
                if let (Some(from), Some(to)) = (filter.from, filter.to)
                    && from > to
                {
                    return Err(ExportError::Validation(ValidationErrors::new(vec![FieldError::new(
                        "filters.from",
                        "OUT_OF_RANGE",
                        "must not be after `filters.to`",
                    )])));
                }
            }
            ExportFilters::Projects(filter) => {
                filter.member = (!actor.can(Permission::ReadAllProjects)).then(|| actor.id());
            }
            ExportFilters::Users(_) => {}
        }
        let now = self.ports.clock.now();
        let retention = chrono::Duration::from_std(self.settings.retention).unwrap_or(chrono::Duration::days(1));
        let export = Export {
            id: ExportId::generate(),
            owner_id: actor.id(),
            filters,
            format,
            status: ExportStatus::Queued,
            current: 0,
            total: None,
            chunks: 0,
            cursor: None,
            bytes: 0,
            error: None,
            created_at: now,
            completed_at: None,
            expires_at: now + retention,
        };
        self.ports.exports.create(&export).await?;
        if let Err(e) = self.ports.jobs.enqueue(Job::Export(export.id)).await {
            // Nothing will write it: say so rather than leave it queued for ever.
            let _ = self.ports.exports.finish(export.id, Some("the export could not be queued".into()), now).await;
            return Err(e.into());
        }
        tracing::info!(export_id = %export.id, "export queued");
        Ok(export)
    }

    /// The export `id`: for its creator and admins, until it expires.
    ///
    /// # Errors
    /// [`ExportError::NotFound`] for anyone else, or once it has expired.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), export_id = %id))]
    pub async fn get(&self, actor: &Actor, id: ExportId) -> Result<Export, ExportError> {
        let export = self.ports.exports.by_id(id).await?.ok_or(ExportError::NotFound)?;
        let visible = actor.is(export.owner_id) || actor.can(Permission::ReadAllExports);
        if !visible || export.is_expired(self.ports.clock.now()) {
            return Err(ExportError::NotFound);
        }
        Ok(export)
    }

    /// The export `id`, when its file may be downloaded: as [`Self::get`], and completed.
    /// Read the file with [`Self::chunk`], from 0 to `chunks - 1`.
    ///
    /// # Errors
    /// As [`Self::get`]; [`ExportError::NotReady`] when it is not completed.
    pub async fn download(&self, actor: &Actor, id: ExportId) -> Result<Export, ExportError> {
        let export = self.get(actor, id).await?;
        match export.status {
            ExportStatus::Completed => Ok(export),
            other => Err(ExportError::NotReady(other.as_str())),
        }
    }

    /// Chunk `chunk` of the file of `export` (as returned by [`Self::download`]).
    ///
    /// # Errors
    /// [`UnexpectedError`] when it cannot be read, or is missing (purged meanwhile).
    pub async fn chunk(&self, export: &Export, chunk: u32) -> Result<Vec<u8>, UnexpectedError> {
        self.ports
            .exports
            .chunk(export.id, chunk)
            .await?
            .ok_or_else(|| UnexpectedError::internal(format!("chunk {chunk} of export {} is missing", export.id)))
    }

    /// Writes the export `id`, batch after batch, from where an earlier attempt left it: the
    /// job of the `exports` queue. Running it again, or twice at once, writes every row once.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails (the job is then retried, and resumes).
    #[tracing::instrument(skip_all, fields(export_id = %id))]
    pub async fn run(&self, id: ExportId) -> Result<(), UnexpectedError> {
        let exports = &self.ports.exports;
        let Some(mut export) = exports.by_id(id).await? else { return Ok(()) };
        if export.status.is_final() {
            return Ok(());
        }
        if export.is_expired(self.ports.clock.now()) {
            exports.finish(id, Some("expired before it was written".into()), self.ports.clock.now()).await?;
            export.status = ExportStatus::Failed;
            self.tell(&export, LiveEventType::ExportFailed).await;
            return Ok(());
        }
        if export.total.is_none() || export.status == ExportStatus::Queued {
            let total = match export.total {
                Some(total) => total,
                None => self.ports.source.count(&export.filters).await?,
            };
            exports.start(id, total).await?;
            export.total = Some(total);
        }
        let limit = u64::from(self.settings.batch_size.max(1));
        loop {
            let batch = self.ports.source.batch(&export.filters, export.owner_id, export.cursor, limit).await?;
            let (columns, rows, last) = rows_of(batch);
            let Some(last) = last else { break };
            let data = self.ports.encoder.encode(export.format, columns, &rows, export.chunks == 0)?;
            let written = u64::try_from(rows.len()).unwrap_or(u64::MAX);
            if exports.append(id, export.chunks, data, last, written).await? {
                export.chunks += 1;
                export.cursor = Some(last);
                export.current += written;
                export.status = ExportStatus::Running;
                self.tell(&export, LiveEventType::ExportProgress).await;
            } else {
                // Another attempt wrote this chunk: carry on from where it is now.
                export = exports.by_id(id).await?.ok_or_else(|| UnexpectedError::internal("the export vanished"))?;
                if export.status.is_final() {
                    return Ok(());
                }
            }
        }
        if export.chunks == 0 {
            // Nothing matched: the file is the header alone.
            let (columns, _, _) = rows_of(empty(export.resource()));
            let data = self.ports.encoder.encode(export.format, columns, &[], true)?;
            if !data.is_empty() {
                exports.append(id, 0, data, uuid::Uuid::nil(), 0).await?;
            }
        }
        exports.finish(id, None, self.ports.clock.now()).await?;
        export.status = ExportStatus::Completed;
        self.tell(&export, LiveEventType::ExportCompleted).await;
        tracing::info!(rows = export.current, "export completed");
        Ok(())
    }

    /// Tells the owner's connected clients where `export` stands.
    async fn tell(&self, export: &Export, event_type: LiveEventType) {
        let progress = export.progress();
        let data = Snapshot::new()
            .with("id", export.id.to_string())
            .with("resource", export.resource().as_str())
            .with("format", export.format.as_str())
            .with("status", export.status.as_str())
            .with("current", i64::try_from(progress.current).unwrap_or(i64::MAX))
            .with("total", i64::try_from(progress.total).unwrap_or(i64::MAX))
            .with("percentage", i64::from(progress.percentage));
        let event = LiveEvent::new(event_type, Audience::user(export.owner_id), &data, self.ports.clock.now());
        self.ports.live.publish(vec![Signal::Event(event)]).await;
    }

    /// Deletes expired exports and their files; returns how many.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    pub async fn purge_expired(&self) -> Result<u64, UnexpectedError> {
        self.ports.exports.purge_expired(self.ports.clock.now()).await
    }
}

const fn empty(resource: ExportResource) -> ExportBatch {
    match resource {
        ExportResource::Users => ExportBatch::Users(Vec::new()),
        ExportResource::Projects => ExportBatch::Projects(Vec::new()),
        ExportResource::AuditLogs => ExportBatch::AuditLogs(Vec::new()),
    }
}

/// The columns of a resource.
pub const USER_COLUMNS: [&str; 10] = [
    "id",
    "email",
    "username",
    "full_name",
    "role",
    "is_active",
    "is_verified",
    "created_at",
    "updated_at",
    "last_login_at",
];
/// The columns of a project.
pub const PROJECT_COLUMNS: [&str; 9] =
    ["id", "name", "description", "status", "owner_id", "member_count", "your_role", "created_at", "updated_at"];
/// The columns of an audit entry.
pub const AUDIT_COLUMNS: [&str; 12] = [
    "id",
    "actor_id",
    "action",
    "entity_type",
    "entity_id",
    "project_id",
    "before",
    "after",
    "ip",
    "user_agent",
    "request_id",
    "created_at",
];

/// The columns, the rows and the id of the last row of a batch.
fn rows_of(batch: ExportBatch) -> (&'static [&'static str], Vec<Vec<Cell>>, Option<uuid::Uuid>) {
    match batch {
        ExportBatch::Users(users) => {
            let last = users.last().map(|u| u.id().as_uuid());
            let rows = users
                .into_iter()
                .map(|u| {
                    vec![
                        Cell::Text(u.id().to_string()),
                        Cell::Text(u.email().as_ref().to_owned()),
                        Cell::Text(u.username().as_ref().to_owned()),
                        Cell::from(u.full_name().map(|n| n.as_ref().to_owned())),
                        Cell::Text(u.role().as_str().to_owned()),
                        Cell::Bool(u.is_active()),
                        Cell::Bool(u.is_verified()),
                        Cell::Time(u.created_at()),
                        Cell::Time(u.updated_at()),
                        u.last_login_at().map_or(Cell::Null, Cell::Time),
                    ]
                })
                .collect();
            (&USER_COLUMNS, rows, last)
        }
        ExportBatch::Projects(projects) => {
            let last = projects.last().map(|p| p.project.id().as_uuid());
            let rows = projects.into_iter().map(project_row).collect();
            (&PROJECT_COLUMNS, rows, last)
        }
        ExportBatch::AuditLogs(entries) => {
            let last = entries.last().map(|e| e.id);
            let rows = entries.into_iter().map(audit_row).collect();
            (&AUDIT_COLUMNS, rows, last)
        }
    }
}

fn project_row(view: ProjectView) -> Vec<Cell> {
    let p = &view.project;
    vec![
        Cell::Text(p.id().to_string()),
        Cell::Text(p.name().as_ref().to_owned()),
        Cell::from(p.description().map(|d| d.as_ref().to_owned())),
        Cell::Text(p.status().as_str().to_owned()),
        Cell::Text(p.owner_id().to_string()),
        Cell::Int(i64::try_from(view.member_count).unwrap_or(i64::MAX)),
        Cell::from(view.viewer_role.map(|r| r.as_str().to_owned())),
        Cell::Time(p.created_at()),
        Cell::Time(p.updated_at()),
    ]
}

fn audit_row(entry: AuditEntry) -> Vec<Cell> {
    vec![
        Cell::Text(entry.id.to_string()),
        Cell::from(entry.actor_id.map(|id| id.to_string())),
        Cell::Text(entry.action.as_str().to_owned()),
        Cell::Text(entry.entity_type.as_str().to_owned()),
        Cell::Text(entry.entity_id),
        Cell::from(entry.project_id.map(|id| id.to_string())),
        entry.before.as_ref().map_or(Cell::Null, snapshot),
        entry.after.as_ref().map_or(Cell::Null, snapshot),
        Cell::from(entry.context.ip),
        Cell::from(entry.context.user_agent),
        Cell::from(entry.context.request_id),
        Cell::Time(entry.created_at),
    ]
}

fn snapshot(snapshot: &StoredSnapshot) -> Cell {
    Cell::Fields(
        snapshot
            .fields()
            .map(|(name, value)| {
                let cell = match value {
                    AuditValue::Null => Cell::Null,
                    AuditValue::Bool(b) => Cell::Bool(*b),
                    AuditValue::Int(i) => Cell::Int(*i),
                    AuditValue::Text(t) => Cell::Text(t.clone()),
                    AuditValue::Time(t) => Cell::Time(*t),
                    AuditValue::List(l) => Cell::List(l.clone()),
                };
                (name.to_owned(), cell)
            })
            .collect(),
    )
}
