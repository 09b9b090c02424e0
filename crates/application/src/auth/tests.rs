//! Unit tests of the authentication use cases, every port mocked.

use crate::account::AccountTokenChange;
use crate::auth::SessionChange;
use crate::auth::ports::Principal;
use crate::test_support::Written;
use crate::test_support::refused;
use crate::users::UserChange;
use crate::users::UserConstraint;
use std::sync::Arc;

use chrono::Duration;
use forge_domain::{
    account_tokens::TokenPurpose,
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::{PasswordHash, Role, User, UserId},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    AccessPurpose, AdmissionError, AuthPorts, AuthService, AuthSettings, AuthenticateError, LoginCommand, LoginError,
    LogoutError, RefreshCommand, RefreshError, RegisterCommand, RegisterError,
    ports::{
        AccessClaims, AccessTokenError, IssuedAccessToken, MockAccessTokens, MockOpaqueTokens, MockPasswordHasher,
        MockPrincipalRepository, MockSessionRepository,
    },
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditValue},
    common::{Actor, ClientContext, CommitError, MockUnitOfWork, UnexpectedError, UnexpectedKind},
    mail::{MockMailQueue, MockMailTemplates},
    test_support::{
        ACCOUNT_DIGEST, STORED_HASH, a_refresh_token, a_session, a_user, acting_as, fields_and_codes, fixed_clock,
        issue_account_tokens, now, record_commits, record_mail,
    },
    users::ports::MockUserRepository,
};

const PASSWORD: &str = "Correct-Horse-42-Battery";
const PRESENTED: &str = "presented-refresh-token";
const NEXT_REFRESH: &str = "next-refresh-token";
const NEXT_DIGEST: &str = "next-digest";

/// Every port of [`AuthService`], as mocks; the clock is stopped at [`now`].
struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    unit_of_work: MockUnitOfWork,
    hasher: MockPasswordHasher,
    access_tokens: MockAccessTokens,
    opaque_tokens: MockOpaqueTokens,
    principals: MockPrincipalRepository,
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
            access_tokens: MockAccessTokens::new(),
            opaque_tokens: MockOpaqueTokens::new(),
            principals: MockPrincipalRepository::new(),
            mail_templates: MockMailTemplates::new(),
            mail_queue: MockMailQueue::new(),
        }
    }

    fn service(self) -> AuthService {
        self.service_with(AuthSettings::default())
    }

    fn service_with(self, settings: AuthSettings) -> AuthService {
        AuthService::new(
            AuthPorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                unit_of_work: Arc::new(self.unit_of_work),
                hasher: Arc::new(self.hasher),
                access_tokens: Arc::new(self.access_tokens),
                opaque_tokens: Arc::new(self.opaque_tokens),
                principals: Arc::new(self.principals),
                clock: Arc::new(fixed_clock()),
                mail_templates: Arc::new(self.mail_templates),
                mail_queue: Arc::new(self.mail_queue),
            },
            settings,
        )
    }

    /// Access tokens are issued at [`now`] and name their user and session, so a test can tell
    /// which session a token was issued for.
    fn issue_access_tokens(&mut self) {
        self.access_tokens.expect_issue().withf(|_, _, at| *at == now()).returning(|user_id, session_id, _| {
            Ok(IssuedAccessToken { token: access_token_for(user_id, session_id), expires_in: 900 })
        });
    }

    fn generate_refresh_tokens(&mut self) {
        self.opaque_tokens
            .expect_generate()
            .returning(|| (SecretString::from(NEXT_REFRESH), TokenDigest::new(NEXT_DIGEST.into())));
    }

    fn find_by_email(&mut self, user: &User) {
        let (email, found) = (user.email().clone(), user.clone());
        self.users.expect_by_email().withf(move |e| *e == email).times(1).returning(move |_| Ok(Some(found.clone())));
    }

    fn find_by_id(&mut self, user: &User) {
        let (id, found) = (user.id(), user.clone());
        self.users.expect_by_id().withf(move |i| *i == id).times(1).returning(move |_| Ok(Some(found.clone())));
    }

    /// The hasher is asked about the stored hash and answers `matches`.
    fn verify_stored_hash(&mut self, matches: bool) {
        self.hasher
            .expect_verify()
            .withf(|password, hash| {
                password.expose_secret() == PASSWORD && hash.as_ref().map(PasswordHash::expose) == Some(STORED_HASH)
            })
            .times(1)
            .returning(move |_, _| Ok(matches));
    }

    /// `token` of `session` is what [`PRESENTED`] digests to.
    fn present(&mut self, token: &RefreshToken, session: &Session) {
        self.opaque_tokens.expect_digest().withf(|raw| raw == PRESENTED).return_const(token.digest.clone());
        let (digest, found) = (token.digest.clone(), token.clone());
        self.sessions.expect_refresh_token().withf(move |d| *d == digest).returning(move |_| Ok(Some(found.clone())));
        let (id, found) = (session.id, session.clone());
        self.sessions.expect_by_id().withf(move |i| *i == id).returning(move |_| Ok(Some(found.clone())));
    }
}

