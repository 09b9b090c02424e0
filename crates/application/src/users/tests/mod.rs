//! Unit tests of the users-management use cases, every port mocked.
//!
//! The fixtures are here; the tests sit in one file per source file of the capability.

mod bulk;
mod service;

use crate::account::AccountTokenChange;
use crate::auth::SessionChange;
use crate::common::Staleness;
use crate::test_support::Written;
use crate::test_support::refused;
use crate::users::UserChange;
use crate::users::UserConflict;
use crate::users::UserConstraint;
use std::sync::Arc;

use chrono::Duration;
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    sessions::Session,
    users::{Email, PasswordHash, Role, User, UserId},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    CreateUserCommand, MAX_BULK_USERS, NewAdminCommand, ProfileUpdate, UserError, UserPorts, UserService, UserUpdate,
    ports::{MockUserRepository, TakenIdentities, UserFilter, UserQuery, UserSort},
};
use crate::{
    audit::{AuditAction, AuditValue},
    auth::{
        AuthSettings,
        ports::{MockOpaqueTokens, MockPasswordHasher, MockSessionRepository},
    },
    common::{CommitError, MockUnitOfWork, Page, PageRequest, SortOrder, UnexpectedError},
    mail::{MockMailQueue, MockMailTemplates},
    test_support::{
        ACCOUNT_DIGEST, Commits, STORED_HASH, a_session, a_user, acting_as, fields_and_codes, fixed_clock,
        issue_account_tokens, now, record_commits, record_mail,
    },
};

const PASSWORD: &str = "Correct-Horse-42-Battery";

/// Every port of [`UserService`], as mocks; the clock is stopped at [`now`].
struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    unit_of_work: MockUnitOfWork,
    hasher: MockPasswordHasher,
    opaque_tokens: MockOpaqueTokens,
    mail_templates: MockMailTemplates,
    mail_queue: MockMailQueue,
}

impl Mocks {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            sessions: MockSessionRepository::new(),
            unit_of_work: MockUnitOfWork::new(),
            hasher: MockPasswordHasher::new(),
            opaque_tokens: MockOpaqueTokens::new(),
            mail_templates: MockMailTemplates::new(),
            mail_queue: MockMailQueue::new(),
        }
    }

    fn service(self) -> UserService {
        UserService::new(
            UserPorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                unit_of_work: Arc::new(self.unit_of_work),
                hasher: Arc::new(self.hasher),
                clock: Arc::new(fixed_clock()),
                opaque_tokens: Arc::new(self.opaque_tokens),
                mail_templates: Arc::new(self.mail_templates),
                mail_queue: Arc::new(self.mail_queue),
            },
            AuthSettings::default(),
        )
    }

    /// Storage holds `user` (deleted or not) under its id.
    fn stored(&mut self, user: &User) {
        let (id, found) = (user.id(), user.clone());
        self.users.expect_by_id().withf(move |i| *i == id).returning(move |_| Ok(Some(found.clone())));
    }

    /// Storage is not to be read at all.
    fn untouched(&mut self) {
        self.users.expect_by_id().never();
        self.users.expect_by_email().never();
        self.users.expect_by_username().never();
        self.users.expect_list().never();
        self.hasher.expect_hash().never();
        self.unit_of_work.expect_commit().never();
    }

    /// Nothing is to be written.
    fn nothing_stored(&mut self) {
        self.unit_of_work.expect_commit().never();
    }

    /// `user_id` has `sessions` active at [`now`].
    fn active_sessions(&mut self, user_id: UserId, sessions: Vec<Session>) {
        self.sessions
            .expect_active_for_user()
            .withf(move |id, at| *id == user_id && *at == now())
            .times(1)
            .returning(move |_, _| Ok(sessions.clone()));
    }

    /// Neither an e-mail address nor a username is taken, and the password hashes.
    fn free_to_insert(&mut self) {
        self.users.expect_by_email().times(1).returning(|_| Ok(None));
        self.users.expect_by_username().times(1).returning(|_| Ok(None));
        self.hasher
            .expect_hash()
            .withf(|password| password.expose_secret() == PASSWORD)
            .times(1)
            .returning(|_| Ok(PasswordHash::new("$argon2id$fresh".into())));
    }
}

/// The single `UpdateUser` of the single commit (account-token changes aside, see
/// [`stored_tokens`]).
fn single_update(commits: &Commits) -> (User, i64) {
    let changes = without_tokens(commits.single());
    let [Written::User(UserChange::Update { user, expected_version })] = changes.as_slice() else {
        panic!("expected a single UpdateUser, got {changes:#?}");
    };
    (user.clone(), *expected_version)
}

/// The single `InsertUser` of the single commit (account-token changes aside).
fn single_insert(commits: &Commits) -> User {
    let changes = without_tokens(commits.single());
    let [Written::User(UserChange::Insert(user))] = changes.as_slice() else {
        panic!("expected a single InsertUser, got {changes:#?}");
    };
    user.clone()
}

fn without_tokens(changes: Vec<Written>) -> Vec<Written> {
    changes
        .into_iter()
        .filter(|c| {
            !matches!(
                c,
                Written::Token(AccountTokenChange::Insert(_)) | Written::Token(AccountTokenChange::Discard { .. })
            )
        })
        .collect()
}

/// The account tokens stored, and the purposes discarded, across every commit.
fn stored_tokens(commits: &Commits) -> (Vec<AccountToken>, Vec<TokenPurpose>) {
    let (mut stored, mut discarded) = (Vec::new(), Vec::new());
    for change in commits.all().into_iter().flatten() {
        match change {
            Written::Token(AccountTokenChange::Insert(token)) => stored.push(token),
            Written::Token(AccountTokenChange::Discard { purpose, .. }) => discarded.push(purpose),
            _ => {}
        }
    }
    (stored, discarded)
}

/// The hasher is asked whether `password` is the stored one, and answers `matches`.
fn verify_current_password(m: &mut Mocks, password: &'static str, matches: bool) {
    m.hasher
        .expect_verify()
        .withf(move |given, hash| {
            given.expose_secret() == password && hash.as_ref().map(PasswordHash::expose) == Some(STORED_HASH)
        })
        .times(1)
        .returning(move |_, _| Ok(matches));
}

fn assert_conflict(result: Result<impl std::fmt::Debug, UserError>, expected: UserConflict) {
    assert!(matches!(result, Err(UserError::Conflict(c)) if c == expected), "expected {expected:?}, got {result:?}");
}

/// A write without `If-Match` that lost a race: retryable, never a failed precondition.
fn assert_lost_race(result: Result<impl std::fmt::Debug, UserError>) {
    assert!(matches!(result, Err(UserError::Stale(Staleness::LostRace))), "{result:?}");
}

fn assert_forbidden(result: Result<impl std::fmt::Debug, UserError>) {
    assert!(matches!(result, Err(UserError::Forbidden)), "{result:?}");
}

fn assert_not_found(result: Result<impl std::fmt::Debug, UserError>) {
    assert!(matches!(result, Err(UserError::NotFound)), "{result:?}");
}
