//! The audit trail and the outbox in memory: the [`AuditLogRepository`] of the store, and how it
//! stores [`AuditRecord`]s and [`OutboxEvent`]s with the change they describe.

use async_trait::async_trait;
use chrono::SecondsFormat;

use super::store::{Apply, InMemoryStore, Tables, directed, page_of, refused};
use crate::{
    audit::{
        AuditEntry, AuditRecord, AuditValue, OutboxEvent, Snapshot, StoredSnapshot,
        ports::{AuditLogFilter, AuditLogQuery, AuditLogRepository, AuditLogSort},
    },
    common::{CommitError, Page, UnexpectedError},
};

impl Apply for AuditRecord {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        // No foreign key: the trail outlives whatever it describes.
        if tables.audit.contains(&self.id) {
            return Err(refused("PRIMARY KEY audit_logs.id"));
        }
        tables.audit.put(self.id, self);
        Ok(())
    }
}

impl Apply for OutboxEvent {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        if tables.outbox.contains(&self.id) {
            return Err(refused("PRIMARY KEY outbox_events.id"));
        }
        tables.require_user(self.recipient, "FOREIGN KEY outbox_events.recipient_id")?;
        tables.outbox.put(self.id, self);
        Ok(())
    }
}

#[async_trait]
impl AuditLogRepository for InMemoryStore {
    async fn list(&self, query: &AuditLogQuery) -> Result<Page<AuditEntry>, UnexpectedError> {
        let tables = self.tables();
        let mut rows: Vec<&AuditRecord> =
            tables.audit.values().filter(|record| matches(&query.filter, record)).collect();
        rows.sort_by(|a, b| {
            let by_field = match query.sort {
                AuditLogSort::CreatedAt => a.created_at.cmp(&b.created_at),
            };
            directed(by_field.then_with(|| a.id.cmp(&b.id)), query.order)
        });
        Ok(page_of(&rows, query.page).map(|record| read_back(&record)))
    }
}

/// Whether `record` passes every filter that is set.
///
/// Filters are read field by field: a filter added to [`AuditLogFilter`] later is ignored here
/// until it is implemented, so add it here when adding it to the port.
fn matches(filter: &AuditLogFilter, record: &AuditRecord) -> bool {
    filter.actor_id.is_none_or(|actor| record.actor_id == Some(actor))
        && filter.entity_type.is_none_or(|entity| record.entity_type == entity)
        && filter.entity_id.as_deref().is_none_or(|id| record.entity_id == id)
        && filter.action.is_none_or(|action| record.action == action)
        && filter.project_id.is_none_or(|project| record.project_id == Some(project))
        && filter.from.is_none_or(|from| record.created_at >= from)
        && filter.to.is_none_or(|to| record.created_at <= to)
}

/// An entry as the SeaORM repository reads it back: snapshots hold what was written, except that
/// instants come back as RFC 3339 text (microseconds, `Z`), the form they are stored in.
fn read_back(record: &AuditRecord) -> AuditEntry {
    let stored = |snapshot: &Snapshot| {
        StoredSnapshot::from_fields(snapshot.fields().map(|(name, value)| {
            let value = match value {
                AuditValue::Time(at) => AuditValue::Text(at.to_rfc3339_opts(SecondsFormat::Micros, true)),
                other => other.clone(),
            };
            (name.to_owned(), value)
        }))
    };
    AuditEntry {
        before: record.before.as_ref().map(stored),
        after: record.after.as_ref().map(stored),
        ..AuditEntry::from(record)
    }
}
