//! The `[rate_limit]` section: request limits per client address and per login identifier, and
//! the lockout after repeated failed logins.
//!
//! ```toml
//! [rate_limit]
//! enabled = true                   # request limits (the lockout has its own switch)
//! capacity = 100000                # keys the in-process limiter holds at most
//! login_per_ip = "20/60s"          # /auth/login and /auth/token together
//! login_per_account = "10/60s"     # per normalized e-mail address or username
//! refresh_per_ip = "60/60s"
//! register_per_ip = "10/1h"
//! password_forgot_per_ip = "5/15m"
//! lockout_enabled = true
//! lockout_delay_after = 3          # failures before each attempt must wait
//! lockout_base_delay_secs = 1      # the first wait, doubled after each further failure
//! lockout_max_delay_secs = 300
//! lockout_after = 10               # failures that lock the account
//! lockout_duration_secs = 900      # how long a lock (and a streak of failures) lasts
//! ```

use chrono::Duration;
use forge_application::limits::{Limit, LockoutPolicy, RateLimitSettings};
use forge_infrastructure::memory::DEFAULT_CAPACITY;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The fewest keys the in-process limiter may be sized for: fewer would let a handful of
/// clients push each other's counters out.
const MIN_CAPACITY: usize = 100;

/// The longest lock: a day. Longer is a ban, which an admin should decide.
const MAX_LOCK_SECS: i64 = 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub capacity: usize,
    pub login_per_ip: String,
    pub login_per_account: String,
    pub refresh_per_ip: String,
    pub register_per_ip: String,
    pub password_forgot_per_ip: String,
    pub lockout_enabled: bool,
    pub lockout_delay_after: u32,
    pub lockout_base_delay_secs: i64,
    pub lockout_max_delay_secs: i64,
    pub lockout_after: u32,
    pub lockout_duration_secs: i64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let limits = RateLimitSettings::default();
        let lockout = LockoutPolicy::default();
        Self {
            enabled: limits.enabled,
            capacity: DEFAULT_CAPACITY,
            login_per_ip: limits.login_per_ip.to_string(),
            login_per_account: limits.login_per_account.to_string(),
            refresh_per_ip: limits.refresh_per_ip.to_string(),
            register_per_ip: limits.register_per_ip.to_string(),
            password_forgot_per_ip: limits.password_forgot_per_ip.to_string(),
            lockout_enabled: true,
            lockout_delay_after: lockout.delay_after,
            lockout_base_delay_secs: lockout.base_delay.num_seconds(),
            lockout_max_delay_secs: lockout.max_delay.num_seconds(),
            lockout_after: lockout.lock_after,
            lockout_duration_secs: lockout.lock_duration.num_seconds(),
        }
    }
}

