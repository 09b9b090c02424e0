//! The users service: its ports, one's own profile, and reading, creating, changing, deleting
//! and restoring accounts. Bulk creation is in [`super::bulk`].

use std::sync::Arc;

use forge_domain::{
    account_tokens::TokenPurpose,
    users::{Email, FullName, NewUser, PasswordPolicy, Role, User, UserId, UserStateError, Username},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    UserChange,
    draft::AccountDraft,
    errors::{UserConflict, UserError},
    policy::{self, Viewer},
    ports::{UserQuery, UserRepository},
};
use crate::{
    account::{AccountTokenChange, tokens},
    audit::{AuditAction, AuditEntity, AuditRecord, Snapshot},
    auth::{
        AuthSettings,
        ports::{OpaqueTokens, PasswordHasher, SessionRepository},
        service::{SessionEnding, end_sessions},
    },
    common::{
        Actor, Changes, ClientContext, Clock, FieldError, Fields, Page, Parsed, Staleness, UnitOfWork, ValidationErrors,
    },
    mail::{self, MailQueue, MailTemplates, Notice},
};

/// The ports users management needs.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct UserPorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub opaque_tokens: Arc<dyn OpaqueTokens>,
    pub mail_templates: Arc<dyn MailTemplates>,
    pub mail_queue: Arc<dyn MailQueue>,
}

/// An account created by an admin.
#[derive(Debug, Clone)]
pub struct CreateUserCommand {
    /// Raw e-mail address.
    pub email: String,
    /// Raw username.
    pub username: String,
    /// The initial password.
    pub password: SecretString,
    /// Raw display name.
    pub full_name: Option<String>,
    /// Raw role name; `member` when absent.
    pub role: Option<String>,
    /// Whether the account may log in; `true` when absent.
    pub is_active: Option<bool>,
}

/// An admin account created by the operator (command line or start-up bootstrap), not by an actor.
#[derive(Debug, Clone)]
pub struct NewAdminCommand {
    /// Raw e-mail address.
    pub email: String,
    /// Raw username.
    pub username: String,
    /// The password.
    pub password: SecretString,
}

/// Changes to one's own profile. `None` leaves a field as it is; `full_name: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New raw e-mail address (the address becomes unverified).
    pub email: Option<String>,
    /// New raw username.
    pub username: Option<String>,
    /// New raw display name, or `Some(None)` to clear it.
    pub full_name: Option<Option<String>>,
    /// The account's password, required when a user changes its own e-mail address (so a
    /// stolen access token cannot take over the account through a reset mailed to a new
    /// address); not needed by an admin changing someone else's.
    pub current_password: Option<SecretString>,
}

/// Changes to an account. `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// The profile fields.
    pub profile: ProfileUpdate,
    /// New raw role name (admins only).
    pub role: Option<String>,
    /// New active flag (admins only).
    pub is_active: Option<bool>,
    /// When set, the change applies only if the account is still at this version.
    pub expected_version: Option<i64>,
}

/// Users management.
#[derive(Clone)]
pub struct UserService {
    pub(super) ports: UserPorts,
    pub(super) settings: Arc<AuthSettings>,
}

impl UserService {
    /// Builds the service. It shares the authentication settings (password policy, token
    /// lifetimes).
    #[must_use]
    pub fn new(ports: UserPorts, settings: AuthSettings) -> Self {
        Self { ports, settings: Arc::new(settings) }
    }

    /// The actor's own account.
    #[must_use]
    pub fn me(&self, actor: &Actor) -> User {
        actor.user().clone()
    }

    /// One user: the actor itself, or anyone for admins and managers.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for anyone else (checked before existence, so ids reveal
    /// nothing); [`UserError::NotFound`] for unknown or deleted users.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), user_id = %id))]
    pub async fn get(&self, actor: &Actor, id: UserId) -> Result<User, UserError> {
        if !policy::can_read(viewer(actor), id) {
            return Err(UserError::Forbidden);
        }
        self.load_live(id).await
    }

    /// Whether the actor may list users at all: lets a caller refuse before even parsing a query.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for members.
    pub fn authorize_list(&self, actor: &Actor) -> Result<(), UserError> {
        if policy::can_list(viewer(actor)) { Ok(()) } else { Err(UserError::Forbidden) }
    }

    /// A page of users, for admins and managers.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for members.
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn list(&self, actor: &Actor, query: &UserQuery) -> Result<Page<User>, UserError> {
        self.authorize_list(actor)?;
        Ok(self.ports.users.list(query).await?)
    }

