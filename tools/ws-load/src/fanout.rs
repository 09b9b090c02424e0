//! `fanout N EVENTS INTERVAL_MS`: how long an event takes to reach every one of N connections.
//!
//! Every connection belongs to the same user; each `PATCH /api/v1/users/me` gives the account a
//! `full_name` of its own (`<marker><index>`), and the server sends `account.updated` with it to
//! every connection. A connection's task only stamps the time a message arrives and keeps the
//! index it carries; the latencies are computed once everything is in.

use std::{
    borrow::Cow,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use futures::StreamExt as _;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;
use tokio::{sync::watch, time::MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    socket::{Socket, Target, open_all, print_opened},
    stats,
};

/// How many distinct request failures are kept to be printed.
const KEPT_ERRORS: usize = 5;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub connections: usize,
    pub events: usize,
    pub interval: Duration,
    pub settle: Duration,
    pub grace: Duration,
    pub concurrency: usize,
}

/// What one connection received: the index of each event and when it arrived.
type Received = Vec<(usize, Instant)>;

/// Opens the connections, sends the changes, and prints the latencies.
///
/// # Errors
/// When no connection could be opened, or the HTTP client cannot be built.
pub async fn run(target: Target, plan: &Plan) -> Result<(), String> {
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let marker: Arc<str> = format!("ws-load {} {started} #", std::process::id()).into();
    let target = Arc::new(target);
    let delivered = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = watch::channel(false);

    let opened = open_all(&target, plan.connections, plan.concurrency, {
        let (marker, delivered, ended) = (Arc::clone(&marker), Arc::clone(&delivered), Arc::clone(&ended));
        let events = plan.events;
        move |socket| {
            let recorder = Recorder {
                marker: Arc::clone(&marker),
                delivered: Arc::clone(&delivered),
                ended: Arc::clone(&ended),
                stop: stopped.clone(),
            };
            recorder.run(socket, events)
        }
    })
    .await;
    print_opened(&opened, plan.connections);
    if opened.ready == 0 {
        return Err("no connection could be opened".into());
    }
    tokio::time::sleep(plan.settle).await;

    let sent = send_changes(&target, plan, &marker).await?;
    let sent_ok = sent.iter().flatten().count();
    let expected = opened.ready * sent_ok;
    let deadline = Instant::now() + plan.grace;
    while delivered.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(true);

    let mut received = Vec::with_capacity(opened.ready);
    for task in opened.tasks {
        if let Ok(Some(one)) = task.await {
            received.push(one);
        }
    }
    report(&sent, &received, expected, ended.load(Ordering::Relaxed));
    Ok(())
}

