use forge_domain::projects::MembershipError;

use crate::common::{CommitError, FieldError, Staleness, UnexpectedError, ValidationErrors};

use super::ProjectConstraint;

/// Why a projects use case changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No such project, it is soft-deleted, or the caller may not know it exists (it is neither a
    /// member nor an admin).
    #[error("no such project")]
    NotFound,
    /// The project has no such member.
    #[error("no such member")]
    MemberNotFound,
    /// No such user (or it is soft-deleted), for the projects of a user.
    #[error("no such user")]
    UserNotFound,
    /// The caller may not do this (a member without the right, or a forbidden list scope).
    #[error("not allowed")]
    Forbidden,
    /// One or more fields are invalid.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The request conflicts with the rules of projects or the project's state.
    #[error("{0}")]
    Conflict(ProjectConflict),
    /// The project or membership changed since it was read: see [`Staleness`].
    #[error("the project or membership changed since it was read")]
    Stale(Staleness),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// The conflicts a projects request can meet, each with its own stable code over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProjectConflict {
    /// The owner already has a live project with this name (ignoring case).
    #[error("the owner already has a project with this name")]
    NameTaken,
    /// The user already is a member of the project.
    #[error("the user is already a member of the project")]
    AlreadyMember,
    /// The owner cannot be removed from the project, nor leave it.
    #[error("the owner cannot be removed from the project or leave it; transfer it first")]
    OwnerCannotLeave,
    /// The owner's role cannot be changed except by a transfer.
    #[error("the owner's role cannot be changed; transfer the project instead")]
    OwnerCannotBeDemoted,
    /// The project is transferred to the member who already owns it.
    #[error("the user already owns the project")]
    AlreadyOwner,
}

impl From<ProjectConstraint> for ProjectConflict {
    fn from(constraint: ProjectConstraint) -> Self {
        match constraint {
            ProjectConstraint::NameTaken => Self::NameTaken,
            ProjectConstraint::AlreadyMember => Self::AlreadyMember,
        }
    }
}

impl From<ProjectConflict> for ProjectError {
    fn from(conflict: ProjectConflict) -> Self {
        Self::Conflict(conflict)
    }
}

impl From<ValidationErrors> for ProjectError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}

impl ProjectError {
    /// The error of a commit of [`ProjectChange`](super::ProjectChange)s (with audit entries and
    /// events), for a request that named `expected_version` (or none).
    pub(crate) fn of_commit(e: CommitError, expected_version: Option<i64>) -> Self {
        match e.narrow::<ProjectConstraint>() {
            CommitError::Stale => Self::Stale(Staleness::for_request(expected_version)),
            CommitError::Constraint(constraint) => Self::Conflict(constraint.into()),
            CommitError::Unexpected(e) => Self::Unexpected(e),
        }
    }

    /// The error of a membership rule the domain refused, for a request that named
    /// `expected_version` (or none).
    pub(crate) fn of_membership(e: MembershipError, expected_version: Option<i64>) -> Self {
        match e {
            MembershipError::ProjectDeleted => Self::NotFound,
            MembershipError::AlreadyMember => ProjectConflict::AlreadyMember.into(),
            MembershipError::OwnerByTransferOnly => {
                ValidationErrors::new(vec![FieldError::from_violation("role", &e)]).into()
            }
            MembershipError::OwnerCannotBeRemoved => ProjectConflict::OwnerCannotLeave.into(),
            MembershipError::OwnerCannotBeDemoted => ProjectConflict::OwnerCannotBeDemoted.into(),
            MembershipError::AlreadyOwner => ProjectConflict::AlreadyOwner.into(),
            // The members read are no longer the members stored.
            MembershipError::NotInProject | MembershipError::OwnerMismatch => {
                Self::Stale(Staleness::for_request(expected_version))
            }
        }
    }
}
