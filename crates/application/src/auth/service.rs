use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use forge_domain::{
    account_tokens::TokenPurpose,
    sessions::{RefreshToken, RefreshVerdict, Session, SessionId, SessionState},
    users::{Email, NewUser, PasswordPolicy, Role, User, UserId, Username},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    SessionChange,
    errors::{AdmissionError, AuthenticateError, LoginError, LogoutError, RefreshError, RegisterError},
    ports::{
        AccessTokenError, AccessTokens, OpaqueTokens, PasswordHasher, Principal, PrincipalRepository, SessionRepository,
    },
};
use crate::{
    account::tokens,
    audit::{AuditAction, AuditEntity, AuditRecord, Snapshot},
    common::{Actor, Changes, ClientContext, Clock, CommitError, UnexpectedError, UnitOfWork},
    limits::{LockoutService, LockoutVerdict},
    mail::{self, MailQueue, MailTemplates},
    users::{AccountDraft, UserChange, UserConstraint, ports::UserRepository},
};

/// The knobs of authentication, read from configuration by the server.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Whether anyone may register (`POST /auth/register`).
    pub allow_registration: bool,
    /// The rules for new passwords.
    pub password_policy: PasswordPolicy,
    /// How long an access token lives.
    pub access_token_ttl: Duration,
    /// The absolute lifetime of a session, however it is used.
    pub session_lifetime: Duration,
    /// How long a session may go unused before it expires.
    pub session_idle_timeout: Duration,
    /// How long after its first use a refresh token may be presented again without being taken
    /// for a stolen one (parallel refreshes from one client). Zero: never.
    pub refresh_reuse_grace: Duration,
    /// Whether an account must have verified its address to use anything but its own account
    /// page, the verification endpoints and logout (see [`AuthService::admit`]).
    pub require_verified_email: bool,
    /// The single-page app's address: mailed links point there.
    pub public_url: String,
    /// How long an e-mail verification link works.
    pub email_verification_ttl: Duration,
    /// How long a password reset link works.
    pub password_reset_ttl: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            allow_registration: true,
            password_policy: PasswordPolicy::default(),
            access_token_ttl: Duration::minutes(15),
            session_lifetime: Duration::days(30),
            session_idle_timeout: Duration::days(7),
            refresh_reuse_grace: Duration::zero(),
            require_verified_email: false,
            public_url: "http://localhost:3000".to_owned(),
            email_verification_ttl: Duration::hours(24),
            password_reset_ttl: Duration::hours(1),
        }
    }
}

/// The ports authentication needs.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct AuthPorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub access_tokens: Arc<dyn AccessTokens>,
    pub opaque_tokens: Arc<dyn OpaqueTokens>,
    pub principals: Arc<dyn PrincipalRepository>,
    pub clock: Arc<dyn Clock>,
    pub mail_templates: Arc<dyn MailTemplates>,
    pub mail_queue: Arc<dyn MailQueue>,
}

/// What an authenticated request is for, as far as [`AuthService::admit`] is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessPurpose {
    /// Anything: an account with an unverified address is refused when verification is required.
    General,
    /// Looking after the account itself (reading one's own account, asking for a new
    /// verification mail, logging out): allowed to an unverified address, so the account can
    /// get verified.
    AccountUpkeep,
}

/// A self-registration.
#[derive(Debug, Clone)]
pub struct RegisterCommand {
    /// Raw e-mail address.
    pub email: String,
    /// Raw username.
    pub username: String,
    /// The chosen password.
    pub password: SecretString,
    /// Raw display name.
    pub full_name: Option<String>,
    /// Where the registration comes from, for the audit trail.
    pub context: ClientContext,
}

/// A login by e-mail address or username.
#[derive(Debug, Clone)]
pub struct LoginCommand {
    /// An e-mail address (anything containing `@`) or a username.
    pub identifier: String,
    /// The password.
    pub password: SecretString,
    /// Where the login comes from, recorded on the session.
    pub context: ClientContext,
}

/// A refresh-token exchange.
#[derive(Debug, Clone)]
pub struct RefreshCommand {
    /// The refresh token as presented.
    pub refresh_token: SecretString,
    /// Where the request comes from.
    pub context: ClientContext,
}

/// An access token and the refresh token to renew it.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The signed access token.
    pub access_token: SecretString,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The single-use refresh token.
    pub refresh_token: SecretString,
    /// The session both belong to.
    pub session_id: SessionId,
    /// Seconds until the refresh token expires (the idle timeout, or less near the session's
    /// absolute end): how long a client may keep it, e.g. as a cookie's `Max-Age`.
    pub refresh_expires_in: i64,
}

/// A successful login or refresh.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The account, as it is after the login.
    pub user: User,
    /// The new tokens.
    pub tokens: TokenPair,
}

