//! # forge-application
//!
//! Forge's use cases, the ports they need and the authorization policy.
//!
//! Every rule that spans aggregates, every permission check and every transaction boundary lives
//! here, so an embedding service or a test harness calling these use cases gets exactly the rules
//! the HTTP API enforces. This crate depends on `forge-domain` only; it knows no database, no HTTP
//! framework and no runtime.
//!
//! ## Ports
//!
//! The outside world is reached through traits ("ports") that adapters in `forge-infrastructure`
//! implement: repositories for reads, one [`UnitOfWork`](common::UnitOfWork) for writes, and
//! small capability traits (password hashing, tokens, clock, revocation store, mail). Use cases hold
//! them as `Arc<dyn Port>`: the cost of dynamic dispatch is nothing next to the I/O behind each
//! call, and it keeps generic parameters out of every handler and of every embedding service.
//! With the `mocks` feature (always on in this crate's tests) every port also has a `mockall`
//! mock, `Mock<PortName>`.
//!
//! ## Writes
//!
//! A use case never writes piecemeal. It reads what it needs, applies domain methods, and hands
//! the complete list of [`Change`](common::Change)s to the unit of work, which stores all of them
//! in one database transaction or none of them. Updates carry the version they were based on, so
//! a write that lost a race is refused instead of overwriting the winner.
//!
//! ## Testing
//!
//! With the `testing` feature, the module `testing` holds in-memory fakes of every port and
//! `testing::InMemory`, every use case wired over them, so a test or a harness runs the use cases
//! with no database at all.

#![warn(missing_docs)]

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod common;
pub mod dashboard;
pub mod exports;
pub mod health;
pub mod idempotency;
pub mod jobs;
pub mod limits;
pub mod mail;
pub mod maintenance;
pub mod metrics;
pub mod prelude;
pub mod projects;
pub mod realtime;
pub mod relay;
pub mod services;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod users;

#[cfg(test)]
mod test_support;

/// The time types of the use cases' signatures, re-exported so that callers use the same version.
pub use chrono;
pub use common::{Actor, ClientContext, FieldError, Page, PageRequest, SortOrder, UnexpectedError, ValidationErrors};
/// The secret types of the use cases' signatures (`SecretString`), re-exported so that callers
/// use the same version.
pub use secrecy;
