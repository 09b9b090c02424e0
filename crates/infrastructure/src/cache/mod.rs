//! The cache of hot reads: the principal read on every authenticated request (the account and the
//! state of its session), accounts and projects by id, and memberships (read by every project
//! request to authorize it).
//!
//! Two levels. The first is in the process (moka: bounded by entry count, entries live at most
//! `ttl`). The second, when Redis is configured, is shared by every instance (entries live at most
//! `shared_ttl`). A read looks in the first level, then the second, then the database, and fills
//! the levels it missed.
//!
//! Every commit through the unit of work ([`InvalidatingUnitOfWork`]) names the cached reads its
//! changes make stale and, once committed, drops them from both levels on every instance: from
//! its own first level at once, from the second level, and from the other instances' first levels
//! through a Redis channel they all listen to. Two races are closed:
//!
//! - **A fill racing an invalidation** (a reader loaded the old row just before a write committed,
//!   and would store it after the invalidation passed): in the second level every key has a
//!   generation, bumped by each invalidation, and a fill stores its value only if the generation
//!   it read before loading is still current (one script). In the first level an epoch, bumped by
//!   every invalidation the process applies, plays the same part.
//! - **Missed invalidations**: the first level is used only while this instance listens to the
//!   channel. When the subscription drops (Redis restarted, network cut), the first level is
//!   emptied and bypassed until the instance has subscribed again, so an invalidation sent while it
//!   was deaf cannot leave a stale entry behind.
//!
//! Without Redis there is no cache: nothing would tell a process of a write made by another one
//! (another instance, or a `forge` command run against the same database), so every read goes to
//! the database.

mod invalidate;
mod projects;
mod users;

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use forge_application::{UnexpectedError, common::UnexpectedKind};
use forge_domain::{
    projects::{Membership, Project},
    users::User,
};
use uuid::Uuid;

pub use invalidate::InvalidatingUnitOfWork;
pub use projects::CachedProjects;
pub use users::CachedUsers;

/// How big and how fresh the cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// The most entries the first level holds of each kind (accounts, sessions, projects,
    /// memberships): what bounds its memory.
    pub capacity: u64,
    /// How long an entry stays in the first level at most.
    pub ttl: Duration,
    /// How long an entry stays in the second level (Redis) at most.
    pub shared_ttl: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self { capacity: 10_000, ttl: Duration::from_secs(60), shared_ttl: Duration::from_secs(600) }
    }
}

/// One cached read, as invalidations name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum CacheKey {
    /// An account by id.
    User(Uuid),
    /// The state of a session by id.
    Session(Uuid),
    /// A project by id.
    Project(Uuid),
    /// A membership by project and user.
    Member(Uuid, Uuid),
}

impl CacheKey {
    /// The key as the shared level and the channel spell it: `u:<id>` or `s:<id>`.
    pub(crate) fn encode(self) -> String {
        match self {
            Self::User(id) => format!("u:{id}"),
            Self::Session(id) => format!("s:{id}"),
            Self::Project(id) => format!("p:{id}"),
            Self::Member(project, user) => format!("m:{project}:{user}"),
        }
    }

    /// The key `encode` spelled, if it is one.
    pub(crate) fn decode(raw: &str) -> Option<Self> {
        let (kind, rest) = raw.split_once(':')?;
        if kind == "m" {
            let (project, user) = rest.split_once(':')?;
            return Some(Self::Member(Uuid::parse_str(project).ok()?, Uuid::parse_str(user).ok()?));
        }
        let id = Uuid::parse_str(rest).ok()?;
        match kind {
            "u" => Some(Self::User(id)),
            "s" => Some(Self::Session(id)),
            "p" => Some(Self::Project(id)),
            _ => None,
        }
    }
}

/// A value read from the shared level, with the generation its key had when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedRead {
    /// The value, if the key held one.
    pub(crate) value: Option<String>,
    /// The key's generation (0 when it never had one).
    pub(crate) generation: u64,
}

/// The shared level of the cache and the channel of invalidations (Redis).
#[async_trait]
pub(crate) trait SharedLevel: Send + Sync {
    /// The values of `keys`, each with its generation, in one round trip.
    async fn read(&self, keys: &[CacheKey]) -> Result<Vec<SharedRead>, UnexpectedError>;

