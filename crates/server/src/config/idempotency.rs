//! The `[idempotency]` section: how long the response to a request with an `Idempotency-Key` is
//! replayed, and how often expired keys are purged.

use forge_application::idempotency::IdempotencySettings;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `Idempotency-Key` retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct IdempotencyConfig {
    /// How long the response to a request with an `Idempotency-Key` is replayed.
    pub ttl_secs: i64,
    /// How often expired keys are purged.
    pub purge_interval_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self { ttl_secs: 24 * 3600, purge_interval_secs: 3600 }
    }
}

impl IdempotencyConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `idempotency.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.ttl_secs < 60 || self.ttl_secs > 30 * 24 * 3600 {
            return Err(ConfigError::new("idempotency.ttl_secs", "must be between 60 and 2592000 (30 days)"));
        }
        if self.purge_interval_secs == 0 {
            return Err(ConfigError::new("idempotency.purge_interval_secs", "must be at least 1"));
        }
        Ok(())
    }

    /// The settings for the use cases. An unfinished claim holds its key for as long as the
    /// slowest request may run (`longest_request_secs`) and a minute more: past that its instance
    /// must have crashed.
    #[must_use]
    pub fn settings(&self, longest_request_secs: u64) -> IdempotencySettings {
        IdempotencySettings {
            ttl: chrono::Duration::seconds(self.ttl_secs),
            lease: chrono::Duration::seconds(i64::try_from(longest_request_secs).unwrap_or(i64::MAX / 2) + 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_between_a_minute_and_30_days_and_leased_past_the_slowest_request() {
        let config = IdempotencyConfig::default();
        config.validate().unwrap();
        assert_eq!(config.settings(120).lease, chrono::Duration::seconds(180));
        assert_eq!(
            IdempotencyConfig { ttl_secs: 59, ..config.clone() }.validate().unwrap_err().key,
            "idempotency.ttl_secs"
        );
        let never_purged = IdempotencyConfig { purge_interval_secs: 0, ..config };
        assert_eq!(never_purged.validate().unwrap_err().key, "idempotency.purge_interval_secs");
    }
}
