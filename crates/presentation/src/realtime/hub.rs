//! The connections of this instance, and what reaches each of them.
//!
//! Each connection registers here with its user (and its session or API key) and gets a bounded
//! queue of outgoing messages. The hub listens to the bus: an event is rendered once and queued
//! for every connection whose user may see it now; a signal that ends access closes the
//! connections it names. A connection whose queue is full (a client that does not read) is
//! closed, never allowed to hold more.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytestring::ByteString;
use forge_application::realtime::{EventBus, LiveEvent, RealtimeService, Received, Signal};
use forge_domain::{api_keys::ApiKeyId, sessions::SessionId, users::UserId};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::{CloseCode, RealtimeLimits, messages};

/// A message queued for a connection: rendered once, shared by every recipient.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// The event's id (to drop what a replay already sent).
    pub(crate) id: Uuid,
    /// The JSON text.
    pub(crate) text: ByteString,
}

/// One registered connection, as the hub sees it.
#[derive(Debug)]
pub(crate) struct Peer {
    id: u64,
    user: UserId,
    session: Option<SessionId>,
    api_key: Option<ApiKeyId>,
    queue: mpsc::Sender<Arc<Outgoing>>,
    close: OnceLock<CloseCode>,
    closing: Notify,
}

impl Peer {
    /// Asks the connection to close with `code` (the first reason given wins).
    pub(crate) fn close(&self, code: CloseCode) {
        if self.close.set(code).is_ok() {
            self.closing.notify_one();
        }
    }

    /// Resolves once the connection is asked to close, with the reason.
    pub(crate) async fn closed(&self) -> CloseCode {
        loop {
            if let Some(code) = self.close.get() {
                return *code;
            }
            self.closing.notified().await;
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The user has as many connections to this instance as it may.
    PerUser,
    /// This instance holds as many connections as it may.
    Full,
}

/// Counters for the metrics.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped_slow: AtomicU64,
    closed_by_signal: AtomicU64,
    refused: AtomicU64,
}

/// The figures of [`Hub::figures`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubFigures {
    /// Connections open now.
    pub connections: u64,
    /// Event messages queued for connections since start-up.
    pub messages_sent: u64,
    /// Connections closed because they did not read fast enough.
    pub slow_readers_closed: u64,
    /// Connections closed because their access ended (or events may have been missed).
    pub closed_by_server: u64,
    /// Connections refused by a limit.
    pub refused: u64,
}

#[derive(Debug, Default)]
struct Registry {
    by_user: HashMap<UserId, Vec<Arc<Peer>>>,
    total: usize,
}

/// The connections of this instance.
#[derive(Debug)]
pub struct Hub {
    registry: Mutex<Registry>,
    limits: RealtimeLimits,
    next_id: AtomicU64,
    counters: Counters,
}

impl Hub {
    /// An empty hub enforcing `limits`.
    #[must_use]
    pub fn new(limits: RealtimeLimits) -> Self {
        Self { registry: Mutex::default(), limits, next_id: AtomicU64::new(1), counters: Counters::default() }
    }

    /// The limits it enforces.
    #[must_use]
    pub const fn limits(&self) -> &RealtimeLimits {
        &self.limits
    }

