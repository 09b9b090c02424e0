//! The problem documents of authentication: registration, login, refresh, logout, sessions and
//! the admission of an authenticated actor.

use actix_web::http::header::{self, HeaderValue};
use forge_application::{
    auth::{AdmissionError, AuthenticateError, LoginError, LogoutError, RefreshError, RegisterError, SessionError},
    users::UserConflict,
};

use crate::{
    limits::{retry_after, whole_seconds},
    problem::{Problem, ProblemCode},
};

impl From<RegisterError> for Problem {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::RegistrationClosed => Self::new(ProblemCode::Forbidden, "registration is closed"),
            RegisterError::Validation(errors) => Self::validation(errors),
            RegisterError::EmailTaken => UserConflict::EmailTaken.into(),
            RegisterError::UsernameTaken => UserConflict::UsernameTaken.into(),
            RegisterError::Unexpected(e) => e.into(),
        }
    }
}

impl From<LoginError> for Problem {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => {
                Self::new(ProblemCode::InvalidCredentials, "the e-mail address, username or password is incorrect")
                    .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
            }
            LoginError::RateLimited { retry_after: wait } => {
                let (name, value) = retry_after(wait);
                Self::new(
                    ProblemCode::RateLimited,
                    format!("too many failed logins; retry after {} seconds", whole_seconds(wait).max(1)),
                )
                .with_header(name, value)
            }
            LoginError::AccountLocked { retry_after: wait } => {
                let (name, value) = retry_after(wait);
                Self::new(
                    ProblemCode::AccountLocked,
                    format!(
                        "the account is locked after repeated failed logins; retry after {} seconds, or ask an \
                         administrator to unlock it",
                        whole_seconds(wait).max(1)
                    ),
                )
                .with_header(name, value)
            }
            LoginError::Unexpected(e) => e.into(),
        }
    }
}

impl From<RefreshError> for Problem {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Invalid => Self::invalid_token(ProblemCode::Unauthenticated, "the refresh token is invalid"),
            RefreshError::Expired => Self::invalid_token(ProblemCode::TokenExpired, "the refresh token has expired"),
            RefreshError::Revoked => Self::invalid_token(ProblemCode::TokenRevoked, "the session was revoked"),
            RefreshError::Unexpected(e) => e.into(),
        }
    }
}

impl From<AuthenticateError> for Problem {
    fn from(e: AuthenticateError) -> Self {
        match e {
            AuthenticateError::Invalid => {
                Self::invalid_token(ProblemCode::Unauthenticated, "the access token is invalid")
            }
            AuthenticateError::Expired => {
                Self::invalid_token(ProblemCode::TokenExpired, "the access token has expired")
            }
            AuthenticateError::Revoked => Self::invalid_token(ProblemCode::TokenRevoked, "the session was revoked"),
            AuthenticateError::Unexpected(e) => e.into(),
        }
    }
}

impl From<LogoutError> for Problem {
    fn from(e: LogoutError) -> Self {
        match e {
            LogoutError::Unexpected(e) => e.into(),
        }
    }
}

impl From<SessionError> for Problem {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::NotFound => Self::not_found("no such session"),
            SessionError::ApiKeyNotAllowed => {
                Self::new(ProblemCode::Forbidden, "sessions cannot be managed with an API key; log in instead")
            }
            SessionError::Unexpected(e) => e.into(),
        }
    }
}

