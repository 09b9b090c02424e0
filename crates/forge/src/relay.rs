//! The outbox relay's loop, run next to the job workers.

use std::time::Duration;

use forge_application::relay::OutboxRelay;
use tokio::{sync::watch, task::JoinHandle};

/// How long delivered events are kept before they are purged.
pub const DELIVERED_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// The running relay loop; [`RelayLoop::shutdown`] lets the pass under way finish.
#[derive(Debug)]
pub(crate) struct RelayLoop {
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl RelayLoop {
    /// Starts relaying on the current runtime: a pass after another while there are events,
    /// a pause of `idle` when there were none (or the outbox could not be read), and a purge of
    /// the events delivered more than [`DELIVERED_RETENTION`] ago every `purge_every`.
    pub(crate) fn start(relay: OutboxRelay, idle: Duration, purge_every: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut last_purge = tokio::time::Instant::now();
            loop {
                if *stopped.borrow() {
                    break;
                }
                let busy = match relay.relay_once().await {
                    Ok(pass) => pass.claimed > 0,
                    Err(e) => {
                        tracing::warn!(error = ?e, "the outbox relay could not make a pass; trying again");
                        false
                    }
                };
                if last_purge.elapsed() >= purge_every {
                    last_purge = tokio::time::Instant::now();
                    match relay.purge(DELIVERED_RETENTION).await {
                        Ok(purged) => tracing::debug!(purged, "delivered outbox events purged"),
                        Err(e) => tracing::warn!(error = ?e, "purging delivered outbox events failed"),
                    }
                }
                if !busy {
                    tokio::select! {
                        () = tokio::time::sleep(idle) => {}
                        _ = stopped.changed() => {}
                    }
                }
            }
        });
        Self { stop, task: std::sync::Mutex::new(Some(task)) }
    }

    /// Stops after the pass under way, waiting at most `grace` (its events are delivered again
    /// after their lease otherwise).
    pub(crate) async fn shutdown(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(mut task) = task
            && tokio::time::timeout(grace, &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for RelayLoop {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            task.abort();
        }
    }
}