fn access_token_for(user_id: impl std::fmt::Display, session_id: impl std::fmt::Display) -> SecretString {
    SecretString::from(format!("access:{user_id}:{session_id}"))
}

fn storage_down() -> UnexpectedError {
    UnexpectedError::unavailable("storage is down")
}

fn assert_unexpected(e: &UnexpectedError) {
    assert_eq!(e.kind(), UnexpectedKind::Unavailable, "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// register

fn a_registration() -> RegisterCommand {
    RegisterCommand {
        email: " Ada@Example.com ".into(),
        username: "ada_l".into(),
        password: PASSWORD.into(),
        full_name: Some("Ada Lovelace".into()),
        context: ClientContext::default(),
    }
}

/// Neither the e-mail address nor the username is taken.
fn nothing_taken(m: &mut Mocks) {
    m.users.expect_by_email().withf(|e| e.as_ref() == "ada@example.com").times(1).returning(|_| Ok(None));
    m.users.expect_by_username().withf(|u| u.as_ref() == "ada_l").times(1).returning(|_| Ok(None));
}

fn hash_the_password(m: &mut Mocks) {
    m.hasher
        .expect_hash()
        .withf(|password| password.expose_secret() == PASSWORD)
        .times(1)
        .returning(|_| Ok(PasswordHash::new("$argon2id$fresh".into())));
}

#[tokio::test]
async fn register_stores_an_unverified_member_with_the_hashed_password_in_one_insert() {
    let mut m = Mocks::new();
    nothing_taken(&mut m);
    hash_the_password(&mut m);
    issue_account_tokens(&mut m.opaque_tokens);
    let outbox = record_mail(&mut m.mail_templates, &mut m.mail_queue);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let user = m.service().register(a_registration()).await.unwrap();

    let changes = commits.single();
    let [
        Written::User(UserChange::Insert(stored)),
        Written::Token(AccountTokenChange::Discard { .. }),
        Written::Token(AccountTokenChange::Insert(token)),
    ] = changes.as_slice()
    else {
        panic!("expected the user and its verification token, got {changes:#?}");
    };
    assert_eq!((token.user_id, token.purpose), (user.id(), TokenPurpose::VerifyEmail));
    assert_eq!(token.digest.as_str(), ACCOUNT_DIGEST);
    assert_eq!(token.email.as_ref(), "ada@example.com");
    assert_eq!(token.expires_at, now() + Duration::hours(24));
    let mail = outbox.single();
    assert_eq!((mail.to.as_ref(), mail.subject.as_str()), ("ada@example.com", "verify_email"));
    assert_eq!(mail.text, "http://localhost:3000/verify-email?token=account-token (24h)");
    assert_eq!(stored, &user);
    assert_eq!(stored.role(), Role::Member);
    assert!(stored.is_active());
    assert!(!stored.is_verified());
    assert_eq!(stored.password_hash().expose(), "$argon2id$fresh");
    assert_eq!(stored.email().as_ref(), "ada@example.com");
    assert_eq!(stored.username().as_ref(), "ada_l");
    assert_eq!(stored.full_name().map(AsRef::as_ref), Some("Ada Lovelace"));
    assert_eq!(stored.created_at(), now());
    assert_eq!(stored.version(), 1);

    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!(audit.action, AuditAction::UserRegistered);
    assert_eq!((audit.entity_type, audit.entity_id.clone()), (AuditEntity::User, user.id().to_string()));
    assert_eq!(audit.actor_id, Some(user.id()));
    assert_eq!(audit.before, None);
    let after = audit.after.expect("the new account");
    assert_eq!(after.get("email"), Some(&AuditValue::Text("ada@example.com".into())));
    assert!(after.fields().all(|(name, _)| !name.contains("password")), "{after:?}");
}

#[tokio::test]
async fn register_is_refused_when_registration_is_closed() {
    let mut m = Mocks::new();
    m.users.expect_by_email().never();
    m.hasher.expect_hash().never();
    m.unit_of_work.expect_commit().never();
    let settings = AuthSettings { allow_registration: false, ..AuthSettings::default() };

    let err = m.service_with(settings).register(a_registration()).await.unwrap_err();

    assert!(matches!(err, RegisterError::RegistrationClosed), "{err:?}");
}

#[tokio::test]
async fn register_lists_every_invalid_field_at_once_without_hashing() {
    let mut m = Mocks::new();
    m.users.expect_by_email().never();
    m.users.expect_by_username().never();
    m.hasher.expect_hash().never();
    m.unit_of_work.expect_commit().never();
    let cmd = RegisterCommand {
        email: "not-an-email".into(),
        username: "ab".into(),
        password: "short".into(),
        full_name: None,
        context: ClientContext::default(),
    };

    let err = m.service().register(cmd).await.unwrap_err();

    let RegisterError::Validation(errors) = err else { panic!("expected a validation error, got {err:?}") };
    assert_eq!(
        fields_and_codes(&errors),
        [("email", "INVALID_FORMAT"), ("username", "TOO_SHORT"), ("password", "TOO_SHORT")]
    );
}

#[tokio::test]
async fn register_refuses_a_password_that_contains_the_username() {
    let mut m = Mocks::new();
    m.hasher.expect_hash().never();
    m.unit_of_work.expect_commit().never();
    let cmd =
        RegisterCommand { username: "lovelace".into(), password: "Xq-Lovelace-42-Battery!".into(), ..a_registration() };

    let err = m.service().register(cmd).await.unwrap_err();

    let RegisterError::Validation(errors) = err else { panic!("expected a validation error, got {err:?}") };
    assert_eq!(fields_and_codes(&errors), [("password", "CONTAINS_PERSONAL_INFO")]);
}

#[tokio::test]
async fn register_refuses_an_email_address_that_is_taken() {
    let mut m = Mocks::new();
    let existing = a_user(Role::Member).email("ada@example.com").build();
    m.find_by_email(&existing);
    m.hasher.expect_hash().never();
    m.unit_of_work.expect_commit().never();

    let err = m.service().register(a_registration()).await.unwrap_err();

    assert!(matches!(err, RegisterError::EmailTaken), "{err:?}");
}

#[tokio::test]
async fn register_refuses_a_username_that_is_taken() {
    let mut m = Mocks::new();
    let existing = a_user(Role::Member).username("Ada_L").build();
    m.users.expect_by_email().returning(|_| Ok(None));
    m.users
        .expect_by_username()
        .withf(|u| u.as_ref() == "ada_l")
        .times(1)
        .returning(move |_| Ok(Some(existing.clone())));
    m.hasher.expect_hash().never();
    m.unit_of_work.expect_commit().never();

    let err = m.service().register(a_registration()).await.unwrap_err();

    assert!(matches!(err, RegisterError::UsernameTaken), "{err:?}");
}

#[tokio::test]
async fn register_reports_an_email_address_taken_by_a_concurrent_registration() {
    let mut m = Mocks::new();
    nothing_taken(&mut m);
    hash_the_password(&mut m);
    issue_account_tokens(&mut m.opaque_tokens);
    // Nothing was stored, so nothing is mailed: the mail mocks have no expectations.
    record_commits(&mut m.unit_of_work, |_| Err(refused(UserConstraint::EmailTaken)));

    let err = m.service().register(a_registration()).await.unwrap_err();

    assert!(matches!(err, RegisterError::EmailTaken), "{err:?}");
}

#[tokio::test]
async fn register_reports_a_username_taken_by_a_concurrent_registration() {
    let mut m = Mocks::new();
    nothing_taken(&mut m);
    hash_the_password(&mut m);
    issue_account_tokens(&mut m.opaque_tokens);
    // Nothing was stored, so nothing is mailed: the mail mocks have no expectations.
    record_commits(&mut m.unit_of_work, |_| Err(refused(UserConstraint::UsernameTaken)));

    let err = m.service().register(a_registration()).await.unwrap_err();

    assert!(matches!(err, RegisterError::UsernameTaken), "{err:?}");
}

#[tokio::test]
async fn register_propagates_a_hashing_failure_and_stores_nothing() {
    let mut m = Mocks::new();
    nothing_taken(&mut m);
    m.hasher.expect_hash().times(1).returning(|_| Err(storage_down()));
    m.unit_of_work.expect_commit().never();

    let err = m.service().register(a_registration()).await.unwrap_err();

    let RegisterError::Unexpected(e) = err else { panic!("expected an unexpected error, got {err:?}") };
    assert_unexpected(&e);
}

#[tokio::test]
async fn register_propagates_an_unexpected_storage_failure() {
    let mut m = Mocks::new();
    nothing_taken(&mut m);
    hash_the_password(&mut m);
    issue_account_tokens(&mut m.opaque_tokens);
    // Nothing was stored, so nothing is mailed: the mail mocks have no expectations.
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(storage_down())));

    let err = m.service().register(a_registration()).await.unwrap_err();

    let RegisterError::Unexpected(e) = err else { panic!("expected an unexpected error, got {err:?}") };
    assert_unexpected(&e);
}

