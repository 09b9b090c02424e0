//! Tests of the HTTP contract that need no database: requests sent to the whole application
//! (every middleware, real use cases over mocked ports).

mod auth;
mod idempotency;
mod logging;
mod mechanics;
mod service;
mod users;
