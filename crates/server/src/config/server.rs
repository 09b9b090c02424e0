//! The `[server]` section: the listen address, the workers, and the size and time limits of
//! requests.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct ServerSettings {
    pub bind: String,
    /// Worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// The largest body of a bulk endpoint (`POST /users/bulk`).
    pub bulk_body_limit_bytes: usize,
    /// How long a request to a bulk endpoint may run.
    pub bulk_request_timeout_secs: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            workers: None,
            request_timeout_secs: 30,
            body_limit_bytes: 1024 * 1024,
            shutdown_timeout_secs: 30,
            bulk_body_limit_bytes: 4 * 1024 * 1024,
            bulk_request_timeout_secs: 120,
        }
    }
}

impl ServerSettings {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `server.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind_address()?;
        if self.request_timeout_secs == 0 {
            return Err(ConfigError::new("server.request_timeout_secs", "must be at least 1"));
        }
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError::new("server.body_limit_bytes", "must be at least 1024"));
        }
        if self.bulk_body_limit_bytes < self.body_limit_bytes {
            return Err(ConfigError::new("server.bulk_body_limit_bytes", "must be at least server.body_limit_bytes"));
        }
        if self.bulk_request_timeout_secs < self.request_timeout_secs {
            return Err(ConfigError::new(
                "server.bulk_request_timeout_secs",
                "must be at least server.request_timeout_secs",
            ));
        }
        if self.workers == Some(0) {
            return Err(ConfigError::new("server.workers", "must be at least 1"));
        }
        Ok(())
    }

    /// The listen address.
    ///
    /// # Errors
    /// [`ConfigError`] for `server.bind` when it is not `host:port`.
    pub fn bind_address(&self) -> Result<SocketAddr, ConfigError> {
        self.bind.parse().map_err(|_| {
            ConfigError::new("server.bind", format!("{:?} is not an address such as 127.0.0.1:8000", self.bind))
        })
    }

    /// How long the slowest request may run: the bulk time limit or the ordinary one.
    #[must_use]
    pub fn longest_request_secs(&self) -> u64 {
        self.request_timeout_secs.max(self.bulk_request_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Spoiled;

    #[test]
    fn every_bad_value_is_refused_naming_its_key() {
        let cases: [Spoiled<ServerSettings>; 6] = [
            ("server.bind", |s| s.bind = "localhost".into()),
            ("server.request_timeout_secs", |s| s.request_timeout_secs = 0),
            ("server.body_limit_bytes", |s| s.body_limit_bytes = 1000),
            ("server.bulk_body_limit_bytes", |s| s.bulk_body_limit_bytes = 1024),
            ("server.bulk_request_timeout_secs", |s| s.bulk_request_timeout_secs = 5),
            ("server.workers", |s| s.workers = Some(0)),
        ];
        for (key, spoil) in cases {
            let mut server = ServerSettings::default();
            spoil(&mut server);
            assert_eq!(server.validate().unwrap_err().key, key);
        }
        ServerSettings::default().validate().unwrap();
    }
}