// ---------------------------------------------------------------------------------------------
// login

fn a_login(identifier: &str) -> LoginCommand {
    LoginCommand {
        identifier: identifier.into(),
        password: PASSWORD.into(),
        context: ClientContext {
            ip: Some("198.51.100.7".into()),
            user_agent: Some("forge-tests/1.0".into()),
            request_id: Some("req-1".into()),
        },
    }
}

/// Nothing may be written and no token issued.
fn expect_no_session(m: &mut Mocks) {
    m.unit_of_work.expect_commit().never();
    m.access_tokens.expect_issue().never();
    m.opaque_tokens.expect_generate().never();
}

#[tokio::test]
async fn login_by_email_opens_a_session_and_records_the_login_in_one_commit() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).build();
    m.find_by_email(&user);
    m.users.expect_by_username().never();
    m.verify_stored_hash(true);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let outcome = m.service().login(a_login(user.email().as_ref())).await.unwrap();

    let changes = commits.single();
    let [
        Written::Session(SessionChange::Open(session)),
        Written::Session(SessionChange::IssueRefreshToken(refresh)),
        Written::User(UserChange::RecordLogin { user_id, at }),
    ] = changes.as_slice()
    else {
        panic!("expected InsertSession, InsertRefreshToken, RecordLogin; got {changes:#?}");
    };
    assert_eq!(session.user_id, user.id());
    assert_eq!(session.created_at, now());
    assert_eq!(session.expires_at, now() + Duration::days(30));
    assert_eq!(session.revoked_at, None);
    assert_eq!(session.ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(session.user_agent.as_deref(), Some("forge-tests/1.0"));
    assert_eq!(refresh.session_id, session.id);
    assert_eq!(refresh.digest.as_str(), NEXT_DIGEST);
    assert_eq!(refresh.issued_at, now());
    assert_eq!(refresh.used_at, None);
    assert_eq!((*user_id, *at), (user.id(), now()));

    assert_eq!(outcome.tokens.session_id, session.id);
    assert_eq!(outcome.tokens.refresh_token.expose_secret(), NEXT_REFRESH);
    assert_eq!(outcome.tokens.access_token.expose_secret(), access_token_for(user.id(), session.id).expose_secret());
    assert_eq!(outcome.tokens.expires_in, 900);
    assert_eq!(outcome.user.id(), user.id());
    assert_eq!(outcome.user.last_login_at(), Some(now()));
}

