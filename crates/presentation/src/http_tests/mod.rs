//! Tests of the HTTP contract that need no database: requests sent to the whole application
//! (every middleware, real use cases over mocked ports).

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
