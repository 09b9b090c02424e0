//! The HTTP contract of `API.md`, end to end: a real server on a free port per test, each with
//! its own database (a temporary SQLite file, or a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set), dropped afterwards.

mod auth;
mod harness;
mod http;
mod service;
mod tokens;
mod users;
