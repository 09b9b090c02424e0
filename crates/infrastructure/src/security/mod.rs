//! Credentials: password hashing, signed access tokens and opaque random tokens.
//!
//! Nothing here stores anything or logs a secret; callers hold secrets as `SecretString`.

mod hashing_pool;
mod jwt;
mod opaque;
mod password;

pub use hashing_pool::{
    DEFAULT_IDLE_RELEASE, DEFAULT_NICE, HashMemory, HashingPool, HashingPoolSettings, HashingPoolStats,
    HashingPriority, MAX_NICE, PoolError, Ticket,
};

pub use jwt::JwtAccessTokens;
pub use opaque::RandomTokens;
pub use password::Argon2Hasher;
