//! The relay's rules over a small in-memory outbox.

use std::sync::{Arc, Mutex};

use super::*;
use crate::testing::FixedClock;

/// One row: the event, whether delivered, and its lease.
#[derive(Debug, Clone)]
struct Row {
    event: RelayedEvent,
    delivered: bool,
    owner: Option<String>,
    until: Option<DateTime<Utc>>,
    error: Option<String>,
}

#[derive(Default)]
struct FakeOutbox {
    rows: Mutex<Vec<Row>>,
}

#[async_trait]
impl OutboxStore for FakeOutbox {
    async fn claim(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<RelayedEvent>, UnexpectedError> {
        let mut rows = self.rows.lock().unwrap();
        let mut claimed = Vec::new();
        // As one SQL statement does: every condition is judged on the rows as they were before.
        let before = rows.clone();
        for i in 0..rows.len() {
            let row = &before[i];
            let held = |r: &Row| !r.delivered && r.until.is_some_and(|u| u >= now);
            let blocked = before[..i].iter().any(|r| r.event.recipient == row.event.recipient && held(r));
            if row.delivered || held(row) || blocked || claimed.len() as u64 >= limit {
                continue;
            }
            rows[i].owner = Some(owner.to_owned());
            rows[i].until = Some(until);
            claimed.push(rows[i].event.clone());
        }
        Ok(claimed)
    }

    async fn delivered(&self, owner: &str, ids: &[Uuid], _at: DateTime<Utc>) -> Result<(), UnexpectedError> {
        for row in self.rows.lock().unwrap().iter_mut() {
            if ids.contains(&row.event.id) && row.owner.as_deref() == Some(owner) {
                row.delivered = true;
            }
        }
        Ok(())
    }

    async fn release(
        &self,
        owner: &str,
        ids: &[Uuid],
        retry_at: DateTime<Utc>,
        error: Option<String>,
    ) -> Result<(), UnexpectedError> {
        for row in self.rows.lock().unwrap().iter_mut() {
            if ids.contains(&row.event.id) && row.owner.as_deref() == Some(owner) {
                row.owner = None;
                row.until = Some(retry_at);
                if let Some(error) = &error {
                    row.error = Some(error.clone());
                    row.event.attempts += 1;
                }
            }
        }
        Ok(())
    }

    async fn purge_delivered(&self, _before: DateTime<Utc>) -> Result<u64, UnexpectedError> {
        let mut rows = self.rows.lock().unwrap();
        let before = rows.len();
        rows.retain(|r| !r.delivered);
        Ok((before - rows.len()) as u64)
    }
}

/// Records what it got; fails every event whose id is in `failing`.
#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<Uuid>>,
    failing: Mutex<Vec<Uuid>>,
}

#[async_trait]
impl OutboxConsumer for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn consume(&self, event: &RelayedEvent) -> Result<(), UnexpectedError> {
        if self.failing.lock().unwrap().contains(&event.id) {
            return Err(UnexpectedError::unavailable("consumer down"));
        }
        self.got.lock().unwrap().push(event.id);
        Ok(())
    }
}

fn event(recipient: UserId, n: i64) -> RelayedEvent {
    RelayedEvent {
        id: Uuid::now_v7(),
        event_type: EventType::ProjectMemberAdded,
        recipient,
        data: StoredSnapshot::default(),
        occurred_at: FixedClock::default_start() + Duration::seconds(n),
        attempts: 0,
        traceparent: None,
    }
}

fn setup(events: &[RelayedEvent]) -> (Arc<FakeOutbox>, Arc<Recorder>, Arc<FixedClock>, OutboxRelay) {
    let outbox = Arc::new(FakeOutbox::default());
    *outbox.rows.lock().unwrap() = events
        .iter()
        .map(|event| Row { event: event.clone(), delivered: false, owner: None, until: None, error: None })
        .collect();
    let recorder = Arc::new(Recorder::default());
    let clock = Arc::new(FixedClock::new(FixedClock::default_start()));
    let relay = OutboxRelay::new(
        outbox.clone(),
        vec![recorder.clone()],
        clock.clone(),
        RelaySettings { owner: "relay-a".into(), batch: 10, ..RelaySettings::default() },
    );
    (outbox, recorder, clock, relay)
}

#[tokio::test]
async fn events_are_delivered_in_order_and_marked_delivered() {
    let (ada, bob) = (UserId::generate(), UserId::generate());
    let events = [event(ada, 1), event(bob, 2), event(ada, 3)];
    let (outbox, recorder, _, relay) = setup(&events);

    let pass = relay.relay_once().await.unwrap();

    assert_eq!(pass, RelayPass { claimed: 3, delivered: 3, released: 0 });
    assert_eq!(*recorder.got.lock().unwrap(), events.iter().map(|e| e.id).collect::<Vec<_>>());
    assert!(outbox.rows.lock().unwrap().iter().all(|r| r.delivered));
    assert_eq!(relay.relay_once().await.unwrap().claimed, 0, "nothing is delivered twice");
}

#[tokio::test]
async fn a_failed_delivery_holds_back_the_recipients_later_events_and_is_retried_after_the_delay() {
    let (ada, bob) = (UserId::generate(), UserId::generate());
    let events = [event(ada, 1), event(ada, 2), event(bob, 3)];
    let (outbox, recorder, clock, relay) = setup(&events);
    recorder.failing.lock().unwrap().push(events[0].id);

    let pass = relay.relay_once().await.unwrap();
    assert_eq!(pass, RelayPass { claimed: 3, delivered: 1, released: 2 });
    assert_eq!(*recorder.got.lock().unwrap(), [events[2].id], "only the other recipient's event");
    {
        let rows = outbox.rows.lock().unwrap();
        assert_eq!(rows[0].error.as_deref(), Some("a dependency is unavailable: consumer down"));
        assert_eq!(rows[0].event.attempts, 1);
        assert_eq!(rows[1].event.attempts, 0, "the held-back event did not fail");
    }

    // Before the retry delay, the failed event waits and its successor with it.
    assert_eq!(relay.relay_once().await.unwrap().claimed, 0);

    recorder.failing.lock().unwrap().clear();
    clock.advance(RelaySettings::default().retry_delay + Duration::seconds(1));
    let pass = relay.relay_once().await.unwrap();
    assert_eq!(pass.delivered, 2);
    assert_eq!(*recorder.got.lock().unwrap(), [events[2].id, events[0].id, events[1].id]);
    assert_eq!(relay.purge(Duration::zero()).await.unwrap(), 3);
}
