//! Unit tests of the account flows, every port mocked.

use crate::account::AccountTokenChange;
use crate::auth::SessionChange;
use crate::common::Staleness;
use crate::test_support::Written;
use crate::users::UserChange;
use std::sync::Arc;

use chrono::Duration;
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    sessions::{Session, TokenDigest},
    users::{Email, PasswordHash, Role, User},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    AccountError, AccountPorts, AccountService, ChangePasswordCommand, ForgotPasswordCommand, ResetPasswordCommand,
    ports::MockAccountTokenRepository,
};
use crate::{
    audit::AuditAction,
    auth::{
        AuthSettings,
        ports::{MockOpaqueTokens, MockPasswordHasher, MockSessionRepository},
    },
    common::{ClientContext, CommitError, MockUnitOfWork, UnexpectedError},
    mail::{MockMailQueue, MockMailTemplates},
    test_support::{
        ACCOUNT_DIGEST, Outbox, STORED_HASH, a_session, a_user, acting_as, fields_and_codes, fixed_clock,
        issue_account_tokens, now, record_commits, record_mail,
    },
    users::ports::MockUserRepository,
};

const PRESENTED: &str = "presented-account-token";
const PRESENTED_DIGEST: &str = "presented-digest";
const CURRENT_PASSWORD: &str = "Correct-Horse-42-Battery";
const NEW_PASSWORD: &str = "Tr1cky-Lovelace-Engine!";

/// Every port of [`AccountService`], as mocks; the clock is stopped at [`now`].
struct Mocks {
    users: MockUserRepository,
    sessions: MockSessionRepository,
    tokens: MockAccountTokenRepository,
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
            tokens: MockAccountTokenRepository::new(),
            unit_of_work: MockUnitOfWork::new(),
            hasher: MockPasswordHasher::new(),
            opaque_tokens: MockOpaqueTokens::new(),
            mail_templates: MockMailTemplates::new(),
            mail_queue: MockMailQueue::new(),
        }
    }

    fn service(self) -> AccountService {
        AccountService::new(
            AccountPorts {
                users: Arc::new(self.users),
                sessions: Arc::new(self.sessions),
                tokens: Arc::new(self.tokens),
                unit_of_work: Arc::new(self.unit_of_work),
                hasher: Arc::new(self.hasher),
                opaque_tokens: Arc::new(self.opaque_tokens),
                mail_templates: Arc::new(self.mail_templates),
                mail_queue: Arc::new(self.mail_queue),
                clock: Arc::new(fixed_clock()),
            },
            AuthSettings { public_url: "https://app.example.com/".into(), ..AuthSettings::default() },
        )
    }

    /// [`PRESENTED`] digests to [`PRESENTED_DIGEST`], under which `token` is stored (if any),
    /// and its account is `user` (if any).
    fn present(&mut self, token: Option<AccountToken>, user: Option<&User>) {
        self.opaque_tokens
            .expect_digest()
            .withf(|raw| raw == PRESENTED)
            .return_const(TokenDigest::new(PRESENTED_DIGEST.into()));
        self.tokens.expect_by_digest().withf(|d| d.as_str() == PRESENTED_DIGEST).returning(move |_| Ok(token.clone()));
        if let Some(user) = user {
            let (id, found) = (user.id(), user.clone());
            self.users.expect_by_id().withf(move |i| *i == id).returning(move |_| Ok(Some(found.clone())));
        }
    }

    /// Nothing is written, revoked or mailed.
    fn nothing_happens(&mut self) {
        self.unit_of_work.expect_commit().never();
        self.mail_queue.expect_enqueue().never();
    }

    fn mail(&mut self) -> Outbox {
        record_mail(&mut self.mail_templates, &mut self.mail_queue)
    }

    fn active_sessions(&mut self, user: &User, sessions: Vec<Session>) {
        let id = user.id();
        self.sessions
            .expect_active_for_user()
            .withf(move |u, at| *u == id && *at == now())
            .times(1)
            .returning(move |_, _| Ok(sessions.clone()));
    }

    fn hash_the_new_password(&mut self) {
        self.hasher
            .expect_hash()
            .withf(|p| p.expose_secret() == NEW_PASSWORD)
            .times(1)
            .returning(|_| Ok(PasswordHash::new("$argon2id$new".into())));
    }
}

/// A stored token of `user` for `purpose`, sent to its current address an hour ago.
fn token_of(user: &User, purpose: TokenPurpose, valid_for: Duration) -> AccountToken {
    AccountToken::issue(
        TokenDigest::new(PRESENTED_DIGEST.into()),
        user.id(),
        purpose,
        user.email().clone(),
        now() - Duration::hours(1),
        valid_for,
    )
}