impl From<AdmissionError> for Problem {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::EmailNotVerified => Self::new(
                ProblemCode::EmailNotVerified,
                "verify your e-mail address first: follow the link mailed to you, or ask for a new one",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;
    use forge_application::common::{UnexpectedError, ValidationErrors};

    use super::*;
    use crate::problem::{
        ProblemFieldError,
        testing::{assert_maps, header_of, two_errors, www_authenticate},
    };

    #[test]
    fn every_register_error_maps_to_its_status_and_code() {
        assert_maps(RegisterError::RegistrationClosed.into(), 403, "FORBIDDEN");
        assert_maps(RegisterError::EmailTaken.into(), 409, "EMAIL_TAKEN");
        assert_maps(RegisterError::UsernameTaken.into(), 409, "USERNAME_TAKEN");
        let problem = assert_maps(RegisterError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_eq!(problem.detail(), "2 fields are invalid");
        assert_eq!(problem.document().errors.len(), 2);
        assert_maps(RegisterError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn a_single_invalid_field_is_counted_in_the_singular() {
        let errors = ValidationErrors::single("email", "REQUIRED", "is required");
        let problem = assert_maps(RegisterError::Validation(errors).into(), 422, "VALIDATION_FAILED");
        assert_eq!(problem.detail(), "1 field is invalid");
        assert_eq!(
            problem.document().errors,
            [ProblemFieldError { field: "email".into(), code: "REQUIRED".into(), message: "is required".into() }]
        );
    }

    #[test]
    fn login_failures_are_invalid_credentials_with_a_bearer_challenge() {
        let problem = assert_maps(LoginError::InvalidCredentials.into(), 401, "INVALID_CREDENTIALS");
        assert_eq!(www_authenticate(&problem), Some("Bearer"));
        assert_maps(LoginError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn a_full_hashing_queue_is_503_server_busy_with_retry_after() {
        let busy = UnexpectedError::busy("queue full", chrono::Duration::milliseconds(300));
        let problem = assert_maps(LoginError::Unexpected(busy).into(), 503, "SERVER_BUSY");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("1"));
        let busy = UnexpectedError::busy("queue full", chrono::Duration::seconds(3));
        let problem = assert_maps(RegisterError::Unexpected(busy).into(), 503, "SERVER_BUSY");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("3"));
    }

    #[test]
    fn lockout_refusals_are_429_with_retry_after_in_whole_seconds() {
        let wait = chrono::Duration::milliseconds(1500);
        let problem = assert_maps(LoginError::RateLimited { retry_after: wait }.into(), 429, "RATE_LIMITED");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("2"));
        let locked = chrono::Duration::minutes(15);
        let problem = assert_maps(LoginError::AccountLocked { retry_after: locked }.into(), 429, "ACCOUNT_LOCKED");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("900"));
        assert!(problem.detail().contains("900 seconds"), "{}", problem.detail());
    }

    #[test]
    fn every_refresh_error_maps_to_its_status_code_and_invalid_token_challenge() {
        for (error, code) in [
            (RefreshError::Invalid, "UNAUTHENTICATED"),
            (RefreshError::Expired, "TOKEN_EXPIRED"),
            (RefreshError::Revoked, "TOKEN_REVOKED"),
        ] {
            let problem = assert_maps(error.into(), 401, code);
            assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="invalid_token""#));
        }
        assert_maps(RefreshError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn every_authenticate_error_maps_to_its_status_code_and_invalid_token_challenge() {
        for (error, code) in [
            (AuthenticateError::Invalid, "UNAUTHENTICATED"),
            (AuthenticateError::Expired, "TOKEN_EXPIRED"),
            (AuthenticateError::Revoked, "TOKEN_REVOKED"),
        ] {
            let problem = assert_maps(error.into(), 401, code);
            assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="invalid_token""#));
        }
        assert_maps(AuthenticateError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn logout_failures_are_unexpected() {
        assert_maps(LogoutError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn every_session_error_maps_to_its_status_and_code() {
        assert_maps(SessionError::NotFound.into(), 404, "NOT_FOUND");
        assert_maps(SessionError::ApiKeyNotAllowed.into(), 403, "FORBIDDEN");
        assert_maps(SessionError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn an_unverified_address_is_a_403_email_not_verified() {
        assert_maps(AdmissionError::EmailNotVerified.into(), 403, "EMAIL_NOT_VERIFIED");
    }
}
