//! The HTTP contract of `API.md`, end to end: a real server on a free port per test, each with
//! its own database (a temporary SQLite file, or a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set), dropped afterwards.

// Test code: a failed unwrap is a failed test, and settings are adjusted field by field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::field_reassign_with_default)]

mod admin;
mod api_keys;
mod audit;
mod auth;
mod bulk;
mod conditional;
mod exports;
mod harness;
mod hashing;
mod http;
mod idempotency;
mod jobs;
mod limits;
mod mail_flows;
mod mailbox;
mod metrics;
mod projects;
mod realtime;
mod service;
mod sessions;
mod smtp;
mod tokens;
mod users;
