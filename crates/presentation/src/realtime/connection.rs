//! One open WebSocket: what was missed first, then live events, pings both ways, and the close.

use std::{collections::HashSet, sync::Arc, time::Duration};

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseReason, ProtocolError, Session};
use bytestring::ByteString;
use forge_application::realtime::Replay;
use tokio::{sync::mpsc, time::Instant};
use uuid::Uuid;

use super::{
    CloseCode, RealtimeLimits,
    hub::{Hub, Outgoing, Peer},
    messages,
};

/// How long the close frame may wait behind what a slow client has not read yet (the
/// connection receives nothing more meanwhile); past it the connection is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Why the loop ended.
enum End {
    /// The server closes, with this code.
    Close(CloseCode),
    /// The client closed, or the connection is gone.
    Gone,
}

/// An admitted connection, ready to run.
pub(crate) struct Connection {
    pub(crate) hub: Arc<Hub>,
    pub(crate) peer: Arc<Peer>,
    pub(crate) queue: mpsc::Receiver<Arc<Outgoing>>,
    pub(crate) session: Session,
    pub(crate) stream: AggregatedMessageStream,
    pub(crate) replay: Option<Replay>,
    pub(crate) id: String,
}

impl Connection {
    /// Runs until either side closes; the hub forgets the connection at the end.
    pub(crate) async fn run(mut self) {
        let limits = *self.hub.limits();
        let end = self.serve(&limits).await;
        self.hub.leave(&self.peer);
        self.queue.close();
        match end {
            End::Close(code) => {
                let value = match code {
                    CloseCode::GoingAway => actix_ws::CloseCode::Away,
                    CloseCode::Unsupported => actix_ws::CloseCode::Unsupported,
                    CloseCode::TooBig => actix_ws::CloseCode::Size,
                    other => actix_ws::CloseCode::Other(other.code()),
                };
                let reason = CloseReason { code: value, description: Some(code.reason().into()) };
                let _ = tokio::time::timeout(CLOSE_WAIT, self.session.close(Some(reason))).await;
            }
            End::Gone => {
                let _ = tokio::time::timeout(CLOSE_WAIT, self.session.close(None)).await;
            }
        }
    }

    async fn serve(&mut self, limits: &RealtimeLimits) -> End {
        // What was missed first; live events that were queued meanwhile and replayed too are
        // dropped below.
        let mut replayed: HashSet<Uuid> = HashSet::new();
        let resumed = self.replay.is_some();
        match self.replay.take() {
            Some(Replay::Events(events)) => {
                for event in &events {
                    replayed.insert(event.id);
                    if let Err(end) = self.send(messages::event(event)).await {
                        return end;
                    }
                }
            }
            Some(Replay::Gap) => {
                if let Err(end) = self.send(messages::resync()).await {
                    return end;
                }
            }
            None => {}
        }
        if let Err(end) = self.send(messages::ready(&self.id, resumed)).await {
            return end;
        }

        let mut heartbeat = tokio::time::interval_at(Instant::now() + limits.heartbeat, limits.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            tokio::select! {
                biased;
                code = self.peer.closed() => return End::Close(code),
                outgoing = self.queue.recv() => {
                    let Some(outgoing) = outgoing else { return End::Gone };
                    if !replayed.is_empty() && replayed.remove(&outgoing.id) {
                        continue;
                    }
                    if let Err(end) = self.send(outgoing.text.clone()).await {
                        return end;
                    }
                }
                frame = self.stream.recv() => {
                    last_heard = Instant::now();
                    match frame {
                        Some(Ok(AggregatedMessage::Text(text))) => {
                            let answer = match messages::is_ping(&text) {
                                Some(true) => messages::pong(),
                                Some(false) => messages::error("the only message a client sends is {\"type\": \"ping\"}"),
                                None => messages::error("a client message is a JSON object such as {\"type\": \"ping\"}"),
                            };
                            if let Err(end) = self.send(answer).await {
                                return end;
                            }
                        }
                        Some(Ok(AggregatedMessage::Binary(_))) => return End::Close(CloseCode::Unsupported),
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            if self.session.pong(&bytes).await.is_err() {
                                return End::Gone;
                            }
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => {}
                        Some(Ok(AggregatedMessage::Close(_)) | Err(_)) | None => {
                            return match frame {
                                Some(Err(ProtocolError::Overflow)) => End::Close(CloseCode::TooBig),
                                _ => End::Gone,
                            };
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() >= limits.idle_timeout {
                        return End::Close(CloseCode::HeartbeatTimeout);
                    }
                    if self.session.ping(b"").await.is_err() {
                        return End::Gone;
                    }
                }
            }
        }
    }

    /// Sends `text`, giving up when the connection is asked to close meanwhile (a client that
    /// does not read never holds the loop).
    async fn send(&mut self, text: ByteString) -> Result<(), End> {
        tokio::select! {
            biased;
            code = self.peer.closed() => Err(End::Close(code)),
            sent = self.session.text(text) => sent.map_err(|_| End::Gone),
        }
    }
}
