//! The audit trail and the outbox: records of what changed, written by the unit of work in the
//! same transaction as the change itself, so a stored change always has its entry and a refused
//! change never has one.

mod events;
mod record;

pub use events::{EventType, OutboxEvent};
pub use record::{AuditAction, AuditEntity, AuditRecord, AuditValue, Snapshot};
