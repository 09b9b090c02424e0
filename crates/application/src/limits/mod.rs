//! Limits and the lockout: how many requests of each sensitive kind a client address (and a
//! login identifier) may make per window, and how repeated failed logins slow down and then lock
//! an account.
//!
//! - [`LimitService`] counts requests through the [`RateLimiter`](ports::RateLimiter) port: a
//!   fixed window per key, opened by its first hit. The HTTP layer says which requests are
//!   limited ([`LimitedAction`]) and turns [`Decision`]s into `RateLimit-*` headers and 429s.
//! - [`LockoutService`] is the gate of every login (attached with
//!   [`AuthService::with_lockout`](crate::auth::AuthService::with_lockout)) and the admin's
//!   unlock. The failed logins of an account are stored
//!   ([`LoginThrottle`](ports::LoginThrottle)); those of an identifier that names no account are
//!   counted by the limiter with the same [`LockoutPolicy`], so both look the same from outside.
//!
//! The rules themselves ([`Limit`], [`Decision`], [`LockoutPolicy`]) are plain values and pure
//! functions, so adapters and tests share them.

mod changes;
mod counter;
mod lockout;
mod policy;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use changes::ThrottleChange;
pub use counter::Counter;
pub use lockout::{LockoutPorts, LockoutService};
pub use policy::{
    Decision, FailedLogins, Limit, LimitError, LimitedAction, LockoutPolicy, LockoutVerdict, RateLimitSettings,
    client_subject, normalize_identifier,
};
pub use service::LimitService;
