//! The shared in-memory store: every table behind one lock, the unit of work that writes them,
//! and what the repositories of every capability share (errors, ordering, paging).
//!
//! The store knows no capability's rules. Each capability's module implements [`Apply`] for its
//! change type, next to the repository that reads the same tables, the way the SeaORM adapter
//! keeps each `Store` impl next to its repository; the one list here ([`appliers`]) says which
//! change types the store can apply.

use std::{
    any::{Any, TypeId},
    cmp::Ordering,
    fmt,
    sync::{Mutex, MutexGuard},
};

use async_trait::async_trait;
use forge_domain::{
    account_tokens::AccountToken,
    api_keys::{ApiKey, ApiKeyId},
    projects::{Membership, Project, ProjectId},
    sessions::{RefreshToken, Session, SessionId},
    users::{User, UserId},
};
use uuid::Uuid;

use super::{idempotency::Claims, table::Table};
use crate::{
    account::{AccountTokenChange, ports::AccountTokenRepository},
    api_keys::{ApiKeyChange, ports::ApiKeyRepository},
    audit::{AuditRecord, OutboxEvent, ports::AuditLogRepository},
    auth::{SessionChange, ports::SessionRepository},
    common::{
        AnyConstraint, Change, Changes, CommitError, Constraint, Page, PageRequest, SortOrder, UnexpectedError,
        UnitOfWork,
    },
    limits::{
        ThrottleChange,
        ports::{LoginThrottle, LoginThrottleRepository},
    },
    projects::{ProjectChange, ports::ProjectRepository},
    users::{UserChange, ports::UserRepository},
};

/// Every table of the in-memory store. Keys are the tables' primary keys; digests are keyed by
/// their text.
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub(super) users: Table<UserId, User>,
    pub(super) sessions: Table<SessionId, Session>,
    pub(super) refresh_tokens: Table<String, RefreshToken>,
    pub(super) api_keys: Table<ApiKeyId, ApiKey>,
    pub(super) throttles: Table<UserId, LoginThrottle>,
    pub(super) account_tokens: Table<String, AccountToken>,
    pub(super) projects: Table<ProjectId, Project>,
    pub(super) members: Table<(ProjectId, UserId), Membership>,
    pub(super) audit: Table<Uuid, AuditRecord>,
    pub(super) outbox: Table<Uuid, OutboxEvent>,
}

impl Tables {
    fn rollback(&mut self) {
        self.users.rollback();
        self.sessions.rollback();
        self.refresh_tokens.rollback();
        self.api_keys.rollback();
        self.throttles.rollback();
        self.account_tokens.rollback();
        self.projects.rollback();
        self.members.rollback();
        self.audit.rollback();
        self.outbox.rollback();
    }

    fn settle(&mut self) {
        self.users.settle();
        self.sessions.settle();
        self.refresh_tokens.settle();
        self.api_keys.settle();
        self.throttles.settle();
        self.account_tokens.settle();
        self.projects.settle();
        self.members.settle();
        self.audit.settle();
        self.outbox.settle();
    }

    /// Refuses a row that names a user who is not stored, as the foreign keys to `users` do.
    pub(super) fn require_user(&self, id: UserId, rule: &'static str) -> Result<(), CommitError> {
        if self.users.contains(&id) { Ok(()) } else { Err(refused(rule)) }
    }
}

/// How the in-memory unit of work applies one capability's change to the tables.
pub(super) trait Apply: Change + Sized {
    /// Applies the change inside the commit in progress.
    ///
    /// # Errors
    /// What the SeaORM adapter would answer for the same change: [`CommitError::Stale`] for a
    /// guarded write that matched no row, [`CommitError::Constraint`] for a capability's
    /// uniqueness rule, [`CommitError::Unexpected`] for a duplicate key or a missing referenced
    /// row.
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError>;
}

/// Applies a boxed change that is a `C`.
type ApplyFn = fn(Box<dyn Change>, &mut Tables) -> Result<(), CommitError>;

fn apply_boxed<C: Apply>(change: Box<dyn Change>, tables: &mut Tables) -> Result<(), CommitError> {
    let any: Box<dyn Any + Send + Sync> = change;
    match any.downcast::<C>() {
        Ok(change) => change.apply(tables),
        Err(_) => Err(CommitError::Unexpected(UnexpectedError::internal("a change was applied as another type"))),
    }
}

