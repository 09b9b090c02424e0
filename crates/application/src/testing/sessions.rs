//! Sessions in memory: the [`SessionRepository`] of the store, how it applies
//! [`SessionChange`]s, and the [`PrincipalRepository`] reading a session with its account.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::{
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::UserId,
};

use super::store::{Apply, InMemoryStore, Tables, refused};
use crate::{
    auth::{
        SessionChange,
        ports::{Principal, PrincipalRepository, SessionRepository},
    },
    common::{CommitError, UnexpectedError},
};

/// The widths of the `ip` and `user_agent` columns: longer client details are cut, not refused.
const IP_MAX_CHARS: usize = 64;
const USER_AGENT_MAX_CHARS: usize = 512;

fn bounded(raw: Option<String>, max: usize) -> Option<String> {
    raw.map(|raw| raw.chars().take(max).collect())
}

impl Apply for SessionChange {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        match self {
            Self::Open(mut session) => {
                if tables.sessions.contains(&session.id) {
                    return Err(refused("PRIMARY KEY sessions.id"));
                }
                tables.require_user(session.user_id, "FOREIGN KEY sessions.user_id")?;
                session.ip = bounded(session.ip, IP_MAX_CHARS);
                session.user_agent = bounded(session.user_agent, USER_AGENT_MAX_CHARS);
                tables.sessions.put(session.id, session);
            }
            Self::Touch { id, at } => {
                // Only forward: a slow request finishing late must not move it back.
                if let Some(mut session) = tables.sessions.get(&id).filter(|s| s.last_used_at < at).cloned() {
                    session.last_used_at = at;
                    tables.sessions.put(id, session);
                }
            }
            Self::Revoke { id, at } => {
                // The first revocation time is kept; revoking again is a no-op.
                if let Some(mut session) = tables.sessions.get(&id).filter(|s| s.revoked_at.is_none()).cloned() {
                    session.revoked_at = Some(at);
                    tables.sessions.put(id, session);
                }
            }
            Self::IssueRefreshToken(token) => {
                let key = token.digest.as_str().to_owned();
                if tables.refresh_tokens.contains(&key) {
                    return Err(refused("PRIMARY KEY refresh_tokens.digest"));
                }
                if !tables.sessions.contains(&token.session_id) {
                    return Err(refused("FOREIGN KEY refresh_tokens.session_id"));
                }
                tables.refresh_tokens.put(key, token);
            }
            Self::ConsumeRefreshToken { digest, at } => {
                let key = digest.as_str().to_owned();
                // Only while unused: of two requests racing with one token, one consumes it.
                let Some(mut token) = tables.refresh_tokens.get(&key).filter(|t| t.used_at.is_none()).cloned() else {
                    return Err(CommitError::Stale);
                };
                token.used_at = Some(at);
                tables.refresh_tokens.put(key, token);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SessionRepository for InMemoryStore {
    async fn by_id(&self, id: SessionId) -> Result<Option<Session>, UnexpectedError> {
        Ok(self.tables().sessions.get(&id).cloned())
    }

    async fn refresh_token(&self, digest: &TokenDigest) -> Result<Option<RefreshToken>, UnexpectedError> {
        Ok(self.tables().refresh_tokens.get(&digest.as_str().to_owned()).cloned())
    }

    async fn active_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> Result<Vec<Session>, UnexpectedError> {
        let tables = self.tables();
        let mut active: Vec<Session> = tables
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.revoked_at.is_none() && s.expires_at > now)
            .cloned()
            .collect();
        active.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
        Ok(active)
    }
}

#[async_trait]
impl PrincipalRepository for InMemoryStore {
    async fn principal(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Principal>, UnexpectedError> {
        // One read of the tables, as the SQL adapter reads both in one statement.
        let tables = self.tables();
        let session_live =
            tables.sessions.get(&session_id).is_some_and(|s| s.user_id == user_id && s.revoked_at.is_none());
        Ok(tables.users.get(&user_id).map(|user| Principal { user: user.clone(), session_live }))
    }
}
