//! The in-process mail queue: a bounded channel and a worker task that delivers in the
//! background, retrying with exponential back-off.
//!
//! Messages live in memory only: a crash loses what was not yet delivered (a durable job queue
//! is the adapter that fixes that). A graceful stop delivers what it can within a grace period:
//! the queue stops taking messages, the worker delivers the ones already taken (retries
//! included), and whatever is still undelivered at the deadline is logged as dropped.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    common::UnexpectedKind,
    mail::{MailMessage, MailQueue, Mailer},
};
use tokio::{
    sync::{mpsc, oneshot},
    task::{JoinHandle, JoinSet},
};

use super::message::recipient_domain;

/// How many messages are delivered at the same time.
const CONCURRENT_DELIVERIES: usize = 4;

/// The longest wait between two attempts, however many there are.
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// How often a message is tried, and how long to wait between tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further one (1 s, 2 s, 4 s, ...).
    pub first_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, first_delay: Duration::from_secs(1) }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (from 1).
    #[must_use]
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_delay.saturating_mul(factor).min(MAX_DELAY)
    }
}

/// [`MailQueue`] over a bounded in-memory channel. Taking a message never waits: a full queue
/// refuses it (the caller logs that) rather than slowing requests down.
#[derive(Debug, Clone)]
pub struct InProcessMailQueue {
    sender: mpsc::Sender<MailMessage>,
    pending: Arc<AtomicUsize>,
}

/// The worker behind an [`InProcessMailQueue`]; stop it with [`MailWorker::shutdown`]. Dropping
/// it without a shutdown leaves the worker running until every queue handle is dropped.
#[derive(Debug)]
pub struct MailWorker {
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    pending: Arc<AtomicUsize>,
}

/// Why the queue refused a message.
#[derive(Debug, thiserror::Error)]
enum QueueError {
    #[error("the mail queue is full")]
    Full,
    #[error("the mail queue is stopped")]
    Stopped,
}

impl InProcessMailQueue {
    /// Starts the worker on the current Tokio runtime: messages go to `mailer`, at most
    /// `capacity` wait at once, failures are retried under `policy`.
    #[must_use]
    pub fn start(mailer: Arc<dyn Mailer>, policy: RetryPolicy, capacity: usize) -> (Self, MailWorker) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let (stop, stopped) = oneshot::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(run(receiver, stopped, mailer, policy, pending.clone()));
        let worker =
            MailWorker { stop: Mutex::new(Some(stop)), task: Mutex::new(Some(task)), pending: pending.clone() };
        (Self { sender, pending }, worker)
    }
}

#[async_trait]
impl MailQueue for InProcessMailQueue {
    async fn enqueue(&self, message: MailMessage) -> Result<(), UnexpectedError> {
        // Counted before it is sent, so the worker can never count it down first.
        self.pending.fetch_add(1, Ordering::SeqCst);
        let refused = match self.sender.try_send(message) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => QueueError::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => QueueError::Stopped,
        };
        self.pending.fetch_sub(1, Ordering::SeqCst);
        Err(UnexpectedError::unavailable(refused))
    }
}

impl MailWorker {
    /// Messages taken and not yet delivered or dropped.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Stops taking messages and delivers those already taken, waiting at most `grace`; what is
    /// left then is dropped (and logged). Calling it again does nothing.
    pub async fn shutdown(&self, grace: Duration) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(PoisonError::into_inner).take() {
            // The worker may have ended already; then there is nothing to tell.
            let _ = stop.send(());
        }
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(mut task) = task else { return };
        if tokio::time::timeout(grace, &mut task).await.is_ok() {
            tracing::info!("mail queue drained");
        } else {
            task.abort();
            tracing::warn!(undelivered = self.pending(), "mail queue stopped before every message was delivered");
        }
    }
}

async fn run(
    mut receiver: mpsc::Receiver<MailMessage>,
    mut stopped: oneshot::Receiver<()>,
    mailer: Arc<dyn Mailer>,
    policy: RetryPolicy,
    pending: Arc<AtomicUsize>,
) {
    let mut deliveries = JoinSet::new();
    // Only an explicit stop ends the intake early: a worker handle dropped without a shutdown
    // must not silently stop the queue while the application keeps enqueueing. Without a stop,
    // the worker runs until every queue handle is gone.
    let mut may_stop = true;
    loop {
        tokio::select! {
            stop = &mut stopped, if may_stop => match stop {
                Ok(()) => break,
                Err(_) => may_stop = false,
            },
            received = receiver.recv() => match received {
                Some(message) => start_delivery(&mut deliveries, &mailer, policy, &pending, message).await,
                None => break,
            },
            Some(finished) = deliveries.join_next(), if !deliveries.is_empty() => log_panic(finished),
        }
    }
    receiver.close();
    while let Some(message) = receiver.recv().await {
        start_delivery(&mut deliveries, &mailer, policy, &pending, message).await;
    }
    while let Some(finished) = deliveries.join_next().await {
        log_panic(finished);
    }
}

/// Starts delivering `message`, first waiting for a free slot.
async fn start_delivery(
    deliveries: &mut JoinSet<()>,
    mailer: &Arc<dyn Mailer>,
    policy: RetryPolicy,
    pending: &Arc<AtomicUsize>,
    message: MailMessage,
) {
    while deliveries.len() >= CONCURRENT_DELIVERIES {
        if let Some(finished) = deliveries.join_next().await {
            log_panic(finished);
        }
    }
    let (mailer, pending) = (mailer.clone(), pending.clone());
    deliveries.spawn(async move {
        deliver(&*mailer, policy, &message).await;
        pending.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Sends `message`, retrying temporary failures under `policy`.
async fn deliver(mailer: &dyn Mailer, policy: RetryPolicy, message: &MailMessage) {
    let domain = recipient_domain(message);
    let attempts = policy.max_attempts.max(1);
    for attempt in 1..=attempts {
        match mailer.send(message).await {
            Ok(()) => {
                tracing::info!(recipient_domain = domain, attempt, "mail delivered");
                return;
            }
            Err(e) if e.kind() == UnexpectedKind::Unavailable && attempt < attempts => {
                let delay = policy.delay_after(attempt);
                tracing::warn!(
                    recipient_domain = domain,
                    attempt,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %e,
                    "mail delivery failed; retrying"
                );
                tokio::time::sleep(delay).await;
            }
            Err(e) => {
                tracing::error!(recipient_domain = domain, attempt, error = ?e, "mail delivery failed; message dropped");
                return;
            }
        }
    }
}

fn log_panic(finished: Result<(), tokio::task::JoinError>) {
    if let Err(e) = finished
        && e.is_panic()
    {
        tracing::error!(error = %e, "a mail delivery panicked; message dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_after_each_failure_up_to_an_hour() {
        let policy = RetryPolicy { max_attempts: 30, first_delay: Duration::from_secs(1) };
        let delays: Vec<u64> = (1..=4).map(|a| policy.delay_after(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8]);
        assert_eq!(policy.delay_after(29), MAX_DELAY);
    }
}
