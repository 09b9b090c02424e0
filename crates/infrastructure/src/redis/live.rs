//! [`EventBus`] over Redis pub/sub: a signal published by any instance reaches the subscribers
//! of every instance.
//!
//! Each process holds one subscription to the channel `<prefix>:live` and hands what arrives to
//! its own subscribers. While the subscription is lost (Redis restarted, network cut) signals
//! published elsewhere are missed: once it is back, every local subscriber is told
//! ([`Received::Missed`]), so that connected clients resume from the event log.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    realtime::{EventBus, Received, Signal, Subscription},
};
use futures::StreamExt as _;
use redis::AsyncTypedCommands as _;

use super::{Redis, unavailable};
use crate::realtime::{Fanout, decode, encode};

/// The wait before subscribing again after the subscription was lost.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);

/// The bus; [`RedisBus::listen`] runs its subscription.
#[derive(Debug, Clone)]
pub struct RedisBus {
    redis: Redis,
    channel: Arc<str>,
    fanout: Fanout,
}

impl RedisBus {
    /// The bus over `redis`. Nothing is received until [`RedisBus::listen`] runs.
    #[must_use]
    pub fn new(redis: &Redis) -> Self {
        Self { redis: redis.clone(), channel: Arc::from(redis.key("live")), fanout: Fanout::new() }
    }

    /// Listens to the channel for as long as the process runs, resubscribing after a loss.
    /// Spawn it once.
    pub async fn listen(self) {
        let mut lost = false;
        loop {
            match super::cache::subscribe_to(&self.redis, &self.channel).await {
                Ok(mut pubsub) => {
                    if lost {
                        tracing::info!("listening to real-time events again; connected clients resume");
                        self.fanout.send(Received::Missed);
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(payload) = message.get_payload::<String>() else { continue };
                        match decode(&payload) {
                            Some(signal) => self.fanout.send(Received::Signal(Arc::new(signal))),
                            None => tracing::warn!("an unreadable real-time signal was dropped"),
                        }
                    }
                    tracing::warn!("lost the real-time channel; events from other instances wait until it is back");
                    lost = true;
                }
                Err(e) => {
                    if !lost {
                        tracing::warn!(error = %e, "cannot listen to real-time events from other instances");
                    }
                    lost = true;
                }
            }
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
        }
    }
}

#[async_trait]
impl EventBus for RedisBus {
    #[tracing::instrument(name = "redis.live.publish", skip_all, fields(db.system = "redis"))]
    async fn publish(&self, signal: &Signal) -> Result<(), UnexpectedError> {
        self.redis.connection().publish(&*self.channel, encode(signal)).await.map(|_| ()).map_err(unavailable)
    }

    fn subscribe(&self) -> Box<dyn Subscription> {
        self.fanout.subscribe()
    }
}
