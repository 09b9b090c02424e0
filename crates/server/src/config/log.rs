//! The `[log]` section: the filter and the format of log lines. `RUST_LOG` wins over the level;
//! an unreadable level falls back to `info` when logging starts, so there is nothing to check.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct LogSettings {
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub level: String,
    /// `pretty`, `json`, or unset: pretty in development, JSON in production.
    pub format: Option<LogFormat>,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { level: "info".into(), format: None }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}