    /// Stores each value under its key, only if the key's generation is still the one given.
    async fn fill(&self, entries: &[(CacheKey, u64, String)]) -> Result<(), UnexpectedError>;

    /// Bumps the generation of each key, drops its value, and tells every instance.
    async fn invalidate(&self, keys: &[CacheKey]) -> Result<(), UnexpectedError>;
}

/// The state of a session as the first level keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionEntry {
    /// The account the session belongs to.
    pub(crate) user_id: Uuid,
    /// Not revoked.
    pub(crate) live: bool,
}

impl SessionEntry {
    fn encode(self) -> String {
        format!("{}:{}", u8::from(self.live), self.user_id)
    }

    fn decode(raw: &str) -> Option<Self> {
        let (live, user_id) = raw.split_once(':')?;
        Some(Self { user_id: Uuid::parse_str(user_id).ok()?, live: live == "1" })
    }
}

/// Hits and misses of each level since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Reads the first level answered.
    pub local_hits: u64,
    /// Reads the first level could not answer (or skipped, while bypassed).
    pub local_misses: u64,
    /// Reads the second level answered.
    pub shared_hits: u64,
    /// Reads the second level could not answer (failures included).
    pub shared_misses: u64,
    /// Entries in the first level now (accounts, sessions, projects, memberships).
    pub local_entries: u64,
    /// Whether the first level is in use now.
    pub local_enabled: bool,
}

#[derive(Default)]
struct Counters {
    local_hits: AtomicU64,
    local_misses: AtomicU64,
    shared_hits: AtomicU64,
    shared_misses: AtomicU64,
}

/// Both levels, the epoch guarding first-level fills, and the counters.
pub struct ReadCache {
    users: moka::future::Cache<Uuid, User>,
    sessions: moka::future::Cache<Uuid, SessionEntry>,
    projects: moka::future::Cache<Uuid, Project>,
    memberships: moka::future::Cache<(Uuid, Uuid), Membership>,
    epoch: AtomicU64,
    local_enabled: AtomicBool,
    shared: Option<Arc<dyn SharedLevel>>,
    /// Invalidations that could not reach Redis, sent again once it answers.
    pending: std::sync::Mutex<Vec<CacheKey>>,
    counters: Counters,
}

/// The most invalidations kept for a Redis that does not answer; past it the oldest are dropped
/// (their entries still expire with the shared level's time to live).
const MAX_PENDING: usize = 10_000;

