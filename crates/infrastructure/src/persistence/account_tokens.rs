//! Reading and writing account tokens, and the mapping between their rows and the domain.

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    account::{AccountTokenChange, ports::AccountTokenRepository},
    common::CommitError,
};
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    sessions::TokenDigest,
    users::{Email, UserId},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter};

use super::{
    Database, FetchUnique,
    entities::account_tokens,
    errors::{CorruptRow, guard, unexpected, write_error},
    stored,
    unit_of_work::Store,
};

/// [`AccountTokenRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaAccountTokenRepository {
    db: DatabaseConnection,
}

impl SeaAccountTokenRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl AccountTokenRepository for SeaAccountTokenRepository {
    #[tracing::instrument(skip_all)]
    async fn by_digest(&self, digest: &TokenDigest) -> Result<Option<AccountToken>, UnexpectedError> {
        let row = account_tokens::Entity::find_by_id(digest.as_str().to_owned())
            .unique(&self.db)
            .await
            .map_err(unexpected)?;
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

fn to_active_model(token: &AccountToken) -> account_tokens::ActiveModel {
    account_tokens::ActiveModel {
        digest: Set(token.digest.as_str().to_owned()),
        user_id: Set(token.user_id.as_uuid()),
        purpose: Set(token.purpose.as_str().to_owned()),
        email: Set(token.email.as_ref().to_owned()),
        created_at: Set(stored(token.created_at)),
        expires_at: Set(stored(token.expires_at)),
    }
}

#[async_trait]
impl Store for AccountTokenChange {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        for change in run {
            match change {
                Self::Insert(token) => {
                    tracing::debug!(user_id = %token.user_id, purpose = token.purpose.as_str(), "insert account token");
                    account_tokens::Entity::insert(to_active_model(&token))
                        .exec_without_returning(tx)
                        .await
                        .map_err(write_error)?;
                }
                Self::Consume { digest } => {
                    tracing::debug!("consume account token");
                    // Deleting is using up: of two requests racing with one token, only one
                    // deletes it.
                    let deleted = account_tokens::Entity::delete_many()
                        .filter(account_tokens::Column::Digest.eq(digest.as_str()))
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                    guard(deleted.rows_affected)?;
                }
                Self::Discard { user_id, purpose } => {
                    tracing::debug!(%user_id, purpose = purpose.as_str(), "discard account tokens");
                    account_tokens::Entity::delete_many()
                        .filter(account_tokens::Column::UserId.eq(user_id.as_uuid()))
                        .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                }
            }
        }
        Ok(())
    }
}