    /// Creates an account with any role (admins only). The address is unverified, and the new
    /// account is mailed a link to verify it.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], every invalid field, a taken address or username.
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn create(&self, actor: &Actor, cmd: CreateUserCommand) -> Result<User, UserError> {
        if !policy::can_create(viewer(actor)) {
            return Err(UserError::Forbidden);
        }
        let (draft, role) = parse_new_user(&cmd, &self.settings.password_policy).finish()?;
        let account = Account { role, is_active: cmd.is_active.unwrap_or(true), is_verified: false };
        self.insert(draft, account, cmd.password, Some(actor.id()), actor.context()).await
    }

    /// Creates an admin on the operator's behalf (`forge create-admin`, start-up bootstrap).
    /// The address counts as verified.
    ///
    /// # Errors
    /// Every invalid field, a taken address or username.
    #[tracing::instrument(skip_all)]
    pub async fn create_admin(&self, cmd: NewAdminCommand) -> Result<User, UserError> {
        let draft = AccountDraft::parse(
            &cmd.email,
            &cmd.username,
            cmd.password.expose_secret(),
            None,
            &self.settings.password_policy,
        )
        .finish()?;
        let account = Account { role: Role::Admin, is_active: true, is_verified: true };
        self.insert(draft, account, cmd.password, None, &ClientContext::default()).await
    }

    /// Creates the admin described by `cmd` unless an admin already exists.
    ///
    /// # Errors
    /// As [`UserService::create_admin`].
    pub async fn ensure_admin(&self, cmd: NewAdminCommand) -> Result<Option<User>, UserError> {
        if self.ports.users.admin_exists().await? {
            return Ok(None);
        }
        self.create_admin(cmd).await.map(Some)
    }

    /// Changes the actor's own profile.
    ///
    /// # Errors
    /// As [`UserService::update`].
    pub async fn update_me(
        &self,
        actor: &Actor,
        update: ProfileUpdate,
        expected_version: Option<i64>,
    ) -> Result<User, UserError> {
        self.update(actor, actor.id(), UserUpdate { profile: update, expected_version, ..UserUpdate::default() }).await
    }

