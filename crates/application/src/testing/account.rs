//! Account tokens in memory: the [`AccountTokenRepository`] of the store, and how it applies
//! [`AccountTokenChange`]s.

use async_trait::async_trait;
use forge_domain::{account_tokens::AccountToken, sessions::TokenDigest};

use super::store::{Apply, InMemoryStore, Tables, guard, refused};
use crate::{
    account::{AccountTokenChange, ports::AccountTokenRepository},
    common::{CommitError, UnexpectedError},
};

impl Apply for AccountTokenChange {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        match self {
            Self::Insert(token) => {
                let key = token.digest.as_str().to_owned();
                if tables.account_tokens.contains(&key) {
                    return Err(refused("PRIMARY KEY account_tokens.digest"));
                }
                tables.require_user(token.user_id, "FOREIGN KEY account_tokens.user_id")?;
                tables.account_tokens.put(key, token);
            }
            Self::Consume { digest } => {
                // Deleting is using up: of two requests racing with one token, only one deletes it.
                guard(tables.account_tokens.delete(&digest.as_str().to_owned()))?;
            }
            Self::Discard { user_id, purpose } => {
                tables.account_tokens.delete_where(|token| token.user_id == user_id && token.purpose == purpose);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl AccountTokenRepository for InMemoryStore {
    async fn by_digest(&self, digest: &TokenDigest) -> Result<Option<AccountToken>, UnexpectedError> {
        Ok(self.tables().account_tokens.get(&digest.as_str().to_owned()).cloned())
    }
}