/// Every change type the store applies: one line per capability.
fn appliers() -> [(TypeId, ApplyFn); 8] {
    fn entry<C: Apply>() -> (TypeId, ApplyFn) {
        (TypeId::of::<C>(), apply_boxed::<C>)
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

/// Every repository port, the [`UnitOfWork`] and the
/// [`IdempotencyStore`](crate::idempotency::ports::IdempotencyStore) over tables in memory,
/// shared by every use case of a harness (hold it in an `Arc` and hand out clones).
///
/// A commit applies its changes in order, under one lock, with the rules the SeaORM adapter and
/// the schema enforce: guarded updates, uniqueness, foreign keys. The first change that fails
/// undoes the ones before it and decides the error, so a failed commit stores nothing; readers
/// never see a commit half done. See the [module notes](super) for what is not modelled.
///
/// Every repository trait is implemented on this one type, so where two traits in scope share a
/// method name, read through the port's view: `store.users().by_id(id)`,
/// `store.sessions().by_id(id)`.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    tables: Mutex<Tables>,
    pub(super) claims: Claims,
}

impl InMemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies `changes` at once, all of them or none, exactly as [`UnitOfWork::commit`] does:
    /// for seeding a store with rows a test needs (users, projects) without a runtime.
    ///
    /// # Errors
    /// The [`CommitError`] of the first change that could not be applied; nothing is stored then.
    pub fn apply(&self, changes: Changes) -> Result<(), CommitError> {
        let appliers = appliers();
        let mut tables = self.tables();
        let mut outcome = Ok(());
        for change in changes.into_vec() {
            let type_id = (change.as_ref() as &dyn Any).type_id();
            let Some((_, apply)) = appliers.iter().find(|(id, _)| *id == type_id) else {
                outcome = Err(CommitError::Unexpected(UnexpectedError::internal(format!(
                    "the in-memory store cannot apply {change:?}"
                ))));
                break;
            };
            outcome = apply(change, &mut tables);
            if outcome.is_err() {
                break;
            }
        }
        match outcome {
            Ok(()) => tables.settle(),
            Err(_) => tables.rollback(),
        }
        outcome
    }

    /// The store as the [`UserRepository`] port.
    #[must_use]
    pub fn users(&self) -> &dyn UserRepository {
        self
    }

    /// The store as the [`SessionRepository`] port.
    #[must_use]
    pub fn sessions(&self) -> &dyn SessionRepository {
        self
    }

    /// The store as the [`ApiKeyRepository`] port.
    #[must_use]
    pub fn api_keys(&self) -> &dyn ApiKeyRepository {
        self
    }

    /// The store as the [`LoginThrottleRepository`] port.
    #[must_use]
    pub fn throttles(&self) -> &dyn LoginThrottleRepository {
        self
    }

    /// The store as the [`AccountTokenRepository`] port.
    #[must_use]
    pub fn account_tokens(&self) -> &dyn AccountTokenRepository {
        self
    }

    /// The store as the [`ProjectRepository`] port.
    #[must_use]
    pub fn projects(&self) -> &dyn ProjectRepository {
        self
    }

    /// The store as the [`AuditLogRepository`] port.
    #[must_use]
    pub fn audit_log(&self) -> &dyn AuditLogRepository {
        self
    }

    /// Every audit record stored, in the order of their ids (UUID v7: the order they were made),
    /// as they were written (a repository reads back [`AuditEntry`](crate::audit::AuditEntry)s).
    #[must_use]
    pub fn audit_records(&self) -> Vec<AuditRecord> {
        self.tables().audit.values().cloned().collect()
    }

    /// Every outbox event stored, in the order of their ids. No port reads the outbox (a relay
    /// does, outside the use cases), so tests read it here.
    #[must_use]
    pub fn outbox_events(&self) -> Vec<OutboxEvent> {
        self.tables().outbox.values().cloned().collect()
    }

    /// The tables, for one read or one commit.
    ///
    /// Every commit settles or rolls back before it lets go of the lock, so a lock poisoned by a
    /// panic in the middle of one is the only way to find a commit half done: it is rolled back
    /// here (a no-op otherwise).
    pub(super) fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|poisoned| {
            let mut tables = poisoned.into_inner();
            tables.rollback();
            tables
        })
    }
}

#[async_trait]
impl UnitOfWork for InMemoryStore {
    async fn commit(&self, changes: Changes) -> Result<(), CommitError> {
        self.apply(changes)
    }
}

/// A write refused by a uniqueness rule of a capability.
pub(super) fn constraint(constraint: impl Constraint) -> CommitError {
    CommitError::Constraint(AnyConstraint::new(constraint))
}

/// A write refused by the schema for a reason no capability declares (a duplicate primary key, a
/// missing referenced row): the database's error, which the adapter reports as unexpected.
pub(super) fn refused(rule: &'static str) -> CommitError {
    CommitError::Unexpected(UnexpectedError::internal(Refused(rule)))
}

/// The rule of the schema a write broke, e.g. `FOREIGN KEY sessions.user_id`.
#[derive(Debug)]
struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the in-memory store refused the write: {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// A guarded write that matched no row lost a race (or its row is gone).
pub(super) const fn guard(matched: bool) -> Result<(), CommitError> {
    if matched { Ok(()) } else { Err(CommitError::Stale) }
}

/// `ordering` in the requested direction.
pub(super) const fn directed(ordering: Ordering, order: SortOrder) -> Ordering {
    match order {
        SortOrder::Asc => ordering,
        SortOrder::Desc => ordering.reverse(),
    }
}

/// Orders optional values with the missing ones last in either direction, as the repositories
/// spell out `NULLS LAST`.
pub(super) fn nulls_last<T: Ord>(a: Option<T>, b: Option<T>, order: SortOrder) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => directed(a.cmp(&b), order),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The search term of a filter lower-cased, or `None` when there is none (an empty term matches
/// everything, as in the SeaORM repositories). Terms match literally: `%` and `_` are plain
/// characters.
pub(super) fn search_term(search: Option<&str>) -> Option<String> {
    search.filter(|s| !s.is_empty()).map(str::to_lowercase)
}

/// One page of `rows` (already filtered and sorted), with the count of all of them.
pub(super) fn page_of<T: Clone>(rows: &[&T], request: PageRequest) -> Page<T> {
    let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    let skip = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let take = usize::try_from(request.limit()).unwrap_or(usize::MAX);
    let items = rows.iter().skip(skip).take(take).map(|row| (*row).clone()).collect();
    Page { items, total, request }
}

/// How many of `rows` there are, as a count.
pub(super) fn count<T>(rows: impl Iterator<Item = T>) -> u64 {
    u64::try_from(rows.count()).unwrap_or(u64::MAX)
}
