//! The outbox relay: events stored by the use cases' transactions, handed to their consumers.
//!
//! Every use case stores its [`OutboxEvent`](crate::audit::OutboxEvent)s in the transaction of
//! the change they describe. The relay reads them back in the order they occurred, claims a
//! batch under a lease (so two relays never hold the same event at once), hands each event to
//! every [`OutboxConsumer`], and marks it delivered. Delivery is at least once: a relay that dies
//! between a consumer's success and the mark leaves the event to be delivered again once its
//! lease has run out, so consumers are idempotent (the event id tells duplicates apart).
//!
//! Order is kept per recipient (the aggregate an event belongs to): a relay never claims an
//! event while an earlier one of the same recipient is claimed by another relay or waiting for
//! another attempt, and when a delivery fails, the recipient's later events of the batch are
//! handed back untouched, to follow it.

mod mail;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_domain::users::UserId;
use uuid::Uuid;

use crate::{
    audit::{EventType, StoredSnapshot},
    common::{Clock, UnexpectedError},
};

pub use mail::ProjectMail;

/// An event read back from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedEvent {
    /// The event's id (a UUID v7).
    pub id: Uuid,
    /// What happened.
    pub event_type: EventType,
    /// Who is told (the aggregate whose events keep their order).
    pub recipient: UserId,
    /// The event's data.
    pub data: StoredSnapshot,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Deliveries tried before this one.
    pub attempts: u32,
    /// The W3C trace context of the request that stored the event, when traces were on: what a
    /// consumer does (and the jobs it queues) continues that trace.
    pub traceparent: Option<String>,
}

/// Takes relayed events: mail, statistics, real-time delivery.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OutboxConsumer: Send + Sync {
    /// The consumer's name, for logs.
    fn name(&self) -> &'static str;

    /// Handles `event`. May be called more than once for one event.
    ///
    /// # Errors
    /// [`UnexpectedError`]: the event is handed back and tried again later.
    async fn consume(&self, event: &RelayedEvent) -> Result<(), UnexpectedError>;
}

/// The outbox table, as the relay uses it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims for `owner` until `until` at most `limit` undelivered events, oldest first, that
    /// no relay holds and that no held or waiting earlier event of the same recipient precedes.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be read or written.
    async fn claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<RelayedEvent>, UnexpectedError>;

    /// Marks the events `ids` held by `owner` delivered at `at`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be written.
    async fn delivered(&self, owner: &str, ids: &[Uuid], at: DateTime<Utc>) -> Result<(), UnexpectedError>;

    /// Hands back the events `ids` held by `owner`, to be claimed again from `retry_at`; `error`
    /// (when given) is recorded on each, with one more attempt.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be written.
    async fn release(
        &self,
        owner: &str,
        ids: &[Uuid],
        retry_at: DateTime<Utc>,
        error: Option<String>,
    ) -> Result<(), UnexpectedError>;

    /// Deletes the events delivered before `before`; returns how many.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be written.
    async fn purge_delivered(&self, before: DateTime<Utc>) -> Result<u64, UnexpectedError>;
}

/// How a relay claims and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// This relay's name, unique among the relays sharing the database.
    pub owner: String,
    /// Events claimed at once.
    pub batch: u64,
    /// How long a claim holds; a relay that died releases its events when it runs out.
    pub lease: Duration,
    /// The wait after a failed delivery before the event is tried again.
    pub retry_delay: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            owner: format!("relay-{}", Uuid::new_v4().simple()),
            batch: 100,
            lease: Duration::seconds(60),
            retry_delay: Duration::seconds(10),
        }
    }
}

/// What one pass of the relay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Events claimed.
    pub claimed: usize,
    /// Events delivered to every consumer and marked so.
    pub delivered: usize,
    /// Events handed back (a failed delivery, or an earlier event of the recipient failed).
    pub released: usize,
}

/// The relay: claims events and hands them to every consumer.
#[derive(Clone)]
pub struct OutboxRelay {
    store: Arc<dyn OutboxStore>,
    consumers: Vec<Arc<dyn OutboxConsumer>>,
    clock: Arc<dyn Clock>,
    settings: RelaySettings,
}

impl std::fmt::Debug for OutboxRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxRelay")
            .field("consumers", &self.consumers.iter().map(|c| c.name()).collect::<Vec<_>>())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OutboxRelay {
    /// A relay over `store` delivering to `consumers`.
    #[must_use]
    pub fn new(
        store: Arc<dyn OutboxStore>,
        consumers: Vec<Arc<dyn OutboxConsumer>>,
        clock: Arc<dyn Clock>,
        settings: RelaySettings,
    ) -> Self {
        Self { store, consumers, clock, settings }
    }

    /// Claims one batch and delivers it: each recipient's events in order, each to every
    /// consumer; a failure hands back that event and the recipient's later ones.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the outbox cannot be read or written (the claimed events are
    /// then delivered again after their lease).
    pub async fn relay_once(&self) -> Result<RelayPass, UnexpectedError> {
        let now = self.clock.now();
        let owner = self.settings.owner.as_str();
        let events = self.store.claim(owner, now, now + self.settings.lease, self.settings.batch).await?;
        let mut pass = RelayPass { claimed: events.len(), ..RelayPass::default() };
        let mut delivered = Vec::new();
        let mut failed_recipients: Vec<UserId> = Vec::new();
        for event in &events {
            if failed_recipients.contains(&event.recipient) {
                // Follows an event that failed: handed back untouched, to keep the order.
                self.store.release(owner, &[event.id], now, None).await?;
                pass.released += 1;
                continue;
            }
            match self.deliver(event).await {
                Ok(()) => delivered.push(event.id),
                Err((consumer, e)) => {
                    tracing::warn!(event = %event.id, consumer, error = %e, "an outbox event could not be delivered; retrying later");
                    failed_recipients.push(event.recipient);
                    let retry_at = self.clock.now() + self.settings.retry_delay;
                    self.store.release(owner, &[event.id], retry_at, Some(e.to_string())).await?;
                    pass.released += 1;
                }
            }
        }
        if !delivered.is_empty() {
            self.store.delivered(owner, &delivered, self.clock.now()).await?;
        }
        pass.delivered = delivered.len();
        Ok(pass)
    }

    async fn deliver(&self, event: &RelayedEvent) -> Result<(), (&'static str, UnexpectedError)> {
        for consumer in &self.consumers {
            consumer.consume(event).await.map_err(|e| (consumer.name(), e))?;
        }
        Ok(())
    }

    /// Deletes the events delivered more than `retention` ago; returns how many.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the outbox cannot be written.
    pub async fn purge(&self, retention: Duration) -> Result<u64, UnexpectedError> {
        self.store.purge_delivered(self.clock.now() - retention).await
    }
}

#[cfg(test)]
mod tests;
