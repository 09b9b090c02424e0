use std::sync::Arc;

use chrono::{DateTime, Utc};
use forge_domain::{
    account_tokens::TokenPurpose,
    sessions::TokenDigest,
    users::{Email, User},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    AccountTokenChange,
    errors::{AccountError, invalid_token, wrong_password},
    ports::AccountTokenRepository,
    tokens,
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditRecord, Snapshot},
    auth::{
        AuthSettings,
        ports::{OpaqueTokens, PasswordHasher, SessionRepository},
        service::{SessionEnding, end_sessions},
    },
    common::{Actor, Changes, ClientContext, Clock, CommitError, Fields, Parsed, Staleness, UnitOfWork},
    mail::{self, MailQueue, MailTemplates, Notice},
    users::{UserChange, check_password, ports::UserRepository},
};

/// How often a token redemption is tried again when the account changed between reading it and
/// writing (a concurrent profile edit): the token is still unused then, so trying again is right.
const REDEEM_ATTEMPTS: usize = 3;

/// The ports the account flows need.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct AccountPorts {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub tokens: Arc<dyn AccountTokenRepository>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub opaque_tokens: Arc<dyn OpaqueTokens>,
    pub mail_templates: Arc<dyn MailTemplates>,
    pub mail_queue: Arc<dyn MailQueue>,
    pub clock: Arc<dyn Clock>,
}

/// `POST /auth/password/forgot`.
#[derive(Debug, Clone)]
pub struct ForgotPasswordCommand {
    /// The raw e-mail address of the account.
    pub email: String,
    /// Where the request comes from.
    pub context: ClientContext,
}

/// `POST /auth/password/reset`.
#[derive(Debug, Clone)]
pub struct ResetPasswordCommand {
    /// The token from the reset link.
    pub token: SecretString,
    /// The new password.
    pub new_password: SecretString,
    /// Where the request comes from.
    pub context: ClientContext,
}

/// `POST /users/me/password`.
#[derive(Debug, Clone)]
pub struct ChangePasswordCommand {
    /// The password the account has now.
    pub current_password: SecretString,
    /// The new password.
    pub new_password: SecretString,
}

/// E-mail verification, password reset and password change.
#[derive(Clone)]
pub struct AccountService {
    ports: AccountPorts,
    settings: Arc<AuthSettings>,
}

impl AccountService {
    /// Builds the service. It shares the authentication settings (token lifetimes, the public
    /// URL of links, the password policy).
    #[must_use]
    pub fn new(ports: AccountPorts, settings: AuthSettings) -> Self {
        Self { ports, settings: Arc::new(settings) }
    }

