//! Fakes of every port, and every use case wired over them: run the use cases in a test or a
//! harness with no database, no network and no background task, in a debug build, in
//! milliseconds. Compiled with the `testing` feature (and in this crate's own tests).
//!
//! ```toml
//! [dev-dependencies]
//! forge-application = { version = "…", features = ["testing"] }
//! ```
//!
//! - [`InMemory`] builds every service over the fakes with the server's defaults (the lockout
//!   included) and hands out the clock, the recorded mail and the store; [`InMemory::builder`]
//!   changes the settings first.
//! - [`InMemoryStore`] holds every table in memory and implements every repository port, the
//!   [`UnitOfWork`](crate::common::UnitOfWork) and the
//!   [`IdempotencyStore`](crate::idempotency::ports::IdempotencyStore). A commit applies its
//!   changes all or none, with the rules of the SeaORM adapter and the schema: `Stale` for a
//!   guarded write whose row changed (a version, a used refresh token, a consumed account token,
//!   a second owner of a project, an owner's membership deleted), each capability's uniqueness
//!   constraints (`EmailTaken`, `UsernameTaken` ignoring case, `NameTaken` among an owner's live
//!   projects ignoring case, `AlreadyMember`), touches that only move forward, revocations that
//!   keep their first time, and foreign keys and primary keys refused as unexpected errors. Lists
//!   filter, search (case-insensitively, literally), sort (ties broken by id, missing values
//!   last) and page as the repositories do.
//! - [`FixedClock`] moves only when told; [`RecordingMailQueue`] keeps every mail and finds the
//!   token in its link; [`PlainMailTemplates`] render notices plainly; [`ActorBuilder`] makes a
//!   user of a role and its [`Actor`](crate::Actor), stored or not.
//! - [`FakePasswordHasher`], [`FakeAccessTokens`] and [`FakeOpaqueTokens`] are cheap stand-ins
//!   for argon2, JWTs and random tokens that verify what they made and refuse anything else
//!   (expired and tampered tokens included). **They are for tests only: none of them is
//!   secure.** The remaining ports have fakes too:
//!   [`FakeRateLimiter`], [`FakeStatsCache`], [`FakeDatabaseMetrics`], [`FakeProbe`].
//!
//! ## What the fakes do not model
//!
//! - **Concurrency between processes or connections.** The store is one lock in one process: a
//!   commit is serialized with every other, so races that a database would resolve (two
//!   registrations of one address, two consumptions of one token) resolve the same way here, but
//!   nothing about isolation levels, lock waits, deadlocks or retries is exercised, and two
//!   harnesses never share state (as two server instances over one database would).
//! - **SQL.** No query is written or run: the SeaORM adapter's own tests cover its queries, on
//!   SQLite and PostgreSQL. Values are kept as the use cases hand them over: instants keep their
//!   nanoseconds (the databases keep microseconds), and rows are not re-parsed on the way out, so
//!   a corrupt row cannot exist.
//! - **Failures of the outside world.** Storage never fails or times out; mail is never refused;
//!   probes answer unless told otherwise. To test those paths, use the `mocks` feature.
//! - **Security.** Hashes, tokens and seals are trivially forged (see above).
//! - **Background work.** Mail is recorded, not delivered, and nothing reads the outbox; read
//!   [`InMemoryStore::outbox_events`] instead.

mod account;
mod actor;
mod api_keys;
mod audit;
mod clock;
mod dashboard;
mod harness;
mod idempotency;
mod jobs;
mod limits;
mod mail;
mod operations;
mod projects;
mod security;
mod sessions;
mod store;
mod table;
#[cfg(test)]
mod tests;
mod users;

pub use actor::{ActorBuilder, ActorError, DEFAULT_PASSWORD};
pub use clock::FixedClock;
pub use dashboard::FakeStatsCache;
pub use harness::{InMemory, InMemoryBuilder};
pub use jobs::RecordingJobQueue;
pub use limits::FakeRateLimiter;
pub use mail::{PlainMailTemplates, RecordingMailQueue, link_token};
pub use operations::{FakeDatabaseMetrics, FakeProbe};
pub use security::{FakeAccessTokens, FakeOpaqueTokens, FakePasswordHasher};
pub use store::InMemoryStore;
