//! The `[jobs]` section: the background job queues (`default`, `mail`, `exports`,
//! `maintenance`), where their workers run, and how failed jobs are retried.
//!
//! The `mail` queue's attempts and first delay come from `mail.max_attempts` and
//! `mail.retry_initial_delay_ms`, so that mail retries have one set of keys.

use std::time::Duration;

use forge_infrastructure::jobs::{JobSettings, QueueSettings};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// One queue's keys (`jobs.<queue>.*`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// How many of its jobs one process runs at once.
    pub concurrency: usize,
    /// How long one attempt may run, in seconds.
    pub time_limit_secs: u64,
    /// Attempts in all before the job is dead.
    pub max_attempts: u32,
    /// The wait after the first failure, in milliseconds (then doubled each time, with jitter).
    pub first_delay_ms: u64,
    /// The longest wait between two attempts, in milliseconds.
    pub max_delay_ms: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self::from(QueueSettings::default())
    }
}

impl From<QueueSettings> for QueueConfig {
    fn from(settings: QueueSettings) -> Self {
        Self {
            concurrency: settings.concurrency,
            time_limit_secs: settings.time_limit.as_secs(),
            max_attempts: settings.max_attempts,
            first_delay_ms: u64::try_from(settings.first_delay.as_millis()).unwrap_or(u64::MAX),
            max_delay_ms: u64::try_from(settings.max_delay.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl QueueConfig {
    fn validate(&self, queue: &str) -> Result<(), ConfigError> {
        let key = |name: &str| format!("jobs.{queue}.{name}");
        if self.concurrency == 0 || self.concurrency > 256 {
            return Err(ConfigError::new(key("concurrency"), "must be between 1 and 256"));
        }
        if self.time_limit_secs == 0 {
            return Err(ConfigError::new(key("time_limit_secs"), "must be at least 1"));
        }
        if queue != "mail" && (self.max_attempts == 0 || self.max_attempts > 100) {
            return Err(ConfigError::new(key("max_attempts"), "must be between 1 and 100"));
        }
        if self.max_delay_ms < self.first_delay_ms {
            return Err(ConfigError::new(key("max_delay_ms"), "must not be less than first_delay_ms"));
        }
        Ok(())
    }

    fn settings(&self) -> QueueSettings {
        QueueSettings {
            concurrency: self.concurrency,
            time_limit: Duration::from_secs(self.time_limit_secs),
            max_attempts: self.max_attempts,
            first_delay: Duration::from_millis(self.first_delay_ms),
            max_delay: Duration::from_millis(self.max_delay_ms),
        }
    }
}

/// The `[jobs]` section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct JobsConfig {
    /// Whether `forge serve` runs the job workers itself (the embedded default). Set it to
    /// `false` when `forge worker` processes run them.
    pub run_in_serve: bool,
    /// How often an idle worker looks for jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often a worker records that it is alive, in seconds; after two missed heartbeats its
    /// running jobs are handed to another worker.
    pub heartbeat_secs: u64,
    /// This process's worker name, unique among the processes sharing the database (default:
    /// random per start). A fixed name lets a restarted worker take back its jobs at once.
    pub worker_name: Option<String>,
    /// How often the maintenance purges run, once for the whole cluster; 0: never from this
    /// process.
    pub maintenance_every_secs: u64,
    /// How long delivered outbox events and succeeded jobs are kept.
    pub retention_secs: u64,
    /// How long an export and its file can be downloaded after it was asked for.
    pub export_retention_secs: u64,
    /// Rows per export batch (one chunk of the file, written in one transaction).
    pub export_batch_size: u32,
    /// The `default` queue.
    pub default: QueueConfig,
    /// The `mail` queue (attempts and first delay: `mail.max_attempts`, `mail.retry_initial_delay_ms`).
    pub mail: QueueConfig,
    /// The `exports` queue.
    pub exports: QueueConfig,
    /// The `maintenance` queue.
    pub maintenance: QueueConfig,
}

impl Default for JobsConfig {
    fn default() -> Self {
        let defaults = JobSettings::default();
        Self {
            run_in_serve: true,
            poll_interval_ms: u64::try_from(defaults.poll_interval.as_millis()).unwrap_or(500),
            heartbeat_secs: defaults.heartbeat.as_secs(),
            worker_name: None,
            maintenance_every_secs: defaults.maintenance_every.map_or(0, |every| every.as_secs()),
            retention_secs: 7 * 24 * 3600,
            export_retention_secs: 24 * 3600,
            export_batch_size: 500,
            default: defaults.default.into(),
            mail: defaults.mail.into(),
            exports: defaults.exports.into(),
            maintenance: defaults.maintenance.into(),
        }
    }
}

impl JobsConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `jobs.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.poll_interval_ms < 10 {
            return Err(ConfigError::new("jobs.poll_interval_ms", "must be at least 10"));
        }
        if self.heartbeat_secs == 0 {
            return Err(ConfigError::new("jobs.heartbeat_secs", "must be at least 1"));
        }
        if self.worker_name.as_deref().is_some_and(|name| name.trim().is_empty() || name.len() > 100) {
            return Err(ConfigError::new("jobs.worker_name", "must be 1 to 100 characters"));
        }
        if self.retention_secs == 0 {
            return Err(ConfigError::new("jobs.retention_secs", "must be at least 1"));
        }
        if self.export_retention_secs < 60 {
            return Err(ConfigError::new("jobs.export_retention_secs", "must be at least 60"));
        }
        if self.export_batch_size == 0 || self.export_batch_size > 10_000 {
            return Err(ConfigError::new("jobs.export_batch_size", "must be between 1 and 10000"));
        }
        self.default.validate("default")?;
        self.mail.validate("mail")?;
        self.exports.validate("exports")?;
        self.maintenance.validate("maintenance")
    }

    /// The engine's settings; the mail queue takes its attempts and first delay from `mail`.
    #[must_use]
    pub fn settings(&self, mail_max_attempts: u32, mail_first_delay: Duration) -> JobSettings {
        let mut settings = JobSettings {
            default: self.default.settings(),
            mail: QueueSettings {
                max_attempts: mail_max_attempts,
                first_delay: mail_first_delay,
                ..self.mail.settings()
            },
            exports: self.exports.settings(),
            maintenance: self.maintenance.settings(),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
            heartbeat: Duration::from_secs(self.heartbeat_secs),
            maintenance_every: (self.maintenance_every_secs > 0)
                .then(|| Duration::from_secs(self.maintenance_every_secs)),
            ..JobSettings::default()
        };
        if let Some(name) = &self.worker_name {
            settings.worker_name.clone_from(name);
        }
        if settings.mail.max_delay < settings.mail.first_delay {
            settings.mail.max_delay = settings.mail.first_delay;
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_the_mail_queue_takes_the_mail_retry_keys() {
        let config = JobsConfig::default();
        config.validate().unwrap();
        assert!(config.run_in_serve);
        let settings = config.settings(3, Duration::from_millis(250));
        assert_eq!(settings.mail.max_attempts, 3);
        assert_eq!(settings.mail.first_delay, Duration::from_millis(250));
        assert_eq!(settings.exports.concurrency, 1);
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        let zero =
            JobsConfig { default: QueueConfig { concurrency: 0, ..QueueConfig::default() }, ..JobsConfig::default() };
        assert_eq!(zero.validate().unwrap_err().key, "jobs.default.concurrency");
        let fast = JobsConfig { poll_interval_ms: 1, ..JobsConfig::default() };
        assert_eq!(fast.validate().unwrap_err().key, "jobs.poll_interval_ms");
        let named = JobsConfig { worker_name: Some(" ".into()), ..JobsConfig::default() };
        assert_eq!(named.validate().unwrap_err().key, "jobs.worker_name");
    }
}