    /// Changes an account: its own profile fields for the user itself; anything for admins.
    /// Only admins change `role` and `is_active`; sending them unchanged is allowed to anyone, so
    /// a client can send back what it read. Deactivating an account ends its sessions. An admin
    /// cannot demote or deactivate itself, so an installation is never left without an admin by
    /// accident.
    ///
    /// A user changing its own e-mail address must give its current password. A new address is
    /// unverified: a verification link is mailed to it, and the old address is told of the change.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`], every invalid field (`current_password`:
    /// `REQUIRED` or `INVALID_PASSWORD` for one's own address change), a taken address or
    /// username ([`UserError::Conflict`]), [`UserError::Stale`] when the account changed
    /// meanwhile.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), user_id = %id))]
    pub async fn update(&self, actor: &Actor, id: UserId, update: UserUpdate) -> Result<User, UserError> {
        let manages = policy::can_manage(viewer(actor));
        if !policy::can_edit(viewer(actor), id) {
            return Err(UserError::Forbidden);
        }
        let current = self.load_live(id).await?;
        Staleness::check(update.expected_version, current.version()).map_err(UserError::Stale)?;

        let email = Parsed::field("email", update.profile.email.as_deref().map(Email::parse).transpose());
        let username = Parsed::field("username", update.profile.username.as_deref().map(Username::parse).transpose());
        let full_name = match &update.profile.full_name {
            Some(Some(raw)) => Parsed::field("full_name", FullName::parse(raw)).map(|name| Some(Some(name))),
            Some(None) => Parsed::valid(Some(None)),
            None => Parsed::valid(None),
        };
        let role = Parsed::field("role", update.role.as_deref().map(str::parse::<Role>).transpose());
        let email_changes = matches!(email.value(), Some(Some(e)) if e != current.email());
        let needs_password = email_changes && actor.is(id);
        let current_password = if needs_password && update.profile.current_password.is_none() {
            Parsed::invalid(FieldError::new("current_password", "REQUIRED", "is required to change the e-mail address"))
        } else {
            Parsed::valid(())
        };
        let (email, username, full_name, role, ()) = (email, username, full_name, role, current_password).finish()?;

        let role_changes = role.is_some_and(|r| r != current.role());
        let active_changes = update.is_active.is_some_and(|a| a != current.is_active());
        if (role_changes || active_changes) && !manages {
            return Err(UserError::Forbidden);
        }
        if actor.is(id) && (role_changes || update.is_active == Some(false)) {
            return Err(UserConflict::SelfDemotion.into());
        }
        // Before the uniqueness checks: without the password, a caller learns nothing about
        // which addresses are taken.
        if let Some(password) = update.profile.current_password.filter(|_| needs_password)
            && !self.ports.hasher.verify(password, Some(current.password_hash().clone())).await?
        {
            return Err(UserError::Validation(ValidationErrors::new(vec![FieldError::new(
                "current_password",
                "INVALID_PASSWORD",
                "is not the account's password",
            )])));
        }

        if let Some(email) = &email
            && email != current.email()
            && self.ports.users.by_email(email).await?.is_some_and(|other| other.id() != id)
        {
            return Err(UserConflict::EmailTaken.into());
        }
        if let Some(username) = &username
            && username.normalized() != current.username().normalized()
            && self.ports.users.by_username(username).await?.is_some_and(|other| other.id() != id)
        {
            return Err(UserConflict::UsernameTaken.into());
        }

        let now = self.ports.clock.now();
        let mut user = current.clone();
        let applied: Result<(), UserStateError> = (|| {
            if let Some(email) = email {
                user.change_email(email, now)?;
            }
            if let Some(username) = username {
                user.rename(username, now)?;
            }
            if let Some(full_name) = full_name {
                user.set_full_name(full_name, now)?;
            }
            if let Some(role) = role {
                user.change_role(role, now)?;
            }
            match update.is_active {
                Some(true) => user.activate(now)?,
                Some(false) => user.deactivate(now)?,
                None => {}
            }
            Ok(())
        })();
        applied.map_err(|_| UserError::NotFound)?;
        if user.version() == current.version() {
            return Ok(current);
        }

        let mut changes = Changes::new()
            .with(UserChange::Update { user: user.clone(), expected_version: current.version() })
            .with(user_audit(AuditAction::UserUpdated, actor, &current, &user, now));
        // A new address: a link to verify it, and the links mailed to the old one stop working.
        let verification = (user.email() != current.email()).then(|| {
            changes.push(AccountTokenChange::Discard { user_id: id, purpose: TokenPurpose::ResetPassword });
            tokens::issue(&*self.ports.opaque_tokens, &self.settings, &user, TokenPurpose::VerifyEmail, now)
        });
        if let Some(verification) = &verification {
            changes.extend(verification.changes.clone());
        }
        if current.is_active() && !user.is_active() {
            self.end_all_sessions(actor, &user, changes, update.expected_version).await?;
        } else {
            self.ports
                .unit_of_work
                .commit(changes)
                .await
                .map_err(|e| UserError::of_commit(e, update.expected_version))?;
        }
        if let Some(verification) = verification {
            self.send(user.email(), verification.notice).await;
            let notice = Notice::EmailChanged {
                username: user.username().as_ref().to_owned(),
                new_email: user.email().as_ref().to_owned(),
                at: now,
            };
            self.send(current.email(), notice).await;
        }
        Ok(user)
    }