#[tokio::test]
async fn login_by_username_looks_the_account_up_by_username() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).username("Ada_L").build();
    m.users.expect_by_email().never();
    let found = user.clone();
    m.users.expect_by_username().withf(|u| u.as_ref() == "ADA_l").times(1).returning(move |_| Ok(Some(found.clone())));
    m.verify_stored_hash(true);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let outcome = m.service().login(a_login("ADA_l")).await.unwrap();

    assert_eq!(outcome.user.id(), user.id());
    assert_eq!(commits.all().len(), 1);
}

#[tokio::test]
async fn login_refresh_token_expires_after_the_idle_timeout_when_the_session_lasts_longer() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).build();
    m.find_by_email(&user);
    m.verify_stored_hash(true);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let settings = AuthSettings {
        session_lifetime: Duration::days(30),
        session_idle_timeout: Duration::days(2),
        ..AuthSettings::default()
    };

    m.service_with(settings).login(a_login(user.email().as_ref())).await.unwrap();

    let changes = commits.single();
    let Some(Written::Session(SessionChange::IssueRefreshToken(refresh))) = changes.get(1) else {
        panic!("no refresh token in {changes:#?}")
    };
    assert_eq!(refresh.expires_at, now() + Duration::days(2));
}

#[tokio::test]
async fn login_refresh_token_never_outlives_its_session() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).build();
    m.find_by_email(&user);
    m.verify_stored_hash(true);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let settings = AuthSettings {
        session_lifetime: Duration::hours(12),
        session_idle_timeout: Duration::days(7),
        ..AuthSettings::default()
    };

    m.service_with(settings).login(a_login(user.email().as_ref())).await.unwrap();

    let changes = commits.single();
    let [
        Written::Session(SessionChange::Open(session)),
        Written::Session(SessionChange::IssueRefreshToken(refresh)),
        ..,
    ] = changes.as_slice()
    else {
        panic!("unexpected changes {changes:#?}");
    };
    assert_eq!(session.expires_at, now() + Duration::hours(12));
    assert_eq!(refresh.expires_at, session.expires_at);
}

#[tokio::test]
async fn login_fails_with_a_wrong_password() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).build();
    m.find_by_email(&user);
    m.verify_stored_hash(false);
    expect_no_session(&mut m);

    let err = m.service().login(a_login(user.email().as_ref())).await.unwrap_err();

    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
}

#[tokio::test]
async fn login_fails_the_same_way_for_an_unknown_account() {
    let mut m = Mocks::new();
    m.users.expect_by_email().times(1).returning(|_| Ok(None));
    // The dummy verification: as slow as a real one, so timing does not reveal the account.
    m.hasher.expect_verify().withf(|_, hash| hash.is_none()).times(1).returning(|_, _| Ok(false));
    expect_no_session(&mut m);

    let err = m.service().login(a_login("nobody@example.com")).await.unwrap_err();

    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
}

#[tokio::test]
async fn login_with_an_identifier_that_cannot_be_an_account_still_runs_the_dummy_verification() {
    let mut m = Mocks::new();
    m.users.expect_by_email().never();
    m.users.expect_by_username().never();
    m.hasher.expect_verify().withf(|_, hash| hash.is_none()).times(1).returning(|_, _| Ok(false));
    expect_no_session(&mut m);

    let err = m.service().login(a_login("no spaces allowed")).await.unwrap_err();

    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
}

#[tokio::test]
async fn login_fails_the_same_way_for_a_disabled_account_even_with_the_right_password() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).inactive().build();
    m.find_by_email(&user);
    m.verify_stored_hash(true);
    expect_no_session(&mut m);

    let err = m.service().login(a_login(user.email().as_ref())).await.unwrap_err();

    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
}

