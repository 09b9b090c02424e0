//! The bus of real-time signals within one process, and the wire form signals cross processes
//! in (see the Redis bus, `redis::RedisBus`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    audit::StoredSnapshot,
    realtime::{Audience, EventBus, LiveEvent, LiveEventType, Received, Signal, Subscription},
};
use forge_domain::{api_keys::ApiKeyId, projects::ProjectId, sessions::SessionId, users::UserId};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::persistence::{value_from_json, value_json};

/// How many signals a subscriber may fall behind by before it is told it missed some.
pub const BUS_CAPACITY: usize = 4096;

/// Hands what is received to every subscriber of this process.
#[derive(Debug, Clone)]
pub(crate) struct Fanout {
    tx: broadcast::Sender<Received>,
}

impl Fanout {
    pub(crate) fn new() -> Self {
        Self { tx: broadcast::channel(BUS_CAPACITY).0 }
    }

    pub(crate) fn send(&self, received: Received) {
        // No subscriber is not an error: nobody is connected here.
        let _ = self.tx.send(received);
    }

    pub(crate) fn subscribe(&self) -> Box<dyn Subscription> {
        Box::new(FanoutSubscription { rx: self.tx.subscribe() })
    }
}

struct FanoutSubscription {
    rx: broadcast::Receiver<Received>,
}

#[async_trait]
impl Subscription for FanoutSubscription {
    async fn next(&mut self) -> Option<Received> {
        match self.rx.recv().await {
            Ok(received) => Some(received),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Received::Missed),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// [`EventBus`] within one process: the embedded default, where one instance serves every
/// client (another instance would not hear of these signals).
#[derive(Debug, Clone)]
pub struct InProcessBus {
    fanout: Fanout,
}

impl InProcessBus {
    /// A new bus.
    #[must_use]
    pub fn new() -> Self {
        Self { fanout: Fanout::new() }
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, signal: &Signal) -> Result<(), UnexpectedError> {
        self.fanout.send(Received::Signal(Arc::new(signal.clone())));
        Ok(())
    }

    fn subscribe(&self) -> Box<dyn Subscription> {
        self.fanout.subscribe()
    }
}

/// The JSON form of a signal between processes.
#[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "used by the Redis bus"))]
pub(crate) fn encode(signal: &Signal) -> String {
    let value = match signal {
        Signal::Event(event) => json!({
            "event": {
                "id": event.id,
                "type": event.event_type.as_str(),
                "user": event.audience.user.map(|u| u.as_uuid()),
                "project": event.audience.project.map(|p| p.as_uuid()),
                "data": Value::Object(event.data.fields().map(|(k, v)| (k.to_owned(), value_json(v))).collect()),
                "occurred_at": event.occurred_at,
            }
        }),
        Signal::SessionsEnded(ids) => {
            json!({"sessions_ended": ids.iter().map(SessionId::as_uuid).collect::<Vec<_>>()})
        }
        Signal::UserBlocked(id) => json!({"user_blocked": id.as_uuid()}),
        Signal::ApiKeyRevoked(id) => json!({"api_key_revoked": id.as_uuid()}),
    };
    value.to_string()
}

/// The signal of [`encode`]'s JSON; `None` for anything else.
#[cfg_attr(not(feature = "redis"), allow(dead_code, reason = "used by the Redis bus"))]
pub(crate) fn decode(text: &str) -> Option<Signal> {
    let value: Value = serde_json::from_str(text).ok()?;
    let uuid = |v: &Value| v.as_str().and_then(|s| Uuid::parse_str(s).ok());
    if let Some(event) = value.get("event") {
        let data = event
            .get("data")?
            .as_object()?
            .iter()
            .map(|(k, v)| value_from_json(v).map(|v| (k.clone(), v)))
            .collect::<Option<Vec<_>>>()?;
        let occurred_at: DateTime<Utc> = serde_json::from_value(event.get("occurred_at")?.clone()).ok()?;
        return Some(Signal::Event(LiveEvent {
            id: uuid(event.get("id")?)?,
            event_type: LiveEventType::parse(event.get("type")?.as_str()?)?,
            audience: Audience {
                user: event.get("user").and_then(uuid).map(UserId::from_uuid),
                project: event.get("project").and_then(uuid).map(ProjectId::from_uuid),
            },
            data: StoredSnapshot::from_fields(data),
            occurred_at,
        }));
    }
    if let Some(ids) = value.get("sessions_ended") {
        return Some(Signal::SessionsEnded(
            ids.as_array()?.iter().map(|v| uuid(v).map(SessionId::from)).collect::<Option<_>>()?,
        ));
    }
    if let Some(id) = value.get("user_blocked") {
        return Some(Signal::UserBlocked(UserId::from_uuid(uuid(id)?)));
    }
    value.get("api_key_revoked").and_then(uuid).map(|id| Signal::ApiKeyRevoked(ApiKeyId::from_uuid(id)))
}

#[cfg(test)]
mod tests {
    use forge_application::{audit::Snapshot, realtime::LiveEvent};

    use super::*;

    #[test]
    fn every_signal_crosses_the_wire_unchanged() {
        let data = Snapshot::new().with("name", "Apollo").with("version", 3_i64).with("active", true);
        let at = DateTime::from_timestamp(1_700_000_000, 123_000).unwrap();
        let signals = [
            Signal::Event(LiveEvent::new(
                LiveEventType::ProjectMemberRemoved,
                Audience { user: Some(UserId::generate()), project: Some(ProjectId::generate()) },
                &data,
                at,
            )),
            Signal::Event(LiveEvent::new(LiveEventType::AccountUpdated, Audience::user(UserId::generate()), &data, at)),
            Signal::SessionsEnded(vec![SessionId::generate(), SessionId::generate()]),
            Signal::UserBlocked(UserId::generate()),
            Signal::ApiKeyRevoked(ApiKeyId::generate()),
        ];
        for signal in signals {
            assert_eq!(decode(&encode(&signal)), Some(signal));
        }
        assert_eq!(decode("{\"something\": 1}"), None);
        assert_eq!(decode("not json"), None);
    }

    #[tokio::test]
    async fn a_subscriber_hears_what_is_published_after_it_subscribed_and_is_told_when_it_fell_behind() {
        let bus = InProcessBus::new();
        bus.publish(&Signal::UserBlocked(UserId::generate())).await.unwrap();
        let mut subscription = bus.subscribe();
        let blocked = Signal::UserBlocked(UserId::generate());
        bus.publish(&blocked).await.unwrap();
        assert!(matches!(subscription.next().await, Some(Received::Signal(s)) if *s == blocked));

        for _ in 0..=BUS_CAPACITY {
            bus.publish(&blocked).await.unwrap();
        }
        assert!(matches!(subscription.next().await, Some(Received::Missed)));
    }
}