fn assert_invalid_token(result: Result<(), AccountError>) {
    let Err(AccountError::Validation(errors)) = result else { panic!("expected INVALID_TOKEN, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("token", "INVALID_TOKEN")]);
}

fn presented() -> SecretString {
    SecretString::from(PRESENTED)
}

// ---------------------------------------------------------------------------------------------
// verify_email

#[tokio::test]
async fn verify_email_marks_the_address_verified_and_uses_the_token_up_in_one_commit() {
    let user = a_user(Role::Member).unverified().build();
    let mut m = Mocks::new();
    m.present(Some(token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(24))), Some(&user));
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().verify_email(presented(), ClientContext::default()).await.unwrap();

    let changes = commits.single();
    let [
        Written::Token(AccountTokenChange::Consume { digest }),
        Written::User(UserChange::Update { user: stored, expected_version }),
    ] = changes.as_slice()
    else {
        panic!("expected the token used up and the user updated, got {changes:#?}");
    };
    assert_eq!(digest.as_str(), PRESENTED_DIGEST);
    assert!(stored.is_verified());
    assert_eq!((*expected_version, stored.version()), (3, 4));
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!((audit.action, audit.actor_id), (AuditAction::UserEmailVerified, None));
    assert_eq!(audit.entity_id, user.id().to_string());
}

#[tokio::test]
async fn verify_email_refuses_an_unknown_token_and_changes_nothing() {
    let mut m = Mocks::new();
    m.present(None, None);
    m.users.expect_by_id().never();
    m.nothing_happens();

    assert_invalid_token(m.service().verify_email(presented(), ClientContext::default()).await);
}

#[tokio::test]
async fn verify_email_refuses_an_expired_token() {
    let user = a_user(Role::Member).unverified().build();
    let mut m = Mocks::new();
    // Issued an hour ago for an hour: it expires exactly now.
    m.present(Some(token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(1))), Some(&user));
    m.nothing_happens();

    assert_invalid_token(m.service().verify_email(presented(), ClientContext::default()).await);
}

#[tokio::test]
async fn verify_email_refuses_a_password_reset_token() {
    let user = a_user(Role::Member).unverified().build();
    let mut m = Mocks::new();
    m.present(Some(token_of(&user, TokenPurpose::ResetPassword, Duration::hours(24))), Some(&user));
    m.nothing_happens();

    assert_invalid_token(m.service().verify_email(presented(), ClientContext::default()).await);
}

#[tokio::test]
async fn verify_email_refuses_a_token_sent_to_an_address_the_account_no_longer_has() {
    let user = a_user(Role::Member).unverified().build();
    let mut token = token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(24));
    token.email = Email::parse("old@example.com").unwrap();
    let mut m = Mocks::new();
    m.present(Some(token), Some(&user));
    m.nothing_happens();

    assert_invalid_token(m.service().verify_email(presented(), ClientContext::default()).await);
}

#[tokio::test]
async fn verify_email_refuses_the_token_of_a_deleted_or_disabled_account() {
    for user in
        [a_user(Role::Member).unverified().deleted().build(), a_user(Role::Member).unverified().inactive().build()]
    {
        let mut m = Mocks::new();
        m.present(Some(token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(24))), Some(&user));
        m.nothing_happens();

        assert_invalid_token(m.service().verify_email(presented(), ClientContext::default()).await);
    }
}

#[tokio::test]
async fn verify_email_of_an_already_verified_address_only_uses_the_token_up() {
    let user = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.present(Some(token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(24))), Some(&user));
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().verify_email(presented(), ClientContext::default()).await.unwrap();

    assert!(matches!(commits.single().as_slice(), [Written::Token(AccountTokenChange::Consume { .. })]));
    assert!(commits.audits().is_empty());
}

#[tokio::test]
async fn verify_email_tries_again_when_the_account_changed_meanwhile() {
    let user = a_user(Role::Member).unverified().build();
    let mut m = Mocks::new();
    m.present(Some(token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(24))), Some(&user));
    let commits = record_commits(&mut m.unit_of_work, |n| if n == 0 { Err(CommitError::Stale) } else { Ok(()) });

    m.service().verify_email(presented(), ClientContext::default()).await.unwrap();

    assert_eq!(commits.all().len(), 2);
}

