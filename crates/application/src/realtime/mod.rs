//! Real-time events: what a connected client is told, and who may be told what.
//!
//! A committed change becomes [`Signal`]s ([`signals_of`]): events for the clients that may see
//! them (an account changed, a project and its members changed, an export moved on) and the ends
//! of access (sessions ended, an account blocked, an API key revoked) that close connections.
//! [`LiveUnitOfWork`] publishes them once a commit succeeded; the export job publishes its
//! progress itself.
//!
//! Publishing ([`LivePublisher`]) appends each event to the [`EventLog`] (what a reconnecting
//! client replays) and then hands the signal to the [`EventBus`], which reaches every instance:
//! each one delivers an event to its connections whose user may see it at that moment
//! ([`RealtimeService::recipients`]), and closes the connections a signal ends.
//!
//! The live notification is sent after the commit, by the process that committed: a process that
//! dies in between loses the notification (never the change, which the API serves).

mod service;
mod uow;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::{api_keys::ApiKeyId, projects::ProjectId, sessions::SessionId, users::UserId};
use uuid::Uuid;

use crate::{
    api_keys::ApiKeyChange,
    audit::{Snapshot, StoredSnapshot},
    auth::SessionChange,
    common::{Changes, UnexpectedError},
    projects::ProjectChange,
    users::UserChange,
};

#[cfg(any(test, feature = "mocks"))]
pub use service::MockTicketStore;
pub use service::{
    IssuedTicket, RealtimePorts, RealtimeService, RealtimeSettings, Replay, Ticket, TicketError, TicketStore,
};
pub use uow::LiveUnitOfWork;

/// What happened, as clients read it in an event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveEventType {
    /// The reader's own account changed (profile, role, state).
    AccountUpdated,
    /// A project the reader is a member of changed (name, description, status, deletion).
    ProjectUpdated,
    /// Someone was added to a project the reader is a member of (the reader included).
    ProjectMemberAdded,
    /// A member's role changed in a project the reader is a member of.
    ProjectMemberRoleChanged,
    /// Someone was removed from a project the reader is a member of, or the reader was removed.
    ProjectMemberRemoved,
    /// One of the reader's exports wrote another batch.
    ExportProgress,
    /// One of the reader's exports is ready to download.
    ExportCompleted,
    /// One of the reader's exports failed.
    ExportFailed,
}

impl LiveEventType {
    /// Every type.
    pub const ALL: [Self; 8] = [
        Self::AccountUpdated,
        Self::ProjectUpdated,
        Self::ProjectMemberAdded,
        Self::ProjectMemberRoleChanged,
        Self::ProjectMemberRemoved,
        Self::ExportProgress,
        Self::ExportCompleted,
        Self::ExportFailed,
    ];

    /// The name clients see, e.g. `project.updated`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AccountUpdated => "account.updated",
            Self::ProjectUpdated => "project.updated",
            Self::ProjectMemberAdded => "project.member_added",
            Self::ProjectMemberRoleChanged => "project.member_role_changed",
            Self::ProjectMemberRemoved => "project.member_removed",
            Self::ExportProgress => "export.progress",
            Self::ExportCompleted => "export.completed",
            Self::ExportFailed => "export.failed",
        }
    }

    /// The type named `name`, if there is one.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Who may see an event: one user, the members of a project at the moment of delivery, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Audience {
    /// This user.
    pub user: Option<UserId>,
    /// The members of this project.
    pub project: Option<ProjectId>,
}

impl Audience {
    /// One user.
    #[must_use]
    pub const fn user(user: UserId) -> Self {
        Self { user: Some(user), project: None }
    }

    /// A project's members.
    #[must_use]
    pub const fn project(project: ProjectId) -> Self {
        Self { user: None, project: Some(project) }
    }
}

/// An event for connected clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    /// A UUID v7; a client resumes after the last one it saw.
    pub id: Uuid,
    /// What happened.
    pub event_type: LiveEventType,
    /// Who may see it.
    pub audience: Audience,
    /// Its data (never a secret).
    pub data: StoredSnapshot,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

impl LiveEvent {
    /// A new event.
    #[must_use]
    pub fn new(event_type: LiveEventType, audience: Audience, data: &Snapshot, at: DateTime<Utc>) -> Self {
        Self { id: Uuid::now_v7(), event_type, audience, data: StoredSnapshot::from(data), occurred_at: at }
    }
}

/// What goes over the bus to every instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Deliver this event to the connections that may see it.
    Event(LiveEvent),
    /// These sessions ended (logout, logout everywhere, revocation, deactivation, deletion):
    /// close their connections.
    SessionsEnded(Vec<SessionId>),
    /// This account can no longer act (deactivated or deleted): close all its connections,
    /// those opened with API keys included.
    UserBlocked(UserId),
    /// This API key was revoked: close its connections.
    ApiKeyRevoked(ApiKeyId),
}

/// What a subscription to the bus yields.
#[derive(Debug, Clone)]
pub enum Received {
    /// A signal published by some instance (this one included).
    Signal(Arc<Signal>),
    /// Signals may have been missed (the subscriber fell behind, or the bus was unreachable for a
    /// while): connections should resume from the log.
    Missed,
}

/// Reaches every instance: Redis pub/sub in production, a channel in the process otherwise.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Sends `signal` to every subscriber on every instance.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the bus cannot be reached (the signal is then lost for the other
    /// instances).
    async fn publish(&self, signal: &Signal) -> Result<(), UnexpectedError>;

    /// A new subscription, receiving every signal published from now on.
    fn subscribe(&self) -> Box<dyn Subscription>;
}

