//! Adapters over Redis, for state every instance shares: request limits and failure streaks, the
//! dashboard statistics, the second level of the read cache and the channel of its invalidations.
//!
//! One multiplexed connection ([`redis::aio::ConnectionManager`]) serves every adapter; it
//! reconnects by itself. Every call is bounded by a short response timeout, so a Redis that is
//! down or slow costs a request milliseconds, never a hang: the cache then reads the database, the
//! limits count in the process (with a warning), and both return to Redis when it answers again.
//! Every key starts with the configured prefix (`forge:` by default) and carries a time to live;
//! nothing grows without bound.

mod cache;
mod limiter;
mod live;
mod stats_cache;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use forge_application::{UnexpectedError, health::Probe};
use redis::{AsyncTypedCommands as _, Client, aio::ConnectionManager};

pub use cache::listen_for_invalidations;
pub use limiter::RedisRateLimiter;
pub use live::RedisBus;
pub use stats_cache::RedisStatsCache;

use crate::cache::{CacheSettings, ReadCache};

/// How long a call to Redis may take before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);
/// How long connecting may take.
const CONNECTION_TIMEOUT: Duration = Duration::from_millis(500);

/// Why Redis could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisUrlError(String);

/// A connection to Redis shared by the adapters, and the prefix of every key.
#[derive(Clone)]
pub struct Redis {
    client: Client,
    connection: ConnectionManager,
    prefix: Arc<str>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl Redis {
    /// Redis at `url`, naming every key `<prefix>:…`. Connects lazily: a Redis that is down at
    /// start-up is not an error (the adapters fall back until it answers).
    ///
    /// # Errors
    /// [`RedisUrlError`] when `url` is not a Redis URL.
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisUrlError> {
        let client = Client::open(url).map_err(|e| RedisUrlError(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| RedisUrlError(e.to_string()))?;
        Ok(Self { client, connection, prefix: Arc::from(prefix) })
    }

    /// The two-level read cache over this Redis, and the task that keeps its first level
    /// coherent (it listens to the invalidation channel until `shutdown` resolves).
    #[must_use]
    pub fn read_cache(&self, settings: CacheSettings) -> Arc<ReadCache> {
        ReadCache::shared(settings, Arc::new(cache::RedisLevel::new(self.clone(), settings.shared_ttl)))
    }

    /// `<prefix>:<rest>`.
    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

/// A Redis failure as the ports report it: the dependency is unavailable.
pub(crate) fn unavailable(e: redis::RedisError) -> UnexpectedError {
    UnexpectedError::unavailable(e)
}

/// Readiness of Redis: one `PING`.
#[derive(Debug, Clone)]
pub struct RedisProbe {
    redis: Redis,
}

impl RedisProbe {
    /// Pings `redis`.
    #[must_use]
    pub fn new(redis: &Redis) -> Self {
        Self { redis: redis.clone() }
    }
}

#[async_trait]
impl Probe for RedisProbe {
    async fn check(&self) -> Result<(), UnexpectedError> {
        self.redis.connection().ping().await.map(|_| ()).map_err(unavailable)
    }

    /// Without Redis the service works on (reads from the database, limits per instance):
    /// reported as degraded, not unready.
    fn required(&self) -> bool {
        false
    }
}