#[tokio::test]
async fn login_fails_the_same_way_for_a_deleted_account_even_with_the_right_password() {
    let mut m = Mocks::new();
    let user = a_user(Role::Admin).deleted().build();
    m.find_by_email(&user);
    m.verify_stored_hash(true);
    expect_no_session(&mut m);

    let err = m.service().login(a_login(user.email().as_ref())).await.unwrap_err();

    assert!(matches!(err, LoginError::InvalidCredentials), "{err:?}");
}

#[tokio::test]
async fn login_propagates_a_verification_failure() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).build();
    m.find_by_email(&user);
    m.hasher.expect_verify().returning(|_, _| Err(storage_down()));
    expect_no_session(&mut m);

    let err = m.service().login(a_login(user.email().as_ref())).await.unwrap_err();

    let LoginError::Unexpected(e) = err else { panic!("expected an unexpected error, got {err:?}") };
    assert_unexpected(&e);
}

#[tokio::test]
async fn login_issues_no_token_when_the_session_cannot_be_stored() {
    let mut m = Mocks::new();
    let user = a_user(Role::Member).build();
    m.find_by_email(&user);
    m.verify_stored_hash(true);
    m.generate_refresh_tokens();
    m.access_tokens.expect_issue().never();
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(storage_down())));

    let err = m.service().login(a_login(user.email().as_ref())).await.unwrap_err();

    let LoginError::Unexpected(e) = err else { panic!("expected an unexpected error, got {err:?}") };
    assert_unexpected(&e);
}

// ---------------------------------------------------------------------------------------------
// refresh

fn a_refresh() -> RefreshCommand {
    RefreshCommand { refresh_token: PRESENTED.into(), context: ClientContext::default() }
}

/// A member with a live session and an unused refresh token of it.
fn a_live_session() -> (User, Session, RefreshToken) {
    let user = a_user(Role::Member).build();
    let session = a_session(user.id());
    let token = a_refresh_token(&session);
    (user, session, token)
}

fn assert_only_revoked(commits: &[Written], session: SessionId) {
    let [Written::Session(SessionChange::Revoke { id, at })] = commits else {
        panic!("expected a single RevokeSession, got {commits:#?}")
    };
    assert_eq!((*id, *at), (session, now()));
}

#[tokio::test]
async fn refresh_consumes_the_token_issues_the_next_and_touches_the_session_in_one_commit() {
    let (user, session, token) = a_live_session();
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.find_by_id(&user);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let outcome = m.service().refresh(a_refresh()).await.unwrap();

    let changes = commits.single();
    let [
        Written::Session(SessionChange::ConsumeRefreshToken { digest, at: consumed_at }),
        Written::Session(SessionChange::IssueRefreshToken(next)),
        Written::Session(SessionChange::Touch { id, at: touched_at }),
    ] = changes.as_slice()
    else {
        panic!("expected ConsumeRefreshToken, InsertRefreshToken, TouchSession; got {changes:#?}");
    };
    assert_eq!((digest, *consumed_at), (&token.digest, now()));
    assert_eq!(next.digest.as_str(), NEXT_DIGEST);
    assert_eq!(next.session_id, session.id);
    assert_eq!(next.issued_at, now());
    assert_eq!(next.expires_at, now() + Duration::days(7));
    assert_eq!(next.used_at, None);
    assert_eq!((*id, *touched_at), (session.id, now()));

    assert_eq!(outcome.user, user);
    assert_eq!(outcome.tokens.session_id, session.id);
    assert_eq!(outcome.tokens.refresh_token.expose_secret(), NEXT_REFRESH);
    assert_eq!(outcome.tokens.access_token.expose_secret(), access_token_for(user.id(), session.id).expose_secret());
}

#[tokio::test]
async fn refresh_token_never_outlives_its_session() {
    let (user, mut session, token) = a_live_session();
    session.expires_at = now() + Duration::hours(2);
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.find_by_id(&user);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().refresh(a_refresh()).await.unwrap();

    let changes = commits.single();
    let Some(Written::Session(SessionChange::IssueRefreshToken(next))) = changes.get(1) else {
        panic!("no new token in {changes:#?}")
    };
    assert_eq!(next.expires_at, now() + Duration::hours(2));
}

#[tokio::test]
async fn refresh_refuses_an_unknown_token() {
    let mut m = Mocks::new();
    m.opaque_tokens.expect_digest().return_const(TokenDigest::new("unknown".into()));
    m.sessions.expect_refresh_token().times(1).returning(|_| Ok(None));
    m.sessions.expect_by_id().never();
    m.unit_of_work.expect_commit().never();

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Invalid), "{err:?}");
}

#[tokio::test]
async fn refresh_refuses_a_token_whose_session_is_gone() {
    let (_, session, token) = a_live_session();
    let mut m = Mocks::new();
    m.opaque_tokens.expect_digest().return_const(token.digest.clone());
    m.sessions.expect_refresh_token().returning(move |_| Ok(Some(token.clone())));
    m.sessions.expect_by_id().withf(move |id| *id == session.id).times(1).returning(|_| Ok(None));
    m.unit_of_work.expect_commit().never();

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Invalid), "{err:?}");
}