/// Registration, login, refresh, logout and authentication.
#[derive(Clone)]
pub struct AuthService {
    pub(super) ports: AuthPorts,
    pub(super) settings: Arc<AuthSettings>,
    lockout: Option<LockoutService>,
}

impl AuthService {
    /// Builds the service, without a lockout (see [`AuthService::with_lockout`]).
    #[must_use]
    pub fn new(ports: AuthPorts, settings: AuthSettings) -> Self {
        Self { ports, settings: Arc::new(settings), lockout: None }
    }

    /// Puts every login through `lockout`: repeated failures are slowed down, then lock the
    /// account (or the unknown identifier) for a while.
    #[must_use]
    pub fn with_lockout(mut self, lockout: LockoutService) -> Self {
        self.lockout = Some(lockout);
        self
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Opens a member account, unverified, and mails it a link to verify its address.
    ///
    /// # Errors
    /// [`RegisterError`]: closed registration, every invalid field, a taken address or username.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, cmd: RegisterCommand) -> Result<User, RegisterError> {
        if !self.settings.allow_registration {
            return Err(RegisterError::RegistrationClosed);
        }
        let draft = AccountDraft::parse(
            &cmd.email,
            &cmd.username,
            cmd.password.expose_secret(),
            cmd.full_name.as_deref(),
            &self.settings.password_policy,
        )
        .finish()
        .map_err(RegisterError::Validation)?;
        if self.ports.users.by_email(&draft.email).await?.is_some() {
            return Err(RegisterError::EmailTaken);
        }
        if self.ports.users.by_username(&draft.username).await?.is_some() {
            return Err(RegisterError::UsernameTaken);
        }
        let password_hash = self.ports.hasher.hash(cmd.password).await?;
        let user = User::register(
            NewUser {
                email: draft.email,
                username: draft.username,
                full_name: draft.full_name,
                role: Role::Member,
                password_hash,
                is_active: true,
                is_verified: false,
            },
            self.ports.clock.now(),
        );
        let audit = AuditRecord::new(
            AuditAction::UserRegistered,
            AuditEntity::User,
            user.id(),
            Some(user.id()),
            &cmd.context,
            user.created_at(),
        )
        .after(Snapshot::of_user(&user));
        let verification = tokens::issue(
            &*self.ports.opaque_tokens,
            &self.settings,
            &user,
            TokenPurpose::VerifyEmail,
            user.created_at(),
        );
        let mut changes = Changes::new().with(UserChange::Insert(user.clone())).with(audit);
        changes.extend(verification.changes);
        self.ports.unit_of_work.commit(changes).await.map_err(|e| match e.narrow::<UserConstraint>() {
            CommitError::Constraint(UserConstraint::EmailTaken) => RegisterError::EmailTaken,
            CommitError::Constraint(UserConstraint::UsernameTaken) => RegisterError::UsernameTaken,
            CommitError::Stale => RegisterError::Unexpected(UnexpectedError::internal("insert reported stale")),
            CommitError::Unexpected(e) => RegisterError::Unexpected(e),
        })?;
        tracing::info!(user_id = %user.id(), "user registered");
        mail::send(&*self.ports.mail_templates, &*self.ports.mail_queue, user.email(), verification.notice).await;
        Ok(user)
    }

