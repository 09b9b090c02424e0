//! `idle N`: N connections held open, answering pings, doing nothing else.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio_tungstenite::tungstenite::Message;

use crate::socket::{Socket, Target, open_all, print_opened};

/// How many distinct close reasons are kept to be printed.
const KEPT_REASONS: usize = 5;

/// How often a status line is printed while holding.
const STATUS_EVERY: Duration = Duration::from_secs(10);

/// Connections that ended after they were ready.
#[derive(Debug, Default)]
struct Ended {
    count: AtomicUsize,
    reasons: Mutex<Vec<String>>,
}

impl Ended {
    fn record(&self, reason: String) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut reasons = self.reasons.lock().unwrap_or_else(PoisonError::into_inner);
        if reasons.len() < KEPT_REASONS && !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
}

/// Opens `connections` sockets and holds them for `hold`, or until SIGINT or SIGTERM.
///
/// # Errors
/// When the signal handlers cannot be installed.
pub async fn run(target: Target, connections: usize, concurrency: usize, hold: Duration) -> Result<(), String> {
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {e}"))?;
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);

    let target = Arc::new(target);
    let ended = Arc::new(Ended::default());
    let opened = open_all(&target, connections, concurrency, {
        let ended = Arc::clone(&ended);
        move |socket| hold_open(socket, Arc::clone(&ended))
    })
    .await;
    print_opened(&opened, connections);

    let held_since = Instant::now();
    let until = tokio::time::sleep(hold);
    tokio::pin!(until);
    let mut status = tokio::time::interval_at(tokio::time::Instant::now() + STATUS_EVERY, STATUS_EVERY);
    let stopped_by = loop {
        tokio::select! {
            () = &mut until => break "hold_ended",
            _ = &mut interrupt => break "sigint",
            _ = terminate.recv() => break "sigterm",
            _ = status.tick() => {
                let gone = ended.count.load(Ordering::Relaxed);
                eprintln!(
                    "holding: {} open, {gone} ended, {:.0} s, client VmRSS {} KiB",
                    opened.ready.saturating_sub(gone),
                    held_since.elapsed().as_secs_f64(),
                    own_rss_kib().map_or_else(|| "?".to_owned(), |k| k.to_string()),
                );
            }
        }
    };
    let gone = ended.count.load(Ordering::Relaxed);
    println!(
        "stopped by={stopped_by} held_secs={:.1} ended_after_ready={gone} still_open={} client_rss_kib={}",
        held_since.elapsed().as_secs_f64(),
        opened.ready.saturating_sub(gone),
        own_rss_kib().unwrap_or(0),
    );
    for reason in ended.reasons.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        println!("ended {reason}");
    }
    // The sockets close when the runtime drops their tasks.
    Ok(())
}

/// Reads (and so answers pings) until the connection ends.
async fn hold_open(mut socket: Socket, ended: Arc<Ended>) {
    let reason = loop {
        match socket.next().await {
            Some(Ok(Message::Close(frame))) => {
                break frame
                    .map_or_else(|| "close without a code".to_owned(), |f| format!("close {} {}", f.code, f.reason));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => break e.to_string(),
            None => break "the connection ended".to_owned(),
        }
    };
    ended.record(reason);
}

/// This process's resident memory, from `/proc/self/status`.
fn own_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
