//! Actors for tests: a user of some role, and the [`Actor`] a use case acts for, stored in the
//! in-memory store or not.

use chrono::{DateTime, Utc};
use forge_domain::{
    sessions::SessionId,
    users::{Email, FullName, NewUser, Role, User, Username},
};
use uuid::Uuid;

use super::{FakePasswordHasher, FixedClock, InMemoryStore};
use crate::{
    common::{Actor, Changes, ClientContext, CommitError, Fields, Parsed, ValidationErrors},
    users::UserChange,
};

/// The password of every user an [`ActorBuilder`] makes, unless it is given another one. It
/// satisfies the default password policy, so a test may also type it into a use case.
pub const DEFAULT_PASSWORD: &str = "Quiet-Harbor-Lantern-42";

/// Builds a [`User`] of a role and the [`Actor`] for it.
///
/// By default the user is active and verified, at version 1, created at
/// [`FixedClock::default_start`], with a unique e-mail address (`u<hex>@example.com`) and
/// username (`u<hex>`), no full name, and the password [`DEFAULT_PASSWORD`] hashed by
/// [`FakePasswordHasher`] (so it can log in through the fakes). The actor has no session and no
/// client context, as when an embedding service calls a use case directly.
///
/// [`build`](ActorBuilder::build) makes the actor alone; [`store_in`](ActorBuilder::store_in)
/// also stores its user, which use cases that read the actor's account (API keys, projects)
/// need. [`InMemory::actor`](super::InMemory::actor) starts a builder at the harness's clock.
#[derive(Debug, Clone)]
#[must_use]
pub struct ActorBuilder {
    role: Role,
    email: Option<String>,
    username: Option<String>,
    full_name: Option<String>,
    password: String,
    is_active: bool,
    is_verified: bool,
    created_at: DateTime<Utc>,
    session_id: Option<SessionId>,
    context: ClientContext,
}

/// Why an [`ActorBuilder`] made no actor.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// An e-mail address, username or full name given to the builder is invalid.
    #[error("the actor's account is invalid: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The store refused the user (a taken e-mail address or username).
    #[error("the actor's account could not be stored: {0}")]
    NotStored(#[from] CommitError),
}

impl ActorBuilder {
    /// A user with `role`, with the defaults above.
    pub fn new(role: Role) -> Self {
        Self {
            role,
            email: None,
            username: None,
            full_name: None,
            password: DEFAULT_PASSWORD.to_owned(),
            is_active: true,
            is_verified: true,
            created_at: FixedClock::default_start(),
            session_id: None,
            context: ClientContext::default(),
        }
    }

    /// An admin.
    pub fn admin() -> Self {
        Self::new(Role::Admin)
    }

    /// A manager.
    pub fn manager() -> Self {
        Self::new(Role::Manager)
    }

    /// A member.
    pub fn member() -> Self {
        Self::new(Role::Member)
    }

    /// The raw e-mail address (parsed when the user is built).
    pub fn email(mut self, raw: &str) -> Self {
        self.email = Some(raw.to_owned());
        self
    }

    /// The raw username (parsed when the user is built).
    pub fn username(mut self, raw: &str) -> Self {
        self.username = Some(raw.to_owned());
        self
    }

    /// The raw full name (parsed when the user is built).
    pub fn full_name(mut self, raw: &str) -> Self {
        self.full_name = Some(raw.to_owned());
        self
    }

    /// The password, instead of [`DEFAULT_PASSWORD`] (not checked against any policy).
    pub fn password(mut self, password: &str) -> Self {
        password.clone_into(&mut self.password);
        self
    }

    /// An address not verified yet.
    pub const fn unverified(mut self) -> Self {
        self.is_verified = false;
        self
    }

    /// A deactivated account (it cannot log in or act).
    pub const fn inactive(mut self) -> Self {
        self.is_active = false;
        self
    }

    /// Created (and last updated) at `at`.
    pub const fn created_at(mut self, at: DateTime<Utc>) -> Self {
        self.created_at = at;
        self
    }

    /// Acting through the session `id` (the builder stores no session).
    pub const fn session(mut self, id: SessionId) -> Self {
        self.session_id = Some(id);
        self
    }

    /// Where the actor's requests come from (it goes into audit entries).
    pub fn context(mut self, context: ClientContext) -> Self {
        self.context = context;
        self
    }

    /// The user alone.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `email`, `username` or `full_name` when a value given to the
    /// builder is invalid.
    pub fn user(&self) -> Result<User, ValidationErrors> {
        let handle = format!("u{}", Uuid::new_v4().simple());
        let email = self.email.clone().unwrap_or_else(|| format!("{handle}@example.com"));
        let username = self.username.as_deref().unwrap_or(&handle);
        let (email, username, full_name) = (
            Parsed::field("email", Email::parse(&email)),
            Parsed::field("username", Username::parse(username)),
            Parsed::field("full_name", self.full_name.as_deref().map(FullName::parse).transpose()),
        )
            .finish()?;
        Ok(User::register(
            NewUser {
                email,
                username,
                full_name,
                role: self.role,
                password_hash: FakePasswordHasher::new().hash_now(&self.password),
                is_active: self.is_active,
                is_verified: self.is_verified,
            },
            self.created_at,
        ))
    }

    /// The actor, its user not stored anywhere.
    ///
    /// # Errors
    /// [`ValidationErrors`] as for [`ActorBuilder::user`].
    pub fn build(self) -> Result<Actor, ValidationErrors> {
        let user = self.user()?;
        Ok(Actor::new(user, self.session_id, self.context))
    }

    /// The actor, its user stored in `store` (the user alone: no audit entry, no mail).
    ///
    /// # Errors
    /// [`ActorError::Invalid`] as for [`ActorBuilder::user`]; [`ActorError::NotStored`] when the
    /// store refuses the user (its e-mail address or username is taken).
    pub fn store_in(self, store: &InMemoryStore) -> Result<Actor, ActorError> {
        let user = self.user()?;
        store.apply(Changes::from(UserChange::Insert(user.clone())))?;
        Ok(Actor::new(user, self.session_id, self.context))
    }
}
