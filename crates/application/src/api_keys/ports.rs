//! What the API-keys capability needs from the outside world. Keys are made with the
//! [`OpaqueTokens`](crate::auth::ports::OpaqueTokens) port (256 random bits, SHA-256 digests), like
//! refresh tokens.

use async_trait::async_trait;
use forge_domain::{
    api_keys::{ApiKey, ApiKeyId},
    sessions::TokenDigest,
    users::UserId,
};

use crate::common::{Page, PageRequest, SortOrder, UnexpectedError};

/// Fields a key list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiKeySort {
    /// Creation time (the default, newest first).
    #[default]
    CreatedAt,
    /// Name, as written.
    Name,
    /// Last use (never-used keys last in either order).
    LastUsedAt,
}

/// A key list query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApiKeyQuery {
    /// In which order (ties broken by id, so pages never overlap).
    pub sort: ApiKeySort,
    /// Ascending or descending.
    pub order: SortOrder,
    /// Which page.
    pub page: PageRequest,
}

/// Reads API keys. Writes go through [`UnitOfWork`](crate::common::UnitOfWork).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ApiKeyRepository: Send + Sync {
    /// The key with this id, revoked or not.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, UnexpectedError>;

    /// The key with this digest, revoked or not. Digests are unique.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiKey>, UnexpectedError>;

    /// One page of the user's keys that are not revoked (expired ones included), with the total.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn list_for_user(&self, user_id: UserId, query: &ApiKeyQuery) -> Result<Page<ApiKey>, UnexpectedError>;
}
