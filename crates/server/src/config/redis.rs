//! The `[redis]` section. Without a URL, the cache, limits, revocations, jobs and events use
//! in-process adapters; there is nothing else to check.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct RedisSettings {
    pub url: Option<String>,
}
