//! Credentials: password hashing, signed access tokens and opaque random tokens.
//!
//! Nothing here stores anything or logs a secret; callers hold secrets as `SecretString`.

mod jwt;
mod opaque;
mod password;

pub use jwt::JwtAccessTokens;
pub use opaque::RandomTokens;
pub use password::Argon2Hasher;
