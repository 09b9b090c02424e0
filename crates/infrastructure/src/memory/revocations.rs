//! Session revocations held in memory.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_application::{UnexpectedError, auth::ports::RevocationStore, common::Clock};
use forge_domain::sessions::SessionId;

/// How often expired entries are swept out, at most.
const PRUNE_EVERY: Duration = Duration::seconds(60);

/// [`RevocationStore`] in a map from session to the instant its entry may be forgotten.
///
/// Checked on every authenticated request, so reads take a shared lock only. Expired entries
/// are swept out by `revoke`, at most once a minute, so the map holds roughly the sessions
/// revoked within one access-token lifetime. Entries are judged against the same clock the use
/// cases compute `until` from, so a test clock moved forward expires them consistently.
///
/// It forgets everything on restart: the server reloads it from storage at start-up
/// (`AuthService::reload_revocations`).
pub struct InMemoryRevocationStore {
    inner: RwLock<Inner>,
    prune_every: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InMemoryRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryRevocationStore").field("entries", &self.len()).finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Inner {
    until: HashMap<SessionId, DateTime<Utc>>,
    last_pruned: Option<DateTime<Utc>>,
}

impl InMemoryRevocationStore {
    /// An empty store judging expiry by `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { inner: RwLock::default(), prune_every: PRUNE_EVERY, clock }
    }

    /// How many entries are held, expired or not (for metrics and tests).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(PoisonError::into_inner).until.len()
    }

    /// Whether no entry is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl RevocationStore for InMemoryRevocationStore {
    async fn revoke(&self, session_id: SessionId, until: DateTime<Utc>) -> Result<(), UnexpectedError> {
        let now = self.clock.now();
        // A panic while holding the lock cannot leave the map half-updated (every update is a
        // single insert or retain), so a poisoned lock is still safe to use.
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.last_pruned.is_none_or(|at| now - at >= self.prune_every) {
            inner.until.retain(|_, until| now < *until);
            inner.last_pruned = Some(now);
        }
        // Revoking twice keeps the later deadline: an entry must outlive every access token.
        inner.until.entry(session_id).and_modify(|held| *held = (*held).max(until)).or_insert(until);
        Ok(())
    }

    async fn is_revoked(&self, session_id: SessionId) -> Result<bool, UnexpectedError> {
        let now = self.clock.now();
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        Ok(inner.until.get(&session_id).is_some_and(|until| now < *until))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SystemClock;

    fn store() -> InMemoryRevocationStore {
        InMemoryRevocationStore::new(Arc::new(SystemClock::new()))
    }

    struct FixedClock(DateTime<Utc>);

    impl Clock for FixedClock {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }
    }

    #[tokio::test]
    async fn expiry_is_judged_by_the_injected_clock() {
        let later = Utc::now() + Duration::hours(1);
        let store = InMemoryRevocationStore::new(Arc::new(FixedClock(later)));
        let id = SessionId::generate();
        store.revoke(id, Utc::now() + Duration::minutes(15)).await.unwrap();
        assert!(!store.is_revoked(id).await.unwrap(), "the clock is past the deadline");
    }

    #[tokio::test]
    async fn a_session_is_revoked_until_its_deadline_and_not_after() {
        let store = store();
        let (live, lapsed, other) = (SessionId::generate(), SessionId::generate(), SessionId::generate());
        store.revoke(live, Utc::now() + Duration::minutes(15)).await.unwrap();
        store.revoke(lapsed, Utc::now() - Duration::seconds(1)).await.unwrap();
        assert!(store.is_revoked(live).await.unwrap());
        assert!(!store.is_revoked(lapsed).await.unwrap());
        assert!(!store.is_revoked(other).await.unwrap());
    }

    #[tokio::test]
    async fn revoking_again_keeps_the_later_deadline() {
        let store = store();
        let id = SessionId::generate();
        store.revoke(id, Utc::now() + Duration::minutes(15)).await.unwrap();
        store.revoke(id, Utc::now() - Duration::minutes(1)).await.unwrap();
        assert!(store.is_revoked(id).await.unwrap());
    }

    #[tokio::test]
    async fn expired_entries_are_swept_out_when_revoking() {
        let store = InMemoryRevocationStore { prune_every: Duration::zero(), ..store() };
        for _ in 0..3 {
            store.revoke(SessionId::generate(), Utc::now() - Duration::seconds(1)).await.unwrap();
        }
        let live = SessionId::generate();
        store.revoke(live, Utc::now() + Duration::minutes(15)).await.unwrap();
        assert_eq!(store.len(), 1);
        assert!(store.is_revoked(live).await.unwrap());
    }
}
