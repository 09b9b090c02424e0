//! What an export is: which rows of which resource, in which format, for whom, and how far along.

use chrono::{DateTime, Utc};
use forge_domain::users::UserId;
use uuid::Uuid;

use crate::{audit::ports::AuditLogFilter, projects::ports::ProjectFilter, users::ports::UserFilter};

/// An export's id (UUID v7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExportId(Uuid);

impl ExportId {
    /// A new id.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// The export with this id.
    #[must_use]
    pub const fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The id as a UUID.
    #[must_use]
    pub const fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for ExportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportResource {
    /// Users (not deleted).
    Users,
    /// Projects (not deleted).
    Projects,
    /// The audit trail.
    AuditLogs,
}

impl ExportResource {
    /// Every resource.
    pub const ALL: [Self; 3] = [Self::Users, Self::Projects, Self::AuditLogs];

    /// The stable name: `users`, `projects`, `audit_logs`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Projects => "projects",
            Self::AuditLogs => "audit_logs",
        }
    }

    /// The resource named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// Comma-separated values (RFC 4180) with a header line.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl ExportFormat {
    /// Every format.
    pub const ALL: [Self; 2] = [Self::Csv, Self::Ndjson];

    /// The stable name: `csv`, `ndjson`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }

    /// The format named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The media type of the file.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
        }
    }
}

/// Where an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportStatus {
    /// Waiting for a worker.
    Queued,
    /// Being written.
    Running,
    /// Written: the file can be downloaded until the export expires.
    Completed,
    /// Given up, with the reason in [`Export::error`].
    Failed,
}

impl ExportStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Queued, Self::Running, Self::Completed, Self::Failed];

    /// The stable name: `queued`, `running`, `completed`, `failed`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// The status named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether nothing more will happen to the export.
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// Which rows are exported: the resource and the filters of its list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportFilters {
    /// Users matching the filter.
    Users(UserFilter),
    /// Projects matching the filter (its `member` set by the use case for a member's export).
    Projects(ProjectFilter),
    /// Audit entries matching the filter.
    AuditLogs(AuditLogFilter),
}

impl ExportFilters {
    /// The resource the filters are of.
    #[must_use]
    pub const fn resource(&self) -> ExportResource {
        match self {
            Self::Users(_) => ExportResource::Users,
            Self::Projects(_) => ExportResource::Projects,
            Self::AuditLogs(_) => ExportResource::AuditLogs,
        }
    }
}

/// How far an export is: rows written of rows to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Rows written so far.
    pub current: u64,
    /// Rows to write (known once a worker has counted them; 0 before).
    pub total: u64,
    /// `current` of `total` in percent, 0 to 100 (100 for a completed export of nothing).
    pub percentage: u8,
}

/// One export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Its id.
    pub id: ExportId,
    /// Who asked for it: the only one (beside admins) who may see and download it.
    pub owner_id: UserId,
    /// What it exports.
    pub filters: ExportFilters,
    /// The file's format.
    pub format: ExportFormat,
    /// Where it is.
    pub status: ExportStatus,
    /// Rows written so far.
    pub current: u64,
    /// Rows to write, once counted.
    pub total: Option<u64>,
    /// Chunks of the file written so far (each a batch of rows).
    pub chunks: u32,
    /// The id of the last row written: the next batch starts after it.
    pub cursor: Option<Uuid>,
    /// The file's size so far, in bytes.
    pub bytes: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it completed or failed.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it (and its file) stop existing.
    pub expires_at: DateTime<Utc>,
}

impl Export {
    /// What it exports.
    #[must_use]
    pub const fn resource(&self) -> ExportResource {
        self.filters.resource()
    }

    /// How far along it is.
    #[must_use]
    pub fn progress(&self) -> Progress {
        let total = self.total.unwrap_or(0).max(self.current);
        let percentage = if self.status == ExportStatus::Completed {
            100
        } else {
            // At most 99 until completed: the last batch is not the end until it is recorded.
            self.current.saturating_mul(100).checked_div(total).map_or(0, |p| u8::try_from(p.min(99)).unwrap_or(99))
        };
        Progress { current: self.current, total, percentage }
    }

    /// Whether it has expired at `now` (it is then gone for everyone).
    #[must_use]
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// The file's name for a download: `users-<id>.csv`.
    #[must_use]
    pub fn file_name(&self) -> String {
        format!("{}-{}.{}", self.resource().as_str(), self.id, self.format.as_str())
    }
}

/// One value of an exported row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// No value.
    Null,
    /// A flag.
    Bool(bool),
    /// A number.
    Int(i64),
    /// Text (a CSV encoder neutralises what a spreadsheet would run as a formula).
    Text(String),
    /// An instant (RFC 3339 in UTC).
    Time(DateTime<Utc>),
    /// A list of texts.
    List(Vec<String>),
    /// Named values (an audit entry's fields before or after): an object in NDJSON, its JSON
    /// text in CSV.
    Fields(Vec<(String, Cell)>),
}

impl From<Option<String>> for Cell {
    fn from(value: Option<String>) -> Self {
        value.map_or(Self::Null, Self::Text)
    }
}
