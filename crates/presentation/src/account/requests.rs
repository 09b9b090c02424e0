//! Request bodies of the account endpoints.

use forge_application::{
    ClientContext,
    account::{ChangePasswordCommand, ForgotPasswordCommand, ResetPasswordCommand},
};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::extract::json::JsonRequest;

/// `POST /auth/email/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// The token from the verification link (`…/verify-email?token=…`). It works once.
    #[schema(value_type = String, format = Password)]
    pub token: SecretString,
}

impl JsonRequest for VerifyEmailRequest {
    const FIELDS: &'static [&'static str] = &["token"];
    const REQUIRED: &'static [&'static str] = &["token"];
}

/// `POST /auth/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    /// The account's e-mail address.
    #[schema(example = "ada@example.com")]
    pub email: String,
}

impl JsonRequest for ForgotPasswordRequest {
    const FIELDS: &'static [&'static str] = &["email"];
    const REQUIRED: &'static [&'static str] = &["email"];
}

impl ForgotPasswordRequest {
    /// The use-case command.
    #[must_use]
    pub fn into_command(self, context: ClientContext) -> ForgotPasswordCommand {
        ForgotPasswordCommand { email: self.email, context }
    }
}

/// `POST /auth/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The token from the reset link (`…/reset-password?token=…`). It works once.
    #[schema(value_type = String, format = Password)]
    pub token: SecretString,
    /// The new password, checked against the password policy.
    #[schema(value_type = String, format = Password, example = "Correct-Horse-7-Battery")]
    pub new_password: SecretString,
}

impl JsonRequest for ResetPasswordRequest {
    const FIELDS: &'static [&'static str] = &["token", "new_password"];
    const REQUIRED: &'static [&'static str] = &["token", "new_password"];
}

impl ResetPasswordRequest {
    /// The use-case command.
    #[must_use]
    pub fn into_command(self, context: ClientContext) -> ResetPasswordCommand {
        ResetPasswordCommand { token: self.token, new_password: self.new_password, context }
    }
}

/// `POST /users/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    /// The password the account has now.
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    /// The new password, checked against the password policy.
    #[schema(value_type = String, format = Password, example = "Correct-Horse-7-Battery")]
    pub new_password: SecretString,
}

impl JsonRequest for ChangePasswordRequest {
    const FIELDS: &'static [&'static str] = &["current_password", "new_password"];
    const REQUIRED: &'static [&'static str] = &["current_password", "new_password"];
}

impl From<ChangePasswordRequest> for ChangePasswordCommand {
    fn from(body: ChangePasswordRequest) -> Self {
        Self { current_password: body.current_password, new_password: body.new_password }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{extract::json::parse_body, testing::assert_fields_match_schema};

    #[test]
    fn field_lists_agree_with_the_documented_schemas() {
        assert_fields_match_schema::<VerifyEmailRequest>();
        assert_fields_match_schema::<ForgotPasswordRequest>();
        assert_fields_match_schema::<ResetPasswordRequest>();
        assert_fields_match_schema::<ChangePasswordRequest>();
    }

    #[test]
    fn a_reset_needs_the_token_and_the_new_password() {
        let problem = parse_body::<ResetPasswordRequest>(json!({"password": "x"})).unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(fields, ["token:REQUIRED", "new_password:REQUIRED", "password:UNKNOWN_FIELD"]);
    }
}
