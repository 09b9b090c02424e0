//! The writes of the lockout: the stored failed logins of accounts.

use forge_domain::users::UserId;

use super::ports::LoginThrottle;
use crate::common::Change;

/// A write of an account's failed logins, stored by the
/// [`UnitOfWork`](crate::common::UnitOfWork). None breaks a uniqueness rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleChange {
    /// Stores the failed logins of an account, provided the stored ones are still `expected`
    /// (`None`: none are stored); otherwise
    /// [`CommitError::Stale`](crate::common::CommitError::Stale). Two failures at once are
    /// thereby counted twice, never once.
    Save {
        /// The throttle as it should be stored.
        throttle: LoginThrottle,
        /// The throttle the change was based on, as it was read.
        expected: Option<LoginThrottle>,
    },
    /// Forgets the failed logins and any lock of an account (a no-op when there are none).
    Clear {
        /// The account.
        user_id: UserId,
    },
}

impl Change for ThrottleChange {}