    /// Starts delivering what `bus` carries to this hub's connections, on the current runtime,
    /// for as long as the bus lives. With `revalidate_every` (for a bus that does not reach the
    /// other instances), the sessions of the connections are also checked that often, so that a
    /// session ended through another instance closes its connections here too.
    pub fn start(
        self: &Arc<Self>,
        bus: &dyn EventBus,
        realtime: RealtimeService,
        revalidate_every: Option<Duration>,
    ) -> tokio::task::JoinHandle<()> {
        let mut subscription = bus.subscribe();
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            let mut sweeps = tokio::time::interval(revalidate_every.unwrap_or(Duration::MAX / 4));
            sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            sweeps.tick().await;
            loop {
                tokio::select! {
                    received = subscription.next() => match received {
                        Some(received) => hub.dispatch(received, &realtime).await,
                        None => return,
                    },
                    _ = sweeps.tick(), if revalidate_every.is_some() => hub.revalidate(&realtime).await,
                }
            }
        })
    }

    /// Closes the connections whose session has ended or whose account can no longer act.
    async fn revalidate(&self, realtime: &RealtimeService) {
        for peer in self.matching(|p| p.session.is_some()) {
            let Some(session) = peer.session else { continue };
            match realtime.session_allowed(peer.user, session).await {
                Ok(true) => {}
                Ok(false) => {
                    self.counters.closed_by_signal.fetch_add(1, Ordering::Relaxed);
                    peer.close(CloseCode::AccessEnded);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the sessions of WebSocket connections could not be checked");
                    return;
                }
            }
        }
    }

    /// Registers a connection of `user`, returning it and the queue it reads.
    pub(crate) fn admit(
        &self,
        user: UserId,
        session: Option<SessionId>,
        api_key: Option<ApiKeyId>,
    ) -> Result<(Arc<Peer>, mpsc::Receiver<Arc<Outgoing>>), Refusal> {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let refusal = if registry.total >= self.limits.max_connections {
            Some(Refusal::Full)
        } else if registry.by_user.get(&user).map_or(0, Vec::len) >= self.limits.max_connections_per_user {
            Some(Refusal::PerUser)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(refusal);
        }
        let (queue, rx) = mpsc::channel(self.limits.send_buffer.max(1));
        let peer = Arc::new(Peer {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            user,
            session,
            api_key,
            queue,
            close: OnceLock::new(),
            closing: Notify::new(),
        });
        registry.by_user.entry(user).or_default().push(Arc::clone(&peer));
        registry.total += 1;
        Ok((peer, rx))
    }

    /// Forgets a connection that ended.
    pub(crate) fn leave(&self, peer: &Peer) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(peers) = registry.by_user.get_mut(&peer.user) {
            let before = peers.len();
            peers.retain(|p| p.id != peer.id);
            let removed = before - peers.len();
            if peers.is_empty() {
                registry.by_user.remove(&peer.user);
            }
            registry.total -= removed;
        }
    }

    /// Asks every connection to close with `code` (the server is stopping).
    pub fn close_all(&self, code: CloseCode) {
        for peer in self.matching(|_| true) {
            peer.close(code);
        }
    }

    /// The figures for the metrics.
    #[must_use]
    pub fn figures(&self) -> HubFigures {
        let connections = self.registry.lock().unwrap_or_else(PoisonError::into_inner).total;
        HubFigures {
            connections: connections as u64,
            messages_sent: self.counters.sent.load(Ordering::Relaxed),
            slow_readers_closed: self.counters.dropped_slow.load(Ordering::Relaxed),
            closed_by_server: self.counters.closed_by_signal.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
        }
    }

    fn matching(&self, keep: impl Fn(&Peer) -> bool) -> Vec<Arc<Peer>> {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.by_user.values().flatten().filter(|p| keep(p)).cloned().collect()
    }

    fn of_users(&self, users: &[UserId]) -> Vec<Arc<Peer>> {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        users.iter().filter_map(|u| registry.by_user.get(u)).flatten().cloned().collect()
    }

    fn is_empty(&self) -> bool {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner).total == 0
    }

    fn close_each(&self, peers: Vec<Arc<Peer>>, code: CloseCode) {
        for peer in peers {
            self.counters.closed_by_signal.fetch_add(1, Ordering::Relaxed);
            peer.close(code);
        }
    }

    /// Delivers or applies one thing the bus carried.
    pub(crate) async fn dispatch(&self, received: Received, realtime: &RealtimeService) {
        let signal = match received {
            Received::Signal(signal) => signal,
            Received::Missed => {
                tracing::warn!("real-time signals may have been missed; every connection is asked to resume");
                self.close_each(self.matching(|_| true), CloseCode::Resume);
                return;
            }
        };
        match &*signal {
            Signal::Event(event) => self.deliver(event, realtime).await,
            Signal::SessionsEnded(sessions) => {
                self.close_each(
                    self.matching(|p| p.session.is_some_and(|s| sessions.contains(&s))),
                    CloseCode::AccessEnded,
                );
            }
            Signal::UserBlocked(user) => self.close_each(self.of_users(&[*user]), CloseCode::AccessEnded),
            Signal::ApiKeyRevoked(key) => {
                self.close_each(self.matching(|p| p.api_key == Some(*key)), CloseCode::AccessEnded);
            }
        }
    }

    async fn deliver(&self, event: &LiveEvent, realtime: &RealtimeService) {
        if self.is_empty() {
            return;
        }
        let recipients = match realtime.recipients(event).await {
            Ok(users) => users,
            Err(e) => {
                // Who may see it cannot be told: its possible recipients resume from the log.
                tracing::warn!(error = %e, event = %event.id, "the recipients of a live event could not be read");
                let peers = match event.audience.user {
                    Some(user) if event.audience.project.is_none() => self.of_users(&[user]),
                    _ => self.matching(|_| true),
                };
                self.close_each(peers, CloseCode::Resume);
                return;
            }
        };
        let peers = self.of_users(&recipients);
        if peers.is_empty() {
            return;
        }
        let message = Arc::new(Outgoing { id: event.id, text: messages::event(event) });
        for peer in peers {
            match peer.queue.try_send(Arc::clone(&message)) {
                Ok(()) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    self.counters.dropped_slow.fetch_add(1, Ordering::Relaxed);
                    peer.close(CloseCode::SlowReader);
                }
                // The connection is ending.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }
}
