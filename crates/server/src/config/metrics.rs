//! The `[metrics]` section: whether and where `GET /metrics` (Prometheus text format) is served.
//!
//! ```toml
//! [metrics]
//! enabled = true            # default; false: no metrics are counted or served
//! bind = "0.0.0.0:9464"     # serve /metrics on a listener of its own (and not on the API's)
//! token = "..."             # require `Authorization: Bearer <token>` (at least 16 bytes)
//! ```
//!
//! The metrics are never public by default: with neither `bind` nor `token`, `/metrics` is not
//! served at all. With `bind`, only that listener serves it (with the token too when one is set);
//! with `token` alone, the API's listener serves it to callers that send the token.

use std::net::SocketAddr;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The shortest bearer token accepted.
const MIN_TOKEN_BYTES: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct MetricsSettings {
    /// Count and serve metrics (when `bind` or `token` says where).
    pub enabled: bool,
    /// A listen address of its own for `/metrics`.
    pub bind: Option<String>,
    /// The bearer token a scraper must send.
    #[serde(skip_serializing)]
    pub token: Option<SecretString>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { enabled: true, bind: None, token: None }
    }
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExposure {
    /// Nowhere (and nothing is counted).
    Off,
    /// On the API's listener, to callers with the token.
    ApiListener,
    /// On a listener of its own.
    OwnListener(SocketAddr),
}

impl MetricsSettings {
    /// Checks the address and the token.
    ///
    /// # Errors
    /// [`ConfigError`] naming `metrics.bind` or `metrics.token`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind_address()?;
        if let Some(token) = &self.token
            && token.expose_secret().trim().len() < MIN_TOKEN_BYTES
        {
            return Err(ConfigError::new("metrics.token", format!("must be at least {MIN_TOKEN_BYTES} bytes long")));
        }
        Ok(())
    }

    fn bind_address(&self) -> Result<Option<SocketAddr>, ConfigError> {
        self.bind
            .as_deref()
            .map(|bind| {
                bind.parse().map_err(|_| {
                    ConfigError::new("metrics.bind", format!("{bind:?} is not an address such as 0.0.0.0:9464"))
                })
            })
            .transpose()
    }

    /// Where `/metrics` is served, from the validated settings.
    #[must_use]
    pub fn exposure(&self) -> MetricsExposure {
        if !self.enabled {
            return MetricsExposure::Off;
        }
        match (self.bind_address().ok().flatten(), &self.token) {
            (Some(address), _) => MetricsExposure::OwnListener(address),
            (None, Some(_)) => MetricsExposure::ApiListener,
            (None, None) => MetricsExposure::Off,
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn nothing_is_served_unless_an_address_or_a_token_is_set() {
        assert_eq!(MetricsSettings::default().exposure(), MetricsExposure::Off);
        let token = Some(SecretString::from("0123456789abcdef".to_owned()));
        assert_eq!(
            MetricsSettings { token: token.clone(), ..MetricsSettings::default() }.exposure(),
            MetricsExposure::ApiListener
        );
        let own = MetricsSettings { bind: Some("127.0.0.1:9464".into()), token, ..MetricsSettings::default() };
        assert_eq!(own.exposure(), MetricsExposure::OwnListener("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(MetricsSettings { enabled: false, ..own }.exposure(), MetricsExposure::Off);
    }

    #[test]
    fn the_section_is_read_from_the_environment() {
        Jail::expect_with(|jail| {
            jail.set_env("FORGE_METRICS__BIND", "0.0.0.0:9464");
            jail.set_env("FORGE_METRICS__TOKEN", "a-long-enough-scrape-token");
            let settings = Settings::load(None).unwrap();
            settings.validate().unwrap();
            assert_eq!(settings.metrics.exposure(), MetricsExposure::OwnListener("0.0.0.0:9464".parse().unwrap()));
            assert_eq!(settings.metrics.token.unwrap().expose_secret(), "a-long-enough-scrape-token");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_naming_their_key() {
        let bad_bind = MetricsSettings { bind: Some("nine".into()), ..MetricsSettings::default() };
        assert_eq!(bad_bind.validate().unwrap_err().key, "metrics.bind");
        let short =
            MetricsSettings { token: Some(SecretString::from("short".to_owned())), ..MetricsSettings::default() };
        assert_eq!(short.validate().unwrap_err().key, "metrics.token");
    }
}