    /// Soft-deletes an account (admins only): it can no longer log in, its sessions end, and it
    /// reads as absent until restored.
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`], [`UserConflict::SelfDeletion`] for
    /// one's own account, [`UserError::Stale`] for a concurrent change.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), user_id = %id))]
    pub async fn delete(&self, actor: &Actor, id: UserId, expected_version: Option<i64>) -> Result<(), UserError> {
        if !policy::can_manage_lifecycle(viewer(actor)) {
            return Err(UserError::Forbidden);
        }
        if !policy::can_delete(viewer(actor), id) {
            return Err(UserConflict::SelfDeletion.into());
        }
        let current = self.load_live(id).await?;
        Staleness::check(expected_version, current.version()).map_err(UserError::Stale)?;
        let now = self.ports.clock.now();
        let mut user = current.clone();
        user.soft_delete(now).map_err(|_| UserError::NotFound)?;
        let changes = Changes::new()
            .with(UserChange::Update { user: user.clone(), expected_version: current.version() })
            .with(user_audit(AuditAction::UserDeleted, actor, &current, &user, now));
        self.end_all_sessions(actor, &user, changes, expected_version).await
    }

    /// Brings back a soft-deleted account (admins only).
    ///
    /// # Errors
    /// [`UserError::Forbidden`], [`UserError::NotFound`] for unknown ids,
    /// [`UserConflict::NotDeleted`] when the account is not deleted.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), user_id = %id))]
    pub async fn restore(&self, actor: &Actor, id: UserId) -> Result<User, UserError> {
        if !policy::can_restore(viewer(actor)) {
            return Err(UserError::Forbidden);
        }
        let current = self.ports.users.by_id(id).await?.ok_or(UserError::NotFound)?;
        let now = self.ports.clock.now();
        let mut user = current.clone();
        user.restore(now).map_err(|_| UserConflict::NotDeleted)?;
        self.ports
            .unit_of_work
            .commit(
                Changes::new()
                    .with(UserChange::Update { user: user.clone(), expected_version: current.version() })
                    .with(user_audit(AuditAction::UserRestored, actor, &current, &user, now)),
            )
            .await
            .map_err(|e| UserError::of_commit(e, None))?;
        Ok(user)
    }

    async fn load_live(&self, id: UserId) -> Result<User, UserError> {
        match self.ports.users.by_id(id).await? {
            Some(user) if !user.is_deleted() => Ok(user),
            _ => Err(UserError::NotFound),
        }
    }

    async fn insert(
        &self,
        draft: AccountDraft,
        account: Account,
        password: SecretString,
        by: Option<UserId>,
        context: &ClientContext,
    ) -> Result<User, UserError> {
        let Account { role, is_active, is_verified } = account;
        if self.ports.users.by_email(&draft.email).await?.is_some() {
            return Err(UserConflict::EmailTaken.into());
        }
        if self.ports.users.by_username(&draft.username).await?.is_some() {
            return Err(UserConflict::UsernameTaken.into());
        }
        let password_hash = self.ports.hasher.hash(password).await?;
        let user = User::register(
            NewUser {
                email: draft.email,
                username: draft.username,
                full_name: draft.full_name,
                role,
                password_hash,
                is_active,
                is_verified,
            },
            self.ports.clock.now(),
        );
        let audit =
            AuditRecord::new(AuditAction::UserCreated, AuditEntity::User, user.id(), by, context, user.created_at())
                .after(Snapshot::of_user(&user));
        let mut changes = Changes::new().with(UserChange::Insert(user.clone())).with(audit);
        let verification = (!user.is_verified()).then(|| {
            tokens::issue(
                &*self.ports.opaque_tokens,
                &self.settings,
                &user,
                TokenPurpose::VerifyEmail,
                user.created_at(),
            )
        });
        if let Some(verification) = &verification {
            changes.extend(verification.changes.clone());
        }
        self.ports.unit_of_work.commit(changes).await.map_err(|e| UserError::of_commit(e, None))?;
        tracing::info!(user_id = %user.id(), role = %user.role(), "user created");
        if let Some(verification) = verification {
            self.send(user.email(), verification.notice).await;
        }
        Ok(user)
    }

    async fn send(&self, to: &Email, notice: Notice) {
        mail::send(&*self.ports.mail_templates, &*self.ports.mail_queue, to, notice).await;
    }

    /// Commits `changes` together with the end of every active session of `user`, for a request
    /// that named `expected_version` (or none).
    async fn end_all_sessions(
        &self,
        actor: &Actor,
        user: &User,
        changes: Changes,
        expected_version: Option<i64>,
    ) -> Result<(), UserError> {
        let now = self.ports.clock.now();
        let ids: Vec<_> =
            self.ports.sessions.active_for_user(user.id(), now).await?.into_iter().map(|s| s.id).collect();
        let ending = SessionEnding { ids: &ids, by: Some(actor.id()), context: actor.context(), now };
        end_sessions(&*self.ports.unit_of_work, ending, changes)
            .await
            .map_err(|e| UserError::of_commit(e, expected_version))
    }
}

/// The role and flags of a new account.
struct Account {
    role: Role,
    is_active: bool,
    is_verified: bool,
}

/// The audit entry of a change from `before` to `after`, by `actor`.
fn user_audit(
    action: AuditAction,
    actor: &Actor,
    before: &User,
    after: &User,
    at: chrono::DateTime<chrono::Utc>,
) -> AuditRecord {
    AuditRecord::new(action, AuditEntity::User, after.id(), Some(actor.id()), actor.context(), at)
        .changed(&Snapshot::of_user(before), &Snapshot::of_user(after))
}

/// The caller as the users policy sees it.
pub(super) fn viewer(actor: &Actor) -> Viewer {
    Viewer::user(actor.id(), actor.role())
}

/// The account `cmd` describes and its role (a member unless it names one).
pub(super) fn parse_new_user(cmd: &CreateUserCommand, policy: &PasswordPolicy) -> Parsed<(AccountDraft, Role)> {
    let draft =
        AccountDraft::parse(&cmd.email, &cmd.username, cmd.password.expose_secret(), cmd.full_name.as_deref(), policy);
    let role = Parsed::field("role", cmd.role.as_deref().map_or(Ok(Role::Member), str::parse::<Role>));
    (draft, role).join()
}
