use crate::common::{UnexpectedError, ValidationErrors};

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
    /// Another account has this e-mail address.
    #[error("the e-mail address is taken")]
    EmailTaken,
    /// Another account has this username.
    #[error("the username is taken")]
    UsernameTaken,
    /// The request conflicts with the account's state, or the account changed since it was read
    /// by a request that did not say which version it expected.
    #[error("{0}")]
    Conflict(&'static str),
    /// The account is no longer at the version the request expected (a failed `If-Match`), or a
    /// conditional write lost a race: nothing was changed.
    #[error("the user is not at the expected version")]
    Stale,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

impl From<ValidationErrors> for UserError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}
