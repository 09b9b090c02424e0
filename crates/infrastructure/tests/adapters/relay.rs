//! The outbox relay over the real outbox: concurrent writers, two relays at once.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    audit::{AuditValue, EventType, OutboxEvent, Snapshot},
    common::UnitOfWork,
    relay::{OutboxConsumer, OutboxRelay, RelaySettings, RelayedEvent},
    users::UserChange,
};
use forge_domain::users::UserId;
use forge_infrastructure::{SeaOutboxStore, SystemClock};

use crate::common::{Harness, t0, user};

/// Records every delivery: which event, whose, its sequence number.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<(uuid::Uuid, UserId, i64)>>,
}

#[async_trait]
impl OutboxConsumer for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn consume(&self, event: &RelayedEvent) -> Result<(), UnexpectedError> {
        let n = match event.data.get("n") {
            Some(AuditValue::Int(n)) => *n,
            other => return Err(UnexpectedError::internal(format!("no sequence number: {other:?}"))),
        };
        self.got.lock().unwrap().push((event.id, event.recipient, n));
        Ok(())
    }
}

fn relay(h: &Harness, owner: &str, consumer: Arc<Recorder>) -> OutboxRelay {
    OutboxRelay::new(
        Arc::new(SeaOutboxStore::new(&h.database)),
        vec![consumer],
        Arc::new(SystemClock::new()),
        RelaySettings { owner: owner.into(), batch: 200, ..RelaySettings::default() },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_events_from_concurrent_writers_are_relayed_by_two_relays_once_each_in_order() {
    const WRITERS: usize = 10;
    const COMMITS: i64 = 100;
    const PER_COMMIT: i64 = 10;
    let h = Harness::new().await;
    let mut recipients = Vec::new();
    for i in 0..WRITERS {
        let u = user(&format!("u{i}@example.com"), &format!("user{i}"));
        h.uow.commit(UserChange::Insert(u.clone()).into()).await.unwrap();
        recipients.push(u.id());
    }
    let consumer = Arc::new(Recorder::default());

    let writers: Vec<_> = recipients
        .iter()
        .map(|&recipient| {
            let uow = h.uow.clone();
            tokio::spawn(async move {
                for c in 0..COMMITS {
                    let events = (0..PER_COMMIT).map(|k| {
                        let n = c * PER_COMMIT + k;
                        OutboxEvent::new(
                            EventType::ProjectMemberAdded,
                            recipient,
                            Snapshot::new().with("n", n),
                            t0() + chrono::Duration::milliseconds(n),
                        )
                    });
                    uow.commit(events.collect()).await.unwrap();
                }
            })
        })
        .collect();
    let relays: Vec<_> = ["relay-a", "relay-b"]
        .into_iter()
        .map(|owner| {
            let relay = relay(&h, owner, consumer.clone());
            let consumer = consumer.clone();
            tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(300);
                while consumer.got.lock().unwrap().len() < WRITERS * (COMMITS * PER_COMMIT) as usize {
                    assert!(Instant::now() < deadline, "not every event was relayed in time");
                    if relay.relay_once().await.unwrap().claimed == 0 {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    for relay in relays {
        relay.await.unwrap();
    }

    let got = consumer.got.lock().unwrap().clone();
    assert_eq!(got.len(), 10_000);
    let ids: HashSet<_> = got.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids.len(), 10_000, "an event was delivered twice");
    let mut last: HashMap<UserId, i64> = HashMap::new();
    for (_, recipient, n) in &got {
        let previous = last.insert(*recipient, *n).unwrap_or(-1);
        assert_eq!(*n, previous + 1, "out of order for {recipient}");
    }
    // Nothing is left to relay, and delivered rows are purged after their retention.
    assert_eq!(relay(&h, "relay-c", consumer.clone()).relay_once().await.unwrap().claimed, 0);
    assert_eq!(relay(&h, "relay-c", consumer).purge(chrono::Duration::seconds(-60)).await.unwrap(), 10_000);
}
