//! Builders, a fixed clock and recorders shared by the use-case tests.
//!
//! Everything here is deterministic except identifiers, which are fresh per call so that two
//! users or sessions built in one test never collide by accident.

use std::{
    any::Any,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Duration, Utc};
use forge_domain::{
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::{Email, FullName, PasswordHash, Role, User, UserId, UserParts, Username},
};

use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    account::AccountTokenChange,
    api_keys::ApiKeyChange,
    audit::{AuditAction, AuditRecord, OutboxEvent},
    auth::{SessionChange, ports::MockOpaqueTokens},
    common::{
        Actor, AnyConstraint, Change, Changes, ClientContext, CommitError, Constraint, MockClock, MockUnitOfWork,
    },
    limits::ThrottleChange,
    mail::{MailMessage, MockMailQueue, MockMailTemplates, Notice},
    projects::ProjectChange,
    users::UserChange,
};

/// The instant every test runs at.
pub(crate) fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).expect("a valid timestamp")
}

/// A clock stopped at [`now`].
pub(crate) fn fixed_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    clock
}

/// The stored hash of every user built here.
pub(crate) const STORED_HASH: &str = "$argon2id$v=19$stored";

/// A user with `role`, active, verified, never deleted, at version 3, with a unique e-mail
/// address and username. Adjust it with the builder's methods, then call [`UserBuilder::build`].
pub(crate) fn a_user(role: Role) -> UserBuilder {
    let id = UserId::generate();
    let handle = format!("u{}", id.as_uuid().simple());
    UserBuilder {
        parts: UserParts {
            id,
            email: Email::parse(&format!("{handle}@example.com")).expect("a valid e-mail address"),
            username: Username::parse(&handle).expect("a valid username"),
            full_name: None,
            role,
            password_hash: PasswordHash::new(STORED_HASH.into()),
            is_active: true,
            is_verified: true,
            created_at: now() - Duration::days(90),
            updated_at: now() - Duration::days(10),
            last_login_at: None,
            deleted_at: None,
            version: 3,
        },
    }
}

pub(crate) struct UserBuilder {
    parts: UserParts,
}

impl UserBuilder {
    pub(crate) fn email(mut self, raw: &str) -> Self {
        self.parts.email = Email::parse(raw).expect("a valid e-mail address");
        self
    }

    pub(crate) fn username(mut self, raw: &str) -> Self {
        self.parts.username = Username::parse(raw).expect("a valid username");
        self
    }

    pub(crate) fn full_name(mut self, raw: &str) -> Self {
        self.parts.full_name = Some(FullName::parse(raw).expect("a valid full name"));
        self
    }

    pub(crate) const fn unverified(mut self) -> Self {
        self.parts.is_verified = false;
        self
    }

    pub(crate) const fn inactive(mut self) -> Self {
        self.parts.is_active = false;
        self
    }

    pub(crate) fn deleted(mut self) -> Self {
        self.parts.deleted_at = Some(now() - Duration::days(1));
        self
    }

    pub(crate) const fn version(mut self, version: i64) -> Self {
        self.parts.version = version;
        self
    }

    pub(crate) fn build(self) -> User {
        User::from_parts(self.parts)
    }
}

/// An actor for `user`, authenticated through a session of its own.
pub(crate) fn acting_as(user: &User) -> Actor {
    Actor::new(user.clone(), Some(SessionId::generate()), ClientContext::default())
}

/// A session of `user_id` opened an hour ago, last used then, with a month to live.
pub(crate) fn a_session(user_id: UserId) -> Session {
    Session::open(
        user_id,
        now() - Duration::hours(1),
        Duration::days(30),
        Some("203.0.113.9".into()),
        Some("test-agent".into()),
    )
}

/// The unused refresh token of `session` issued an hour ago, valid for another six days.
pub(crate) fn a_refresh_token(session: &Session) -> RefreshToken {
    RefreshToken {
        digest: TokenDigest::new("presented-digest".into()),
        session_id: session.id,
        issued_at: now() - Duration::hours(1),
        expires_at: now() + Duration::days(6),
        used_at: None,
    }
}

/// A change as a test sees it: every capability's change type in one enum, so a test can match a
/// whole commit, in order, with one slice pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Written {
    User(UserChange),
    Session(SessionChange),
    ApiKey(ApiKeyChange),
    Throttle(ThrottleChange),
    Token(AccountTokenChange),
    Project(ProjectChange),
    Audit(AuditRecord),
    Event(OutboxEvent),
}

impl Written {
    fn of(change: &dyn Change) -> Self {
        let any = change as &dyn Any;
        if let Some(c) = any.downcast_ref::<UserChange>() {
            Self::User(c.clone())
        } else if let Some(c) = any.downcast_ref::<SessionChange>() {
            Self::Session(c.clone())
        } else if let Some(c) = any.downcast_ref::<ApiKeyChange>() {
            Self::ApiKey(c.clone())
        } else if let Some(c) = any.downcast_ref::<ThrottleChange>() {
            Self::Throttle(c.clone())
        } else if let Some(c) = any.downcast_ref::<AccountTokenChange>() {
            Self::Token(c.clone())
        } else if let Some(c) = any.downcast_ref::<ProjectChange>() {
            Self::Project(c.clone())
        } else if let Some(c) = any.downcast_ref::<AuditRecord>() {
            Self::Audit(c.clone())
        } else if let Some(c) = any.downcast_ref::<OutboxEvent>() {
            Self::Event(c.clone())
        } else {
            panic!("a change of a kind the tests do not know: {change:?}")
        }
    }

