//! Accounts and principals through the cache.

use std::sync::Arc;

use async_trait::async_trait;
use forge_application::{
    Page, UnexpectedError,
    auth::ports::{Principal, PrincipalRepository},
    users::ports::{TakenIdentities, UserQuery, UserRepository},
};
use forge_domain::{
    sessions::SessionId,
    users::{Email, User, UserId, Username},
};

use super::{CacheKey, Failure, ReadCache, SessionEntry};
use crate::persistence::{SeaUserRepository, direct::UserWith, entities::users as rows, users::to_domain};

/// [`UserRepository`] and [`PrincipalRepository`] reading accounts by id and principals through
/// the [`ReadCache`]; every other read goes to the database.
#[derive(Debug, Clone)]
pub struct CachedUsers {
    database: SeaUserRepository,
    cache: Arc<ReadCache>,
}

impl CachedUsers {
    /// Reads through `cache`, then `database`.
    #[must_use]
    pub fn new(database: SeaUserRepository, cache: Arc<ReadCache>) -> Self {
        Self { database, cache }
    }

    /// Encodes a row for the shared level.
    fn encode(row: &rows::Model) -> Option<String> {
        serde_json::to_string(row).ok()
    }

    /// The account `id` from the shared level or the database, filling the shared level if it
    /// missed.
    async fn load_user(&self, id: UserId) -> Result<Option<User>, UnexpectedError> {
        self.cache
            .shared_or::<rows::Model, _>(CacheKey::User(id.as_uuid()), self.database.row_by_id(id), to_domain)
            .await
    }

    /// The principal from the shared level or the database (one statement for whatever missed),
    /// filling the shared level where it missed. The session is `None` when it is not the
    /// account's.
    async fn load_principal(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<Option<(User, Option<SessionEntry>)>, UnexpectedError> {
        let keys = [CacheKey::User(user_id.as_uuid()), CacheKey::Session(session_id.as_uuid())];
        let shared = self.cache.shared_read(&keys).await;
        let (user, session) = match &shared {
            Some(reads) => (
                reads[0].value.as_deref().and_then(decode_user),
                reads[1].value.as_deref().and_then(SessionEntry::decode),
            ),
            None => (None, None),
        };
        if let (Some(user), Some(session)) = (&user, session) {
            return Ok(Some((user.clone(), Some(session))));
        }
        let Some(UserWith { user: row, extra: joined }) = self.database.principal_row(user_id, session_id).await?
        else {
            return Ok(None);
        };
        let joined = joined.map(|live| SessionEntry { user_id: row.id, live });
        if let Some(reads) = &shared {
            let mut fills = Vec::with_capacity(2);
            if user.is_none()
                && let Some(encoded) = Self::encode(&row)
            {
                fills.push((keys[0], reads[0].generation, encoded));
            }
            if let (None, Some(entry)) = (session, joined) {
                fills.push((keys[1], reads[1].generation, entry.encode()));
            }
            self.cache.shared_fill(&fills).await;
        }
        Ok(Some((to_domain(row)?, session.or(joined))))
    }

    /// The account through the first level (single flight, guarded fills).
    async fn user_single_flight(&self, id: UserId) -> Result<Option<User>, UnexpectedError> {
        self.cache.through(&self.cache.users, id.as_uuid(), self.load_user(id)).await
    }

    /// Loads the principal once for every concurrent request with the same session, keeping the
    /// session's state and the account in the first level unless an invalidation passed while
    /// loading.
    async fn principal_single_flight(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<Option<Principal>, UnexpectedError> {
        let epoch = self.cache.epoch();
        let loaded = self
            .cache
            .sessions
            .try_get_with(session_id.as_uuid(), async {
                match self.load_principal(user_id, session_id).await {
                    Ok(Some((user, Some(session)))) if self.cache.epoch() == epoch => {
                        self.cache.users.insert(user_id.as_uuid(), user).await;
                        Ok(session)
                    }
                    Ok(Some((user, session))) => Err(Miss::Uncached(Box::new(principal(user, session)))),
                    Ok(None) => Err(Miss::Absent),
                    Err(e) => Err(Miss::Failed(Failure::of(&e))),
                }
            })
            .await;
        match loaded {
            Ok(session) => match self.cache.users.get(&user_id.as_uuid()).await {
                Some(user) => Ok(Some(principal(user, Some(session)))),
                None => Ok(self.user_single_flight(user_id).await?.map(|user| principal(user, Some(session)))),
            },
            Err(miss) => match &*miss {
                Miss::Uncached(found) => Ok(Some((**found).clone())),
                Miss::Absent => Ok(None),
                Miss::Failed(failure) => Err(failure.error()),
            },
        }
    }
}

fn decode_user(raw: &str) -> Option<User> {
    let row: rows::Model = serde_json::from_str(raw).ok()?;
    to_domain(row).ok()
}

fn principal(user: User, session: Option<SessionEntry>) -> Principal {
    let session_live = session.is_some_and(|s| s.live && s.user_id == user.id().as_uuid());
    Principal { user, session_live }
}

/// Why the principal's single flight kept nothing in the first level; every request waiting on
/// it gets the same answer.
enum Miss {
    /// Loaded, but not kept: the session is not the account's, or an invalidation passed
    /// meanwhile.
    Uncached(Box<Principal>),
    /// No such account.
    Absent,
    /// Storage failed.
    Failed(Failure),
}

#[async_trait]
impl PrincipalRepository for CachedUsers {
    async fn principal(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Principal>, UnexpectedError> {
        if !self.cache.local_on() {
            ReadCache::count(&self.cache.counters.local_misses);
            return Ok(self.load_principal(user_id, session_id).await?.map(|(user, session)| principal(user, session)));
        }
        let user = self.cache.users.get(&user_id.as_uuid()).await;
        let session = self.cache.sessions.get(&session_id.as_uuid()).await;
        match (user, session) {
            (Some(user), Some(session)) => {
                ReadCache::count(&self.cache.counters.local_hits);
                Ok(Some(principal(user, Some(session))))
            }
            (None, Some(session)) => {
                // Only the account went stale (a role change, say): reload it alone.
                ReadCache::count(&self.cache.counters.local_misses);
                Ok(self.user_single_flight(user_id).await?.map(|user| principal(user, Some(session))))
            }
            (_, None) => {
                ReadCache::count(&self.cache.counters.local_misses);
                self.principal_single_flight(user_id, session_id).await
            }
        }
    }
}

#[async_trait]
impl UserRepository for CachedUsers {
    async fn by_id(&self, id: UserId) -> Result<Option<User>, UnexpectedError> {
        self.user_single_flight(id).await
    }

    async fn by_email(&self, email: &Email) -> Result<Option<User>, UnexpectedError> {
        self.database.by_email(email).await
    }

    async fn by_username(&self, username: &Username) -> Result<Option<User>, UnexpectedError> {
        self.database.by_username(username).await
    }

    async fn list(&self, query: &UserQuery) -> Result<Page<User>, UnexpectedError> {
        self.database.list(query).await
    }

    async fn admin_exists(&self) -> Result<bool, UnexpectedError> {
        self.database.admin_exists().await
    }

    async fn taken_identities(
        &self,
        emails: &[Email],
        usernames: &[Username],
    ) -> Result<TakenIdentities, UnexpectedError> {
        self.database.taken_identities(emails, usernames).await
    }
}