#[tokio::test]
async fn refresh_refuses_a_token_of_a_revoked_session_and_writes_nothing() {
    let (_, mut session, token) = a_live_session();
    session.revoke(now() - Duration::minutes(5));
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.users.expect_by_id().never();
    m.unit_of_work.expect_commit().never();

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
}

#[tokio::test]
async fn refresh_with_a_token_of_a_long_ended_session_writes_nothing() {
    // After a logout the client may still hold a used token; once every access token of the
    // session has expired there is nothing left to revoke and nothing to write.
    let (_, mut session, mut token) = a_live_session();
    session.revoke(now() - Duration::minutes(20));
    token.used_at = Some(now() - Duration::minutes(30));
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.unit_of_work.expect_commit().never();

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
}

#[tokio::test]
async fn refresh_refuses_an_expired_token() {
    let (_, session, mut token) = a_live_session();
    token.expires_at = now() - Duration::seconds(1);
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.users.expect_by_id().never();
    m.unit_of_work.expect_commit().never();

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Expired), "{err:?}");
}

#[tokio::test]
async fn refresh_with_a_used_token_ends_the_whole_session() {
    let (_, session, mut token) = a_live_session();
    token.used_at = Some(now() - Duration::minutes(1));
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.users.expect_by_id().never();
    m.access_tokens.expect_issue().never();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    assert_only_revoked(&commits.single(), session.id);
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!((audit.action, audit.actor_id), (AuditAction::SessionRevoked, None));
    assert_eq!(audit.entity_id, session.id.to_string());
}

#[tokio::test]
async fn refresh_with_a_used_token_within_the_grace_window_issues_a_pair_without_consuming_again() {
    let (user, session, mut token) = a_live_session();
    token.used_at = Some(now() - Duration::seconds(10));
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.find_by_id(&user);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let settings = AuthSettings { refresh_reuse_grace: Duration::seconds(30), ..AuthSettings::default() };

    let outcome = m.service_with(settings).refresh(a_refresh()).await.unwrap();

    let changes = commits.single();
    let [Written::Session(SessionChange::IssueRefreshToken(next)), Written::Session(SessionChange::Touch { id, .. })] =
        changes.as_slice()
    else {
        panic!("expected InsertRefreshToken, TouchSession and no consumption; got {changes:#?}");
    };
    assert_eq!((next.session_id, *id), (session.id, session.id));
    assert_eq!(outcome.tokens.refresh_token.expose_secret(), NEXT_REFRESH);
}

#[tokio::test]
async fn refresh_with_a_used_token_past_the_grace_window_ends_the_whole_session() {
    let (_, session, mut token) = a_live_session();
    token.used_at = Some(now() - Duration::seconds(31));
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.users.expect_by_id().never();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let settings = AuthSettings { refresh_reuse_grace: Duration::seconds(30), ..AuthSettings::default() };

    let err = m.service_with(settings).refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    assert_only_revoked(&commits.single(), session.id);
}

#[tokio::test]
async fn refresh_that_loses_a_race_for_the_token_ends_the_session_without_a_grace_window() {
    let (user, session, token) = a_live_session();
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.find_by_id(&user);
    m.generate_refresh_tokens();
    m.access_tokens.expect_issue().never();
    let commits = record_commits(&mut m.unit_of_work, |n| if n == 0 { Err(CommitError::Stale) } else { Ok(()) });

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    let all = commits.all();
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(matches!(all[0].first(), Some(Written::Session(SessionChange::ConsumeRefreshToken { .. }))), "{all:#?}");
    assert_only_revoked(&all[1], session.id);
}

#[tokio::test]
async fn refresh_that_loses_a_race_within_a_grace_window_retries_without_consuming() {
    let (user, session, token) = a_live_session();
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.find_by_id(&user);
    m.generate_refresh_tokens();
    m.issue_access_tokens();
    let commits = record_commits(&mut m.unit_of_work, |n| if n == 0 { Err(CommitError::Stale) } else { Ok(()) });
    let settings = AuthSettings { refresh_reuse_grace: Duration::seconds(30), ..AuthSettings::default() };

    let outcome = m.service_with(settings).refresh(a_refresh()).await.unwrap();

    let all = commits.all();
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(matches!(all[0].first(), Some(Written::Session(SessionChange::ConsumeRefreshToken { .. }))), "{all:#?}");
    assert!(
        matches!(
            all[1].as_slice(),
            [Written::Session(SessionChange::IssueRefreshToken(_)), Written::Session(SessionChange::Touch { .. })]
        ),
        "{all:#?}"
    );
    assert_eq!(outcome.tokens.session_id, session.id);
}

#[tokio::test]
async fn refresh_refuses_a_session_left_idle_too_long() {
    let (_, mut session, token) = a_live_session();
    session.last_used_at = now() - Duration::hours(2);
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.users.expect_by_id().never();
    m.unit_of_work.expect_commit().never();
    let settings = AuthSettings { session_idle_timeout: Duration::hours(1), ..AuthSettings::default() };

    let err = m.service_with(settings).refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Expired), "{err:?}");
}

