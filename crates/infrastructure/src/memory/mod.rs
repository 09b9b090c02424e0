//! Stores kept in the process's memory: right for a single instance (the embedded default),
//! wrong for several, which need the shared equivalents.

mod limiter;
mod stats_cache;

pub use limiter::{DEFAULT_CAPACITY, InMemoryRateLimiter};
pub use stats_cache::InMemoryStatsCache;
