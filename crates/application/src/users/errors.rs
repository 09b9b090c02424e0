use crate::common::{CommitError, Staleness, UnexpectedError, ValidationErrors};

use super::UserConstraint;

/// Why a users-management use case changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No such user, or it is soft-deleted.
    #[error("no such user")]
    NotFound,
    /// The actor may not do this.
    #[error("not allowed")]
    Forbidden,
    /// One or more fields are invalid.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The request conflicts with the rules of accounts or the account's state.
    #[error("{0}")]
    Conflict(UserConflict),
    /// The account changed since it was read: see [`Staleness`].
    #[error("the user changed since it was read")]
    Stale(Staleness),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// The conflicts a users-management request can meet, each with its own stable code over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UserConflict {
    /// Another account has this e-mail address.
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    /// Another account has this username.
    #[error("an account with this username already exists")]
    UsernameTaken,
    /// An admin tried to change its own role or to deactivate itself (which also keeps at least
    /// one active admin).
    #[error("admins cannot demote or deactivate themselves")]
    SelfDemotion,
    /// An admin tried to delete itself.
    #[error("admins cannot delete themselves")]
    SelfDeletion,
    /// Only a deleted user can be restored.
    #[error("the user is not deleted")]
    NotDeleted,
}

impl From<UserConstraint> for UserConflict {
    fn from(constraint: UserConstraint) -> Self {
        match constraint {
            UserConstraint::EmailTaken => Self::EmailTaken,
            UserConstraint::UsernameTaken => Self::UsernameTaken,
        }
    }
}

impl From<UserConflict> for UserError {
    fn from(conflict: UserConflict) -> Self {
        Self::Conflict(conflict)
    }
}

impl UserError {
    /// The error of a commit of [`UserChange`](super::UserChange)s (with whatever goes with
    /// them), for a request that named `expected_version` (or none).
    pub(crate) fn of_commit(e: CommitError, expected_version: Option<i64>) -> Self {
        match e.narrow::<UserConstraint>() {
            CommitError::Stale => Self::Stale(Staleness::for_request(expected_version)),
            CommitError::Constraint(constraint) => Self::Conflict(constraint.into()),
            CommitError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<ValidationErrors> for UserError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}
