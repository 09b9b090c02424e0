//! Reading and writing API keys, and the mapping between an `api_keys` row and an [`ApiKey`].

use async_trait::async_trait;
use forge_application::{
    Page, SortOrder, UnexpectedError,
    api_keys::{
        ApiKeyChange,
        ports::{ApiKeyQuery, ApiKeyRepository, ApiKeySort},
    },
    common::CommitError,
};
use forge_domain::{
    api_keys::{ApiKey, ApiKeyId, ApiKeyName, ApiKeyParts, ApiKeyScopes},
    sessions::TokenDigest,
    users::UserId,
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, NullOrdering},
};

use super::{
    Database, FetchUnique,
    entities::api_keys::{self, Column},
    errors::{CorruptRow, guard, unexpected, write_error},
    stored,
    unit_of_work::Store,
};

/// [`ApiKeyRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaApiKeyRepository {
    db: DatabaseConnection,
}

impl SeaApiKeyRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl ApiKeyRepository for SeaApiKeyRepository {
    #[tracing::instrument(skip_all, fields(api_key_id = %id))]
    async fn by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, UnexpectedError> {
        let row = api_keys::Entity::find_by_id(id.as_uuid()).unique(&self.db).await.map_err(unexpected)?;
        row.map(to_domain).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn by_digest(&self, digest: &TokenDigest) -> Result<Option<ApiKey>, UnexpectedError> {
        let row = api_keys::Entity::find()
            .filter(Column::Digest.eq(digest.as_str()))
            .unique(&self.db)
            .await
            .map_err(unexpected)?;
        row.map(to_domain).transpose()
    }

    #[tracing::instrument(skip_all, fields(user_id = %user_id, page = query.page.page(), limit = query.page.limit()))]
    async fn list_for_user(&self, user_id: UserId, query: &ApiKeyQuery) -> Result<Page<ApiKey>, UnexpectedError> {
        let select =
            api_keys::Entity::find().filter(Column::UserId.eq(user_id.as_uuid())).filter(Column::RevokedAt.is_null());
        let total = select.clone().count(&self.db).await.map_err(unexpected)?;
        let order = match query.order {
            SortOrder::Asc => Order::Asc,
            SortOrder::Desc => Order::Desc,
        };
        let select = match query.sort {
            ApiKeySort::CreatedAt => select.order_by(Column::CreatedAt, order.clone()),
            ApiKeySort::Name => select.order_by(Column::Name, order.clone()),
            // The databases disagree on where NULLs go by default; never-used keys go last.
            ApiKeySort::LastUsedAt => select.order_by_with_nulls(Column::LastUsedAt, order.clone(), NullOrdering::Last),
        };
        let rows = select
            .order_by(Column::Id, order)
            .limit(u64::from(query.page.limit()))
            .offset(query.page.offset())
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let items = rows.into_iter().map(to_domain).collect::<Result<_, _>>()?;
        Ok(Page { items, total, request: query.page })
    }
}

/// Rebuilds an [`ApiKey`] from its row, re-parsing the name and scopes: a row that no longer
/// satisfies the domain's rules is a [`CorruptRow`].
fn to_domain(row: api_keys::Model) -> Result<ApiKey, UnexpectedError> {
    let corrupt = |column, reason: &dyn std::fmt::Display| CorruptRow::error("api_keys", row.id, column, reason);
    let name = ApiKeyName::parse(&row.name).map_err(|e| corrupt("name", &e))?;
    let scopes = ApiKeyScopes::parse(row.scopes.split(',')).map_err(|e| corrupt("scopes", &e))?;
    Ok(ApiKey::from_parts(ApiKeyParts {
        id: ApiKeyId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        name,
        prefix: row.prefix,
        digest: TokenDigest::new(row.digest),
        scopes,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    }))
}

fn to_active_model(key: &ApiKey) -> api_keys::ActiveModel {
    api_keys::ActiveModel {
        id: Set(key.id().as_uuid()),
        user_id: Set(key.user_id().as_uuid()),
        name: Set(key.name().as_ref().to_owned()),
        prefix: Set(key.prefix().to_owned()),
        digest: Set(key.digest().as_str().to_owned()),
        scopes: Set(key.scopes().names().join(",")),
        created_at: Set(stored(key.created_at())),
        last_used_at: Set(key.last_used_at().map(stored)),
        expires_at: Set(key.expires_at().map(stored)),
        revoked_at: Set(key.revoked_at().map(stored)),
    }
}

#[async_trait]
impl Store for ApiKeyChange {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        for change in run {
            match change {
                Self::Insert(key) => {
                    tracing::debug!(api_key_id = %key.id(), user_id = %key.user_id(), "insert API key");
                    api_keys::Entity::insert(to_active_model(&key))
                        .exec_without_returning(tx)
                        .await
                        .map_err(write_error)?;
                }
                Self::Revoke { id, at } => {
                    tracing::debug!(api_key_id = %id, "revoke API key");
                    let updated = api_keys::Entity::update_many()
                        .col_expr(Column::RevokedAt, Expr::value(stored(at)))
                        .filter(Column::Id.eq(id.as_uuid()))
                        .filter(Column::RevokedAt.is_null())
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                    guard(updated.rows_affected)?;
                }
                Self::Touch { id, at } => {
                    tracing::debug!(api_key_id = %id, "touch API key");
                    // Only forward, as for sessions.
                    api_keys::Entity::update_many()
                        .col_expr(Column::LastUsedAt, Expr::value(stored(at)))
                        .filter(Column::Id.eq(id.as_uuid()))
                        .filter(
                            Condition::any().add(Column::LastUsedAt.is_null()).add(Column::LastUsedAt.lt(stored(at))),
                        )
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                }
            }
        }
        Ok(())
    }
}
