//! Writes: every list of changes in one transaction.

use async_trait::async_trait;
use forge_application::{
    audit::AuditRecord,
    common::{Change, CommitError, UnitOfWork},
};
use forge_domain::{projects::ProjectRole, users::User};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, SqliteTransactionMode,
    TransactionOptions, TransactionTrait, TryInsertResult, sea_query::Expr,
};

use super::{
    account_tokens::to_active_model as account_token_to_active_model,
    api_keys::to_active_model as api_key_to_active_model,
    audit::{audit_to_active_model, event_to_active_model},
    entities::{
        account_tokens, api_keys, audit_logs, login_throttles, outbox_events, project_members, projects,
        refresh_tokens, sessions, users,
    },
    errors::commit_error,
    projects::{
        membership_to_active_model, membership_to_update_model, project_to_active_model, project_to_update_model,
    },
    sessions::{refresh_token_to_active_model, session_to_active_model},
    stored,
    throttles::{stored_failures, to_active_model as throttle_to_active_model},
    users::{to_active_model, to_update_model},
};

/// [`UnitOfWork`] over one SeaORM [`DatabaseTransaction`] per commit.
///
/// Changes are applied in order; the first that fails rolls the transaction back and decides
/// the error. On SQLite the transaction starts `IMMEDIATE`: it takes the write lock at once (or
/// waits for it, up to the busy timeout), so two writers never both read and then deadlock on
/// upgrading to a write, which SQLite would report as "database is locked" without waiting.
#[derive(Debug, Clone)]
pub struct SeaUnitOfWork {
    db: DatabaseConnection,
}

impl SeaUnitOfWork {
    /// A unit of work writing through `db`.
    #[must_use]
    pub const fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UnitOfWork for SeaUnitOfWork {
    #[tracing::instrument(skip_all, fields(changes = changes.len()))]
    async fn commit(&self, changes: Vec<Change>) -> Result<(), CommitError> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let tx = self.db.begin_with_options(options).await.map_err(commit_error)?;
        for step in batched(changes) {
            let outcome = match step {
                Step::One(change) => apply(&tx, change).await,
                Step::Users(users) => insert_users(&tx, &users).await,
                Step::Audits(records) => insert_audits(&tx, &records).await,
            };
            if let Err(error) = outcome {
                if let Err(rollback) = tx.rollback().await {
                    // The original error is the one worth reporting; the connection is discarded
                    // or reset by the pool either way.
                    tracing::warn!(error = %rollback, "rolling back a failed unit of work failed");
                }
                return Err(error);
            }
        }
        tx.commit().await.map_err(commit_error)
    }
}