#[tokio::test]
async fn refresh_refuses_a_session_past_its_absolute_lifetime() {
    let (_, mut session, token) = a_live_session();
    session.expires_at = now();
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.users.expect_by_id().never();
    m.unit_of_work.expect_commit().never();

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Expired), "{err:?}");
}

/// Refreshes a token of a session of `owner_id`, whose account storage returns as `stored`.
async fn refresh_for_an_owner_who_cannot_act(owner_id: UserId, stored: Option<User>) {
    let session = a_session(owner_id);
    let token = a_refresh_token(&session);
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.users.expect_by_id().withf(move |id| *id == owner_id).times(1).returning(move |_| Ok(stored.clone()));
    m.access_tokens.expect_issue().never();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    assert!(matches!(err, RefreshError::Invalid), "{err:?}");
    assert_only_revoked(&commits.single(), session.id);
}

#[tokio::test]
async fn refresh_for_a_deactivated_user_is_refused_and_ends_the_session() {
    let owner = a_user(Role::Member).inactive().build();
    refresh_for_an_owner_who_cannot_act(owner.id(), Some(owner)).await;
}

#[tokio::test]
async fn refresh_for_a_deleted_user_is_refused_and_ends_the_session() {
    let owner = a_user(Role::Member).deleted().build();
    refresh_for_an_owner_who_cannot_act(owner.id(), Some(owner)).await;
}

#[tokio::test]
async fn refresh_for_a_user_that_no_longer_exists_is_refused_and_ends_the_session() {
    refresh_for_an_owner_who_cannot_act(UserId::generate(), None).await;
}

#[tokio::test]
async fn refresh_propagates_an_unexpected_storage_failure_without_ending_the_session() {
    let (user, session, token) = a_live_session();
    let mut m = Mocks::new();
    m.present(&token, &session);
    m.find_by_id(&user);
    m.generate_refresh_tokens();
    m.access_tokens.expect_issue().never();
    let commits = record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(storage_down())));

    let err = m.service().refresh(a_refresh()).await.unwrap_err();

    let RefreshError::Unexpected(e) = err else { panic!("expected an unexpected error, got {err:?}") };
    assert_unexpected(&e);
    assert_eq!(commits.all().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// logout

#[tokio::test]
async fn logout_ends_the_actors_session_in_storage() {
    let user = a_user(Role::Member).build();
    let session_id = SessionId::generate();
    let actor = Actor::new(user, Some(session_id), ClientContext::default());
    let mut m = Mocks::new();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().logout(&actor).await.unwrap();

    assert_only_revoked(&commits.single(), session_id);
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!((audit.action, audit.actor_id), (AuditAction::SessionRevoked, Some(actor.id())));
    assert_eq!(audit.entity_id, session_id.to_string());
}

#[tokio::test]
async fn logout_of_an_actor_without_a_session_does_nothing() {
    let actor = Actor::new(a_user(Role::Member).build(), None, ClientContext::default());
    let mut m = Mocks::new();
    m.unit_of_work.expect_commit().never();

    let result = m.service().logout(&actor).await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn logout_reports_a_storage_failure_so_it_can_be_retried() {
    let actor = Actor::new(a_user(Role::Member).build(), Some(SessionId::generate()), ClientContext::default());
    let mut m = Mocks::new();
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(storage_down())));

    let err = m.service().logout(&actor).await.unwrap_err();

    let LogoutError::Unexpected(e) = err;
    assert_unexpected(&e);
}

// ---------------------------------------------------------------------------------------------
// authenticate

const ACCESS: &str = "presented-access-token";

fn claims_for(user: &User, session_id: SessionId) -> AccessClaims {
    AccessClaims {
        user_id: user.id(),
        session_id,
        token_id: uuid::Uuid::now_v7(),
        issued_at: now() - Duration::minutes(1),
        expires_at: now() + Duration::minutes(14),
    }
}

fn verify_access_token(m: &mut Mocks, verdict: Result<AccessClaims, AccessTokenError>) {
    m.access_tokens
        .expect_verify()
        .withf(|token, at| token == ACCESS && *at == now())
        .times(1)
        .returning(move |_, _| verdict.clone());
}

/// Makes the principal read of (`user`'s id, `session_id`) return `stored` with the session
/// `live` or not, once.
fn principal_is(m: &mut Mocks, user_id: UserId, session_id: SessionId, stored: Option<User>, live: bool) {
    m.principals
        .expect_principal()
        .withf(move |u, s| (*u, *s) == (user_id, session_id))
        .times(1)
        .returning(move |_, _| Ok(stored.clone().map(|user| Principal { user, session_live: live })));
}

fn a_context() -> ClientContext {
    ClientContext { ip: Some("192.0.2.1".into()), user_agent: None, request_id: Some("req-42".into()) }
}

