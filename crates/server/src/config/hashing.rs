//! The `[hashing]` section: the threads that hash and verify passwords, and their queue.
//!
//! ```toml
//! [hashing]
//! threads = 2           # default: the number of cores; each keeps one 19 MiB argon2 block
//! queue_capacity = 32   # hashes that may wait; default: 16 per thread. Past it: 503 SERVER_BUSY
//! nice = 10             # 0 to 19: how far below request handling the threads run
//! policy = "normal"     # or "idle": Linux's SCHED_IDLE, the nice value unused
//! idle_release_secs = 10 # a thread idle this long gives its block back; 0: keep it for good
//! ```
//!
//! Memory for hashing is `threads` × 19 MiB at most, however many logins arrive, and nothing
//! after `idle_release_secs` without any; a login waits at most about `queue_capacity / threads`
//! hash times (a hash is tens of milliseconds).
//!
//! `policy = "idle"` trades logins for reads: the threads hash only on a core that nothing else
//! wants and yield it to a request's task that wakes there when the kernel next reschedules, so
//! reads keep more of their throughput beside a login storm, but logins get only what request
//! handling leaves (see `docs/performance.md`, "Reads beside the hashing threads").

use std::time::Duration;

use forge_infrastructure::{HashingPoolSettings, HashingPriority};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The most threads: each holds an argon2 block, and more threads than cores only adds memory.
const MAX_THREADS: usize = 256;

/// The longest queue: past this a login would wait longer than any client does.
const MAX_QUEUE: usize = 100_000;

/// The longest idle time before memory is given back: a day (0 keeps it for good).
const MAX_IDLE_RELEASE_SECS: u64 = 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct HashingConfig {
    /// Default: the number of cores.
    pub threads: Option<usize>,
    /// Default: 16 per thread.
    pub queue_capacity: Option<usize>,
    /// The nice value of the hashing threads (Linux), 0 to 19, under the normal policy.
    pub nice: u8,
    /// The scheduling policy of the hashing threads (Linux).
    pub policy: HashingPolicy,
    /// Seconds a thread keeps its memory block without work; 0: for good.
    pub idle_release_secs: u64,
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self {
            threads: None,
            queue_capacity: None,
            nice: forge_infrastructure::security::DEFAULT_NICE,
            policy: HashingPolicy::Normal,
            idle_release_secs: forge_infrastructure::security::DEFAULT_IDLE_RELEASE.as_secs(),
        }
    }
}

/// The scheduling policy of the hashing threads (Linux; elsewhere they keep the process's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashingPolicy {
    /// The normal policy at `hashing.nice`: a share of the CPU however busy request handling is.
    Normal,
    /// `SCHED_IDLE`: only the CPU time request handling leaves.
    Idle,
}

impl HashingConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `hashing.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(threads) = self.threads
            && !(1..=MAX_THREADS).contains(&threads)
        {
            return Err(ConfigError::new("hashing.threads", format!("must be between 1 and {MAX_THREADS}")));
        }
        if let Some(capacity) = self.queue_capacity
            && !(1..=MAX_QUEUE).contains(&capacity)
        {
            return Err(ConfigError::new("hashing.queue_capacity", format!("must be between 1 and {MAX_QUEUE}")));
        }
        if self.nice > forge_infrastructure::security::MAX_NICE {
            return Err(ConfigError::new(
                "hashing.nice",
                format!("must be between 0 and {}", forge_infrastructure::security::MAX_NICE),
            ));
        }
        if self.idle_release_secs > MAX_IDLE_RELEASE_SECS {
            return Err(ConfigError::new(
                "hashing.idle_release_secs",
                format!("must be between 0 (keep the memory) and {MAX_IDLE_RELEASE_SECS}"),
            ));
        }
        Ok(())
    }

    /// The pool's settings, defaults filled in.
    #[must_use]
    pub fn pool_settings(&self) -> HashingPoolSettings {
        let machine = HashingPoolSettings::for_this_machine();
        let threads = self.threads.unwrap_or(machine.threads);
        HashingPoolSettings {
            threads,
            queue_capacity: self.queue_capacity.unwrap_or(16 * threads),
            priority: match self.policy {
                HashingPolicy::Normal => HashingPriority::Nice(self.nice),
                HashingPolicy::Idle => HashingPriority::Idle,
            },
            idle_release: (self.idle_release_secs > 0).then(|| Duration::from_secs(self.idle_release_secs)),
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
    fn the_defaults_follow_the_machine() {
        let pool = HashingConfig::default().pool_settings();
        assert_eq!(pool.threads, std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
        assert_eq!(pool.queue_capacity, 16 * pool.threads);
        assert_eq!(pool.idle_release, Some(Duration::from_secs(10)));
        assert_eq!(HashingConfig { threads: Some(3), ..HashingConfig::default() }.pool_settings().queue_capacity, 48);
    }

    #[test]
    fn the_section_is_read_from_the_file_and_the_environment() {
        Jail::expect_with(|jail| {
            jail.create_file("forge.toml", "[hashing]\nthreads = 3\nnice = 0\nidle_release_secs = 0\n")?;
            jail.set_env("FORGE_HASHING__QUEUE_CAPACITY", "7");
            let settings = Settings::load(None).unwrap();
            settings.validate().unwrap();
            let pool = settings.hashing.pool_settings();
            assert_eq!(
                (pool.threads, pool.queue_capacity, pool.priority, pool.idle_release),
                (3, 7, HashingPriority::Nice(0), None)
            );
            Ok(())
        });
    }

    #[test]
    fn the_policy_is_normal_at_nice_10_unless_idle_is_asked_for() {
        assert_eq!(HashingConfig::default().pool_settings().priority, HashingPriority::Nice(10));
        Jail::expect_with(|jail| {
            jail.create_file("forge.toml", "[hashing]\nnice = 15\n")?;
            let settings = Settings::load(None).unwrap();
            assert_eq!(settings.hashing.pool_settings().priority, HashingPriority::Nice(15));
            jail.set_env("FORGE_HASHING__POLICY", "idle");
            let settings = Settings::load(None).unwrap();
            settings.validate().unwrap();
            assert_eq!(settings.hashing.pool_settings().priority, HashingPriority::Idle);
            Ok(())
        });
    }

    #[test]
    fn an_unknown_policy_is_refused_naming_the_key() {
        Jail::expect_with(|jail| {
            jail.create_file("forge.toml", "[hashing]\npolicy = \"batch\"\n")?;
            let error = Settings::load(None).unwrap_err();
            assert_eq!(error.key, "hashing.policy");
            assert!(error.to_string().contains("idle"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn every_bad_value_is_refused_naming_its_key() {
        for (key, spoil) in [
            ("hashing.threads", HashingConfig { threads: Some(0), ..HashingConfig::default() }),
            ("hashing.threads", HashingConfig { threads: Some(1000), ..HashingConfig::default() }),
            ("hashing.queue_capacity", HashingConfig { queue_capacity: Some(0), ..HashingConfig::default() }),
            ("hashing.nice", HashingConfig { nice: 20, ..HashingConfig::default() }),
            ("hashing.idle_release_secs", HashingConfig { idle_release_secs: 90_000, ..HashingConfig::default() }),
        ] {
            let settings = Settings { hashing: spoil, ..Settings::default() };
            assert_eq!(settings.validate().unwrap_err().key, key);
        }
    }
}
