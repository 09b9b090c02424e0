//! Request bodies of the authentication endpoints.

use forge_application::{
    ClientContext,
    auth::{LoginCommand, RefreshCommand, RegisterCommand},
    common::FieldError,
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::extract::json::{JsonRequest, is_absent, required};

/// `POST /auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// The e-mail address.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The username: 3 to 50 letters, digits, `_`, `-` or `.`, starting with a letter or digit.
    #[schema(example = "ada")]
    pub username: String,
    /// The password: 8 to 128 characters with upper and lower case, a digit and a symbol; not
    /// common, not containing the username or e-mail address.
    #[schema(value_type = String, format = Password, example = "Correct-Horse-7-Battery")]
    pub password: SecretString,
    /// The display name.
    #[serde(default)]
    #[schema(example = "Ada Lovelace")]
    pub full_name: Option<String>,
}

impl JsonRequest for RegisterRequest {
    const FIELDS: &'static [&'static str] = &["email", "username", "password", "full_name"];
    const REQUIRED: &'static [&'static str] = &["email", "username", "password"];
    // A new account is always an active, unverified member.
    const PROTECTED: &'static [&'static str] = &["role", "is_active"];
}

impl RegisterRequest {
    /// The use-case command, with where the request came from.
    pub fn into_command(self, context: ClientContext) -> RegisterCommand {
        RegisterCommand {
            email: self.email,
            username: self.username,
            password: self.password,
            full_name: self.full_name,
            context,
        }
    }
}

/// `POST /auth/login`: an e-mail address or a username, and the password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The e-mail address (or give `username`; `null` counts as absent).
    #[serde(default)]
    #[schema(example = "ada@example.com")]
    pub email: Option<String>,
    /// The username (or give `email`; `null` counts as absent).
    #[serde(default)]
    pub username: Option<String>,
    /// The password.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

impl JsonRequest for LoginRequest {
    const FIELDS: &'static [&'static str] = &["email", "username", "password"];
    const REQUIRED: &'static [&'static str] = &["password"];

    fn missing_fields(body: &Map<String, Value>) -> Vec<FieldError> {
        let mut missing = Vec::new();
        if is_absent(body, "email") && is_absent(body, "username") {
            missing.push(FieldError::new("email", "REQUIRED", "is required (or give `username`)"));
        }
        if is_absent(body, "password") {
            missing.push(required("password"));
        }
        missing
    }
}

impl LoginRequest {
    /// The login command; the e-mail address wins when both identifiers are given.
    #[must_use]
    pub fn into_command(self, context: ClientContext) -> LoginCommand {
        LoginCommand { identifier: self.email.or(self.username).unwrap_or_default(), password: self.password, context }
    }
}

/// `POST /auth/token`: the OAuth2 password grant (RFC 6749 §4.3), for tools and the docs page.
/// Other OAuth2 fields (`scope`, `client_id`, ...) are accepted and ignored. The fields are
/// optional in the type so that a missing one is reported as such rather than as a parse error.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenForm {
    /// Must be `password`.
    #[schema(value_type = String, example = "password")]
    pub grant_type: Option<String>,
    /// An e-mail address or a username.
    #[schema(value_type = String)]
    pub username: Option<String>,
    /// The password.
    #[schema(value_type = String, format = Password)]
    pub password: Option<SecretString>,
}

/// `POST /auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh. It works once.
    #[schema(value_type = String, format = Password)]
    pub refresh_token: SecretString,
}

impl JsonRequest for RefreshRequest {
    const FIELDS: &'static [&'static str] = &["refresh_token"];
    const REQUIRED: &'static [&'static str] = &["refresh_token"];
}

impl RefreshRequest {
    /// The refresh command.
    #[must_use]
    pub fn into_command(self, context: ClientContext) -> RefreshCommand {
        RefreshCommand { refresh_token: self.refresh_token, context }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::*;
    use crate::{extract::json::parse_body, testing::assert_fields_match_schema};

    #[test]
    fn field_lists_agree_with_the_documented_schemas() {
        assert_fields_match_schema::<RegisterRequest>();
        assert_fields_match_schema::<LoginRequest>();
        assert_fields_match_schema::<RefreshRequest>();
    }

    #[test]
    fn registration_refuses_role_and_state_fields() {
        let problem = parse_body::<RegisterRequest>(json!({
            "email": "a@b.co", "username": "ada", "password": "x", "role": "admin", "is_active": true,
            "is_verified": true, "nickname": "A"
        }))
        .unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(
            fields,
            ["is_active:NOT_ALLOWED", "is_verified:NOT_ALLOWED", "nickname:UNKNOWN_FIELD", "role:NOT_ALLOWED"]
        );
    }

    #[test]
    fn a_login_needs_an_identifier_and_a_password() {
        let problem = parse_body::<LoginRequest>(json!({})).unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(fields, ["email:REQUIRED", "password:REQUIRED"]);
        let by_name = parse_body::<LoginRequest>(json!({"username": "ada", "password": "pw"})).unwrap();
        let command = by_name.into_command(ClientContext::default());
        assert_eq!(command.identifier, "ada");
        assert_eq!(command.password.expose_secret(), "pw");
    }
}
