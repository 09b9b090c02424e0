//! What exports need from the outside world: where exports and their files are kept, where the
//! rows come from, and how rows become bytes of a format.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::users::{User, UserId};
use uuid::Uuid;

use super::{Cell, Export, ExportFilters, ExportFormat, ExportId};
use crate::{audit::AuditEntry, common::UnexpectedError, projects::ports::ProjectView};

/// Keeps exports and their files (as numbered chunks).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ExportRepository: Send + Sync {
    /// Stores a new export.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn create(&self, export: &Export) -> Result<(), UnexpectedError>;

    /// The export `id`, expired or not.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_id(&self, id: ExportId) -> Result<Option<Export>, UnexpectedError>;

    /// Marks the export running with `total` rows to write (a queued or running one only).
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn start(&self, id: ExportId, total: u64) -> Result<(), UnexpectedError>;

    /// Appends `data` as chunk number `chunk` of the file and moves the export past `rows`
    /// more rows to `cursor`, in one transaction; returns `false` (and writes nothing) when the
    /// export no longer has exactly `chunk` chunks (another attempt wrote this one first).
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn append(
        &self,
        id: ExportId,
        chunk: u32,
        data: Vec<u8>,
        cursor: Uuid,
        rows: u64,
    ) -> Result<bool, UnexpectedError>;

    /// Marks a running or queued export completed (`error` none) or failed, at `at`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn finish(&self, id: ExportId, error: Option<String>, at: DateTime<Utc>) -> Result<(), UnexpectedError>;

    /// Chunk `chunk` of the export's file.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn chunk(&self, id: ExportId, chunk: u32) -> Result<Option<Vec<u8>>, UnexpectedError>;

    /// Deletes the exports (and files) expired at `now`; returns how many.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, UnexpectedError>;
}

/// One batch of rows to export, in id order.
#[derive(Debug, Clone)]
pub enum ExportBatch {
    /// Users.
    Users(Vec<User>),
    /// Projects, each with its member count and the exporting user's role in it.
    Projects(Vec<ProjectView>),
    /// Audit entries.
    AuditLogs(Vec<AuditEntry>),
}

/// Reads the rows an export writes, in batches ordered by id, so that a batch starts exactly
/// after the last row written whatever is added or removed meanwhile.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ExportSource: Send + Sync {
    /// How many rows match.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn count(&self, filters: &ExportFilters) -> Result<u64, UnexpectedError>;

    /// At most `limit` matching rows with an id after `after` (from the first without), by id;
    /// projects as `viewer` sees them.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn batch(
        &self,
        filters: &ExportFilters,
        viewer: UserId,
        after: Option<Uuid>,
        limit: u64,
    ) -> Result<ExportBatch, UnexpectedError>;
}

/// Turns rows into the bytes of a format.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ExportEncoder: Send + Sync {
    /// The bytes of `rows` (each with one cell per column of `columns`) in `format`, after the
    /// header line when `header` is set and the format has one.
    ///
    /// # Errors
    /// [`UnexpectedError`] when a row cannot be written.
    fn encode(
        &self,
        format: ExportFormat,
        columns: &[&'static str],
        rows: &[Vec<Cell>],
        header: bool,
    ) -> Result<Vec<u8>, UnexpectedError>;
}
