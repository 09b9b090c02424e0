//! Reading and writing sessions and refresh tokens, and the mapping between their rows and the
//! domain.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    auth::{SessionChange, ports::SessionRepository},
    common::CommitError,
};
use forge_domain::{
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::UserId,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use super::{
    Database, FetchUnique,
    entities::{refresh_tokens, sessions},
    errors::{guard, unexpected, write_error},
    stored,
    unit_of_work::Store,
};

/// [`SessionRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaSessionRepository {
    db: DatabaseConnection,
}

impl SeaSessionRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl SessionRepository for SeaSessionRepository {
    #[tracing::instrument(skip_all, fields(session_id = %id))]
    async fn by_id(&self, id: SessionId) -> Result<Option<Session>, UnexpectedError> {
        let row = sessions::Entity::find_by_id(id.as_uuid()).unique(&self.db).await.map_err(unexpected)?;
        Ok(row.map(session_to_domain))
    }

    #[tracing::instrument(skip_all)]
    async fn refresh_token(&self, digest: &TokenDigest) -> Result<Option<RefreshToken>, UnexpectedError> {
        let row = refresh_tokens::Entity::find_by_id(digest.as_str().to_owned())
            .unique(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(row.map(refresh_token_to_domain))
    }

    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn active_for_user(&self, user_id: UserId, now: DateTime<Utc>) -> Result<Vec<Session>, UnexpectedError> {
        let rows = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user_id.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(stored(now)))
            .order_by_desc(sessions::Column::CreatedAt)
            .order_by_desc(sessions::Column::Id)
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(rows.into_iter().map(session_to_domain).collect())
    }
}

/// Sessions hold no value objects: ip and user agent are free text, bounded by the columns.
fn session_to_domain(row: sessions::Model) -> Session {
    Session {
        id: SessionId::from(row.id),
        user_id: UserId::from_uuid(row.user_id),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        ip: row.ip,
        user_agent: row.user_agent,
    }
}

fn refresh_token_to_domain(row: refresh_tokens::Model) -> RefreshToken {
    RefreshToken {
        digest: TokenDigest::new(row.digest),
        session_id: SessionId::from(row.session_id),
        issued_at: row.issued_at,
        expires_at: row.expires_at,
        used_at: row.used_at,
    }
}

fn session_to_active_model(session: &Session) -> sessions::ActiveModel {
    sessions::ActiveModel {
        id: Set(session.id.as_uuid()),
        user_id: Set(session.user_id.as_uuid()),
        created_at: Set(stored(session.created_at)),
        last_used_at: Set(stored(session.last_used_at)),
        expires_at: Set(stored(session.expires_at)),
        revoked_at: Set(session.revoked_at.map(stored)),
        ip: Set(session.ip.as_deref().map(|ip| bounded(ip, IP_MAX_CHARS))),
        user_agent: Set(session.user_agent.as_deref().map(|agent| bounded(agent, USER_AGENT_MAX_CHARS))),
    }
}

/// The widths of the `ip` and `user_agent` columns.
const IP_MAX_CHARS: usize = 64;
const USER_AGENT_MAX_CHARS: usize = 512;

/// `raw` cut to `max` characters: client-supplied text must not fail a login on PostgreSQL,
/// which refuses values longer than the column.
fn bounded(raw: &str, max: usize) -> String {
    raw.chars().take(max).collect()
}

fn refresh_token_to_active_model(token: &RefreshToken) -> refresh_tokens::ActiveModel {
    refresh_tokens::ActiveModel {
        digest: Set(token.digest.as_str().to_owned()),
        session_id: Set(token.session_id.as_uuid()),
        issued_at: Set(stored(token.issued_at)),
        expires_at: Set(stored(token.expires_at)),
        used_at: Set(token.used_at.map(stored)),
    }
}

#[async_trait]
impl Store for SessionChange {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        for change in run {
            match change {
                Self::Open(session) => {
                    tracing::debug!(session_id = %session.id, user_id = %session.user_id, "insert session");
                    sessions::Entity::insert(session_to_active_model(&session))
                        .exec_without_returning(tx)
                        .await
                        .map_err(write_error)?;
                }
                Self::Touch { id, at } => {
                    tracing::debug!(session_id = %id, "touch session");
                    // Only forward: a slow request finishing late must not move it back.
                    sessions::Entity::update_many()
                        .col_expr(sessions::Column::LastUsedAt, Expr::value(stored(at)))
                        .filter(sessions::Column::Id.eq(id.as_uuid()))
                        .filter(sessions::Column::LastUsedAt.lt(stored(at)))
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                }
                Self::Revoke { id, at } => {
                    tracing::debug!(session_id = %id, "revoke session");
                    // The first revocation time is kept; revoking again is a no-op.
                    sessions::Entity::update_many()
                        .col_expr(sessions::Column::RevokedAt, Expr::value(stored(at)))
                        .filter(sessions::Column::Id.eq(id.as_uuid()))
                        .filter(sessions::Column::RevokedAt.is_null())
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                }
                Self::IssueRefreshToken(token) => {
                    tracing::debug!(session_id = %token.session_id, "insert refresh token");
                    refresh_tokens::Entity::insert(refresh_token_to_active_model(&token))
                        .exec_without_returning(tx)
                        .await
                        .map_err(write_error)?;
                }
                Self::ConsumeRefreshToken { digest, at } => {
                    tracing::debug!("consume refresh token");
                    let updated = refresh_tokens::Entity::update_many()
                        .col_expr(refresh_tokens::Column::UsedAt, Expr::value(stored(at)))
                        .filter(refresh_tokens::Column::Digest.eq(digest.as_str()))
                        .filter(refresh_tokens::Column::UsedAt.is_null())
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                    guard(updated.rows_affected)?;
                }
            }
        }
        Ok(())
    }
}