    /// Logs in by e-mail or username and opens a session.
    ///
    /// With a lockout, an attempt too soon after repeated failures, or on a locked account, is
    /// refused before the password is checked; a failure is counted, a success forgets the
    /// failures (in the transaction that opens the session).
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] whether the account is unknown, the password wrong or
    /// the account unable to log in; the work done is the same in each case.
    /// [`LoginError::RateLimited`] and [`LoginError::AccountLocked`] from the lockout, for
    /// unknown identifiers exactly as for accounts.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, cmd: LoginCommand) -> Result<LoginOutcome, LoginError> {
        let user = self.find_by_identifier(&cmd.identifier).await?;
        let now = self.ports.clock.now();
        let attempt = match &self.lockout {
            Some(lockout) => Some(lockout.admit(user.as_ref(), &cmd.identifier, now).await?),
            None => None,
        };
        match attempt.as_ref().map(|a| a.verdict) {
            Some(LockoutVerdict::Wait { retry_after }) => return Err(LoginError::RateLimited { retry_after }),
            Some(LockoutVerdict::Locked { retry_after }) => return Err(LoginError::AccountLocked { retry_after }),
            Some(LockoutVerdict::Open) | None => {}
        }
        let matches = self.ports.hasher.verify(cmd.password, user.as_ref().map(|u| u.password_hash().clone())).await?;
        let user = match user {
            Some(user) if matches && user.ensure_can_act().is_ok() => user,
            _ => {
                if let (Some(lockout), Some(attempt)) = (&self.lockout, attempt) {
                    lockout.record_failure(attempt, &cmd.context, now).await?;
                }
                return Err(LoginError::InvalidCredentials);
            }
        };
        let session = Session::open(
            user.id(),
            now,
            self.settings.session_lifetime,
            cmd.context.ip.clone(),
            cmd.context.user_agent.clone(),
        );
        let (refresh_token, refresh) = self.new_refresh_token(&session, now);
        let refresh_expires_in = (refresh.expires_at - now).num_seconds();
        let audit = AuditRecord::new(
            AuditAction::SessionCreated,
            AuditEntity::Session,
            session.id,
            Some(user.id()),
            &cmd.context,
            now,
        )
        .after(session_snapshot(&session));
        let mut changes = Changes::new()
            .with(SessionChange::Open(session.clone()))
            .with(SessionChange::IssueRefreshToken(refresh))
            .with(UserChange::RecordLogin { user_id: user.id(), at: now })
            .with(audit);
        changes.extend(attempt.as_ref().and_then(LockoutService::on_success));
        self.ports.unit_of_work.commit(changes).await.map_err(CommitError::into_unexpected)?;
        let mut user = user;
        user.record_login(now);
        let access = self.ports.access_tokens.issue(user.id(), session.id, now)?;
        tracing::info!(user_id = %user.id(), session_id = %session.id, "logged in");
        Ok(LoginOutcome {
            user,
            tokens: TokenPair {
                access_token: access.token,
                expires_in: access.expires_in,
                refresh_token,
                session_id: session.id,
                refresh_expires_in,
            },
        })
    }

    /// Exchanges a refresh token for a new pair. The presented token stops working; presenting
    /// it again (outside the grace window) ends the whole session.
    ///
    /// # Errors
    /// [`RefreshError`] saying why the token is refused.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, cmd: RefreshCommand) -> Result<LoginOutcome, RefreshError> {
        let digest = self.ports.opaque_tokens.digest(cmd.refresh_token.expose_secret());
        let Some(presented) = self.ports.sessions.refresh_token(&digest).await? else {
            return Err(RefreshError::Invalid);
        };
        let Some(session) = self.ports.sessions.by_id(presented.session_id).await? else {
            return Err(RefreshError::Invalid);
        };
        let now = self.ports.clock.now();
        if session.revoked_at.is_some() {
            return Err(RefreshError::Revoked);
        }
        let mut consume = match presented.judge(now, self.settings.refresh_reuse_grace) {
            RefreshVerdict::Rotate => true,
            RefreshVerdict::GraceReuse => false,
            RefreshVerdict::Expired => return Err(RefreshError::Expired),
            RefreshVerdict::Reuse => {
                tracing::warn!(session_id = %session.id, "refresh token reused; ending the session");
                self.end_sessions(&[session.id], None, &cmd.context, now).await?;
                return Err(RefreshError::Revoked);
            }
        };
        session.ensure_usable(now, self.settings.session_idle_timeout).map_err(|state| match state {
            SessionState::Revoked => RefreshError::Revoked,
            SessionState::Expired => RefreshError::Expired,
        })?;
        let user = match self.ports.users.by_id(session.user_id).await? {
            Some(user) if user.ensure_can_act().is_ok() => user,
            _ => {
                self.end_sessions(&[session.id], None, &cmd.context, now).await?;
                return Err(RefreshError::Invalid);
            }
        };
        loop {
            let (refresh_token, next) = self.new_refresh_token(&session, now);
            let refresh_expires_in = (next.expires_at - now).num_seconds();
            let mut changes = Changes::new();
            if consume {
                changes.push(SessionChange::ConsumeRefreshToken { digest: digest.clone(), at: now });
            }
            changes.push(SessionChange::IssueRefreshToken(next));
            changes.push(SessionChange::Touch { id: session.id, at: now });
            match self.ports.unit_of_work.commit(changes).await {
                Ok(()) => {
                    let access = self.ports.access_tokens.issue(user.id(), session.id, now)?;
                    return Ok(LoginOutcome {
                        user,
                        tokens: TokenPair {
                            access_token: access.token,
                            expires_in: access.expires_in,
                            refresh_token,
                            session_id: session.id,
                            refresh_expires_in,
                        },
                    });
                }
                // Another request consumed the same token between our read and our write.
                Err(CommitError::Stale) if consume && self.settings.refresh_reuse_grace > Duration::zero() => {
                    consume = false;
                }
                Err(CommitError::Stale) => {
                    tracing::warn!(session_id = %session.id, "refresh token raced; ending the session");
                    self.end_sessions(&[session.id], None, &cmd.context, now).await?;
                    return Err(RefreshError::Revoked);
                }
                Err(e) => return Err(RefreshError::Unexpected(e.into_unexpected())),
            }
        }
    }

    /// Ends the actor's current session: its access and refresh tokens stop working at once.
    ///
    /// # Errors
    /// [`LogoutError::Unexpected`] when storage fails; the logout can be retried.
    #[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
    pub async fn logout(&self, actor: &Actor) -> Result<(), LogoutError> {
        if let Some(session_id) = actor.session_id() {
            self.end_sessions(&[session_id], Some(actor.id()), actor.context(), self.ports.clock.now()).await?;
        }
        Ok(())
    }

    /// Turns a bearer access token into the actor it stands for. The session must not be
    /// revoked, and the account must still exist and be able to act; the actor carries the
    /// account as it is now.
    ///
    /// # Errors
    /// [`AuthenticateError`] saying why the token is refused.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, access_token: &str, context: ClientContext) -> Result<Actor, AuthenticateError> {
        let claims = self.ports.access_tokens.verify(access_token, self.ports.clock.now()).map_err(|e| match e {
            AccessTokenError::Expired => AuthenticateError::Expired,
            AccessTokenError::Invalid => AuthenticateError::Invalid,
        })?;
        match self.ports.principals.principal(claims.user_id, claims.session_id).await? {
            Some(Principal { session_live: false, .. }) => Err(AuthenticateError::Revoked),
            Some(Principal { user, .. }) if user.ensure_can_act().is_ok() => {
                Ok(Actor::new(user, Some(claims.session_id), context))
            }
            _ => Err(AuthenticateError::Invalid),
        }
    }

    /// Whether an authenticated actor may go on with a request for `purpose`: with
    /// `require_verified_email` on, an account whose address is not verified may only look
    /// after its own account ([`AccessPurpose::AccountUpkeep`]).
    ///
    /// # Errors
    /// [`AdmissionError::EmailNotVerified`].
    pub fn admit(&self, actor: &Actor, purpose: AccessPurpose) -> Result<(), AdmissionError> {
        match purpose {
            AccessPurpose::General if self.settings.require_verified_email && !actor.user().is_verified() => {
                Err(AdmissionError::EmailNotVerified)
            }
            AccessPurpose::General | AccessPurpose::AccountUpkeep => Ok(()),
        }
    }

    /// Revokes `ids` in storage, with an audit entry for each.
    pub(crate) async fn end_sessions(
        &self,
        ids: &[SessionId],
        by: Option<UserId>,
        context: &ClientContext,
        now: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        end_sessions(&*self.ports.unit_of_work, SessionEnding { ids, by, context, now }, Changes::new())
            .await
            .map_err(CommitError::into_unexpected)
    }

    fn new_refresh_token(&self, session: &Session, now: DateTime<Utc>) -> (SecretString, RefreshToken) {
        let (token, digest) = self.ports.opaque_tokens.generate();
        let expires_at = (now + self.settings.session_idle_timeout).min(session.expires_at);
        (token, RefreshToken { digest, session_id: session.id, issued_at: now, expires_at, used_at: None })
    }

    async fn find_by_identifier(&self, identifier: &str) -> Result<Option<User>, UnexpectedError> {
        if identifier.contains('@') {
            match Email::parse(identifier) {
                Ok(email) => self.ports.users.by_email(&email).await,
                Err(_) => Ok(None),
            }
        } else {
            match Username::parse(identifier) {
                Ok(username) => self.ports.users.by_username(&username).await,
                Err(_) => Ok(None),
            }
        }
    }
}

