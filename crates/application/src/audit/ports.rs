//! What reading the audit trail needs from the outside world. Entries are written by the unit of
//! work (an [`AuditRecord`](super::AuditRecord) is a [`Change`](crate::common::Change)); this side only reads them, and nothing
//! anywhere changes or deletes one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::{projects::ProjectId, users::UserId};

use super::{AuditAction, AuditEntity, AuditEntry};
use crate::common::{Page, PageRequest, SortOrder, UnexpectedError};

/// Fields the trail can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditLogSort {
    /// When the entry was written (the default, newest first).
    #[default]
    CreatedAt,
}

/// Filters of the trail; every one that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLogFilter {
    /// Only entries by this user.
    pub actor_id: Option<UserId>,
    /// Only entries about this kind of thing.
    pub entity_type: Option<AuditEntity>,
    /// Only entries about this one thing (compared exactly).
    pub entity_id: Option<String>,
    /// Only entries about this project: the project itself and its memberships.
    pub project_id: Option<ProjectId>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only entries written at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only entries written at or before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// A complete query of the trail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditLogQuery {
    /// Which entries.
    pub filter: AuditLogFilter,
    /// In which order (ties broken by id, so pages never overlap).
    pub sort: AuditLogSort,
    /// Ascending or descending.
    pub order: SortOrder,
    /// Which page.
    pub page: PageRequest,
}

/// Reads the audit trail.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLogRepository: Send + Sync {
    /// One page of the entries matching the query, with the total count.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails, or an entry can no longer be read (its stored
    /// action, entity type or changes are not of a known form).
    async fn list(&self, query: &AuditLogQuery) -> Result<Page<AuditEntry>, UnexpectedError>;
}
