//! The fakes against the behaviour the SeaORM adapter's tests pin down (what a commit refuses and
//! how, what lists return), and the harness running use cases end to end.

mod harness;
mod projects;
mod security;
mod sessions_and_tokens;
mod support;
mod users;

use chrono::{DateTime, Duration, Utc};
use forge_domain::users::{Role, User};

use super::{ActorBuilder, FixedClock, InMemoryStore};
use crate::common::{Changes, CommitError};

/// The instant the tests start at.
fn t0() -> DateTime<Utc> {
    FixedClock::default_start()
}

/// A member `username` with the address `email`, created `offset` after [`t0`], not stored.
fn user_at(email: &str, username: &str, offset: Duration) -> User {
    ActorBuilder::new(Role::Member).email(email).username(username).created_at(t0() + offset).user().unwrap()
}

/// A member created at [`t0`], not stored.
fn user(email: &str, username: &str) -> User {
    user_at(email, username, Duration::zero())
}

/// Applies `changes` to `store`.
fn commit(store: &InMemoryStore, changes: impl Into<Changes>) -> Result<(), CommitError> {
    store.apply(changes.into())
}
