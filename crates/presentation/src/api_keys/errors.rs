//! The problem documents of API keys: managing them, and a presented key that does not let a
//! request through.

use actix_web::http::header::{self, HeaderValue};
use forge_application::api_keys::{ApiKeyAuthError, ApiKeyError};

use crate::problem::{Problem, ProblemCode};

impl From<ApiKeyError> for Problem {
    fn from(e: ApiKeyError) -> Self {
        match e {
            ApiKeyError::NotFound => Self::not_found("no such API key"),
            ApiKeyError::ApiKeyNotAllowed => {
                Self::new(ProblemCode::Forbidden, "API keys cannot be managed with an API key; log in instead")
            }
            ApiKeyError::Validation(errors) => Self::validation(errors),
            ApiKeyError::Unexpected(e) => e.into(),
        }
    }
}

impl From<ApiKeyAuthError> for Problem {
    fn from(e: ApiKeyAuthError) -> Self {
        match e {
            ApiKeyAuthError::Invalid => Self::invalid_token(ProblemCode::Unauthenticated, "the API key is invalid"),
            ApiKeyAuthError::Expired => Self::invalid_token(ProblemCode::TokenExpired, "the API key has expired"),
            ApiKeyAuthError::Revoked => Self::invalid_token(ProblemCode::TokenRevoked, "the API key was revoked"),
            // RFC 6750 §3.1: a valid credential without the scope the request needs.
            ApiKeyAuthError::InsufficientScope(scope) => {
                let challenge = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
                let problem =
                    Self::new(ProblemCode::Forbidden, format!("this API key does not have the `{scope}` scope"));
                match HeaderValue::from_str(&challenge) {
                    Ok(value) => problem.with_header(header::WWW_AUTHENTICATE, value),
                    Err(_) => problem,
                }
            }
            ApiKeyAuthError::Unexpected(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use forge_application::common::UnexpectedError;

    use super::*;
    use crate::problem::testing::{assert_maps, two_errors, www_authenticate};

    #[test]
    fn every_api_key_error_maps_to_its_status_and_code() {
        assert_maps(ApiKeyError::NotFound.into(), 404, "NOT_FOUND");
        assert_maps(ApiKeyError::ApiKeyNotAllowed.into(), 403, "FORBIDDEN");
        assert_maps(ApiKeyError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(ApiKeyError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn refused_api_keys_are_401_with_an_invalid_token_challenge_and_a_missing_scope_403() {
        for (error, code) in [
            (ApiKeyAuthError::Invalid, "UNAUTHENTICATED"),
            (ApiKeyAuthError::Expired, "TOKEN_EXPIRED"),
            (ApiKeyAuthError::Revoked, "TOKEN_REVOKED"),
        ] {
            let problem = assert_maps(error.into(), 401, code);
            assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="invalid_token""#));
        }
        let scope = forge_domain::api_keys::ApiKeyScope::Write;
        let problem = assert_maps(ApiKeyAuthError::InsufficientScope(scope).into(), 403, "FORBIDDEN");
        assert_eq!(problem.detail(), "this API key does not have the `write` scope");
        assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="insufficient_scope", scope="write""#));
        assert_maps(ApiKeyAuthError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }
}
