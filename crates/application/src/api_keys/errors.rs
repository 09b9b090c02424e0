use forge_domain::api_keys::ApiKeyScope;

use crate::common::{UnexpectedError, ValidationErrors};

/// Why an API-key management use case (create, list, read, revoke) did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// No such key the actor may see: unknown, revoked, or another user's (the same answer, so
    /// ids reveal nothing).
    #[error("no such API key")]
    NotFound,
    /// The actor authenticated with an API key: keys are managed from a session only.
    #[error("API keys cannot be managed with an API key")]
    ApiKeyNotAllowed,
    /// One or more fields are invalid.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

impl From<ValidationErrors> for ApiKeyError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}

/// Why a presented API key does not let the request through.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyAuthError {
    /// Not a key, an unknown key, or its owner is gone or may not act.
    #[error("invalid API key")]
    Invalid,
    /// The key is past its expiry.
    #[error("the API key has expired")]
    Expired,
    /// The key was revoked.
    #[error("the API key was revoked")]
    Revoked,
    /// The key is valid but lacks the scope this request needs.
    #[error("the API key lacks the `{0}` scope")]
    InsufficientScope(ApiKeyScope),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}
