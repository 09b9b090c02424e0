//! The adapters against the real thing: every persistence test runs on a fresh SQLite database,
//! or on a fresh PostgreSQL database when `TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)] // helpers outside `#[test]` functions panic on purpose too

/// The changes of one commit, in order, whatever their capabilities.
macro_rules! changes {
    ($($change:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut all = forge_application::common::Changes::new();
        $(all.push($change);)*
        all
    }};
}

mod account_tokens;
mod api_keys;
mod audit;
mod common;
mod dashboard;
mod idempotency;
mod jobs;
mod limiter;
mod mail;
mod projects;
mod redis;
mod relay;
mod security;
mod sessions;
mod throttles;
mod users;
