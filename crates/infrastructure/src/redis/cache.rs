//! The second level of the read cache in Redis, and the channel that keeps every instance's first
//! level coherent.
//!
//! Keys: `<prefix>:c:<key>` holds a value, `<prefix>:g:<key>` its generation; invalidations are
//! published on `<prefix>:invalidate` as a nonce followed by the invalidated keys, joined by
//! spaces. Every listening instance, once it has applied an invalidation, acknowledges it by
//! pushing onto `<prefix>:ack:<nonce>`; the writer waits (briefly) until every instance the
//! message reached has, so that when a commit returns, no instance still holds what it made stale.
//! That is what lets "a read after a write never returns the old value, from any instance" hold.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use forge_application::UnexpectedError;
use futures::StreamExt as _;
use redis::{AsyncTypedCommands as _, Script};

use super::{Redis, unavailable};
use crate::cache::{CacheKey, ReadCache, SharedLevel, SharedRead};

/// How long a generation is kept after its last bump: far longer than any read between loading
/// a row and filling the cache with it.
const GENERATION_TTL_SECS: u64 = 24 * 60 * 60;
/// How long the listener waits before subscribing again after losing the channel.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);
/// How long a writer waits for the other instances to acknowledge an invalidation. An instance
/// that does not answer in time is one that is losing Redis, and it bypasses its first level as
/// soon as it notices.
const ACK_WAIT: Duration = Duration::from_millis(250);
/// How often the writer looks at the acknowledgements.
const ACK_POLL: Duration = Duration::from_millis(1);
/// How long an acknowledgement list is kept.
const ACK_TTL_MS: u64 = 10_000;

/// Stores each value only if its generation is unchanged. KEYS: value and generation keys in
/// pairs; ARGV: the time to live in milliseconds, then a generation and a value per pair.
const FILL: &str = r"
local ttl = ARGV[1]
for i = 1, #KEYS, 2 do
  local current = redis.call('GET', KEYS[i + 1]) or '0'
  if current == ARGV[i + 1] then
    redis.call('SET', KEYS[i], ARGV[i + 2], 'PX', ttl)
  end
end
return 0
";