    /// Every change of `changes`, in order.
    pub(crate) fn all(changes: &Changes) -> Vec<Self> {
        changes.iter().map(Self::of).collect()
    }
}

/// A commit refused by `constraint`.
pub(crate) fn refused(constraint: impl Constraint) -> CommitError {
    CommitError::Constraint(AnyConstraint::new(constraint))
}

/// Every list of changes handed to a unit of work, in order.
#[derive(Clone, Default)]
pub(crate) struct Commits(Arc<Mutex<Vec<Vec<Written>>>>);

impl Commits {
    /// Every commit, its audit entries left out (see [`Commits::audits`]).
    pub(crate) fn all(&self) -> Vec<Vec<Written>> {
        self.everything()
            .into_iter()
            .map(|changes| changes.into_iter().filter(|c| !matches!(c, Written::Audit(_))).collect())
            .collect()
    }

    /// Every commit as it was handed over, audit entries included.
    pub(crate) fn everything(&self) -> Vec<Vec<Written>> {
        self.0.lock().expect("not poisoned").clone()
    }

    /// The changes of the one and only commit, its audit entries left out.
    pub(crate) fn single(&self) -> Vec<Written> {
        let all = self.all();
        assert_eq!(all.len(), 1, "expected exactly one commit, got {all:#?}");
        all.into_iter().next().expect("one commit")
    }

    /// The audit entries of every commit, in order.
    pub(crate) fn audits(&self) -> Vec<AuditRecord> {
        self.everything()
            .into_iter()
            .flatten()
            .filter_map(|c| match c {
                Written::Audit(record) => Some(record),
                _ => None,
            })
            .collect()
    }

    /// The actions of [`Commits::audits`].
    pub(crate) fn audit_actions(&self) -> Vec<AuditAction> {
        self.audits().into_iter().map(|r| r.action).collect()
    }
}

/// Makes `unit_of_work` record every commit and answer the `n`th (from 0) with `outcome(n)`.
pub(crate) fn record_commits(
    unit_of_work: &mut MockUnitOfWork,
    mut outcome: impl FnMut(usize) -> Result<(), CommitError> + Send + 'static,
) -> Commits {
    let commits = Commits::default();
    let log = commits.clone();
    unit_of_work.expect_commit().returning(move |changes| {
        let mut all = log.0.lock().expect("not poisoned");
        all.push(Written::all(&changes));
        outcome(all.len() - 1)
    });
    commits
}

/// The field and code of each validation error, in order.
pub(crate) fn fields_and_codes(errors: &crate::ValidationErrors) -> Vec<(&str, &'static str)> {
    errors.errors().iter().map(|e| (e.field.as_str(), e.code)).collect()
}

/// The account token every [`issue_account_tokens`] generator makes, and its digest.
pub(crate) const ACCOUNT_TOKEN: &str = "account-token";
pub(crate) const ACCOUNT_DIGEST: &str = "account-digest";

/// Makes `opaque_tokens` generate [`ACCOUNT_TOKEN`] (digest [`ACCOUNT_DIGEST`]) every time.
pub(crate) fn issue_account_tokens(opaque_tokens: &mut MockOpaqueTokens) {
    opaque_tokens
        .expect_generate()
        .returning(|| (SecretString::from(ACCOUNT_TOKEN), TokenDigest::new(ACCOUNT_DIGEST.into())));
}

/// Every message handed to a mail queue, in order.
#[derive(Clone, Default)]
pub(crate) struct Outbox(Arc<Mutex<Vec<MailMessage>>>);

impl Outbox {
    pub(crate) fn all(&self) -> Vec<MailMessage> {
        self.0.lock().expect("not poisoned").clone()
    }

    /// The one and only message.
    pub(crate) fn single(&self) -> MailMessage {
        let all = self.all();
        assert_eq!(all.len(), 1, "expected exactly one mail, got {all:#?}");
        all.into_iter().next().expect("one mail")
    }

    /// `(recipient, subject)` of each message; the subject is the notice's name.
    pub(crate) fn sent(&self) -> Vec<(String, String)> {
        self.all().into_iter().map(|m| (m.to.as_ref().to_owned(), m.subject)).collect()
    }
}

/// Templates that render a notice plainly (subject: its name; text and html: its link, or what
/// it says), and a queue that takes and records every message.
pub(crate) fn record_mail(templates: &mut MockMailTemplates, queue: &mut MockMailQueue) -> Outbox {
    templates.expect_render().returning(|to, notice| {
        let body = match notice {
            Notice::VerifyEmail { link, valid_for, .. } | Notice::ResetPassword { link, valid_for, .. } => {
                format!("{} ({}h)", link.expose_secret(), valid_for.num_hours())
            }
            Notice::PasswordChanged { username, .. } => format!("password of {username} changed"),
            Notice::EmailChanged { new_email, .. } => format!("address changed to {new_email}"),
            Notice::AddedToProject { project_name, role, .. } => format!("added to {project_name} as {role}"),
        };
        Ok(MailMessage { to: to.clone(), subject: notice.name().to_owned(), text: body.clone(), html: body })
    });
    let outbox = Outbox::default();
    let log = outbox.clone();
    queue.expect_enqueue().returning(move |message| {
        log.0.lock().expect("not poisoned").push(message);
        Ok(())
    });
    outbox
}
