//! Request bodies of the users endpoints, and their conversion into the application's commands.
//! Values are passed on raw: parsing them (a valid e-mail, a known role) is the use case's job,
//! so that every caller gets the same complete list of field errors.

use forge_application::users::{CreateUserCommand, ProfileUpdate, UserUpdate};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use super::responses::ApiRole;
use crate::extract::json::{JsonRequest, nullable, present};

/// `PATCH /users/me`: changes to one's own profile. Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    /// A new e-mail address; it becomes unverified, and `current_password` is required.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, example = "ada@new.example.com")]
    pub email: Option<String>,
    /// A new username.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub username: Option<String>,
    /// A new display name, or `null` to clear it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub full_name: Option<Option<String>>,
    /// The account's password: required when `email` changes.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Password, nullable = false)]
    pub current_password: Option<SecretString>,
}

impl JsonRequest for UpdateMeRequest {
    const FIELDS: &'static [&'static str] = &["email", "username", "full_name", "current_password"];
    const REQUIRED: &'static [&'static str] = &[];
    // Only admins change `role` and `is_active`, and the password has its own endpoint.
    const PROTECTED: &'static [&'static str] = &["role", "is_active", "password"];
}

impl From<UpdateMeRequest> for ProfileUpdate {
    fn from(body: UpdateMeRequest) -> Self {
        Self {
            email: body.email,
            username: body.username,
            full_name: body.full_name,
            current_password: body.current_password,
        }
    }
}

/// `POST /users`: an account created by an admin.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    /// The e-mail address.
    #[schema(example = "grace@example.com")]
    pub email: String,
    /// The username: 3 to 50 letters, digits, `_`, `-` or `.`.
    #[schema(example = "grace")]
    pub username: String,
    /// The initial password, checked against the password policy.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
    /// The display name.
    #[serde(default)]
    pub full_name: Option<String>,
    /// The global role; `member` when absent.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ApiRole>, nullable = false)]
    pub role: Option<String>,
    /// Whether the account may log in; `true` when absent.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

impl JsonRequest for CreateUserRequest {
    const FIELDS: &'static [&'static str] = &["email", "username", "password", "full_name", "role", "is_active"];
    const REQUIRED: &'static [&'static str] = &["email", "username", "password"];
}

impl From<CreateUserRequest> for CreateUserCommand {
    fn from(body: CreateUserRequest) -> Self {
        Self {
            email: body.email,
            username: body.username,
            password: body.password,
            full_name: body.full_name,
            role: body.role,
            is_active: body.is_active,
        }
    }
}

/// `PUT /users/{id}`: every editable field. `full_name` absent or `null` clears the name;
/// `role` and `is_active` absent stay as they are (only admins may change them).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplaceUserRequest {
    /// The e-mail address; a new one becomes unverified.
    pub email: String,
    /// The username.
    pub username: String,
    /// The display name; absent or `null` clears it.
    #[serde(default)]
    pub full_name: Option<String>,
    /// The global role (admins only).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ApiRole>, nullable = false)]
    pub role: Option<String>,
    /// Whether the account may log in (admins only).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// The account's password: required when users change their own e-mail address.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Password, nullable = false)]
    pub current_password: Option<SecretString>,
}

impl JsonRequest for ReplaceUserRequest {
    const FIELDS: &'static [&'static str] =
        &["email", "username", "full_name", "role", "is_active", "current_password"];
    const REQUIRED: &'static [&'static str] = &["email", "username"];
    const PROTECTED: &'static [&'static str] = &["password"];
}

impl From<ReplaceUserRequest> for UserUpdate {
    fn from(body: ReplaceUserRequest) -> Self {
        Self {
            profile: ProfileUpdate {
                email: Some(body.email),
                username: Some(body.username),
                full_name: Some(body.full_name),
                current_password: body.current_password,
            },
            role: body.role,
            is_active: body.is_active,
            // Set by the handler from `If-Match`.
            // Set by the handler from `If-Match`.
            expected_version: None,
        }
    }
}

/// `PATCH /users/{id}`: a partial update. Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateUserRequest {
    /// A new e-mail address; it becomes unverified.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    /// A new username.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub username: Option<String>,
    /// A new display name, or `null` to clear it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub full_name: Option<Option<String>>,
    /// A new global role (admins only).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ApiRole>, nullable = false)]
    pub role: Option<String>,
    /// Activate or deactivate the account (admins only); deactivating ends its sessions.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
    /// The account's password: required when users change their own e-mail address.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Password, nullable = false)]
    pub current_password: Option<SecretString>,
}

impl JsonRequest for UpdateUserRequest {
    const FIELDS: &'static [&'static str] =
        &["email", "username", "full_name", "role", "is_active", "current_password"];
    const REQUIRED: &'static [&'static str] = &[];
    const PROTECTED: &'static [&'static str] = &["password"];
}

impl From<UpdateUserRequest> for UserUpdate {
    fn from(body: UpdateUserRequest) -> Self {
        Self {
            profile: ProfileUpdate {
                email: body.email,
                username: body.username,
                full_name: body.full_name,
                current_password: body.current_password,
            },
            role: body.role,
            is_active: body.is_active,
            // Set by the handler from `If-Match`.
            expected_version: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{extract::json::parse_body, testing::assert_fields_match_schema};

    #[test]
    fn field_lists_agree_with_the_documented_schemas() {
        assert_fields_match_schema::<UpdateMeRequest>();
        assert_fields_match_schema::<CreateUserRequest>();
        assert_fields_match_schema::<ReplaceUserRequest>();
        assert_fields_match_schema::<UpdateUserRequest>();
    }

    #[test]
    fn role_and_is_active_are_not_allowed_on_ones_own_profile() {
        let problem = parse_body::<UpdateMeRequest>(
            serde_json::json!({"role": "admin", "is_active": false, "is_verified": true}),
        )
        .unwrap_err();
        let errors = problem.document().errors;
        assert_eq!(errors.len(), 3);
        assert!(errors.iter().all(|e| e.code == "NOT_ALLOWED" && e.message == "cannot be set here"));
        assert!(["role", "is_active", "is_verified"].iter().all(|field| errors.iter().any(|e| e.field == *field)));
    }

    #[test]
    fn a_replacement_without_a_full_name_clears_it() {
        let body = parse_body::<ReplaceUserRequest>(serde_json::json!({"email": "a@b.co", "username": "ada"})).unwrap();
        let update = UserUpdate::from(body);
        assert_eq!(update.profile.full_name, Some(None));
        assert_eq!(update.role, None);
    }
}
