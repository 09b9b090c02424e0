//! The writes of the users capability, and the uniqueness rules they can break.

use chrono::{DateTime, Utc};
use forge_domain::users::{User, UserId};

use crate::common::{Change, Constraint};

/// A write of a user account, stored by the [`UnitOfWork`](crate::common::UnitOfWork).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChange {
    /// Stores a new user. A taken e-mail address or username is refused with
    /// [`UserConstraint`].
    Insert(User),
    /// Stores every field of an existing user, provided the stored row is still at
    /// `expected_version`; otherwise [`CommitError::Stale`](crate::common::CommitError::Stale).
    /// `user.version()` is the new version. A taken e-mail address or username is refused with
    /// [`UserConstraint`].
    Update {
        /// The user as it should be stored.
        user: User,
        /// The version the change was based on.
        expected_version: i64,
    },
    /// Sets `last_login_at` alone (not a change of the account: no version check or bump).
    RecordLogin {
        /// Who logged in.
        user_id: UserId,
        /// When.
        at: DateTime<Utc>,
    },
}

impl Change for UserChange {}

/// The uniqueness rules of accounts a [`UserChange`] can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserConstraint {
    /// Another account has this e-mail address.
    #[error("the e-mail address is taken")]
    EmailTaken,
    /// Another account has this username (ignoring case).
    #[error("the username is taken")]
    UsernameTaken,
}

impl Constraint for UserConstraint {}
