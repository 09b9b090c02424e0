//! The use cases of real-time connections: tickets, resuming, and who receives an event.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::{
    sessions::{SessionId, TokenDigest},
    users::UserId,
};
use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use super::{Audiences, EventLog, LiveEvent};
use crate::{
    auth::ports::{OpaqueTokens, Principal, PrincipalRepository},
    common::{Actor, ClientContext, Clock, UnexpectedError},
};

/// How tickets and resuming behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealtimeSettings {
    /// How long a ticket works after it is issued.
    pub ticket_ttl: Duration,
    /// How far back a reconnecting client can resume.
    pub resume_window: Duration,
    /// The most events replayed to a reconnecting client; one that missed more starts afresh.
    pub resume_limit: u64,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        Self { ticket_ttl: Duration::from_secs(30), resume_window: Duration::from_secs(300), resume_limit: 1000 }
    }
}

/// A stored ticket: its digest, never the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// SHA-256 of the ticket.
    pub digest: TokenDigest,
    /// The user it admits.
    pub user_id: UserId,
    /// The session it is bound to: it stops working when the session ends.
    pub session_id: SessionId,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Single-use tickets, shared by every instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Stores `ticket`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn issue(&self, ticket: &Ticket) -> Result<(), UnexpectedError>;

    /// Uses up the ticket `digest` if it is unused and unexpired at `now`, returning whom it
    /// admits; `None` otherwise. Of two concurrent redemptions one at most succeeds.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn redeem(
        &self,
        digest: &TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, SessionId)>, UnexpectedError>;
}

/// A ticket just issued: shown to its owner once.
#[derive(Debug)]
pub struct IssuedTicket {
    /// The ticket.
    pub ticket: SecretString,
    /// How long it works.
    pub expires_in: Duration,
}

/// Why a ticket was not issued or not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// Tickets are bound to a session; an API key has none.
    #[error("tickets are issued to sessions, not to API keys")]
    ApiKeyNotAllowed,
    /// Unknown, used, expired, or its session ended or its account can no longer act.
    #[error("the ticket is not valid")]
    Invalid,
    /// Storage failed.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// What a reconnecting client is sent first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// The events it missed, in order (possibly none).
    Events(Vec<LiveEvent>),
    /// Its last event is unknown or too old, or it missed too many: it should reload its state.
    Gap,
}

/// Tickets, resuming and delivery.
#[derive(Clone)]
pub struct RealtimeService {
    tickets: Arc<dyn TicketStore>,
    log: Arc<dyn EventLog>,
    audiences: Arc<dyn Audiences>,
    principals: Arc<dyn PrincipalRepository>,
    tokens: Arc<dyn OpaqueTokens>,
    clock: Arc<dyn Clock>,
    settings: RealtimeSettings,
}

impl std::fmt::Debug for RealtimeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeService").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The ports of [`RealtimeService`].
#[derive(Clone)]
pub struct RealtimePorts {
    /// Tickets.
    pub tickets: Arc<dyn TicketStore>,
    /// The recent events.
    pub log: Arc<dyn EventLog>,
    /// Project members.
    pub audiences: Arc<dyn Audiences>,
    /// Accounts with the state of a session.
    pub principals: Arc<dyn PrincipalRepository>,
    /// Ticket generation.
    pub tokens: Arc<dyn OpaqueTokens>,
    /// Now.
    pub clock: Arc<dyn Clock>,
}

impl RealtimeService {
    /// The service over `ports`.
    #[must_use]
    pub fn new(ports: RealtimePorts, settings: RealtimeSettings) -> Self {
        let RealtimePorts { tickets, log, audiences, principals, tokens, clock } = ports;
        Self { tickets, log, audiences, principals, tokens, clock, settings }
    }

    /// The settings.
    #[must_use]
    pub const fn settings(&self) -> &RealtimeSettings {
        &self.settings
    }

    /// A single-use ticket for the actor's session, for clients that cannot send headers when
    /// they connect (browsers).
    ///
    /// # Errors
    /// [`TicketError::ApiKeyNotAllowed`] for an API-key actor; [`TicketError::Unexpected`].
    #[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
    pub async fn issue_ticket(&self, actor: &Actor) -> Result<IssuedTicket, TicketError> {
        let Some(session_id) = actor.session_id().filter(|_| !actor.is_api_key()) else {
            return Err(TicketError::ApiKeyNotAllowed);
        };
        let (ticket, digest) = self.tokens.generate();
        let ttl = chrono::Duration::from_std(self.settings.ticket_ttl).unwrap_or(chrono::Duration::seconds(30));
        self.tickets
            .issue(&Ticket { digest, user_id: actor.id(), session_id, expires_at: self.clock.now() + ttl })
            .await?;
        Ok(IssuedTicket { ticket, expires_in: self.settings.ticket_ttl })
    }

    /// The actor a ticket admits, using it up.
    ///
    /// # Errors
    /// [`TicketError::Invalid`] for an unknown, used or expired ticket, or one whose session has
    /// ended or whose account can no longer act; [`TicketError::Unexpected`].
    #[tracing::instrument(skip_all)]
    pub async fn redeem_ticket(&self, ticket: &SecretString, context: ClientContext) -> Result<Actor, TicketError> {
        let digest = self.tokens.digest(ticket.expose_secret());
        let Some((user_id, session_id)) = self.tickets.redeem(&digest, self.clock.now()).await? else {
            return Err(TicketError::Invalid);
        };
        match self.principals.principal(user_id, session_id).await? {
            Some(Principal { user, session_live: true }) if user.ensure_can_act().is_ok() => {
                Ok(Actor::new(user, Some(session_id), context))
            }
            _ => Err(TicketError::Invalid),
        }
    }

    /// What the actor missed since the event `last`: the events it may see now, in order.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    #[tracing::instrument(skip_all, fields(user_id = %actor.id(), last = %last))]
    pub async fn replay(&self, actor: &Actor, last: Uuid) -> Result<Replay, UnexpectedError> {
        let projects = self.audiences.projects_of(actor.id()).await?;
        let window = chrono::Duration::from_std(self.settings.resume_window).unwrap_or(chrono::Duration::minutes(5));
        let since = self.clock.now() - window;
        let limit = self.settings.resume_limit;
        match self.log.after(last, actor.id(), &projects, since, limit.saturating_add(1)).await? {
            Some(events) if u64::try_from(events.len()).unwrap_or(u64::MAX) <= limit => Ok(Replay::Events(events)),
            _ => Ok(Replay::Gap),
        }
    }

    /// Whether a connection opened through `session` may stay open: the session lives and its
    /// account can act. (Without a shared bus, the signal that ends a session on another instance
    /// never arrives here; connections are then checked this way from time to time.)
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    pub async fn session_allowed(&self, user: UserId, session: SessionId) -> Result<bool, UnexpectedError> {
        Ok(matches!(
            self.principals.principal(user, session).await?,
            Some(Principal { user, session_live: true }) if user.ensure_can_act().is_ok()
        ))
    }

    /// The users that may see `event` now: its user, and the members of its project at this
    /// moment (someone removed a moment ago no longer is one).
    ///
    /// # Errors
    /// [`UnexpectedError`] when the members cannot be read.
    pub async fn recipients(&self, event: &LiveEvent) -> Result<Vec<UserId>, UnexpectedError> {
        let mut users = match event.audience.project {
            Some(project) => self.audiences.members_of(project).await?,
            None => Vec::new(),
        };
        if let Some(user) = event.audience.user
            && !users.contains(&user)
        {
            users.push(user);
        }
        Ok(users)
    }
}