/// Bumps each generation, drops each value, and publishes the keys. KEYS: value and generation
/// keys in pairs, then the channel; ARGV: the generations' time to live in seconds, the message.
/// Returns how many listeners the message reached.
const INVALIDATE: &str = r"
local ttl = ARGV[1]
for i = 1, #KEYS - 1, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], ttl)
end
return redis.call('PUBLISH', KEYS[#KEYS], ARGV[2])
";

/// The shared level over Redis.
pub(crate) struct RedisLevel {
    redis: Redis,
    ttl: Duration,
    fill: Script,
    invalidate: Script,
}

impl RedisLevel {
    pub(crate) fn new(redis: Redis, ttl: Duration) -> Self {
        Self { redis, ttl, fill: Script::new(FILL), invalidate: Script::new(INVALIDATE) }
    }

    fn value_key(&self, key: CacheKey) -> String {
        self.redis.key(&format!("c:{}", key.encode()))
    }

    fn generation_key(&self, key: CacheKey) -> String {
        self.redis.key(&format!("g:{}", key.encode()))
    }
}

fn channel(redis: &Redis) -> String {
    redis.key("invalidate")
}

fn ack_key(redis: &Redis, nonce: &str) -> String {
    redis.key(&format!("ack:{nonce}"))
}

#[async_trait]
impl SharedLevel for RedisLevel {
    #[tracing::instrument(name = "redis.cache.read", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "EVALSHA"))]
    async fn read(&self, keys: &[CacheKey]) -> Result<Vec<SharedRead>, UnexpectedError> {
        let mut names = Vec::with_capacity(keys.len() * 2);
        for key in keys {
            names.push(self.value_key(*key));
            names.push(self.generation_key(*key));
        }
        let values: Vec<Option<String>> =
            redis::cmd("MGET").arg(&names).query_async(&mut self.redis.connection()).await.map_err(unavailable)?;
        Ok(values
            .chunks(2)
            .map(|pair| SharedRead {
                value: pair.first().cloned().flatten(),
                generation: pair.get(1).cloned().flatten().and_then(|g| g.parse().ok()).unwrap_or(0),
            })
            .collect())
    }

    #[tracing::instrument(name = "redis.cache.fill", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "EVALSHA"))]
    async fn fill(&self, entries: &[(CacheKey, u64, String)]) -> Result<(), UnexpectedError> {
        let mut invocation = self.fill.prepare_invoke();
        invocation.arg(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        for (key, generation, value) in entries {
            invocation.key(self.value_key(*key)).key(self.generation_key(*key));
            invocation.arg(generation.to_string()).arg(value);
        }
        invocation.invoke_async::<i64>(&mut self.redis.connection()).await.map(|_| ()).map_err(unavailable)
    }

    #[tracing::instrument(name = "redis.cache.invalidate", skip_all, fields(otel.kind = "client", db.system = "redis", db.operation = "EVALSHA"))]
    async fn invalidate(&self, keys: &[CacheKey]) -> Result<(), UnexpectedError> {
        let mut invocation = self.invalidate.prepare_invoke();
        for key in keys {
            invocation.key(self.value_key(*key)).key(self.generation_key(*key));
        }
        invocation.key(channel(&self.redis));
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let message = std::iter::once(nonce.clone()).chain(keys.iter().map(|key| key.encode())).collect::<Vec<_>>();
        invocation.arg(GENERATION_TTL_SECS).arg(message.join(" "));
        let mut connection = self.redis.connection();
        let reached: u64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        let acks = ack_key(&self.redis, &nonce);
        let deadline = Instant::now() + ACK_WAIT;
        loop {
            let acknowledged = connection.llen(&acks).await.map_err(unavailable)?;
            if acknowledged >= usize::try_from(reached).unwrap_or(usize::MAX) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                tracing::warn!(reached, acknowledged, "not every instance acknowledged a cache invalidation in time");
                return Ok(());
            }
            tokio::time::sleep(ACK_POLL).await;
        }
    }
}

/// Listens to the invalidation channel for as long as the process runs: applies every
/// invalidation to `cache`'s first level, which is in use only while subscribed (emptied and
/// bypassed from the moment the subscription is lost until it is back). Spawn it once per cache.
pub async fn listen_for_invalidations(redis: Redis, cache: Arc<ReadCache>) {
    let channel = channel(&redis);
    let mut warned = false;
    loop {
        match subscribe_to(&redis, &channel).await {
            Ok(mut pubsub) => {
                cache.retry_pending().await;
                cache.listening(true);
                if warned {
                    tracing::info!("listening to cache invalidations again; the first cache level is back in use");
                }
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    let Ok(payload) = message.get_payload::<String>() else { continue };
                    let mut words = payload.split(' ');
                    let Some(nonce) = words.next() else { continue };
                    let keys: Vec<CacheKey> = words.filter_map(CacheKey::decode).collect();
                    cache.forget_locally(&keys).await;
                    acknowledge(&redis, nonce).await;
                }
                cache.listening(false);
                tracing::warn!("lost the cache invalidation channel; reading through to the database until it is back");
                warned = true;
            }
            Err(e) => {
                cache.listening(false);
                if !warned {
                    tracing::warn!(error = %e, "cannot listen to cache invalidations; the first cache level is off");
                    warned = true;
                }
            }
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// Tells the writer this instance has applied the invalidation `nonce`.
async fn acknowledge(redis: &Redis, nonce: &str) {
    let acks = ack_key(redis, nonce);
    let pushed: redis::RedisResult<()> = redis::pipe()
        .rpush(&acks, 1)
        .ignore()
        .pexpire(&acks, i64::try_from(ACK_TTL_MS).unwrap_or(i64::MAX))
        .ignore()
        .query_async(&mut redis.connection())
        .await;
    if let Err(e) = pushed {
        tracing::debug!(error = %e, "could not acknowledge a cache invalidation");
    }
}

pub(super) async fn subscribe_to(redis: &Redis, channel: &str) -> redis::RedisResult<redis::aio::PubSub> {
    let mut pubsub = tokio::time::timeout(super::CONNECTION_TIMEOUT, redis.client.get_async_pubsub())
        .await
        .map_err(|_| redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut)))??;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}
