use chrono::Duration;

use crate::common::{UnexpectedError, ValidationErrors};

/// Why a registration stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Self-registration is switched off.
    #[error("registration is closed")]
    RegistrationClosed,
    /// One or more fields are invalid.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// An account with this e-mail address exists.
    #[error("the e-mail address is taken")]
    EmailTaken,
    /// An account with this username exists.
    #[error("the username is taken")]
    UsernameTaken,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Why a login failed. Deliberately coarse: an unknown account, a wrong password and a disabled
/// account all read as [`LoginError::InvalidCredentials`], and the lockout treats an identifier
/// that names no account like an account ([`LoginError::RateLimited`],
/// [`LoginError::AccountLocked`]).
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The credentials do not open an account that may log in.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too soon after the latest failed login of this account: the password was not checked.
    #[error("too many failed logins; retry later")]
    RateLimited {
        /// How long until an attempt is admitted.
        retry_after: Duration,
    },
    /// Repeated failed logins locked the account: even the right password is refused until the
    /// lock ends or an admin lifts it.
    #[error("the account is locked")]
    AccountLocked {
        /// How long until the lock ends.
        retry_after: Duration,
    },
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Why a refresh token was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown token, or its account may no longer log in.
    #[error("invalid refresh token")]
    Invalid,
    /// The token or its session is past its lifetime.
    #[error("the refresh token has expired")]
    Expired,
    /// The session was ended, or this token had already been used (which ends the session).
    #[error("the session was revoked")]
    Revoked,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Why a credential does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// Malformed, forged or otherwise unacceptable credential, or its account is gone or disabled.
    #[error("invalid credentials")]
    Invalid,
    /// The access token is past its expiry.
    #[error("the access token has expired")]
    Expired,
    /// The token's session was ended.
    #[error("the session was revoked")]
    Revoked,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Why a logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Why a session-management use case (list, end one, end all) did nothing.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No live session of the actor's with this id (another user's, unknown, ended or expired:
    /// the same answer, so ids reveal nothing).
    #[error("no such session")]
    NotFound,
    /// The actor authenticated with an API key: sessions are managed from a session only.
    #[error("sessions cannot be managed with an API key")]
    ApiKeyNotAllowed,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Why an authenticated actor may not go on with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The account must verify its e-mail address first.
    #[error("the e-mail address is not verified")]
    EmailNotVerified,
}
