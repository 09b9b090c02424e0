//! Tests of the HTTP contract that need no database: requests sent to the whole application
//! (every middleware, real use cases over mocked ports), through the crate's public API only.
//!
//! One test binary with a module per area, so the suite links once. The end-to-end tests over a
//! running server and a real database are in the workspace's `tests/` crate.

// Test code outside `#[test]` functions (helpers, fixtures): a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

mod account;
mod api_keys;
mod auth;
mod idempotency;
mod limits;
mod logging;
mod mechanics;
mod projects;
mod service;
mod sessions;
mod users;
