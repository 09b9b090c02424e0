use std::sync::Arc;

use forge_domain::users::Permission;

use super::{
    AuditEntry,
    ports::{AuditLogQuery, AuditLogRepository},
};
use crate::common::{Actor, FieldError, Page, UnexpectedError, ValidationErrors};

/// Why the trail was not read.
#[derive(Debug, thiserror::Error)]
pub enum AuditLogError {
    /// The actor may not read the trail.
    #[error("not allowed")]
    Forbidden,
    /// The query is inconsistent (`from` after `to`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Reading the audit trail (admins only). There is no use case that changes or deletes an entry.
#[derive(Clone)]
pub struct AuditLogService {
    entries: Arc<dyn AuditLogRepository>,
}

impl AuditLogService {
    /// Builds the service.
    #[must_use]
    pub fn new(entries: Arc<dyn AuditLogRepository>) -> Self {
        Self { entries }
    }

    /// Whether the actor may read the trail at all: lets a caller refuse before even parsing a
    /// query.
    ///
    /// # Errors
    /// [`AuditLogError::Forbidden`] for anyone without [`Permission::ReadAuditLog`].
    pub fn authorize(&self, actor: &Actor) -> Result<(), AuditLogError> {
        if actor.can(Permission::ReadAuditLog) { Ok(()) } else { Err(AuditLogError::Forbidden) }
    }

    /// A page of the trail.
    ///
    /// # Errors
    /// [`AuditLogError::Forbidden`]; [`AuditLogError::Validation`] naming `from` when it is after
    /// `to`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn list(&self, actor: &Actor, query: &AuditLogQuery) -> Result<Page<AuditEntry>, AuditLogError> {
        self.authorize(actor)?;
        if let (Some(from), Some(to)) = (query.filter.from, query.filter.to)
            && from > to
        {
            return Err(AuditLogError::Validation(ValidationErrors::new(vec![FieldError::new(
                "from",
                "OUT_OF_RANGE",
                "must not be after `to`",
            )])));
        }
        Ok(self.entries.list(query).await?)
    }
}
