//! Request limits and failure streaks counted in Redis, by every instance together.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_application::{
    UnexpectedError,
    limits::{
        Decision, Limit,
        ports::{FailureStreak, RateKey, RateLimiter},
    },
};
use redis::Script;

use super::{Redis, unavailable};
use crate::memory::InMemoryRateLimiter;

/// One hit: the live window goes on, otherwise a window opens (the rules of
/// `limits::Counter::hit`, judged by the caller's `now`). KEYS: the counter; ARGV: now and the
/// window in microseconds, and the window in milliseconds. Returns the hits and the window's end.
/// The key expires with its window.
const HIT: &str = r"
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'k', 'h', 'e')
local ends = tonumber(held[3])
if held[1] == 'w' and ends and now < ends then
  local hits = redis.call('HINCRBY', KEYS[1], 'h', 1)
  return {hits, ends}
end
redis.call('HSET', KEYS[1], 'k', 'w', 'h', 1, 'e', now + window)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, now + window}
";

/// One failure: the live streak grows, otherwise one begins (`limits::Counter::fail`). KEYS: the
/// counter; ARGV: now and how long until it is forgotten in microseconds, and that delay in
/// milliseconds. Returns the failures.
const FAIL: &str = r"
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
local held = redis.call('HMGET', KEYS[1], 'k', 'f', 'x')
local failures = 0
local until_ = tonumber(held[3])
if held[1] == 's' and until_ and now < until_ then
  failures = tonumber(held[2])
end
failures = failures + 1
redis.call('HSET', KEYS[1], 'k', 's', 'f', failures, 'l', now, 'x', now + forget)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return failures
";

/// [`RateLimiter`] in Redis: every instance counts in the same keys, each count one atomic
/// script, so concurrent instances never admit more than the limit together.
///
/// When Redis does not answer, it counts in the process instead (each instance then allows the
/// full limit) and says so in the log, once per outage; it goes back to Redis as soon as Redis
/// answers again.
pub struct RedisRateLimiter {
    redis: Redis,
    hit: Script,
    fail: Script,
    fallback: InMemoryRateLimiter,
    degraded: AtomicBool,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter").field("degraded", &self.degraded.load(Ordering::Relaxed)).finish()
    }
}

impl RedisRateLimiter {
    /// Counts in `redis`; falls back to an in-process limiter of `fallback_capacity` keys.
    #[must_use]
    pub fn new(redis: &Redis, fallback_capacity: usize) -> Self {
        Self {
            redis: redis.clone(),
            hit: Script::new(HIT),
            fail: Script::new(FAIL),
            fallback: InMemoryRateLimiter::new(fallback_capacity),
            degraded: AtomicBool::new(false),
        }
    }

    /// Whether the last call fell back to counting in the process.
    #[must_use]
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn key(&self, key: &RateKey) -> String {
        self.redis.key(&format!("rl:{}", key.as_str()))
    }

    /// What Redis answered, or `None` to count in the process instead; says so in the log
    /// when that changes.
    fn answered<T>(&self, counted: Result<T, UnexpectedError>) -> Option<T> {
        match counted {
            Ok(value) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again; request limits are shared by every instance again");
                }
                Some(value)
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "Redis does not answer; request limits count per instance until it does");
                }
                None
            }
        }
    }
}

/// Instants travel as microseconds since the epoch (exact to the stored precision).
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// A delay in microseconds (for the scripts' arithmetic) and in milliseconds (for `PEXPIRE`),
/// at least one of each.
fn delay(d: Duration) -> (i64, i64) {
    (d.num_microseconds().unwrap_or(i64::MAX).max(1), d.num_milliseconds().max(1))
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    #[tracing::instrument(name = "redis.limit.hit", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "EVALSHA"))]
    async fn hit(&self, key: &RateKey, limit: &Limit, now: DateTime<Utc>) -> Result<Decision, UnexpectedError> {
        let counted: Result<(u64, i64), UnexpectedError> = self
            .hit
            .key(self.key(key))
            .arg(micros(now))
            .arg(delay(limit.window()).0)
            .arg(delay(limit.window()).1)
            .invoke_async(&mut self.redis.connection())
            .await
            .map_err(unavailable);
        match self.answered(counted) {
            Some((hits, ends)) => Ok(Decision::from_count(limit, hits, from_micros(ends) - now)),
            None => self.fallback.hit(key, limit, now).await,
        }
    }

    #[tracing::instrument(name = "redis.limit.record_failure", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "EVALSHA"))]
    async fn record_failure(
        &self,
        key: &RateKey,
        forget_after: Duration,
        now: DateTime<Utc>,
    ) -> Result<FailureStreak, UnexpectedError> {
        let counted: Result<u32, UnexpectedError> = self
            .fail
            .key(self.key(key))
            .arg(micros(now))
            .arg(delay(forget_after).0)
            .arg(delay(forget_after).1)
            .invoke_async(&mut self.redis.connection())
            .await
            .map_err(unavailable);
        match self.answered(counted) {
            Some(failures) => Ok(FailureStreak { failures, last_failure_at: now }),
            None => self.fallback.record_failure(key, forget_after, now).await,
        }
    }

    #[tracing::instrument(name = "redis.limit.failures", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "EVALSHA"))]
    async fn failures(&self, key: &RateKey, now: DateTime<Utc>) -> Result<Option<FailureStreak>, UnexpectedError> {
        let held: Result<(Option<String>, Option<u32>, Option<i64>, Option<i64>), UnexpectedError> =
            redis::cmd("HMGET")
                .arg(self.key(key))
                .arg(&["k", "f", "l", "x"])
                .query_async(&mut self.redis.connection())
                .await
                .map_err(unavailable);
        match self.answered(held) {
            Some((kind, failures, last, until)) => Ok(match (kind.as_deref(), failures, last, until) {
                (Some("s"), Some(failures), Some(last), Some(until)) if micros(now) < until => {
                    Some(FailureStreak { failures, last_failure_at: from_micros(last) })
                }
                _ => None,
            }),
            None => self.fallback.failures(key, now).await,
        }
    }
}