impl RateLimitConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `rate_limit.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.limits()?;
        if self.capacity < MIN_CAPACITY {
            return Err(ConfigError::new("rate_limit.capacity", format!("must be at least {MIN_CAPACITY}")));
        }
        for (key, value) in [
            ("rate_limit.lockout_delay_after", self.lockout_delay_after),
            ("rate_limit.lockout_after", self.lockout_after),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        if self.lockout_base_delay_secs < 1 {
            return Err(ConfigError::new("rate_limit.lockout_base_delay_secs", "must be at least 1"));
        }
        if self.lockout_max_delay_secs < self.lockout_base_delay_secs {
            return Err(ConfigError::new(
                "rate_limit.lockout_max_delay_secs",
                "must be at least rate_limit.lockout_base_delay_secs",
            ));
        }
        if !(1..=MAX_LOCK_SECS).contains(&self.lockout_duration_secs) {
            return Err(ConfigError::new(
                "rate_limit.lockout_duration_secs",
                format!("must be between 1 and {MAX_LOCK_SECS} (a day)"),
            ));
        }
        // Failures are remembered as long as a lock lasts: a longer delay would outlive them.
        if self.lockout_max_delay_secs >= self.lockout_duration_secs {
            return Err(ConfigError::new(
                "rate_limit.lockout_max_delay_secs",
                "must be shorter than rate_limit.lockout_duration_secs",
            ));
        }
        Ok(())
    }

    /// The request limits for the use cases.
    ///
    /// # Errors
    /// [`ConfigError`] naming the first limit that does not parse.
    pub fn limits(&self) -> Result<RateLimitSettings, ConfigError> {
        let parse = |key: &str, raw: &str| {
            Limit::parse(raw).map_err(|e| ConfigError::new(format!("rate_limit.{key}"), format!("{raw:?}: {e}")))
        };
        Ok(RateLimitSettings {
            enabled: self.enabled,
            login_per_ip: parse("login_per_ip", &self.login_per_ip)?,
            login_per_account: parse("login_per_account", &self.login_per_account)?,
            refresh_per_ip: parse("refresh_per_ip", &self.refresh_per_ip)?,
            register_per_ip: parse("register_per_ip", &self.register_per_ip)?,
            password_forgot_per_ip: parse("password_forgot_per_ip", &self.password_forgot_per_ip)?,
        })
    }

    /// The lockout policy for the use cases.
    #[must_use]
    pub fn lockout_policy(&self) -> LockoutPolicy {
        LockoutPolicy {
            delay_after: self.lockout_delay_after,
            base_delay: Duration::seconds(self.lockout_base_delay_secs),
            max_delay: Duration::seconds(self.lockout_max_delay_secs),
            lock_after: self.lockout_after,
            lock_duration: Duration::seconds(self.lockout_duration_secs),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use super::*;
    use crate::config::{Settings, Spoiled};

    #[test]
    fn the_defaults_are_valid_and_round_trip_into_the_use_cases() {
        let config = RateLimitConfig::default();
        config.validate().unwrap();
        assert_eq!(config.limits().unwrap(), RateLimitSettings::default());
        assert_eq!(config.lockout_policy(), LockoutPolicy::default());
        assert_eq!(config.login_per_ip, "20/60s");
    }

    #[test]
    fn limits_are_read_from_the_file_and_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file("forge.toml", "[rate_limit]\nlogin_per_ip = \"3/1m\"\nlockout_after = 5\n")?;
            jail.set_env("FORGE_RATE_LIMIT__REGISTER_PER_IP", "2/30s");
            jail.set_env("FORGE_RATE_LIMIT__ENABLED", "false");
            let settings = Settings::load(None).unwrap();
            let limits = settings.rate_limit.limits().unwrap();
            assert!(!limits.enabled);
            assert_eq!(limits.login_per_ip, Limit::new(3, Duration::minutes(1)).unwrap());
            assert_eq!(limits.register_per_ip, Limit::new(2, Duration::seconds(30)).unwrap());
            assert_eq!(settings.rate_limit.lockout_policy().lock_after, 5);
            Ok(())
        });
    }

    #[test]
    fn every_bad_value_is_refused_naming_its_key() {
        let cases: [Spoiled<RateLimitConfig>; 9] = [
            ("rate_limit.login_per_ip", |c| c.login_per_ip = "ten per minute".into()),
            ("rate_limit.login_per_account", |c| c.login_per_account = "0/60s".into()),
            ("rate_limit.password_forgot_per_ip", |c| c.password_forgot_per_ip = "5/0s".into()),
            ("rate_limit.capacity", |c| c.capacity = 10),
            ("rate_limit.lockout_after", |c| c.lockout_after = 0),
            ("rate_limit.lockout_delay_after", |c| c.lockout_delay_after = 0),
            ("rate_limit.lockout_base_delay_secs", |c| c.lockout_base_delay_secs = 0),
            ("rate_limit.lockout_max_delay_secs", |c| c.lockout_max_delay_secs = 900),
            ("rate_limit.lockout_duration_secs", |c| c.lockout_duration_secs = 90_000),
        ];
        for (key, spoil) in cases {
            let mut settings = Settings::default();
            spoil(&mut settings.rate_limit);
            let err = settings.validate().unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
        let mut settings = Settings::default();
        settings.rate_limit.login_per_ip = "ten per minute".into();
        let message = settings.validate().unwrap_err().to_string();
        assert!(message.contains("rate_limit.login_per_ip") && message.contains("10/60s"), "{message}");
    }
}