#[tokio::test]
async fn authenticate_returns_an_actor_with_the_role_currently_stored() {
    // The account was promoted after the token was issued: the actor must carry the new role.
    let stored = a_user(Role::Manager).build();
    let session_id = SessionId::generate();
    let mut m = Mocks::new();
    verify_access_token(&mut m, Ok(claims_for(&stored, session_id)));
    principal_is(&mut m, stored.id(), session_id, Some(stored.clone()), true);
    m.users.expect_by_id().never();

    let actor = m.service().authenticate(ACCESS, a_context()).await.unwrap();

    assert_eq!(actor.id(), stored.id());
    assert_eq!(actor.role(), Role::Manager);
    assert_eq!(actor.session_id(), Some(session_id));
    assert_eq!(actor.context(), &a_context());
}

#[tokio::test]
async fn authenticate_refuses_an_invalid_token() {
    let mut m = Mocks::new();
    verify_access_token(&mut m, Err(AccessTokenError::Invalid));
    m.principals.expect_principal().never();

    let err = m.service().authenticate(ACCESS, a_context()).await.unwrap_err();

    assert!(matches!(err, AuthenticateError::Invalid), "{err:?}");
}

#[tokio::test]
async fn authenticate_reports_an_expired_token_as_expired() {
    let mut m = Mocks::new();
    verify_access_token(&mut m, Err(AccessTokenError::Expired));
    m.principals.expect_principal().never();

    let err = m.service().authenticate(ACCESS, a_context()).await.unwrap_err();

    assert!(matches!(err, AuthenticateError::Expired), "{err:?}");
}

#[tokio::test]
async fn authenticate_refuses_a_token_of_an_ended_session_as_revoked() {
    let user = a_user(Role::Admin).build();
    let session_id = SessionId::generate();
    let mut m = Mocks::new();
    verify_access_token(&mut m, Ok(claims_for(&user, session_id)));
    principal_is(&mut m, user.id(), session_id, Some(user.clone()), false);

    let err = m.service().authenticate(ACCESS, a_context()).await.unwrap_err();

    assert!(matches!(err, AuthenticateError::Revoked), "{err:?}");
}

#[tokio::test]
async fn authenticate_fails_closed_when_storage_fails() {
    let user = a_user(Role::Member).build();
    let mut m = Mocks::new();
    verify_access_token(&mut m, Ok(claims_for(&user, SessionId::generate())));
    m.principals.expect_principal().returning(|_, _| Err(storage_down()));

    let err = m.service().authenticate(ACCESS, a_context()).await.unwrap_err();

    let AuthenticateError::Unexpected(e) = err else { panic!("expected an unexpected error, got {err:?}") };
    assert_unexpected(&e);
}

async fn authenticate_a_token_whose_user_is(claimed: &User, stored: Option<User>) -> AuthenticateError {
    let session_id = SessionId::generate();
    let mut m = Mocks::new();
    verify_access_token(&mut m, Ok(claims_for(claimed, session_id)));
    principal_is(&mut m, claimed.id(), session_id, stored, true);
    m.service().authenticate(ACCESS, a_context()).await.unwrap_err()
}

#[tokio::test]
async fn authenticate_refuses_a_token_of_an_unknown_user() {
    let err = authenticate_a_token_whose_user_is(&a_user(Role::Member).build(), None).await;

    assert!(matches!(err, AuthenticateError::Invalid), "{err:?}");
}

#[tokio::test]
async fn authenticate_refuses_a_token_of_a_deleted_user() {
    let user = a_user(Role::Member).deleted().build();

    let err = authenticate_a_token_whose_user_is(&user, Some(user.clone())).await;

    assert!(matches!(err, AuthenticateError::Invalid), "{err:?}");
}

#[tokio::test]
async fn authenticate_refuses_a_token_of_a_disabled_user() {
    let user = a_user(Role::Admin).inactive().build();

    let err = authenticate_a_token_whose_user_is(&user, Some(user.clone())).await;

    assert!(matches!(err, AuthenticateError::Invalid), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// admission

#[test]
fn an_unverified_account_is_admitted_everywhere_when_verification_is_not_required() {
    let unverified = acting_as(&a_user(Role::Member).unverified().build());
    let service = Mocks::new().service();
    assert_eq!(service.admit(&unverified, AccessPurpose::General), Ok(()));
    assert_eq!(service.admit(&unverified, AccessPurpose::AccountUpkeep), Ok(()));
}

#[test]
fn an_unverified_account_may_only_look_after_itself_when_verification_is_required() {
    let settings = AuthSettings { require_verified_email: true, ..AuthSettings::default() };
    let service = Mocks::new().service_with(settings);
    let unverified = acting_as(&a_user(Role::Admin).unverified().build());
    assert_eq!(service.admit(&unverified, AccessPurpose::General), Err(AdmissionError::EmailNotVerified));
    assert_eq!(service.admit(&unverified, AccessPurpose::AccountUpkeep), Ok(()));
    let verified = acting_as(&a_user(Role::Member).build());
    assert_eq!(service.admit(&verified, AccessPurpose::General), Ok(()));
}
