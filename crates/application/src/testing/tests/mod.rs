//! Tests of the fakes.

mod security;
mod support;

use chrono::{DateTime, Utc};

use super::FixedClock;

/// The instant the tests start at.
fn t0() -> DateTime<Utc> {
    FixedClock::default_start()
}
