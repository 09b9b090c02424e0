//! Response bodies of the authentication endpoints.

use forge_application::auth::LoginOutcome;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::users::responses::{UserResponse, Viewer};

/// A new token pair and the account it is for; the shape of an OAuth2 token response
/// (RFC 6749 §5.1), so the docs page and tools can use it as is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT), for `Authorization: Bearer ...`.
    pub access_token: String,
    /// The single-use refresh token. Absent when the server keeps it in the
    /// `__Host-forge_refresh` cookie instead (`auth.refresh_cookie = true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub refresh_token: Option<String>,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// The account, as it is after logging in.
    pub user: UserResponse,
}

impl From<LoginOutcome> for TokenResponse {
    fn from(outcome: LoginOutcome) -> Self {
        Self {
            access_token: outcome.tokens.access_token.expose_secret().to_owned(),
            refresh_token: Some(outcome.tokens.refresh_token.expose_secret().to_owned()),
            token_type: "bearer".to_owned(),
            expires_in: outcome.tokens.expires_in,
            user: UserResponse::new(&outcome.user, Viewer::own(&outcome.user)),
        }
    }
}
