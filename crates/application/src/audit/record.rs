use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use forge_domain::{
    projects::ProjectId,
    users::{User, UserId},
};
use uuid::Uuid;

use crate::common::{Change, ClientContext};

/// What happened, as the stable dotted name stored in `audit_logs.action`.
///
/// One variant per kind of state change; the names are part of the API (clients filter on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AuditAction {
    UserRegistered,
    UserCreated,
    UserUpdated,
    UserDeleted,
    UserRestored,
    UserUnlocked,
    UserLocked,
    UserPasswordChanged,
    UserPasswordReset,
    UserEmailVerified,
    SessionCreated,
    SessionRevoked,
    ApiKeyCreated,
    ApiKeyRevoked,
    ProjectCreated,
    ProjectUpdated,
    ProjectDeleted,
    ProjectTransferred,
    ProjectMemberAdded,
    ProjectMemberRoleChanged,
    ProjectMemberRemoved,
}

impl AuditAction {
    /// Every action, for validating filters.
    pub const ALL: [Self; 21] = [
        Self::UserRegistered,
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::UserRestored,
        Self::UserUnlocked,
        Self::UserLocked,
        Self::UserPasswordChanged,
        Self::UserPasswordReset,
        Self::UserEmailVerified,
        Self::SessionCreated,
        Self::SessionRevoked,
        Self::ApiKeyCreated,
        Self::ApiKeyRevoked,
        Self::ProjectCreated,
        Self::ProjectUpdated,
        Self::ProjectDeleted,
        Self::ProjectTransferred,
        Self::ProjectMemberAdded,
        Self::ProjectMemberRoleChanged,
        Self::ProjectMemberRemoved,
    ];

    /// The stored name, e.g. `user.created`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::UserRestored => "user.restored",
            Self::UserUnlocked => "user.unlocked",
            Self::UserLocked => "user.locked",
            Self::UserPasswordChanged => "user.password_changed",
            Self::UserPasswordReset => "user.password_reset",
            Self::UserEmailVerified => "user.email_verified",
            Self::SessionCreated => "session.created",
            Self::SessionRevoked => "session.revoked",
            Self::ApiKeyCreated => "api_key.created",
            Self::ApiKeyRevoked => "api_key.revoked",
            Self::ProjectCreated => "project.created",
            Self::ProjectUpdated => "project.updated",
            Self::ProjectDeleted => "project.deleted",
            Self::ProjectTransferred => "project.transferred",
            Self::ProjectMemberAdded => "project.member_added",
            Self::ProjectMemberRoleChanged => "project.member_role_changed",
            Self::ProjectMemberRemoved => "project.member_removed",
        }
    }

    /// Parses a stored or requested name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// The kind of thing an audit entry is about, as stored in `audit_logs.entity_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum AuditEntity {
    User,
    Session,
    ApiKey,
    Project,
    Membership,
}

impl AuditEntity {
    /// Every entity type, for validating filters.
    pub const ALL: [Self; 5] = [Self::User, Self::Session, Self::ApiKey, Self::Project, Self::Membership];

    /// The stored name, e.g. `user`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Session => "session",
            Self::ApiKey => "api_key",
            Self::Project => "project",
            Self::Membership => "membership",
        }
    }

    /// Parses a stored or requested name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One value in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AuditValue {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
    List(Vec<String>),
}

impl From<bool> for AuditValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<i64> for AuditValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<&str> for AuditValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<String> for AuditValue {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<DateTime<Utc>> for AuditValue {
    fn from(v: DateTime<Utc>) -> Self {
        Self::Time(v)
    }
}
impl From<Vec<String>> for AuditValue {
    fn from(v: Vec<String>) -> Self {
        Self::List(v)
    }
}
impl<T: Into<Self>> From<Option<T>> for AuditValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// The recorded state of an entity: named fields, never a secret (no password hash, token or key).
///
/// Built field by field, so what an entry holds is decided where it is written and a new field of
/// an entity does not leak into the trail by accident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<&'static str, AuditValue>);

impl Snapshot {
    /// An empty snapshot.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a field.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<AuditValue>) -> Self {
        self.0.insert(name, value.into());
        self
    }

