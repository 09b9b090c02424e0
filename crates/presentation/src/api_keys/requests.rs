//! Request bodies of the API-key endpoints.

use forge_application::api_keys::CreateApiKeyCommand;
use serde::Deserialize;
use utoipa::ToSchema;

use super::responses::ApiScope;
use crate::extract::json::JsonRequest;

/// `POST /api-keys`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    /// What the key is for, to tell keys apart: 1 to 100 characters.
    #[schema(example = "CI deploys")]
    pub name: String,
    /// What the key may do: `read` (`GET`, `HEAD`, `OPTIONS`), `write` (every other method), or
    /// both (the default, when absent or `null`). At least one.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ApiScope>>, example = json!(["read"]))]
    pub scopes: Option<Vec<String>>,
    /// When the key stops working (RFC 3339, in the future); never when absent or `null`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime, example = "2030-01-31T00:00:00Z")]
    pub expires_at: Option<String>,
}

impl JsonRequest for CreateApiKeyRequest {
    const FIELDS: &'static [&'static str] = &["name", "scopes", "expires_at"];
    const REQUIRED: &'static [&'static str] = &["name"];
    // Made by the server, never chosen by a client.
    const PROTECTED: &'static [&'static str] = &["key", "prefix", "user_id", "last_used_at", "revoked_at"];
}

impl From<CreateApiKeyRequest> for CreateApiKeyCommand {
    fn from(body: CreateApiKeyRequest) -> Self {
        Self { name: body.name, scopes: body.scopes, expires_at: body.expires_at }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{extract::json::parse_body, testing::assert_fields_match_schema};

    #[test]
    fn field_lists_agree_with_the_documented_schema() {
        assert_fields_match_schema::<CreateApiKeyRequest>();
    }

    #[test]
    fn server_made_fields_are_refused() {
        let problem =
            parse_body::<CreateApiKeyRequest>(json!({"name": "x", "key": "sk_mine", "prefix": "sk_1", "id": "1"}))
                .unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(fields, ["id:NOT_ALLOWED", "key:NOT_ALLOWED", "prefix:NOT_ALLOWED"]);
    }

    #[test]
    fn absent_and_null_optional_fields_mean_the_defaults() {
        let body =
            parse_body::<CreateApiKeyRequest>(json!({"name": "ci", "scopes": null, "expires_at": null})).unwrap();
        let command = CreateApiKeyCommand::from(body);
        assert_eq!((command.scopes, command.expires_at), (None, None));
    }
}
