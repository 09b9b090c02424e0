//! The `[realtime]` section: WebSocket connections and their bounds.
//!
//! ```toml
//! [realtime]
//! max_connections = 10000        # per instance; past it: 503 CONNECTIONS_FULL
//! max_connections_per_user = 8   # per user and instance; past it: 429 TOO_MANY_CONNECTIONS
//! send_buffer = 64               # messages waiting for one client; past it: closed with 4008
//! max_message_bytes = 4096       # the largest message a client may send; past it: closed with 1009
//! heartbeat_secs = 30            # how often the server pings
//! idle_timeout_secs = 75         # silence after which a client is closed with 4000
//! ticket_ttl_secs = 30           # how long a ticket from POST /api/v1/ws/ticket works
//! resume_window_secs = 300       # how far back a reconnecting client can resume
//! resume_max_events = 1000       # the most events replayed; a client that missed more resyncs
//! revalidate_secs = 30           # without Redis: how often open sockets' sessions are checked
//! ```

use std::time::Duration;

use forge_application::realtime::RealtimeSettings;
use forge_presentation::realtime::RealtimeLimits;
use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RealtimeConfig {
    pub max_connections: usize,
    pub max_connections_per_user: usize,
    pub send_buffer: usize,
    pub max_message_bytes: usize,
    pub heartbeat_secs: u64,
    pub idle_timeout_secs: u64,
    pub ticket_ttl_secs: u64,
    pub resume_window_secs: u64,
    pub resume_max_events: u64,
    pub revalidate_secs: u64,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        let limits = RealtimeLimits::default();
        let settings = RealtimeSettings::default();
        Self {
            max_connections: limits.max_connections,
            max_connections_per_user: limits.max_connections_per_user,
            send_buffer: limits.send_buffer,
            max_message_bytes: limits.max_message_bytes,
            heartbeat_secs: limits.heartbeat.as_secs(),
            idle_timeout_secs: limits.idle_timeout.as_secs(),
            ticket_ttl_secs: settings.ticket_ttl.as_secs(),
            resume_window_secs: settings.resume_window.as_secs(),
            resume_max_events: settings.resume_limit,
            revalidate_secs: 30,
        }
    }
}

impl RealtimeConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `realtime.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks: [(&str, u64, u64, u64); 10] = [
            ("max_connections", self.max_connections as u64, 1, 1_000_000),
            ("max_connections_per_user", self.max_connections_per_user as u64, 1, 10_000),
            ("send_buffer", self.send_buffer as u64, 1, 100_000),
            ("max_message_bytes", self.max_message_bytes as u64, 64, 1024 * 1024),
            ("heartbeat_secs", self.heartbeat_secs, 1, 3600),
            ("idle_timeout_secs", self.idle_timeout_secs, 2, 7200),
            ("ticket_ttl_secs", self.ticket_ttl_secs, 1, 600),
            ("resume_window_secs", self.resume_window_secs, 0, 7 * 24 * 3600),
            ("resume_max_events", self.resume_max_events, 0, 100_000),
            ("revalidate_secs", self.revalidate_secs, 1, 3600),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(format!("realtime.{key}"), format!("must be between {min} and {max}")));
            }
        }
        if self.idle_timeout_secs <= self.heartbeat_secs {
            return Err(ConfigError::new(
                "realtime.idle_timeout_secs",
                "must be longer than realtime.heartbeat_secs (a client answers the server's pings)",
            ));
        }
        Ok(())
    }

    /// The bounds of the connections.
    #[must_use]
    pub const fn limits(&self) -> RealtimeLimits {
        RealtimeLimits {
            max_connections: self.max_connections,
            max_connections_per_user: self.max_connections_per_user,
            send_buffer: self.send_buffer,
            max_message_bytes: self.max_message_bytes,
            heartbeat: Duration::from_secs(self.heartbeat_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
        }
    }

    /// Tickets and resuming.
    #[must_use]
    pub const fn settings(&self) -> RealtimeSettings {
        RealtimeSettings {
            ticket_ttl: Duration::from_secs(self.ticket_ttl_secs),
            resume_window: Duration::from_secs(self.resume_window_secs),
            resume_limit: self.resume_max_events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_out_of_range_values_name_their_key() {
        RealtimeConfig::default().validate().unwrap();
        let err = RealtimeConfig { send_buffer: 0, ..RealtimeConfig::default() }.validate().unwrap_err();
        assert_eq!(err.key, "realtime.send_buffer");
        let err = RealtimeConfig { heartbeat_secs: 60, idle_timeout_secs: 60, ..RealtimeConfig::default() }
            .validate()
            .unwrap_err();
        assert_eq!(err.key, "realtime.idle_timeout_secs");
    }
}