    /// Marks the address of the token's account verified, and uses the token up.
    ///
    /// # Errors
    /// [`AccountError::Validation`] on `token` (`INVALID_TOKEN`) for an unknown, used, expired
    /// or wrong-purpose token, or one sent to an address the account no longer has; nothing
    /// changes then.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, token: SecretString, context: ClientContext) -> Result<(), AccountError> {
        let digest = self.ports.opaque_tokens.digest(token.expose_secret());
        for _ in 0..REDEEM_ATTEMPTS {
            let now = self.ports.clock.now();
            let user = self.redeemable(&digest, TokenPurpose::VerifyEmail, now).await?;
            let mut verified = user.clone();
            verified.verify_email(now).map_err(|_| invalid_token())?;
            let mut changes = Changes::from(AccountTokenChange::Consume { digest: digest.clone() });
            // Already verified (by an earlier token of another address, say): the token is used
            // up all the same, and there is nothing to record.
            if verified.version() != user.version() {
                changes.push(UserChange::Update { user: verified.clone(), expected_version: user.version() });
                changes.push(
                    AuditRecord::new(AuditAction::UserEmailVerified, AuditEntity::User, user.id(), None, &context, now)
                        .changed(&Snapshot::of_user(&user), &Snapshot::of_user(&verified)),
                );
            }
            match self.ports.unit_of_work.commit(changes).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id(), "e-mail address verified");
                    return Ok(());
                }
                Err(CommitError::Stale) => {}
                Err(e) => return Err(e.into_unexpected().into()),
            }
        }
        Err(AccountError::Stale(Staleness::LostRace))
    }

    /// Mails a new verification link to the actor's address, invalidating earlier ones. An
    /// address that is already verified gets nothing (the caller answers the same either way).
    ///
    /// # Errors
    /// [`AccountError::Unexpected`] when storage fails.
    #[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
    pub async fn resend_verification(&self, actor: &Actor) -> Result<(), AccountError> {
        let user = actor.user();
        if user.is_verified() {
            tracing::debug!("the address is already verified; no mail");
            return Ok(());
        }
        let issued =
            tokens::issue(&*self.ports.opaque_tokens, &self.settings, user, TokenPurpose::VerifyEmail, self.now());
        self.ports
            .unit_of_work
            .commit(issued.changes.into_iter().collect())
            .await
            .map_err(CommitError::into_unexpected)?;
        self.send(user.email(), issued.notice).await;
        Ok(())
    }

    /// Mails a single-use reset link to the account with this address, if there is one that may
    /// log in. The caller answers the same whether or not there is, and the work done is alike:
    /// a token is made and the mail rendered in both cases; only storing and queueing them is
    /// skipped for an unknown address.
    ///
    /// # Errors
    /// [`AccountError::Validation`] on `email` when it is not an address at all;
    /// [`AccountError::Unexpected`] when storage fails.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(&self, cmd: ForgotPasswordCommand) -> Result<(), AccountError> {
        let email = Parsed::field("email", Email::parse(&cmd.email)).finish()?;
        let account = self.ports.users.by_email(&email).await?.filter(|u| u.ensure_can_act().is_ok());
        let now = self.now();
        let issued = match &account {
            Some(user) => {
                tokens::issue(&*self.ports.opaque_tokens, &self.settings, user, TokenPurpose::ResetPassword, now)
            }
            None => decoy(&*self.ports.opaque_tokens, &self.settings, &email),
        };
        let message = mail::render(&*self.ports.mail_templates, &email, &issued.notice);
        let Some(user) = account else {
            tracing::info!("password reset asked for an address with no account that may log in");
            return Ok(());
        };
        self.ports
            .unit_of_work
            .commit(issued.changes.into_iter().collect())
            .await
            .map_err(CommitError::into_unexpected)?;
        if let Some(message) = message {
            mail::enqueue(&*self.ports.mail_queue, message, issued.notice.name()).await;
        }
        tracing::info!(user_id = %user.id(), "password reset link issued");
        Ok(())
    }

    /// Sets a new password with a reset token, uses the token up and ends every session of the
    /// account.
    ///
    /// # Errors
    /// [`AccountError::Validation`]: an unusable token (`token`: `INVALID_TOKEN`), or a new
    /// password the policy refuses (`new_password`); nothing changes then.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(&self, cmd: ResetPasswordCommand) -> Result<(), AccountError> {
        let digest = self.ports.opaque_tokens.digest(cmd.token.expose_secret());
        for _ in 0..REDEEM_ATTEMPTS {
            let now = self.ports.clock.now();
            let user = self.redeemable(&digest, TokenPurpose::ResetPassword, now).await?;
            check_password(
                "new_password",
                cmd.new_password.expose_secret(),
                user.username().as_ref(),
                user.email().as_ref(),
                &self.settings.password_policy,
            )
            .finish()?;
            let hash = self.ports.hasher.hash(cmd.new_password.clone()).await?;
            let mut changed = user.clone();
            changed.change_password(hash, now).map_err(|_| invalid_token())?;
            let changes = Changes::new()
                .with(AccountTokenChange::Consume { digest: digest.clone() })
                .with(UserChange::Update { user: changed.clone(), expected_version: user.version() })
                .with(
                    AuditRecord::new(
                        AuditAction::UserPasswordReset,
                        AuditEntity::User,
                        user.id(),
                        None,
                        &cmd.context,
                        now,
                    )
                    .changed(&Snapshot::of_user(&user), &Snapshot::of_user(&changed)),
                );
            let sessions: Vec<_> =
                self.ports.sessions.active_for_user(user.id(), now).await?.into_iter().map(|s| s.id).collect();
            let ending = SessionEnding { ids: &sessions, by: None, context: &cmd.context, now };
            match end_sessions(&*self.ports.unit_of_work, ending, changes).await {
                Ok(()) => {
                    tracing::info!(user_id = %user.id(), sessions = sessions.len(), "password reset");
                    self.send(user.email(), Notice::PasswordChanged { username: username(&user), at: now }).await;
                    return Ok(());
                }
                Err(CommitError::Stale) => {}
                Err(e) => return Err(e.into_unexpected().into()),
            }
        }
        Err(AccountError::Stale(Staleness::LostRace))
    }

    /// Changes the actor's password, given the current one. The actor's other sessions end; the
    /// one it acts through stays. Unused reset links stop working.
    ///
    /// # Errors
    /// [`AccountError::Validation`]: a wrong `current_password` (`INVALID_PASSWORD`) and/or a
    /// `new_password` the policy refuses; [`AccountError::Stale`] when the account changed
    /// since the request authenticated.
    #[tracing::instrument(skip_all, fields(user_id = %actor.id()))]
    pub async fn change_password(&self, actor: &Actor, cmd: ChangePasswordCommand) -> Result<(), AccountError> {
        let user = actor.user();
        let new_password = check_password(
            "new_password",
            cmd.new_password.expose_secret(),
            user.username().as_ref(),
            user.email().as_ref(),
            &self.settings.password_policy,
        );
        let current_password =
            if self.ports.hasher.verify(cmd.current_password, Some(user.password_hash().clone())).await? {
                Parsed::valid(())
            } else {
                Parsed::invalid(wrong_password())
            };
        (new_password, current_password).finish()?;
        let hash = self.ports.hasher.hash(cmd.new_password).await?;
        let now = self.now();
        let mut changed = user.clone();
        // Deleted while the request was handled.
        changed.change_password(hash, now).map_err(|_| AccountError::Stale(Staleness::LostRace))?;
        let changes = Changes::new()
            .with(UserChange::Update { user: changed.clone(), expected_version: user.version() })
            .with(
                AuditRecord::new(
                    AuditAction::UserPasswordChanged,
                    AuditEntity::User,
                    user.id(),
                    Some(actor.id()),
                    actor.context(),
                    now,
                )
                .changed(&Snapshot::of_user(user), &Snapshot::of_user(&changed)),
            )
            .with(AccountTokenChange::Discard { user_id: user.id(), purpose: TokenPurpose::ResetPassword });
        let others: Vec<_> = self
            .ports
            .sessions
            .active_for_user(user.id(), now)
            .await?
            .into_iter()
            .map(|s| s.id)
            .filter(|id| Some(*id) != actor.session_id())
            .collect();
        let ending = SessionEnding { ids: &others, by: Some(actor.id()), context: actor.context(), now };
        end_sessions(&*self.ports.unit_of_work, ending, changes).await.map_err(|e| match e {
            CommitError::Stale => AccountError::Stale(Staleness::LostRace),
            other => other.into_unexpected().into(),
        })?;
        tracing::info!(sessions_ended = others.len(), "password changed");
        self.send(user.email(), Notice::PasswordChanged { username: username(user), at: now }).await;
        Ok(())
    }

    /// The account of the stored token with `digest`, if the token may be used now for
    /// `purpose` by an account that may act.
    async fn redeemable(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        let Some(token) = self.ports.tokens.by_digest(digest).await? else {
            return Err(invalid_token());
        };
        let user = match self.ports.users.by_id(token.user_id).await? {
            Some(user) if user.ensure_can_act().is_ok() => user,
            _ => return Err(invalid_token()),
        };
        if let Err(refusal) = token.check(purpose, now, user.email()) {
            tracing::info!(user_id = %user.id(), reason = %refusal, "account token refused");
            return Err(invalid_token());
        }
        Ok(user)
    }

    async fn send(&self, to: &Email, notice: Notice) {
        mail::send(&*self.ports.mail_templates, &*self.ports.mail_queue, to, notice).await;
    }

    fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }
}

/// What [`tokens::issue`] would give for an address without an account: a real token and link
/// (so the same work is done), stored nowhere and sent nowhere.
fn decoy(opaque_tokens: &dyn OpaqueTokens, settings: &AuthSettings, email: &Email) -> tokens::Issued {
    let (token, _) = opaque_tokens.generate();
    let username = email.as_ref().split('@').next().unwrap_or_default().to_owned();
    tokens::Issued {
        changes: Vec::new(),
        notice: Notice::ResetPassword {
            username,
            link: tokens::link(settings, TokenPurpose::ResetPassword, &token),
            valid_for: tokens::lifetime(settings, TokenPurpose::ResetPassword),
        },
    }
}

fn username(user: &User) -> String {
    user.username().as_ref().to_owned()
}
