//! The adapters against the real thing: every persistence test runs on a fresh SQLite database,
//! or on a fresh PostgreSQL database when `TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)] // helpers outside `#[test]` functions panic on purpose too

mod account_tokens;
mod api_keys;
mod audit;
mod common;
mod connect;
mod dashboard;
mod idempotency;
mod limiter;
mod mail;
mod metrics;
mod projects;
mod security;
mod sessions;
mod throttles;
mod users;
