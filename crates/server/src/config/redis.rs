//! The `[redis]` and `[cache]` sections.
//!
//! ```toml
//! [redis]
//! url = "redis://127.0.0.1:6379"   # or REDIS_URL; none: in-process limits, no shared cache
//! prefix = "forge"                 # every key is <prefix>:…; instances of one deployment share it
//!
//! [cache]
//! enabled = true          # the read cache of principals and accounts
//! capacity = 10000        # entries of the first (in-process) level, of each kind (accounts, sessions, projects, memberships)
//! ttl_secs = 60           # the longest an entry stays in the first level
//! shared_ttl_secs = 600   # the longest an entry stays in the second level (Redis)
//! ```
//!
//! The cache is used only with Redis: it has two levels, and every write invalidates both on every
//! instance. Without Redis every read goes to the database (nothing would tell an instance of a
//! write made by another).

use std::time::Duration;

use forge_infrastructure::CacheSettings;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The longest a cached entry may live: a day.
const MAX_TTL_SECS: u64 = 24 * 3600;
/// The most first-level entries per kind.
const MAX_CAPACITY: u64 = 10_000_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct RedisSettings {
    pub url: Option<String>,
    pub prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self { url: None, prefix: "forge".into() }
    }
}

impl RedisSettings {
    /// Checks the prefix (the URL is checked when the client is made).
    ///
    /// # Errors
    /// [`ConfigError`] naming `redis.prefix` or `redis.url`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.prefix.is_empty()
            || self.prefix.len() > 64
            || !self.prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ConfigError::new("redis.prefix", "must be 1 to 64 letters, digits, '-', '_' or '.'"));
        }
        if let Some(url) = &self.url
            && !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://"))
        {
            return Err(ConfigError::new("redis.url", "must start with redis://, rediss:// or unix://"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct CacheConfig {
    pub enabled: bool,
    pub capacity: u64,
    pub ttl_secs: u64,
    pub shared_ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        let defaults = CacheSettings::default();
        Self {
            enabled: true,
            capacity: defaults.capacity,
            ttl_secs: defaults.ttl.as_secs(),
            shared_ttl_secs: defaults.shared_ttl.as_secs(),
        }
    }
}

impl CacheConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `cache.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_CAPACITY).contains(&self.capacity) {
            return Err(ConfigError::new("cache.capacity", format!("must be between 1 and {MAX_CAPACITY}")));
        }
        for (key, secs) in [("cache.ttl_secs", self.ttl_secs), ("cache.shared_ttl_secs", self.shared_ttl_secs)] {
            if !(1..=MAX_TTL_SECS).contains(&secs) {
                return Err(ConfigError::new(key, format!("must be between 1 and {MAX_TTL_SECS}")));
            }
        }
        Ok(())
    }

    /// The cache's settings; `None` when switched off.
    #[must_use]
    pub fn settings(&self) -> Option<CacheSettings> {
        self.enabled.then(|| CacheSettings {
            capacity: self.capacity,
            ttl: Duration::from_secs(self.ttl_secs),
            shared_ttl: Duration::from_secs(self.shared_ttl_secs),
        })
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use crate::config::Settings;

    #[test]
    fn redis_and_cache_settings_are_read_and_checked() {
        Jail::expect_with(|jail| {
            jail.set_env("REDIS_URL", "redis://127.0.0.1:6380");
            jail.set_env("FORGE_CACHE__TTL_SECS", "5");
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(settings.redis.url.as_deref(), Some("redis://127.0.0.1:6380"));
            assert_eq!(settings.redis.prefix, "forge");
            assert_eq!(settings.cache.settings().map(|c| c.ttl.as_secs()), Some(5));
            settings.validate().map_err(|e| e.to_string())?;

            jail.set_env("FORGE_REDIS__PREFIX", "a b");
            let err = Settings::load(None).map_err(|e| e.to_string())?.validate().unwrap_err();
            assert_eq!(err.key, "redis.prefix");
            jail.set_env("FORGE_REDIS__PREFIX", "forge");
            jail.set_env("REDIS_URL", "http://example.com");
            let err = Settings::load(None).map_err(|e| e.to_string())?.validate().unwrap_err();
            assert_eq!(err.key, "redis.url");
            jail.set_env("REDIS_URL", "redis://127.0.0.1");
            jail.set_env("FORGE_CACHE__CAPACITY", "0");
            let err = Settings::load(None).map_err(|e| e.to_string())?.validate().unwrap_err();
            assert_eq!(err.key, "cache.capacity");
            jail.set_env("FORGE_CACHE__ENABLED", "false");
            jail.set_env("FORGE_CACHE__CAPACITY", "10");
            assert_eq!(Settings::load(None).map_err(|e| e.to_string())?.cache.settings(), None);
            Ok(())
        });
    }
}