/// Which sessions end, when, and on whose behalf (for the audit trail).
pub(crate) struct SessionEnding<'a> {
    pub(crate) ids: &'a [SessionId],
    /// The user who ended them; none when the system did (a reused refresh token).
    pub(crate) by: Option<UserId>,
    pub(crate) context: &'a ClientContext,
    pub(crate) now: DateTime<Utc>,
}

/// Commits `before` plus the revocation of the sessions (each with its audit entry): from the
/// commit on, the sessions' access tokens are refused (every authentication reads the session's
/// state with the account, [`PrincipalRepository`]).
pub(crate) async fn end_sessions(
    unit_of_work: &dyn UnitOfWork,
    ending: SessionEnding<'_>,
    mut before: Changes,
) -> Result<(), CommitError> {
    let SessionEnding { ids, by, context, now } = ending;
    for &id in ids {
        before.push(SessionChange::Revoke { id, at: now });
        before.push(AuditRecord::new(AuditAction::SessionRevoked, AuditEntity::Session, id, by, context, now));
    }
    if !before.is_empty() {
        unit_of_work.commit(before).await?;
    }
    Ok(())
}

/// What the audit trail records of a session: never its tokens.
pub(crate) fn session_snapshot(session: &Session) -> Snapshot {
    Snapshot::new()
        .with("user_id", session.user_id.to_string())
        .with("expires_at", session.expires_at)
        .with("ip", session.ip.clone())
        .with("user_agent", session.user_agent.clone())
}
