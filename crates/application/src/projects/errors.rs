use crate::common::{UnexpectedError, ValidationErrors};

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
    /// The owner already has a live project with this name (ignoring case).
    #[error("the owner already has a project with this name")]
    NameTaken,
    /// The request conflicts with the project's rules or state (the user already is a member,
    /// the owner cannot be removed, ...), or the data changed since it was read by a request
    /// that did not say which version it expected.
    #[error("{0}")]
    Conflict(&'static str),
    /// The project or membership is no longer at the version the request expected (a failed
    /// `If-Match`), or a conditional write lost a race: nothing was changed.
    #[error("the project or membership is not at the expected version")]
    Stale,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

impl From<ValidationErrors> for ProjectError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}
