//! Fakes of the ports, for tests and harnesses that run the use cases with no database, no
//! network and no background task. Compiled with the `testing` feature (and in this crate's own
//! tests).
//!
//! ```toml
//! [dev-dependencies]
//! forge-application = { version = "…", features = ["testing"] }
//! ```
//!
//! - [`FixedClock`] moves only when told; [`RecordingMailQueue`] keeps every mail and finds the
//!   token in its link; [`PlainMailTemplates`] render notices plainly.
//! - [`FakePasswordHasher`], [`FakeAccessTokens`] and [`FakeOpaqueTokens`] are cheap stand-ins
//!   for argon2, JWTs and random tokens that verify what they made and refuse anything else
//!   (expired and tampered tokens included). **They are for tests only: none of them is
//!   secure.**
//! - [`FakeDatabaseMetrics`] and [`FakeProbe`] report what a test tells them.

mod clock;
mod mail;
mod operations;
mod security;
#[cfg(test)]
mod tests;

pub use clock::FixedClock;
pub use mail::{PlainMailTemplates, RecordingMailQueue, link_token};
pub use operations::{FakeDatabaseMetrics, FakeProbe};
pub use security::{FakeAccessTokens, FakeOpaqueTokens, FakePasswordHasher};
