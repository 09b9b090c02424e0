use crate::common::{FieldError, Staleness, UnexpectedError, ValidationErrors};

/// Why an account flow (verification, reset, password change) changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// One or more fields are invalid: an unknown, used, expired or wrong-purpose token
    /// (`token`: `INVALID_TOKEN`), a wrong current password (`current_password`:
    /// `INVALID_PASSWORD`), a new password the policy refuses (`new_password`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The account kept changing while the request was being handled
    /// ([`Staleness::LostRace`]); it can be retried.
    #[error("the account changed while the request was handled")]
    Stale(Staleness),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

impl From<ValidationErrors> for AccountError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}

/// The one answer to every token that cannot be used, whatever the reason: a client learns
/// nothing about which tokens exist.
pub(crate) fn invalid_token() -> AccountError {
    AccountError::Validation(ValidationErrors::new(vec![FieldError::new(
        "token",
        "INVALID_TOKEN",
        "is invalid, expired or already used",
    )]))
}

/// A current password that does not match.
pub(crate) fn wrong_password() -> FieldError {
    FieldError::new("current_password", "INVALID_PASSWORD", "is not the account's password")
}
