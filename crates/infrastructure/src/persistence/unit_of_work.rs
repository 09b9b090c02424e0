//! Writes: every list of changes in one transaction.
//!
//! The unit of work knows no capability. Each capability's adapter module implements [`Store`]
//! for the capability's change type, next to the repository that reads the same tables; the one
//! list here ([`stores`]) says which change types this adapter can store. A change of a type not
//! listed is refused as a fault, and the transaction rolled back.

use super::Database;
use std::{
    any::{Any, TypeId},
    future::Future,
    pin::Pin,
};

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    account::AccountTokenChange,
    api_keys::ApiKeyChange,
    audit::{AuditRecord, OutboxEvent},
    auth::SessionChange,
    common::{Change, Changes, CommitError, UnitOfWork},
    limits::ThrottleChange,
    projects::ProjectChange,
    users::UserChange,
};
use sea_orm::{DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};

use super::errors::unexpected_commit;

/// How the SeaORM unit of work stores one capability's changes.
#[async_trait]
pub(crate) trait Store: Change + Sized {
    /// Stores `run`, consecutive changes of this type from one commit, in order, inside `tx`.
    /// A run lets an adapter store several rows in one statement (a bulk creation's users, its
    /// audit entries).
    ///
    /// # Errors
    /// The [`CommitError`] of the first change that could not be stored.
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError>;
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Stores a run of boxed changes that are all of type `C`.
type StoreFn = for<'a> fn(Vec<Box<dyn Change>>, &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), CommitError>>;

fn store_boxed<C: Store>(
    run: Vec<Box<dyn Change>>,
    tx: &DatabaseTransaction,
) -> BoxFuture<'_, Result<(), CommitError>> {
    Box::pin(async move {
        let mut typed = Vec::with_capacity(run.len());
        for change in run {
            let any: Box<dyn Any + Send + Sync> = change;
            let change = any.downcast::<C>().map_err(|_| unexpected_commit("a change of the wrong type in a run"))?;
            typed.push(*change);
        }
        C::store(typed, tx).await
    })
}

/// Every change type this adapter stores: one line per capability.
fn stores() -> [(TypeId, StoreFn); 8] {
    fn entry<C: Store>() -> (TypeId, StoreFn) {
        (TypeId::of::<C>(), store_boxed::<C>)
    }
    [
        entry::<UserChange>(),
        entry::<SessionChange>(),
        entry::<ApiKeyChange>(),
        entry::<ThrottleChange>(),
        entry::<AccountTokenChange>(),
        entry::<ProjectChange>(),
        entry::<AuditRecord>(),
        entry::<OutboxEvent>(),
    ]
}

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
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl UnitOfWork for SeaUnitOfWork {
    #[tracing::instrument(skip_all, fields(changes = changes.len()))]
    async fn commit(&self, changes: Changes) -> Result<(), CommitError> {
        let runs = runs(changes)?;
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let tx = self
            .db
            .begin_with_options(options)
            .await
            .map_err(|e| CommitError::Unexpected(super::errors::unexpected(e)))?;
        for Run { store, changes, .. } in runs {
            if let Err(error) = store(changes, &tx).await {
                if let Err(rollback) = tx.rollback().await {
                    // The original error is the one worth reporting; the connection is discarded
                    // or reset by the pool either way.
                    tracing::warn!(error = %rollback, "rolling back a failed unit of work failed");
                }
                return Err(error);
            }
        }
        tx.commit().await.map_err(|e| CommitError::Unexpected(super::errors::unexpected(e)))
    }
}

/// Consecutive changes of one type, and the function that stores them.
struct Run {
    type_id: TypeId,
    store: StoreFn,
    changes: Vec<Box<dyn Change>>,
}

/// `changes` in order, as runs of consecutive changes of one type.
///
/// # Errors
/// A change of a type no capability of this adapter stores (a fault of the caller).
fn runs(changes: Changes) -> Result<Vec<Run>, CommitError> {
    let stores = stores();
    let mut runs: Vec<Run> = Vec::new();
    for change in changes.into_vec() {
        let type_id = (change.as_ref() as &dyn Any).type_id();
        match runs.last_mut() {
            Some(run) if run.type_id == type_id => run.changes.push(change),
            _ => {
                let Some((_, store)) = stores.iter().find(|(id, _)| *id == type_id) else {
                    return Err(CommitError::Unexpected(UnexpectedError::internal(format!(
                        "the unit of work cannot store {change:?}"
                    ))));
                };
                runs.push(Run { type_id, store: *store, changes: vec![change] });
            }
        }
    }
    Ok(runs)
}
