//! How an API key looks in responses: its visible prefix, never the key (except once, in the
//! answer to its creation) and never its digest.

use chrono::{DateTime, Utc};
use forge_domain::api_keys::{ApiKey, ApiKeyId, ApiKeyScope};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::links::{API_BASE, Link};

/// A scope as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiScope {
    /// `GET`, `HEAD` and `OPTIONS` requests.
    Read,
    /// Every other request.
    Write,
}

impl From<ApiKeyScope> for ApiScope {
    fn from(scope: ApiKeyScope) -> Self {
        match scope {
            ApiKeyScope::Read => Self::Read,
            ApiKeyScope::Write => Self::Write,
        }
    }
}

/// An API key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyResponse {
    /// The identifier (UUID v7).
    pub id: Uuid,
    /// What the key is for.
    #[schema(example = "CI deploys")]
    pub name: String,
    /// `sk_` and the next 8 characters of the key, to tell keys apart.
    #[schema(example = "sk_Ab3dE9xQ")]
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<ApiScope>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used (recorded at most once a minute), if ever.
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if ever.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The key, and what the caller may do with it.
    #[serde(rename = "_links")]
    pub links: ApiKeyLinks,
}

/// A key just created: the key itself is in `key`, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKeyResponse {
    /// The identifier (UUID v7).
    pub id: Uuid,
    /// What the key is for.
    #[schema(example = "CI deploys")]
    pub name: String,
    /// `sk_` and the next 8 characters of the key.
    #[schema(example = "sk_Ab3dE9xQ")]
    pub prefix: String,
    /// What the key may do.
    pub scopes: Vec<ApiScope>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Always `null` for a new key.
    #[schema(required = true)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working, if ever.
    #[schema(required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The key: `sk_` and 43 base64url characters. Store it now: only its digest is kept, so it
    /// can never be shown again.
    #[schema(example = "sk_Ab3dE9xQ7kLmN0pQrStUvWxYz0123456789abcdEF")]
    pub key: String,
    /// The key, and what the caller may do with it.
    #[serde(rename = "_links")]
    pub links: ApiKeyLinks,
}

/// Links of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyLinks {
    /// The key (`GET`).
    #[serde(rename = "self")]
    pub this: Link,
    /// Revoke it (`DELETE`).
    pub revoke: Link,
}

/// The canonical path of a key.
#[must_use]
pub fn api_key_path(id: ApiKeyId) -> String {
    format!("{API_BASE}/api-keys/{id}")
}

impl ApiKeyLinks {
    fn of(key: &ApiKey) -> Self {
        let path = api_key_path(key.id());
        Self { this: Link::get(path.clone()), revoke: Link::new("DELETE", path) }
    }
}

fn scopes_of(key: &ApiKey) -> Vec<ApiScope> {
    key.scopes().iter().map(ApiScope::from).collect()
}

impl From<&ApiKey> for ApiKeyResponse {
    fn from(key: &ApiKey) -> Self {
        Self {
            id: key.id().as_uuid(),
            name: key.name().to_string(),
            prefix: key.prefix().to_owned(),
            scopes: scopes_of(key),
            created_at: key.created_at(),
            last_used_at: key.last_used_at(),
            expires_at: key.expires_at(),
            links: ApiKeyLinks::of(key),
        }
    }
}

impl CreatedApiKeyResponse {
    /// The answer to creating `key`, whose full value is `secret`.
    #[must_use]
    pub fn new(key: &ApiKey, secret: String) -> Self {
        Self {
            id: key.id().as_uuid(),
            name: key.name().to_string(),
            prefix: key.prefix().to_owned(),
            scopes: scopes_of(key),
            created_at: key.created_at(),
            last_used_at: key.last_used_at(),
            expires_at: key.expires_at(),
            key: secret,
            links: ApiKeyLinks::of(key),
        }
    }
}
