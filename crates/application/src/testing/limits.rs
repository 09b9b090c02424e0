//! Limits in memory: the [`LoginThrottleRepository`] of the store, how it applies
//! [`ThrottleChange`]s, and a [`RateLimiter`] of counters with expiry.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_domain::users::UserId;

use super::store::{Apply, InMemoryStore, Tables, guard};
use crate::{
    common::{CommitError, UnexpectedError},
    limits::{
        Counter, Decision, Limit, ThrottleChange,
        ports::{FailureStreak, LoginThrottle, LoginThrottleRepository, RateKey, RateLimiter},
    },
};

impl Apply for ThrottleChange {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        match self {
            Self::Save { throttle, expected } => {
                let stored = tables.throttles.get(&throttle.user_id);
                let as_read = match (expected, stored) {
                    // No row was read: insert, unless another failure inserted one meanwhile.
                    (None, stored) => stored.is_none(),
                    // The row as read, down to the instant of its latest failure: a row that was
                    // cleared and counted up again to the same number is still a different row.
                    (Some(previous), Some(stored)) => {
                        stored.user_id == previous.user_id
                            && stored.failures == previous.failures
                            && stored.last_failure_at == previous.last_failure_at
                    }
                    (Some(_), None) => false,
                };
                guard(as_read)?;
                tables.require_user(throttle.user_id, "FOREIGN KEY login_throttles.user_id")?;
                tables.throttles.put(throttle.user_id, throttle);
            }
            Self::Clear { user_id } => {
                tables.throttles.delete(&user_id);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl LoginThrottleRepository for InMemoryStore {
    async fn for_user(&self, user_id: UserId) -> Result<Option<LoginThrottle>, UnexpectedError> {
        Ok(self.tables().throttles.get(&user_id).copied())
    }
}

/// [`RateLimiter`] with the semantics of the server's in-process limiter: a fixed window per key
/// opened by its first hit, and failure streaks forgotten once `forget_after` passes without a
/// further failure, both judged by the `now` passed in (a test moves its clock instead of
/// sleeping). Lapsed counters count as absent; nothing is evicted, as a test's limiter is
/// short-lived.
#[derive(Debug, Default)]
pub struct FakeRateLimiter {
    counters: Mutex<HashMap<RateKey, Counter>>,
}

impl FakeRateLimiter {
    /// No counters yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every counter, as a restart of an instance does.
    pub fn clear(&self) {
        self.counters().clear();
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, HashMap<RateKey, Counter>> {
        // Every update is a single insert: a panic elsewhere cannot leave the map half-updated.
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl RateLimiter for FakeRateLimiter {
    async fn hit(&self, key: &RateKey, limit: &Limit, now: DateTime<Utc>) -> Result<Decision, UnexpectedError> {
        let mut counters = self.counters();
        let (counter, decision) = Counter::hit(counters.get(key), limit, now);
        counters.insert(key.clone(), counter);
        Ok(decision)
    }

    async fn record_failure(
        &self,
        key: &RateKey,
        forget_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<FailureStreak, UnexpectedError> {
        let mut counters = self.counters();
        let (counter, streak) = Counter::fail(counters.get(key), forget_after, now);
        counters.insert(key.clone(), counter);
        Ok(streak)
    }

    async fn failures(&self, key: &RateKey, now: DateTime<Utc>) -> Result<Option<FailureStreak>, UnexpectedError> {
        Ok(Counter::streak(self.counters().get(key), now))
    }
}