/// Sends the `PATCH` requests one after another on the plan's ticks; returns when each one that
/// succeeded (200) was sent.
async fn send_changes(target: &Target, plan: &Plan, marker: &str) -> Result<Vec<Option<Instant>>, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("the HTTP client cannot be built: {e}"))?;
    let url = format!("{}/api/v1/users/me", target.http_base);
    let mut sent = vec![None; plan.events];
    let mut round_trips = Vec::with_capacity(plan.events);
    let (mut failed, mut errors) = (0_usize, Vec::<String>::new());
    let mut ticks = tokio::time::interval(plan.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    for (index, slot) in sent.iter_mut().enumerate() {
        ticks.tick().await;
        let request = client
            .patch(&url)
            .bearer_auth(&target.token)
            .json(&json!({ "full_name": format!("{marker}{index}") }))
            .build()
            .map_err(|e| format!("the request cannot be built: {e}"))?;
        let at = Instant::now();
        let error = match client.execute(request).await {
            Ok(response) if response.status() == StatusCode::OK => {
                round_trips.push(at.elapsed());
                *slot = Some(at);
                let _ = response.bytes().await;
                None
            }
            Ok(response) => {
                let status = response.status();
                Some(format!("HTTP {status}: {}", response.text().await.unwrap_or_default()))
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = error {
            failed += 1;
            if errors.len() < KEPT_ERRORS && !errors.contains(&error) {
                errors.push(error);
            }
        }
    }
    println!("requests sent={} ok={} failed={failed}", plan.events, plan.events - failed);
    println!("{}", stats::line("request_round_trip_ms", &mut round_trips));
    for error in errors {
        println!("error {error}");
    }
    Ok(sent)
}

/// Prints what arrived against what was sent.
fn report(sent: &[Option<Instant>], received: &[Received], expected: usize, ended: usize) {
    let mut latencies = Vec::with_capacity(expected);
    let mut first = vec![None::<Duration>; sent.len()];
    let mut last = vec![None::<Duration>; sent.len()];
    let (mut duplicates, mut unexpected) = (0_usize, 0_usize);
    let mut seen = vec![false; sent.len()];
    for one in received {
        seen.fill(false);
        for &(index, at) in one {
            let Some(Some(sent_at)) = sent.get(index) else {
                unexpected += 1;
                continue;
            };
            if std::mem::replace(&mut seen[index], true) {
                duplicates += 1;
                continue;
            }
            let latency = at.saturating_duration_since(*sent_at);
            latencies.push(latency);
            first[index] = Some(first[index].map_or(latency, |f| f.min(latency)));
            last[index] = Some(last[index].map_or(latency, |l| l.max(latency)));
        }
    }
    let delivered = latencies.len();
    println!(
        "deliveries expected={expected} received={delivered} missing={} duplicates={duplicates} unexpected={unexpected} connections_ended={ended}",
        expected.saturating_sub(delivered),
    );
    println!("{}", stats::line("latency_ms", &mut latencies));
    // Per event: when the first connection had it, and when the last one did.
    println!("{}", stats::line("event_first_delivery_ms", &mut first.into_iter().flatten().collect::<Vec<_>>()));
    println!("{}", stats::line("event_last_delivery_ms", &mut last.into_iter().flatten().collect::<Vec<_>>()));
}

/// One connection's side of the run.
struct Recorder {
    marker: Arc<str>,
    delivered: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
    stop: watch::Receiver<bool>,
}

impl Recorder {
    /// Reads until told to stop, stamping each `account.updated` of this run.
    async fn run(mut self, mut socket: Socket, events: usize) -> Received {
        let mut received = Vec::with_capacity(events);
        loop {
            tokio::select! {
                biased;
                message = socket.next() => {
                    let at = Instant::now();
                    match message {
                        Some(Ok(Message::Text(text))) => {
                            if let Some(index) = event_index(&text, &self.marker) {
                                received.push((index, at));
                                self.delivered.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(Ok(Message::Close(_)) | Err(_)) | None => {
                            self.ended.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Some(Ok(_)) => {}
                    }
                }
                _ = self.stop.changed() => break,
            }
        }
        received
    }
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    data: Option<EventData<'a>>,
}

#[derive(Deserialize)]
struct EventData<'a> {
    #[serde(borrow)]
    full_name: Option<Cow<'a, str>>,
}

/// The index of this run's change an `account.updated` message carries, if it is one.
fn event_index(text: &str, marker: &str) -> Option<usize> {
    if !text.contains(marker) {
        return None;
    }
    let event: Event<'_> = serde_json::from_str(text).ok()?;
    if event.kind != "account.updated" {
        return None;
    }
    event.data?.full_name?.strip_prefix(marker)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_comes_from_the_full_name_of_an_account_update() {
        let marker = "ws-load 1 2 #";
        let event = r#"{"data":{"email":"a@example.com","full_name":"ws-load 1 2 #17","id":"x"},"id":"y","occurred_at":"2026-01-01T00:00:00.000000Z","type":"account.updated"}"#;
        assert_eq!(event_index(event, marker), Some(17));
        assert_eq!(event_index(&event.replace("account.updated", "project.updated"), marker), None);
        assert_eq!(event_index(&event.replace("ws-load 1 2 #", "ws-load 9 9 #"), marker), None);
        assert_eq!(event_index(r#"{"type":"ready","data":{"connection_id":"c"}}"#, marker), None);
    }

    #[test]
    fn a_report_counts_what_is_missing_and_repeated() {
        let t0 = Instant::now();
        let sent = vec![Some(t0), Some(t0), None];
        let at = t0 + Duration::from_millis(3);
        let received = vec![vec![(0, at), (1, at), (1, at)], vec![(0, at), (2, at)]];
        // Printing only; this checks that nothing panics on duplicates, misses and unknowns.
        report(&sent, &received, 4, 0);
    }
}