#[tokio::test]
async fn verify_email_after_a_racing_use_of_the_same_token_is_refused() {
    let user = a_user(Role::Member).unverified().build();
    let token = token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(24));
    let mut m = Mocks::new();
    m.opaque_tokens.expect_digest().return_const(TokenDigest::new(PRESENTED_DIGEST.into()));
    // Found on the first read; gone (used by the other request) on the second.
    let mut reads = 0;
    m.tokens.expect_by_digest().returning(move |_| {
        reads += 1;
        Ok((reads == 1).then(|| token.clone()))
    });
    let found = user.clone();
    m.users.expect_by_id().returning(move |_| Ok(Some(found.clone())));
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));

    assert_invalid_token(m.service().verify_email(presented(), ClientContext::default()).await);
}

#[tokio::test]
async fn verify_email_propagates_a_storage_failure() {
    let mut m = Mocks::new();
    m.opaque_tokens.expect_digest().return_const(TokenDigest::new(PRESENTED_DIGEST.into()));
    m.tokens.expect_by_digest().returning(|_| Err(UnexpectedError::unavailable("down")));

    let result = m.service().verify_email(presented(), ClientContext::default()).await;

    assert!(matches!(result, Err(AccountError::Unexpected(_))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// resend_verification

#[tokio::test]
async fn resend_issues_a_new_verification_token_replacing_the_earlier_ones_and_mails_it() {
    let user = a_user(Role::Member).unverified().build();
    let mut m = Mocks::new();
    issue_account_tokens(&mut m.opaque_tokens);
    let outbox = m.mail();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().resend_verification(&acting_as(&user)).await.unwrap();

    let changes = commits.single();
    let [
        Written::Token(AccountTokenChange::Discard { user_id, purpose }),
        Written::Token(AccountTokenChange::Insert(token)),
    ] = changes.as_slice()
    else {
        panic!("expected the earlier tokens discarded and a new one stored, got {changes:#?}");
    };
    assert_eq!((*user_id, *purpose), (user.id(), TokenPurpose::VerifyEmail));
    assert_eq!(
        (token.purpose, token.digest.as_str(), &token.email),
        (TokenPurpose::VerifyEmail, ACCOUNT_DIGEST, user.email())
    );
    assert_eq!(token.expires_at, now() + Duration::hours(24));
    let mail = outbox.single();
    assert_eq!((&mail.to, mail.subject.as_str()), (user.email(), "verify_email"));
    assert_eq!(mail.text, "https://app.example.com/verify-email?token=account-token (24h)");
}

#[tokio::test]
async fn resend_to_a_verified_address_does_nothing() {
    let user = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.opaque_tokens.expect_generate().never();
    m.nothing_happens();

    m.service().resend_verification(&acting_as(&user)).await.unwrap();
}

#[tokio::test]
async fn resend_mails_nothing_when_the_token_cannot_be_stored() {
    let user = a_user(Role::Member).unverified().build();
    let mut m = Mocks::new();
    issue_account_tokens(&mut m.opaque_tokens);
    m.mail_queue.expect_enqueue().never();
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(UnexpectedError::unavailable("down"))));

    let result = m.service().resend_verification(&acting_as(&user)).await;

    assert!(matches!(result, Err(AccountError::Unexpected(_))), "{result:?}");
}

#[tokio::test]
async fn a_mail_queue_failure_does_not_fail_the_request() {
    let user = a_user(Role::Member).unverified().build();
    let mut m = Mocks::new();
    issue_account_tokens(&mut m.opaque_tokens);
    record_mail(&mut m.mail_templates, &mut MockMailQueue::new());
    m.mail_queue.expect_enqueue().times(1).returning(|_| Err(UnexpectedError::unavailable("the queue is full")));
    record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().resend_verification(&acting_as(&user)).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// forgot_password

fn forgot(email: &str) -> ForgotPasswordCommand {
    ForgotPasswordCommand { email: email.into(), context: ClientContext::default() }
}

#[tokio::test]
async fn forgot_password_stores_a_one_hour_reset_token_and_mails_the_link() {
    let user = a_user(Role::Member).email("ada@example.com").build();
    let mut m = Mocks::new();
    let found = user.clone();
    m.users.expect_by_email().withf(|e| e.as_ref() == "ada@example.com").returning(move |_| Ok(Some(found.clone())));
    issue_account_tokens(&mut m.opaque_tokens);
    let outbox = m.mail();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().forgot_password(forgot(" ADA@example.com ")).await.unwrap();

    let changes = commits.single();
    let [
        Written::Token(AccountTokenChange::Discard { purpose, .. }),
        Written::Token(AccountTokenChange::Insert(token)),
    ] = changes.as_slice()
    else {
        panic!("expected the earlier tokens discarded and a new one stored, got {changes:#?}");
    };
    assert_eq!((*purpose, token.purpose), (TokenPurpose::ResetPassword, TokenPurpose::ResetPassword));
    assert_eq!((token.user_id, token.expires_at), (user.id(), now() + Duration::hours(1)));
    assert!(commits.audits().is_empty(), "issuing a token changes no account");
    let mail = outbox.single();
    assert_eq!((mail.to.as_ref(), mail.subject.as_str()), ("ada@example.com", "reset_password"));
    assert_eq!(mail.text, "https://app.example.com/reset-password?token=account-token (1h)");
}

#[tokio::test]
async fn forgot_password_for_an_unknown_address_does_the_same_work_but_stores_and_sends_nothing() {
    let mut m = Mocks::new();
    m.users.expect_by_email().times(1).returning(|_| Ok(None));
    m.opaque_tokens
        .expect_generate()
        .times(1)
        .returning(|| (SecretString::from("decoy"), TokenDigest::new("decoy-digest".into())));
    m.mail_templates.expect_render().times(1).returning(|to, notice| {
        Ok(crate::mail::MailMessage {
            to: to.clone(),
            subject: notice.name().into(),
            text: String::new(),
            html: String::new(),
        })
    });
    m.nothing_happens();

    m.service().forgot_password(forgot("nobody@example.com")).await.unwrap();
}

#[tokio::test]
async fn forgot_password_for_a_disabled_or_deleted_account_sends_nothing() {
    for user in [a_user(Role::Member).inactive().build(), a_user(Role::Member).deleted().build()] {
        let mut m = Mocks::new();
        m.users.expect_by_email().returning(move |_| Ok(Some(user.clone())));
        issue_account_tokens(&mut m.opaque_tokens);
        m.mail_templates.expect_render().returning(|to, notice| {
            Ok(crate::mail::MailMessage {
                to: to.clone(),
                subject: notice.name().into(),
                text: String::new(),
                html: String::new(),
            })
        });
        m.nothing_happens();

        m.service().forgot_password(forgot("ada@example.com")).await.unwrap();
    }
}

#[tokio::test]
async fn forgot_password_refuses_something_that_is_not_an_address() {
    let mut m = Mocks::new();
    m.users.expect_by_email().never();
    m.nothing_happens();

    let result = m.service().forgot_password(forgot("not-an-address")).await;

    let Err(AccountError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("email", "INVALID_FORMAT")]);
}

// ---------------------------------------------------------------------------------------------
// reset_password

fn reset(new_password: &str) -> ResetPasswordCommand {
    ResetPasswordCommand {
        token: presented(),
        new_password: SecretString::from(new_password),
        context: ClientContext::default(),
    }
}

#[tokio::test]
async fn reset_password_sets_the_new_password_uses_the_token_up_and_ends_every_session() {
    let user = a_user(Role::Member).build();
    let sessions = vec![a_session(user.id()), a_session(user.id())];
    let mut m = Mocks::new();
    m.present(Some(token_of(&user, TokenPurpose::ResetPassword, Duration::hours(2))), Some(&user));
    m.hash_the_new_password();
    m.active_sessions(&user, sessions.clone());
    let outbox = m.mail();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().reset_password(reset(NEW_PASSWORD)).await.unwrap();

    let changes = commits.single();
    let [
        Written::Token(AccountTokenChange::Consume { digest }),
        Written::User(UserChange::Update { user: stored, .. }),
        Written::Session(SessionChange::Revoke { id: first, .. }),
        Written::Session(SessionChange::Revoke { id: second, .. }),
    ] = changes.as_slice()
    else {
        panic!("expected the token used, the password changed and both sessions ended, got {changes:#?}");
    };
    assert_eq!(digest.as_str(), PRESENTED_DIGEST);
    assert_eq!(stored.password_hash().expose(), "$argon2id$new");
    assert_eq!([*first, *second], [sessions[0].id, sessions[1].id]);
    assert_eq!(
        commits.audit_actions(),
        [AuditAction::UserPasswordReset, AuditAction::SessionRevoked, AuditAction::SessionRevoked]
    );
    let audit = &commits.audits()[0];
    assert_eq!(audit.actor_id, None);
    assert!(!format!("{audit:?}").contains("argon2"), "the audit entry holds no hash");
    assert_eq!(outbox.sent(), [(user.email().as_ref().to_owned(), "password_changed".to_owned())]);
}

#[tokio::test]
async fn reset_password_refuses_an_unusable_token_without_hashing_anything() {
    let user = a_user(Role::Member).build();
    for token in [
        None,
        Some(token_of(&user, TokenPurpose::ResetPassword, Duration::hours(1))),
        Some(token_of(&user, TokenPurpose::VerifyEmail, Duration::hours(24))),
    ] {
        let mut m = Mocks::new();
        m.present(token, Some(&user));
        m.hasher.expect_hash().never();
        m.nothing_happens();

        assert_invalid_token(m.service().reset_password(reset(NEW_PASSWORD)).await);
    }
}

#[tokio::test]
async fn reset_password_refuses_a_new_password_against_the_policy_and_keeps_the_token() {
    let user = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.present(Some(token_of(&user, TokenPurpose::ResetPassword, Duration::hours(2))), Some(&user));
    m.hasher.expect_hash().never();
    m.nothing_happens();

    let result = m.service().reset_password(reset("password1")).await;

    let Err(AccountError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(errors.errors()[0].field, "new_password");
}

// ---------------------------------------------------------------------------------------------
// change_password

fn change(current: &str, new: &str) -> ChangePasswordCommand {
    ChangePasswordCommand { current_password: SecretString::from(current), new_password: SecretString::from(new) }
}

fn current_password_is(m: &mut Mocks, password: &'static str, matches: bool) {
    m.hasher
        .expect_verify()
        .withf(move |given, hash| {
            given.expose_secret() == password && hash.as_ref().map(PasswordHash::expose) == Some(STORED_HASH)
        })
        .times(1)
        .returning(move |_, _| Ok(matches));
}

#[tokio::test]
async fn change_password_stores_the_new_hash_and_ends_the_other_sessions_but_not_the_current_one() {
    let user = a_user(Role::Member).build();
    let actor = acting_as(&user);
    let current = actor.session_id().expect("a session");
    let mut this_one = a_session(user.id());
    this_one.id = current;
    let other = a_session(user.id());
    let mut m = Mocks::new();
    current_password_is(&mut m, CURRENT_PASSWORD, true);
    m.hash_the_new_password();
    m.active_sessions(&user, vec![this_one, other.clone()]);
    let outbox = m.mail();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().change_password(&actor, change(CURRENT_PASSWORD, NEW_PASSWORD)).await.unwrap();

    let changes = commits.single();
    let [
        Written::User(UserChange::Update { user: stored, expected_version: 3 }),
        Written::Token(AccountTokenChange::Discard { purpose: TokenPurpose::ResetPassword, .. }),
        Written::Session(SessionChange::Revoke { id, .. }),
    ] = changes.as_slice()
    else {
        panic!("expected the password changed, reset links discarded and one session ended, got {changes:#?}");
    };
    assert_eq!(stored.password_hash().expose(), "$argon2id$new");
    assert_eq!(*id, other.id);
    assert_eq!(commits.audit_actions(), [AuditAction::UserPasswordChanged, AuditAction::SessionRevoked]);
    assert_eq!(commits.audits()[0].actor_id, Some(user.id()));
    assert_eq!(outbox.sent(), [(user.email().as_ref().to_owned(), "password_changed".to_owned())]);
}

#[tokio::test]
async fn change_password_refuses_a_wrong_current_password_and_changes_nothing() {
    let user = a_user(Role::Member).build();
    let mut m = Mocks::new();
    current_password_is(&mut m, "guess", false);
    m.hasher.expect_hash().never();
    m.nothing_happens();

    let result = m.service().change_password(&acting_as(&user), change("guess", NEW_PASSWORD)).await;

    let Err(AccountError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("current_password", "INVALID_PASSWORD")]);
}

#[tokio::test]
async fn change_password_lists_a_weak_new_password_and_a_wrong_current_one_together() {
    let user = a_user(Role::Member).build();
    let mut m = Mocks::new();
    current_password_is(&mut m, "guess", false);
    m.nothing_happens();

    let result = m.service().change_password(&acting_as(&user), change("guess", "short")).await;

    let Err(AccountError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("new_password", "TOO_SHORT"), ("current_password", "INVALID_PASSWORD")]);
}

#[tokio::test]
async fn change_password_reports_a_concurrent_change_of_the_account_as_a_lost_race() {
    let user = a_user(Role::Member).build();
    let mut m = Mocks::new();
    current_password_is(&mut m, CURRENT_PASSWORD, true);
    m.hash_the_new_password();
    m.active_sessions(&user, Vec::new());
    m.mail_queue.expect_enqueue().never();
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));

    let result = m.service().change_password(&acting_as(&user), change(CURRENT_PASSWORD, NEW_PASSWORD)).await;

    assert!(matches!(result, Err(AccountError::Stale(Staleness::LostRace))), "{result:?}");
}
