use chrono::{DateTime, Utc};
use forge_domain::users::UserId;
use uuid::Uuid;

use super::Snapshot;
use crate::common::Change;

/// The kind of an event meant for a user, as stored in `outbox_events.event_type` and sent to
/// clients as `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum EventType {
    /// The recipient was added to a project.
    ProjectMemberAdded,
    /// The recipient's role in a project changed.
    ProjectMemberRoleChanged,
    /// The recipient was removed from a project.
    ProjectMemberRemoved,
    /// The recipient became the owner of a project.
    ProjectOwnershipTransferred,
}

impl EventType {
    /// The stored name, e.g. `project.member_added`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ProjectMemberAdded => "project.member_added",
            Self::ProjectMemberRoleChanged => "project.member_role_changed",
            Self::ProjectMemberRemoved => "project.member_removed",
            Self::ProjectOwnershipTransferred => "project.ownership_transferred",
        }
    }

    /// The event type stored as `name`, if there is one.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::ProjectMemberAdded,
            Self::ProjectMemberRoleChanged,
            Self::ProjectMemberRemoved,
            Self::ProjectOwnershipTransferred,
        ]
        .into_iter()
        .find(|event_type| event_type.as_str() == name)
    }
}

/// An event for one user, stored in the outbox by the unit of work in the transaction of the
/// change that caused it (it is a [`Change`] of its own), and delivered later by a relay reading
/// the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// A new UUID v7 (clients use it to drop duplicates).
    pub id: Uuid,
    /// What happened.
    pub event_type: EventType,
    /// Who is told.
    pub recipient: UserId,
    /// The event's data.
    pub data: Snapshot,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

impl Change for OutboxEvent {}

impl OutboxEvent {
    /// A new event.
    #[must_use]
    pub fn new(event_type: EventType, recipient: UserId, data: Snapshot, at: DateTime<Utc>) -> Self {
        Self { id: Uuid::now_v7(), event_type, recipient, data, occurred_at: at }
    }
}