impl fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadCache").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl ReadCache {
    /// A first level alone, in use from the start (tests).
    #[cfg(test)]
    pub(crate) fn local(settings: CacheSettings) -> Arc<Self> {
        Arc::new(Self::new(settings, None, true))
    }

    /// Both levels; the first is off until [`ReadCache::listening`] says invalidations arrive.
    pub(crate) fn shared(settings: CacheSettings, shared: Arc<dyn SharedLevel>) -> Arc<Self> {
        Arc::new(Self::new(settings, Some(shared), false))
    }

    fn new(settings: CacheSettings, shared: Option<Arc<dyn SharedLevel>>, local_enabled: bool) -> Self {
        let users = moka::future::Cache::builder().max_capacity(settings.capacity).time_to_live(settings.ttl).build();
        let sessions =
            moka::future::Cache::builder().max_capacity(settings.capacity).time_to_live(settings.ttl).build();
        let projects =
            moka::future::Cache::builder().max_capacity(settings.capacity).time_to_live(settings.ttl).build();
        let memberships =
            moka::future::Cache::builder().max_capacity(settings.capacity).time_to_live(settings.ttl).build();
        Self {
            users,
            sessions,
            projects,
            memberships,
            epoch: AtomicU64::new(0),
            local_enabled: AtomicBool::new(local_enabled),
            shared,
            pending: std::sync::Mutex::default(),
            counters: Counters::default(),
        }
    }

    /// The counters, and the first level's size and state.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            local_hits: self.counters.local_hits.load(Ordering::Relaxed),
            local_misses: self.counters.local_misses.load(Ordering::Relaxed),
            shared_hits: self.counters.shared_hits.load(Ordering::Relaxed),
            shared_misses: self.counters.shared_misses.load(Ordering::Relaxed),
            local_entries: self.users.entry_count()
                + self.sessions.entry_count()
                + self.projects.entry_count()
                + self.memberships.entry_count(),
            local_enabled: self.local_enabled.load(Ordering::Acquire),
        }
    }

    /// Whether this instance hears the invalidations of the others: while it does not, the first
    /// level is emptied and bypassed. Called by the channel's listener.
    pub(crate) fn listening(&self, listening: bool) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.invalidate_all();
        self.sessions.invalidate_all();
        self.projects.invalidate_all();
        self.memberships.invalidate_all();
        self.local_enabled.store(listening, Ordering::Release);
    }

    /// Drops `keys` from the first level (an invalidation from this or another instance).
    pub(crate) async fn forget_locally(&self, keys: &[CacheKey]) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for key in keys {
            match *key {
                CacheKey::User(id) => self.users.invalidate(&id).await,
                CacheKey::Session(id) => self.sessions.invalidate(&id).await,
                CacheKey::Project(id) => self.projects.invalidate(&id).await,
                CacheKey::Member(project, user) => self.memberships.invalidate(&(project, user)).await,
            }
        }
    }

    /// Drops `keys` from both levels on every instance, after a commit made them stale.
    pub(crate) async fn invalidate(&self, keys: &[CacheKey]) {
        if keys.is_empty() {
            return;
        }
        self.forget_locally(keys).await;
        let Some(shared) = &self.shared else { return };
        let mut all = self.take_pending();
        all.extend_from_slice(keys);
        if let Err(e) = shared.invalidate(&all).await {
            // Other instances empty their first level when they lose Redis too. The shared level
            // is told once Redis answers again (the next write, or the listener's resubscription).
            tracing::warn!(error = %e, "could not invalidate the shared cache; will retry");
            self.keep_pending(all);
        }
    }

    /// Sends the invalidations that could not reach Redis (called once it answers again).
    pub(crate) async fn retry_pending(&self) {
        let Some(shared) = &self.shared else { return };
        let pending = self.take_pending();
        if !pending.is_empty() && shared.invalidate(&pending).await.is_err() {
            self.keep_pending(pending);
        }
    }

    fn take_pending(&self) -> Vec<CacheKey> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn keep_pending(&self, mut keys: Vec<CacheKey>) {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.append(&mut pending);
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > MAX_PENDING {
            tracing::error!(dropped = keys.len() - MAX_PENDING, "too many cache invalidations waiting for Redis");
            keys.truncate(MAX_PENDING);
        }
        *pending = keys;
    }

    /// A read of `key` through the first level `level`: a hit, or `load` run once for every
    /// concurrent request missing the same key (moka's single flight), its value kept unless an
    /// invalidation passed while it was loading. With the first level off, `load` alone.
    pub(crate) async fn through<K, V>(
        &self,
        level: &moka::future::Cache<K, V>,
        key: K,
        load: impl std::future::Future<Output = Result<Option<V>, UnexpectedError>>,
    ) -> Result<Option<V>, UnexpectedError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if !self.local_on() {
            Self::count(&self.counters.local_misses);
            return load.await;
        }
        if let Some(value) = level.get(&key).await {
            Self::count(&self.counters.local_hits);
            return Ok(Some(value));
        }
        Self::count(&self.counters.local_misses);
        let epoch = self.epoch();
        let loaded = level
            .try_get_with(key, async {
                match load.await {
                    Ok(Some(value)) if self.epoch() == epoch => Ok(value),
                    Ok(Some(value)) => Err(Flight::Raced(value)),
                    Ok(None) => Err(Flight::Absent),
                    Err(e) => Err(Flight::Failed(Failure::of(&e))),
                }
            })
            .await;
        match loaded {
            Ok(value) => Ok(Some(value)),
            Err(flight) => match &*flight {
                Flight::Raced(value) => Ok(Some(value.clone())),
                Flight::Absent => Ok(None),
                Flight::Failed(failure) => Err(failure.error()),
            },
        }
    }

    fn local_on(&self) -> bool {
        self.local_enabled.load(Ordering::Acquire)
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads `keys` from the shared level; a failure reads as misses (the database answers).
    async fn shared_read(&self, keys: &[CacheKey]) -> Option<Vec<SharedRead>> {
        let shared = self.shared.as_ref()?;
        match shared.read(keys).await {
            Ok(reads) => {
                for read in &reads {
                    Self::count(if read.value.is_some() {
                        &self.counters.shared_hits
                    } else {
                        &self.counters.shared_misses
                    });
                }
                Some(reads)
            }
            Err(e) => {
                tracing::debug!(error = %e, "shared cache unavailable; reading the database");
                for _ in keys {
                    Self::count(&self.counters.shared_misses);
                }
                None
            }
        }
    }

    /// `key` from the shared level (a JSON row), or `load`ed from the database and filled in
    /// there, as the domain knows it.
    pub(crate) async fn shared_or<R: serde::Serialize + serde::de::DeserializeOwned, T>(
        &self,
        key: CacheKey,
        load: impl Future<Output = Result<Option<R>, UnexpectedError>>,
        to_domain: fn(R) -> Result<T, UnexpectedError>,
    ) -> Result<Option<T>, UnexpectedError> {
        let shared = self.shared_read(&[key]).await;
        if let Some(row) =
            shared.as_ref().and_then(|reads| reads[0].value.as_deref()).and_then(|raw| serde_json::from_str(raw).ok())
        {
            return to_domain(row).map(Some);
        }
        let row = load.await?;
        if let (Some(reads), Some(row)) = (&shared, &row)
            && let Ok(encoded) = serde_json::to_string(row)
        {
            self.shared_fill(&[(key, reads[0].generation, encoded)]).await;
        }
        row.map(to_domain).transpose()
    }

    async fn shared_fill(&self, entries: &[(CacheKey, u64, String)]) {
        if let Some(shared) = &self.shared
            && !entries.is_empty()
            && let Err(e) = shared.fill(entries).await
        {
            tracing::debug!(error = %e, "could not fill the shared cache");
        }
    }
}

