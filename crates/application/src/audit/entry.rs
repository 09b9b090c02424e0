use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use forge_domain::{projects::ProjectId, users::UserId};
use uuid::Uuid;

use super::{AuditAction, AuditEntity, AuditRecord, AuditValue, Snapshot};
use crate::common::ClientContext;

/// A snapshot as read back from the trail: the fields an entry was written with, by name.
///
/// Unlike a [`Snapshot`], whose field names are fixed where it is written, a stored snapshot holds
/// whatever the entry holds, entries written by older versions included. Instants come back as
/// [`AuditValue::Text`] in RFC 3339, the form they were stored in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredSnapshot(BTreeMap<String, AuditValue>);

impl StoredSnapshot {
    /// A snapshot of these fields.
    #[must_use]
    pub fn from_fields(fields: impl IntoIterator<Item = (String, AuditValue)>) -> Self {
        Self(fields.into_iter().collect())
    }

    /// The fields, in name order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &AuditValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One field.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&AuditValue> {
        self.0.get(name)
    }
}

impl From<&Snapshot> for StoredSnapshot {
    fn from(snapshot: &Snapshot) -> Self {
        Self(snapshot.fields().map(|(name, value)| (name.to_owned(), value.clone())).collect())
    }
}

/// One entry of the audit trail as it is read back (the write side is [`AuditRecord`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The entry's id (UUID v7: entries sort by it as by time).
    pub id: Uuid,
    /// Who did it: none for the system or an anonymous request.
    pub actor_id: Option<UserId>,
    /// What was done.
    pub action: AuditAction,
    /// The kind of thing it was done to.
    pub entity_type: AuditEntity,
    /// Which one.
    pub entity_id: String,
    /// The project the entry concerns, when it concerns one (the project itself or one of its
    /// memberships).
    pub project_id: Option<ProjectId>,
    /// The state before, when there was one.
    pub before: Option<StoredSnapshot>,
    /// The state after, when there is one.
    pub after: Option<StoredSnapshot>,
    /// Where the request came from.
    pub context: ClientContext,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&AuditRecord> for AuditEntry {
    fn from(record: &AuditRecord) -> Self {
        Self {
            id: record.id,
            actor_id: record.actor_id,
            action: record.action,
            entity_type: record.entity_type,
            entity_id: record.entity_id.clone(),
            project_id: record.project_id,
            before: record.before.as_ref().map(StoredSnapshot::from),
            after: record.after.as_ref().map(StoredSnapshot::from),
            context: record.context.clone(),
            created_at: record.created_at,
        }
    }
}
