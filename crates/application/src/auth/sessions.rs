//! The actor's own sessions: listing them, ending one, ending all of them.
//!
//! Only an actor that authenticated through a session may do this: with an API key these use
//! cases answer [`SessionError::ApiKeyNotAllowed`], so a leaked key cannot lock its owner out.
//! Ending sessions goes through [`end_sessions`], like logout: once it is committed, the
//! sessions' access tokens are refused on the very next request.

use chrono::{DateTime, Utc};
use forge_domain::sessions::{Session, SessionId};

use super::{AuthService, errors::SessionError};
use crate::common::{Actor, Page, PageRequest, SortOrder};

/// Fields a session list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionSort {
    /// When it was opened (the default, newest first).
    #[default]
    CreatedAt,
    /// When it was last refreshed.
    LastUsedAt,
}

/// A session list query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionQuery {
    /// In which order (ties broken by id).
    pub sort: SessionSort,
    /// Ascending or descending.
    pub order: SortOrder,
    /// Which page.
    pub page: PageRequest,
}

/// A live session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session.
    pub session: Session,
    /// When it ends if not used again: the earlier of its absolute expiry and the end of its
    /// idle timeout.
    pub expires_at: DateTime<Utc>,
    /// Whether the actor's own access token belongs to it.
    pub current: bool,
}

impl AuthService {
    /// Whether the actor may manage sessions at all: lets a caller refuse before even parsing a
    /// query.
    ///
    /// # Errors
    /// [`SessionError::ApiKeyNotAllowed`] for an actor authenticated by an API key.
    pub const fn authorize_session_management(&self, actor: &Actor) -> Result<(), SessionError> {
        ensure_session_actor(actor)
    }

    /// The actor's live sessions: neither ended nor past their absolute or idle limit.
    ///
    /// # Errors
    /// [`SessionError::ApiKeyNotAllowed`] for an API-key actor; [`SessionError::Unexpected`] when
    /// storage fails.
    #[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
    pub async fn list_sessions(
        &self,
        actor: &Actor,
        query: &SessionQuery,
    ) -> Result<Page<SessionSummary>, SessionError> {
        ensure_session_actor(actor)?;
        let now = self.ports.clock.now();
        let idle = self.settings.session_idle_timeout;
        let mut live: Vec<SessionSummary> = self
            .ports
            .sessions
            .active_for_user(actor.id(), now)
            .await?
            .into_iter()
            .filter(|session| session.ensure_usable(now, idle).is_ok())
            .map(|session| SessionSummary {
                expires_at: session.effective_expiry(idle),
                current: actor.session_id() == Some(session.id),
                session,
            })
            .collect();
        // A user has a handful of sessions: they are sorted and paged here, after the idle
        // filter, which the database could not apply without knowing the setting.
        live.sort_by(|a, b| {
            let by_field = match query.sort {
                SessionSort::CreatedAt => a.session.created_at.cmp(&b.session.created_at),
                SessionSort::LastUsedAt => a.session.last_used_at.cmp(&b.session.last_used_at),
            }
            .then_with(|| a.session.id.cmp(&b.session.id));
            match query.order {
                SortOrder::Asc => by_field,
                SortOrder::Desc => by_field.reverse(),
            }
        });
        Ok(page_of(live, query.page))
    }

    /// Ends one of the actor's own sessions (the current one included): its access and refresh
    /// tokens stop working at once.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] unless it is a live session of the actor's;
    /// [`SessionError::ApiKeyNotAllowed`] for an API-key actor; [`SessionError::Unexpected`] when
    /// storage fails (the request can be retried).
    #[tracing::instrument(skip_all, fields(user_id = %actor.id(), session_id = %id))]
    pub async fn revoke_session(&self, actor: &Actor, id: SessionId) -> Result<(), SessionError> {
        ensure_session_actor(actor)?;
        let now = self.ports.clock.now();
        match self.ports.sessions.by_id(id).await? {
            Some(session)
                if session.user_id == actor.id()
                    && session.ensure_usable(now, self.settings.session_idle_timeout).is_ok() => {}
            _ => return Err(SessionError::NotFound),
        }
        self.end_sessions(&[id], Some(actor.id()), actor.context(), now).await?;
        tracing::info!("session ended by its owner");
        Ok(())
    }

    /// Ends every session of the actor's, the current one included.
    ///
    /// # Errors
    /// [`SessionError::ApiKeyNotAllowed`] for an API-key actor; [`SessionError::Unexpected`] when
    /// storage fails (the request can be retried).
    #[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
    pub async fn logout_all(&self, actor: &Actor) -> Result<(), SessionError> {
        ensure_session_actor(actor)?;
        let now = self.ports.clock.now();
        let ids: Vec<SessionId> =
            self.ports.sessions.active_for_user(actor.id(), now).await?.into_iter().map(|s| s.id).collect();
        self.end_sessions(&ids, Some(actor.id()), actor.context(), now).await?;
        tracing::info!(sessions = ids.len(), "every session ended");
        Ok(())
    }
}

const fn ensure_session_actor(actor: &Actor) -> Result<(), SessionError> {
    if actor.is_api_key() { Err(SessionError::ApiKeyNotAllowed) } else { Ok(()) }
}

/// The page `request` of `items`, which are all there are.
fn page_of<T>(items: Vec<T>, request: PageRequest) -> Page<T> {
    let total = items.len() as u64;
    let offset = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let items = items.into_iter().skip(offset).take(request.limit() as usize).collect();
    Page { items, total, request }
}
