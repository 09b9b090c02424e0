//! Real time over WebSocket: `POST /api/v1/ws/ticket` and `GET /api/v1/ws`.
//!
//! A client connects with a bearer access token, an API key with the `read` scope, or a
//! single-use ticket (browsers cannot set headers on a WebSocket). Its `Origin`, when sent, must be
//! an allowed origin. Once connected it receives the events its user may see at the moment of
//! delivery (see [`forge_application::realtime`]), as JSON text messages
//! `{"id", "type", "data", "occurred_at"}`; `{"type": "ping"}` gets `{"type": "pong"}`. A client
//! that reconnects with `?last_event_id=` first receives what it missed.
//!
//! Every resource is bounded ([`RealtimeLimits`]): connections per user and per instance, the
//! queue of messages waiting for a connection (a client that does not read is closed), the size
//! of a client's message, and the time a silent client is kept.

mod connection;
pub mod handlers;
mod hub;
mod messages;

use std::time::Duration;

use actix_web::web;

pub use hub::{Hub, HubFigures};

use crate::routing::Endpoint;

/// The bounds of real-time connections on one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealtimeLimits {
    /// Connections this instance holds at most; more are refused with 503.
    pub max_connections: usize,
    /// Connections one user holds on this instance at most; more are refused with 429.
    pub max_connections_per_user: usize,
    /// Messages waiting to be sent to one connection at most; a connection that falls further
    /// behind is closed with [`CloseCode::SlowReader`].
    pub send_buffer: usize,
    /// The largest message a client may send, in bytes; a larger one closes the connection
    /// with 1009.
    pub max_message_bytes: usize,
    /// How often the server pings.
    pub heartbeat: Duration,
    /// How long a client may stay silent (no message, no pong) before it is closed with
    /// [`CloseCode::HeartbeatTimeout`].
    pub idle_timeout: Duration,
}

impl Default for RealtimeLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_user: 8,
            send_buffer: 64,
            max_message_bytes: 4096,
            heartbeat: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
        }
    }
}

/// Why the server closed a connection (documented in `docs/api.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    /// 1001: the server is stopping; reconnect (to another instance) and resume.
    GoingAway,
    /// 1003: the client sent a binary message.
    Unsupported,
    /// 1009: the client sent a message over the size limit.
    TooBig,
    /// 4000: the client answered no ping for the idle timeout.
    HeartbeatTimeout,
    /// 4001: the session ended (logout, logout everywhere, revocation), the account was
    /// deactivated or deleted, or the API key was revoked. Do not reconnect with the same
    /// credentials.
    AccessEnded,
    /// 4002: events may have been missed (an instance lost the bus for a while); reconnect with
    /// `last_event_id` to receive them.
    Resume,
    /// 4008: the client did not read its messages fast enough; reconnect with `last_event_id`.
    SlowReader,
}

impl CloseCode {
    /// The WebSocket close code.
    #[must_use]
    pub const fn code(self) -> u16 {
        match self {
            Self::GoingAway => 1001,
            Self::Unsupported => 1003,
            Self::TooBig => 1009,
            Self::HeartbeatTimeout => 4000,
            Self::AccessEnded => 4001,
            Self::Resume => 4002,
            Self::SlowReader => 4008,
        }
    }

    /// The close reason sent with it.
    #[must_use]
    pub const fn reason(self) -> &'static str {
        match self {
            Self::GoingAway => "server_stopping",
            Self::Unsupported => "binary_not_supported",
            Self::TooBig => "message_too_big",
            Self::HeartbeatTimeout => "heartbeat_timeout",
            Self::AccessEnded => "access_ended",
            Self::Resume => "resume",
            Self::SlowReader => "slow_reader",
        }
    }
}

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/ws/ticket").post(handlers::ticket))
        .service(Endpoint::new("/ws").get(handlers::connect));
}