/// One subscriber's stream of signals.
#[async_trait]
pub trait Subscription: Send {
    /// The next signal; `None` once the bus is gone.
    async fn next(&mut self) -> Option<Received>;
}

/// The events of the recent past, for clients that reconnect.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Stores `event`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn append(&self, event: &LiveEvent) -> Result<(), UnexpectedError>;

    /// The events stored after the event `last` (in the order they were stored) addressed to
    /// `user` or to one of `projects`, at most `limit`; `None` when `last` is not stored or
    /// occurred before `since`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn after(
        &self,
        last: Uuid,
        user: UserId,
        projects: &[ProjectId],
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Option<Vec<LiveEvent>>, UnexpectedError>;
}

/// Who belongs to what, read at the moment of delivery.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Audiences: Send + Sync {
    /// The members of `project` now.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn members_of(&self, project: ProjectId) -> Result<Vec<UserId>, UnexpectedError>;

    /// The projects `user` is a member of now.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>, UnexpectedError>;
}

/// Hands signals to every instance; never fails the caller (a change is committed by then).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LiveEvents: Send + Sync {
    /// Logs the events among `signals` and publishes every signal, in order.
    async fn publish(&self, signals: Vec<Signal>);
}

/// The publisher over the log and the bus.
#[derive(Clone)]
pub struct LivePublisher {
    log: Arc<dyn EventLog>,
    bus: Arc<dyn EventBus>,
}

impl std::fmt::Debug for LivePublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePublisher").finish_non_exhaustive()
    }
}

impl LivePublisher {
    /// Logs to `log`, publishes on `bus`.
    #[must_use]
    pub fn new(log: Arc<dyn EventLog>, bus: Arc<dyn EventBus>) -> Self {
        Self { log, bus }
    }
}

#[async_trait]
impl LiveEvents for LivePublisher {
    async fn publish(&self, signals: Vec<Signal>) {
        for signal in signals {
            // Logged before it is published: a client that resumes after seeing a later event
            // finds this one in the log.
            if let Signal::Event(event) = &signal
                && let Err(e) = self.log.append(event).await
            {
                tracing::warn!(error = %e, event = %event.id, "a live event could not be logged; clients that reconnect will not replay it");
            }
            if let Err(e) = self.bus.publish(&signal).await {
                tracing::warn!(error = %e, "a live event could not be published to the other instances");
            }
        }
    }
}

/// Publishes nothing: for use cases run without connected clients (tests, tools).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLiveEvents;

#[async_trait]
impl LiveEvents for NoLiveEvents {
    async fn publish(&self, _signals: Vec<Signal>) {}
}

/// The signals a committed set of changes makes: events for what clients may see changed, and
/// the ends of access.
#[must_use]
pub fn signals_of(changes: &Changes, now: DateTime<Utc>) -> Vec<Signal> {
    let mut signals = Vec::new();
    let mut ended = Vec::new();
    for change in changes.of::<SessionChange>() {
        if let SessionChange::Revoke { id, .. } = change {
            ended.push(*id);
        }
    }
    for change in changes.of::<UserChange>() {
        if let UserChange::Update { user, .. } = change {
            let data = Snapshot::of_user(user).with("id", user.id().to_string());
            signals.push(Signal::Event(LiveEvent::new(
                LiveEventType::AccountUpdated,
                Audience::user(user.id()),
                &data,
                now,
            )));
            if user.ensure_can_act().is_err() {
                signals.push(Signal::UserBlocked(user.id()));
            }
        }
    }
    for change in changes.of::<ApiKeyChange>() {
        if let ApiKeyChange::Revoke { id, .. } = change {
            signals.push(Signal::ApiKeyRevoked(*id));
        }
    }
    for change in changes.of::<ProjectChange>() {
        let (event_type, audience, data) = match change {
            ProjectChange::Insert(_) => continue,
            ProjectChange::Update { project, .. } => (
                LiveEventType::ProjectUpdated,
                Audience::project(project.id()),
                Snapshot::new()
                    .with("id", project.id().to_string())
                    .with("name", project.name().as_ref())
                    .with("description", project.description().map(|d| d.as_ref().to_owned()))
                    .with("status", project.status().as_str())
                    .with("owner_id", project.owner_id().to_string())
                    .with("deleted_at", project.deleted_at())
                    .with("version", project.version()),
            ),
            ProjectChange::AddMember(membership) => (
                LiveEventType::ProjectMemberAdded,
                Audience::project(membership.project_id()),
                membership_data(membership.project_id(), membership.user_id()).with("role", membership.role().as_str()),
            ),
            ProjectChange::UpdateMember { membership, .. } => (
                LiveEventType::ProjectMemberRoleChanged,
                Audience::project(membership.project_id()),
                membership_data(membership.project_id(), membership.user_id()).with("role", membership.role().as_str()),
            ),
            ProjectChange::RemoveMember { project_id, user_id, .. } => (
                LiveEventType::ProjectMemberRemoved,
                // The members who stay, and the one removed.
                Audience { user: Some(*user_id), project: Some(*project_id) },
                membership_data(*project_id, *user_id),
            ),
        };
        signals.push(Signal::Event(LiveEvent::new(event_type, audience, &data, now)));
    }
    if !ended.is_empty() {
        signals.push(Signal::SessionsEnded(ended));
    }
    signals
}

fn membership_data(project: ProjectId, user: UserId) -> Snapshot {
    Snapshot::new().with("project_id", project.to_string()).with("user_id", user.to_string())
}
