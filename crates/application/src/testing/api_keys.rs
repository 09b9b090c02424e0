//! API keys in memory: the [`ApiKeyRepository`] of the store, and how it applies
//! [`ApiKeyChange`]s.

use async_trait::async_trait;
use forge_domain::{
    api_keys::{ApiKey, ApiKeyId},
    sessions::TokenDigest,
    users::UserId,
};

use super::store::{Apply, InMemoryStore, Tables, directed, nulls_last, page_of, refused};
use crate::{
    api_keys::{
        ApiKeyChange,
        ports::{ApiKeyQuery, ApiKeyRepository, ApiKeySort},
    },
    common::{CommitError, Page, UnexpectedError},
};

impl Apply for ApiKeyChange {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        match self {
            Self::Insert(key) => {
                if tables.api_keys.contains(&key.id()) {
                    return Err(refused("PRIMARY KEY api_keys.id"));
                }
                // The digest is 256 random bits in production: a clash is a fault, not a rule.
                if tables.api_keys.values().any(|other| other.digest() == key.digest()) {
                    return Err(refused("UNIQUE api_keys.digest"));
                }
                tables.require_user(key.user_id(), "FOREIGN KEY api_keys.user_id")?;
                tables.api_keys.put(key.id(), key);
            }
            Self::Revoke { id, at } => {
                // Only while not revoked: the second of two revocations is stale.
                let Some(mut key) = tables.api_keys.get(&id).filter(|key| !key.is_revoked()).cloned() else {
                    return Err(CommitError::Stale);
                };
                key.revoke(at);
                tables.api_keys.put(id, key);
            }
            Self::Touch { id, at } => {
                // Only forward, as for sessions.
                if let Some(mut key) = tables.api_keys.get(&id).filter(|key| key.last_used_at() < Some(at)).cloned() {
                    key.touch(at);
                    tables.api_keys.put(id, key);
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ApiKeyRepository for InMemoryStore {
    async fn by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, UnexpectedError> {
        Ok(self.tables().api_keys.get(&id).cloned())
    }

    async fn by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiKey>, UnexpectedError> {
        Ok(self.tables().api_keys.values().find(|key| key.digest() == digest).cloned())
    }

    async fn list_for_user(&self, user_id: UserId, query: &ApiKeyQuery) -> Result<Page<ApiKey>, UnexpectedError> {
        let tables = self.tables();
        let mut rows: Vec<&ApiKey> =
            tables.api_keys.values().filter(|key| key.user_id() == user_id && !key.is_revoked()).collect();
        let order = query.order;
        rows.sort_by(|a, b| {
            let by_field = match query.sort {
                ApiKeySort::CreatedAt => directed(a.created_at().cmp(&b.created_at()), order),
                ApiKeySort::Name => directed(a.name().as_ref().cmp(b.name().as_ref()), order),
                ApiKeySort::LastUsedAt => nulls_last(a.last_used_at(), b.last_used_at(), order),
            };
            by_field.then_with(|| directed(a.id().cmp(&b.id()), order))
        });
        Ok(page_of(&rows, query.page))
    }
}
