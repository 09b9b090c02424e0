//! How an export looks in responses.

use chrono::{DateTime, Utc};
use forge_application::exports::{Export, ExportStatus};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::links::{API_BASE, Link};

/// Where an export is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiExportStatus {
    /// Waiting for a worker.
    Queued,
    /// Being written.
    Running,
    /// Written: download it until `expires_at`.
    Completed,
    /// Given up; `error` says why.
    Failed,
}

/// How far an export is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportProgress {
    /// Rows written so far.
    pub current: u64,
    /// Rows to write (0 until a worker has counted them).
    pub total: u64,
    /// `current` of `total` in percent; 100 once completed.
    #[schema(minimum = 0, maximum = 100)]
    pub percentage: u8,
}

/// Links of an export.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportLinks {
    /// The export.
    #[serde(rename = "self")]
    pub self_: Link,
    /// Its file, once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download: Option<Link>,
}

/// An export.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportResponse {
    /// Its id (UUID v7).
    pub id: Uuid,
    /// What it exports: `users`, `projects` or `audit_logs`.
    pub resource: String,
    /// The file's format: `csv` or `ndjson`.
    pub format: String,
    /// Where it is.
    pub status: ApiExportStatus,
    /// How far it is.
    pub progress: ExportProgress,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The file's size so far, in bytes.
    pub bytes: u64,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When it completed or failed.
    #[schema(required = true)]
    pub completed_at: Option<DateTime<Utc>>,
    /// When it and its file are deleted.
    pub expires_at: DateTime<Utc>,
    /// Where it is, and its file.
    #[serde(rename = "_links")]
    pub links: ExportLinks,
}

impl From<&Export> for ExportResponse {
    fn from(export: &Export) -> Self {
        let progress = export.progress();
        let path = format!("{API_BASE}/exports/{}", export.id);
        Self {
            id: export.id.as_uuid(),
            resource: export.resource().as_str().to_owned(),
            format: export.format.as_str().to_owned(),
            status: match export.status {
                ExportStatus::Queued => ApiExportStatus::Queued,
                ExportStatus::Running => ApiExportStatus::Running,
                ExportStatus::Completed => ApiExportStatus::Completed,
                ExportStatus::Failed => ApiExportStatus::Failed,
            },
            progress: ExportProgress {
                current: progress.current,
                total: progress.total,
                percentage: progress.percentage,
            },
            error: export.error.clone(),
            bytes: export.bytes,
            created_at: export.created_at,
            completed_at: export.completed_at,
            expires_at: export.expires_at,
            links: ExportLinks {
                download: (export.status == ExportStatus::Completed).then(|| Link::get(format!("{path}/download"))),
                self_: Link::get(path),
            },
        }
    }
}