/// Why a single-flight load kept nothing in the first level; every request waiting on it gets
/// the same answer.
pub(crate) enum Flight<V> {
    /// Loaded, but an invalidation passed meanwhile: used once, not kept.
    Raced(V),
    /// Nothing there.
    Absent,
    /// Storage failed.
    Failed(Failure),
}

/// An [`UnexpectedError`] shared with every waiter of a single flight: its kind and message.
pub(crate) struct Failure {
    unavailable: bool,
    message: String,
}

impl Failure {
    pub(crate) fn of(e: &UnexpectedError) -> Self {
        Self { unavailable: matches!(e.kind(), UnexpectedKind::Unavailable), message: e.to_string() }
    }

    pub(crate) fn error(&self) -> UnexpectedError {
        if self.unavailable {
            UnexpectedError::unavailable(self.message.clone())
        } else {
            UnexpectedError::internal(self.message.clone())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_session_entries_read_back_as_written() {
        let id = Uuid::now_v7();
        for key in [CacheKey::User(id), CacheKey::Session(id), CacheKey::Project(id), CacheKey::Member(id, Uuid::nil())]
        {
            assert_eq!(CacheKey::decode(&key.encode()), Some(key));
        }
        assert_eq!(CacheKey::decode("x:1"), None);
        assert_eq!(CacheKey::decode("u:not-a-uuid"), None);
        for live in [true, false] {
            let entry = SessionEntry { user_id: id, live };
            assert_eq!(SessionEntry::decode(&entry.encode()), Some(entry));
        }
    }

    #[tokio::test]
    async fn losing_the_channel_empties_and_bypasses_the_first_level_until_it_is_back() {
        let cache = ReadCache::local(CacheSettings::default());
        let id = Uuid::now_v7();
        cache.sessions.insert(id, SessionEntry { user_id: id, live: true }).await;
        cache.listening(false);
        assert!(!cache.local_on());
        assert_eq!(cache.sessions.get(&id).await, None);
        cache.listening(true);
        assert!(cache.local_on());
    }
}
