//! # forge-infrastructure
//!
//! The adapters behind the application's ports: SeaORM repositories and the unit of work over
//! SQLite or PostgreSQL, argon2id password hashing on a bounded pool of threads, HS256 access
//! tokens, opaque refresh tokens, the in-process rate limiter, the two-level read cache, the
//! Redis adapters (shared limits, statistics, cache level and invalidations), the system
//! clock, mail (templates, the `.eml` file and SMTP mailers), the job engine (apalis), and the
//! export formats.
//!
//! Responsibilities: turn rows into domain entities (re-parsing every stored value through the
//! domain's constructors) and back, turn database failures into the errors the ports promise
//! (constraint violations into `EmailTaken` / `UsernameTaken`, lost races into `Stale`,
//! unreachable databases into "unavailable"), and keep CPU-heavy work off the async executor.
//!
//! What it must not do: decide anything a use case decides (permissions, whether a deleted user
//! may be read, token rotation policy), or let a SeaORM model, a `DbErr` or a `sqlx` type escape
//! through its public API. Only `forge-server` names these types; everything else sees the ports.

// Without Redis nothing fills the cache's shared level or tells it of writes: it is built but unused.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub mod cache;
pub mod clock;
pub mod exports;
pub mod jobs;
pub mod mail;
pub mod memory;
pub mod persistence;
pub mod realtime;
#[cfg(feature = "redis")]
pub mod redis;
pub mod security;

pub use cache::{CacheSettings, CacheStats, CachedProjects, CachedUsers, InvalidatingUnitOfWork, ReadCache};
pub use clock::SystemClock;
pub use memory::{InMemoryRateLimiter, InMemoryStatsCache};
pub use persistence::{
    Backend, Database, DatabaseProbe, LATENCY_BOUNDS_MICROS, QueryStats, SeaAccountTokenRepository,
    SeaApiKeyRepository, SeaAudiences, SeaAuditLogRepository, SeaDatabaseMetrics, SeaEventLog, SeaExportRepository,
    SeaExportSource, SeaHousekeeping, SeaIdempotencyStore, SeaLoginThrottleRepository, SeaOutboxStore,
    SeaProjectRepository, SeaSessionRepository, SeaStatsSource, SeaTicketStore, SeaUnitOfWork, SeaUserRepository,
    StatementLatency,
};
pub use security::{
    Argon2Hasher, HashingPoolSettings, HashingPoolStats, HashingPriority, JwtAccessTokens, RandomTokens,
};
