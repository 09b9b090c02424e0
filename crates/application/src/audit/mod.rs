//! The audit trail and the outbox: records of what changed, written by the unit of work in the
//! same transaction as the change itself, so a stored change always has its entry and a refused
//! change never has one; and the read side of the trail, for admins.

mod entry;
mod events;
pub mod ports;
mod record;
mod service;
#[cfg(test)]
mod tests;

pub use entry::{AuditEntry, StoredSnapshot};
pub use events::{EventType, OutboxEvent};
pub use record::{AuditAction, AuditEntity, AuditRecord, AuditValue, Snapshot};
pub use service::{AuditLogError, AuditLogService};
