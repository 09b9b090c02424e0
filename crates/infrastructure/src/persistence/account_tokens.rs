//! Reading account tokens, and the mapping between their rows and the domain.

use async_trait::async_trait;
use forge_application::{UnexpectedError, account::ports::AccountTokenRepository};
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    sessions::TokenDigest,
    users::{Email, UserId},
};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::{
    entities::account_tokens,
    errors::{CorruptRow, unexpected},
    stored,
};

/// [`AccountTokenRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaAccountTokenRepository {
    db: DatabaseConnection,
}

impl SeaAccountTokenRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub const fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AccountTokenRepository for SeaAccountTokenRepository {
    #[tracing::instrument(skip_all)]
    async fn by_digest(&self, digest: &TokenDigest) -> Result<Option<AccountToken>, UnexpectedError> {
        let row =
            account_tokens::Entity::find_by_id(digest.as_str().to_owned()).one(&self.db).await.map_err(unexpected)?;
        row.map(to_domain).transpose()
    }
}

/// Purpose and address are re-parsed: a row edited by hand into something the domain refuses is
/// reported, not used. (The key is not named in the error: it is a token digest.)
fn to_domain(row: account_tokens::Model) -> Result<AccountToken, UnexpectedError> {
    let purpose = TokenPurpose::parse(&row.purpose)
        .ok_or_else(|| CorruptRow::error("account_tokens", row.user_id, "purpose", format!("{:?}", row.purpose)))?;
    let email = Email::parse(&row.email).map_err(|e| CorruptRow::error("account_tokens", row.user_id, "email", e))?;
    Ok(AccountToken {
        digest: TokenDigest::new(row.digest),
        user_id: UserId::from_uuid(row.user_id),
        purpose,
        email,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

pub(super) fn to_active_model(token: &AccountToken) -> account_tokens::ActiveModel {
    account_tokens::ActiveModel {
        digest: Set(token.digest.as_str().to_owned()),
        user_id: Set(token.user_id.as_uuid()),
        purpose: Set(token.purpose.as_str().to_owned()),
        email: Set(token.email.as_ref().to_owned()),
        created_at: Set(stored(token.created_at)),
        expires_at: Set(stored(token.expires_at)),
    }
}