    /// The fields, in name order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &AuditValue)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// One field.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&AuditValue> {
        self.0.get(name)
    }

    /// The state of a user: its profile and flags, not its password hash.
    #[must_use]
    pub fn of_user(user: &User) -> Self {
        Self::new()
            .with("email", user.email().as_ref())
            .with("username", user.username().as_ref())
            .with("full_name", user.full_name().map(|n| n.as_ref().to_owned()))
            .with("role", user.role().as_str())
            .with("is_active", user.is_active())
            .with("is_verified", user.is_verified())
            .with("deleted_at", user.deleted_at())
            .with("version", user.version())
    }

    /// Keeps only the fields whose value differs from `other`'s (for the `before` and `after` of
    /// an update, so an entry shows what changed).
    #[must_use]
    pub fn diff(&self, other: &Self) -> (Self, Self) {
        let mut before = Self::new();
        let mut after = Self::new();
        for (name, value) in &self.0 {
            let theirs = other.0.get(name);
            if theirs != Some(value) {
                before.0.insert(name, value.clone());
                after.0.insert(name, theirs.cloned().unwrap_or(AuditValue::Null));
            }
        }
        for (name, value) in &other.0 {
            if !self.0.contains_key(name) {
                before.0.insert(name, AuditValue::Null);
                after.0.insert(name, value.clone());
            }
        }
        (before, after)
    }
}

/// One entry of the audit trail, written by the unit of work in the transaction of the change it
/// describes: it is a [`Change`] of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// A new UUID v7.
    pub id: Uuid,
    /// Who did it: none for the system or an anonymous request (registration, a reset by token).
    pub actor_id: Option<UserId>,
    /// What was done.
    pub action: AuditAction,
    /// The kind of thing it was done to.
    pub entity_type: AuditEntity,
    /// Which one (a UUID, or for memberships `project_id:user_id`).
    pub entity_id: String,
    /// The project the entry concerns, when it concerns one: the project itself or one of its
    /// memberships. The trail is read project by project through it.
    pub project_id: Option<ProjectId>,
    /// The state before, when there was one.
    pub before: Option<Snapshot>,
    /// The state after, when there is one.
    pub after: Option<Snapshot>,
    /// Where the request came from.
    pub context: ClientContext,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl Change for AuditRecord {}

impl AuditRecord {
    /// An entry with no before or after yet, and no project.
    #[must_use]
    pub fn new(
        action: AuditAction,
        entity_type: AuditEntity,
        entity_id: impl ToString,
        actor_id: Option<UserId>,
        context: &ClientContext,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            actor_id,
            action,
            entity_type,
            entity_id: entity_id.to_string(),
            project_id: None,
            before: None,
            after: None,
            context: context.clone(),
            created_at: at,
        }
    }

    /// Marks the entry as concerning `project` (the project itself or one of its memberships).
    #[must_use]
    pub fn in_project(mut self, project: ProjectId) -> Self {
        self.project_id = Some(project);
        self
    }

    /// Sets the state before.
    #[must_use]
    pub fn before(mut self, snapshot: Snapshot) -> Self {
        self.before = Some(snapshot);
        self
    }

    /// Sets the state after.
    #[must_use]
    pub fn after(mut self, snapshot: Snapshot) -> Self {
        self.after = Some(snapshot);
        self
    }

    /// Sets before and after to the fields that differ between the two.
    #[must_use]
    pub fn changed(self, before: &Snapshot, after: &Snapshot) -> Self {
        let (b, a) = before.diff(after);
        self.before(b).after(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_and_entity_names_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        for entity in AuditEntity::ALL {
            assert_eq!(AuditEntity::parse(entity.as_str()), Some(entity));
        }
        assert_eq!(AuditAction::parse("user.exploded"), None);
    }

    #[test]
    fn diff_keeps_only_what_changed() {
        let a = Snapshot::new().with("name", "a").with("same", 1).with("gone", true);
        let b = Snapshot::new().with("name", "b").with("same", 1).with("new", "x");
        let (before, after) = a.diff(&b);
        assert_eq!(before, Snapshot::new().with("name", "a").with("gone", true).with("new", AuditValue::Null));
        assert_eq!(after, Snapshot::new().with("name", "b").with("gone", AuditValue::Null).with("new", "x"));
    }
}
