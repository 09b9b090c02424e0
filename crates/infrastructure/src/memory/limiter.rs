//! Rate-limit counters held in memory.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Mutex, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_application::{
    UnexpectedError,
    limits::{
        Counter, Decision, Limit,
        ports::{FailureStreak, RateKey, RateLimiter},
    },
};

/// How many keys are held by default: about 20 MB at worst, and far more distinct clients than
/// one instance sees within the longest window.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// [`RateLimiter`] in a map from key to counter, bounded to a number of keys.
///
/// Every counter knows when it lapses, and an index ordered by that instant lets each call drop
/// the lapsed ones first (judged by the `now` it is given, so a test clock moved forward expires
/// them consistently). Memory stays bounded under a flood of distinct keys: at capacity, a new
/// key takes the place of the counter closest to lapsing, which loses the least counting. The
/// map is behind one mutex; each call holds it for a few map operations and never across an
/// `await`.
///
/// It counts for this process only: with several instances, each would allow the full limit.
/// Those need a shared adapter (Redis) implementing the same port.
pub struct InMemoryRateLimiter {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl std::fmt::Debug for InMemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryRateLimiter").field("keys", &self.len()).field("capacity", &self.capacity).finish()
    }
}

#[derive(Debug, Default)]
struct Inner {
    counters: HashMap<RateKey, Counter>,
    /// Every counter by the instant it lapses.
    lapses: BTreeSet<(DateTime<Utc>, RateKey)>,
}

impl InMemoryRateLimiter {
    /// An empty limiter holding at most `capacity` keys (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self { inner: Mutex::default(), capacity: capacity.max(1) }
    }

    /// How many keys are held, lapsed or not (for metrics and tests).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().counters.len()
    }

    /// Whether no key is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update below keeps the map and the index in step before it can panic (it only
        // calls infallible collection methods), so a poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for InMemoryRateLimiter {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Inner {
    /// Drops every counter lapsed at `now`.
    fn sweep(&mut self, now: DateTime<Utc>) {
        while let Some((at, _)) = self.lapses.first()
            && *at <= now
        {
            if let Some((_, key)) = self.lapses.pop_first() {
                self.counters.remove(&key);
            }
        }
    }

    /// Stores `counter` under `key`, making room first when a new key would pass `capacity`.
    fn put(&mut self, key: &RateKey, counter: Counter, capacity: usize) {
        match self.counters.get(key) {
            Some(old) => {
                self.lapses.remove(&(old.lapses_at(), key.clone()));
            }
            None => {
                while self.counters.len() >= capacity {
                    let Some((_, victim)) = self.lapses.pop_first() else { break };
                    self.counters.remove(&victim);
                }
            }
        }
        self.lapses.insert((counter.lapses_at(), key.clone()));
        self.counters.insert(key.clone(), counter);
    }
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn hit(&self, key: &RateKey, limit: &Limit, now: DateTime<Utc>) -> Result<Decision, UnexpectedError> {
        let mut inner = self.lock();
        inner.sweep(now);
        let (counter, decision) = Counter::hit(inner.counters.get(key), limit, now);
        inner.put(key, counter, self.capacity);
        Ok(decision)
    }

    async fn record_failure(
        &self,
        key: &RateKey,
        forget_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<FailureStreak, UnexpectedError> {
        let mut inner = self.lock();
        inner.sweep(now);
        let (counter, streak) = Counter::fail(inner.counters.get(key), forget_after, now);
        inner.put(key, counter, self.capacity);
        Ok(streak)
    }

    async fn failures(&self, key: &RateKey, now: DateTime<Utc>) -> Result<Option<FailureStreak>, UnexpectedError> {
        Ok(Counter::streak(self.lock().counters.get(key), now))
    }
}