async fn apply(tx: &DatabaseTransaction, change: Change) -> Result<(), CommitError> {
    match change {
        Change::InsertUser(user) => {
            tracing::debug!(user_id = %user.id(), "insert user");
            users::Entity::insert(to_active_model(&user)).exec_without_returning(tx).await.map_err(commit_error)?;
        }
        Change::UpdateUser { user, expected_version } => {
            tracing::debug!(user_id = %user.id(), expected_version, version = user.version(), "update user");
            let updated = users::Entity::update_many()
                .set(to_update_model(&user))
                .filter(users::Column::Id.eq(user.id().as_uuid()))
                .filter(users::Column::Version.eq(expected_version))
                .exec(tx)
                .await
                .map_err(commit_error)?;
            guard(updated.rows_affected)?;
        }
        Change::RecordLogin { user_id, at } => {
            tracing::debug!(%user_id, "record login");
            // Not a change of the account: no version check, no bump. A user gone meanwhile
            // leaves nothing to record.
            users::Entity::update_many()
                .col_expr(users::Column::LastLoginAt, Expr::value(stored(at)))
                .filter(users::Column::Id.eq(user_id.as_uuid()))
                .exec(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::InsertSession(session) => {
            tracing::debug!(session_id = %session.id, user_id = %session.user_id, "insert session");
            sessions::Entity::insert(session_to_active_model(&session))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::TouchSession { id, at } => {
            tracing::debug!(session_id = %id, "touch session");
            // Only forward: a slow request finishing late must not move it back.
            sessions::Entity::update_many()
                .col_expr(sessions::Column::LastUsedAt, Expr::value(stored(at)))
                .filter(sessions::Column::Id.eq(id.as_uuid()))
                .filter(sessions::Column::LastUsedAt.lt(stored(at)))
                .exec(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::RevokeSession { id, at } => {
            tracing::debug!(session_id = %id, "revoke session");
            // The first revocation time is kept; revoking again is a no-op.
            sessions::Entity::update_many()
                .col_expr(sessions::Column::RevokedAt, Expr::value(stored(at)))
                .filter(sessions::Column::Id.eq(id.as_uuid()))
                .filter(sessions::Column::RevokedAt.is_null())
                .exec(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::InsertRefreshToken(token) => {
            tracing::debug!(session_id = %token.session_id, "insert refresh token");
            refresh_tokens::Entity::insert(refresh_token_to_active_model(&token))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::ConsumeRefreshToken { digest, at } => {
            tracing::debug!("consume refresh token");
            let updated = refresh_tokens::Entity::update_many()
                .col_expr(refresh_tokens::Column::UsedAt, Expr::value(stored(at)))
                .filter(refresh_tokens::Column::Digest.eq(digest.as_str()))
                .filter(refresh_tokens::Column::UsedAt.is_null())
                .exec(tx)
                .await
                .map_err(commit_error)?;
            guard(updated.rows_affected)?;
        }
        Change::Audit(record) => {
            tracing::debug!(action = record.action.as_str(), entity_id = %record.entity_id, "audit");
            audit_logs::Entity::insert(audit_to_active_model(&record))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::Publish(event) => {
            tracing::debug!(event_type = event.event_type.as_str(), recipient = %event.recipient, "publish");
            outbox_events::Entity::insert(event_to_active_model(&event))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::InsertApiKey(key) => {
            tracing::debug!(api_key_id = %key.id(), user_id = %key.user_id(), "insert API key");
            api_keys::Entity::insert(api_key_to_active_model(&key))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::RevokeApiKey { id, at } => {
            tracing::debug!(api_key_id = %id, "revoke API key");
            let updated = api_keys::Entity::update_many()
                .col_expr(api_keys::Column::RevokedAt, Expr::value(stored(at)))
                .filter(api_keys::Column::Id.eq(id.as_uuid()))
                .filter(api_keys::Column::RevokedAt.is_null())
                .exec(tx)
                .await
                .map_err(commit_error)?;
            guard(updated.rows_affected)?;
        }
        Change::TouchApiKey { id, at } => {
            tracing::debug!(api_key_id = %id, "touch API key");
            // Only forward, as for sessions.
            api_keys::Entity::update_many()
                .col_expr(api_keys::Column::LastUsedAt, Expr::value(stored(at)))
                .filter(api_keys::Column::Id.eq(id.as_uuid()))
                .filter(
                    Condition::any()
                        .add(api_keys::Column::LastUsedAt.is_null())
                        .add(api_keys::Column::LastUsedAt.lt(stored(at))),
                )
                .exec(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::SaveLoginThrottle { throttle, expected } => {
            tracing::debug!(user_id = %throttle.user_id, failures = throttle.failures, "save login throttle");
            let written = match expected {
                // No row was read: insert, unless another failure inserted one meanwhile.
                None => match login_throttles::Entity::insert(throttle_to_active_model(&throttle))
                    .on_conflict_do_nothing()
                    .exec_without_returning(tx)
                    .await
                    .map_err(commit_error)?
                {
                    TryInsertResult::Inserted(rows) => rows,
                    TryInsertResult::Conflicted | TryInsertResult::Empty => 0,
                },
                // The row as read, down to the instant of its latest failure: a row that was
                // cleared and counted up again to the same number is still a different row.
                Some(previous) => {
                    login_throttles::Entity::update_many()
                        .set(throttle_to_active_model(&throttle))
                        .filter(login_throttles::Column::UserId.eq(previous.user_id.as_uuid()))
                        .filter(login_throttles::Column::Failures.eq(stored_failures(previous.failures)))
                        .filter(login_throttles::Column::LastFailureAt.eq(stored(previous.last_failure_at)))
                        .exec(tx)
                        .await
                        .map_err(commit_error)?
                        .rows_affected
                }
            };
            guard(written)?;
        }
        Change::ClearLoginThrottle { user_id } => {
            tracing::debug!(%user_id, "clear login throttle");
            login_throttles::Entity::delete_many()
                .filter(login_throttles::Column::UserId.eq(user_id.as_uuid()))
                .exec(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::InsertAccountToken(token) => {
            tracing::debug!(user_id = %token.user_id, purpose = token.purpose.as_str(), "insert account token");
            account_tokens::Entity::insert(account_token_to_active_model(&token))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::ConsumeAccountToken { digest } => {
            tracing::debug!("consume account token");
            // Deleting is using up: of two requests racing with one token, only one deletes it.
            let deleted = account_tokens::Entity::delete_many()
                .filter(account_tokens::Column::Digest.eq(digest.as_str()))
                .exec(tx)
                .await
                .map_err(commit_error)?;
            guard(deleted.rows_affected)?;
        }
        Change::DiscardAccountTokens { user_id, purpose } => {
            tracing::debug!(%user_id, purpose = purpose.as_str(), "discard account tokens");
            account_tokens::Entity::delete_many()
                .filter(account_tokens::Column::UserId.eq(user_id.as_uuid()))
                .filter(account_tokens::Column::Purpose.eq(purpose.as_str()))
                .exec(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::InsertProject(project) => {
            tracing::debug!(project_id = %project.id(), "insert project");
            projects::Entity::insert(project_to_active_model(&project))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::UpdateProject { project, expected_version } => {
            tracing::debug!(project_id = %project.id(), expected_version, version = project.version(), "update project");
            let updated = projects::Entity::update_many()
                .set(project_to_update_model(&project))
                .filter(projects::Column::Id.eq(project.id().as_uuid()))
                .filter(projects::Column::Version.eq(expected_version))
                .exec(tx)
                .await
                .map_err(commit_error)?;
            guard(updated.rows_affected)?;
        }
        Change::InsertMembership(membership) => {
            tracing::debug!(project_id = %membership.project_id(), user_id = %membership.user_id(), "insert membership");
            project_members::Entity::insert(membership_to_active_model(&membership))
                .exec_without_returning(tx)
                .await
                .map_err(commit_error)?;
        }
        Change::UpdateMembership { membership, expected_version } => {
            tracing::debug!(
                project_id = %membership.project_id(),
                user_id = %membership.user_id(),
                expected_version,
                role = membership.role().as_str(),
                "update membership"
            );
            let updated = project_members::Entity::update_many()
                .set(membership_to_update_model(&membership))
                .filter(project_members::Column::ProjectId.eq(membership.project_id().as_uuid()))
                .filter(project_members::Column::UserId.eq(membership.user_id().as_uuid()))
                .filter(project_members::Column::Version.eq(expected_version))
                .exec(tx)
                .await
                .map_err(commit_error)?;
            guard(updated.rows_affected)?;
        }
        Change::DeleteMembership { project_id, user_id, expected_version } => {
            tracing::debug!(%project_id, %user_id, expected_version, "delete membership");
            // Never the owner's: whatever a use case asks, a project keeps its owner.
            let deleted = project_members::Entity::delete_many()
                .filter(project_members::Column::ProjectId.eq(project_id.as_uuid()))
                .filter(project_members::Column::UserId.eq(user_id.as_uuid()))
                .filter(project_members::Column::Version.eq(expected_version))
                .filter(project_members::Column::Role.ne(ProjectRole::Owner.as_str()))
                .exec(tx)
                .await
                .map_err(commit_error)?;
            guard(deleted.rows_affected)?;
        }
    }
    Ok(())
}

/// How many rows one batched `INSERT` holds: 500 users are 7,500 parameters, well within both
/// databases' limits (32,766 on SQLite, 65,535 on PostgreSQL).
const BATCH_ROWS: usize = 500;

/// What one statement (or a few) stores: a single change, or a run of inserts into one table.
enum Step {
    One(Change),
    Users(Vec<User>),
    Audits(Vec<AuditRecord>),
}

/// `changes` in order, with each run of consecutive `InsertUser`s or `Audit`s gathered into one
/// step: a bulk creation is then a few multi-row inserts instead of thousands of round trips,
/// and nothing about the outcome changes (one transaction either way, errors decided by the
/// same constraints).
fn batched(changes: Vec<Change>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for change in changes {
        match (change, steps.last_mut()) {
            (Change::InsertUser(user), Some(Step::Users(run))) => run.push(user),
            (Change::Audit(record), Some(Step::Audits(run))) => run.push(record),
            (Change::InsertUser(user), _) => steps.push(Step::Users(vec![user])),
            (Change::Audit(record), _) => steps.push(Step::Audits(vec![record])),
            (other, _) => steps.push(Step::One(other)),
        }
    }
    // A run of one is just a change.
    steps
        .into_iter()
        .map(|step| match step {
            Step::Users(mut run) if run.len() == 1 => {
                run.pop().map_or(Step::Users(run), |u| Step::One(Change::InsertUser(u)))
            }
            Step::Audits(mut run) if run.len() == 1 => {
                run.pop().map_or(Step::Audits(run), |a| Step::One(Change::Audit(a)))
            }
            step => step,
        })
        .collect()
}

async fn insert_users(tx: &DatabaseTransaction, users: &[User]) -> Result<(), CommitError> {
    tracing::debug!(count = users.len(), "insert users");
    for chunk in users.chunks(BATCH_ROWS) {
        users::Entity::insert_many(chunk.iter().map(to_active_model))
            .exec_without_returning(tx)
            .await
            .map_err(commit_error)?;
    }
    Ok(())
}

async fn insert_audits(tx: &DatabaseTransaction, records: &[AuditRecord]) -> Result<(), CommitError> {
    tracing::debug!(count = records.len(), "audit");
    for chunk in records.chunks(BATCH_ROWS) {
        audit_logs::Entity::insert_many(chunk.iter().map(audit_to_active_model))
            .exec_without_returning(tx)
            .await
            .map_err(commit_error)?;
    }
    Ok(())
}

/// A guarded write that matched no row lost a race (or its row is gone).
const fn guard(rows_affected: u64) -> Result<(), CommitError> {
    if rows_affected == 0 { Err(CommitError::Stale) } else { Ok(()) }
}
