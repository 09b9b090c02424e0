//! The writes of API keys.

use chrono::{DateTime, Utc};
use forge_domain::api_keys::{ApiKey, ApiKeyId};

use crate::common::Change;

/// A write of an API key, stored by the [`UnitOfWork`](crate::common::UnitOfWork). None breaks a
/// uniqueness rule (a key's digest is 256 random bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyChange {
    /// Stores a new API key (its digest and visible prefix, never the key).
    Insert(ApiKey),
    /// Revokes an API key, provided it is not revoked yet; otherwise
    /// [`CommitError::Stale`](crate::common::CommitError::Stale).
    Revoke {
        /// The key.
        id: ApiKeyId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Moves an API key's `last_used_at` forward (a no-op if it is already later).
    Touch {
        /// The key.
        id: ApiKeyId,
        /// When it was used.
        at: DateTime<Utc>,
    },
}

impl Change for ApiKeyChange {}
