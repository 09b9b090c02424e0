//! Mail: what the use cases tell people by e-mail, and the ports that carry it.
//!
//! A use case decides *what* is said to *whom*: a [`Notice`] with its data (a link, a time),
//! addressed to an [`Email`]. The wording and layout are not the application's business: the
//! [`MailTemplates`] port turns a notice into a [`MailMessage`] (subject, plain text and HTML), so
//! an operator can change the templates without touching a use case, and a test can see exactly
//! which notice went out.
//!
//! Sending never blocks or fails a request. A use case hands the message to the [`MailQueue`]
//! once its change is committed (a rolled-back change mails nothing) and moves on; delivery, with
//! its retries, happens later behind the queue, through a [`Mailer`]. A message that cannot even
//! be queued is logged and dropped: the change it reports is stored, and the user can ask again
//! (a new verification mail, a new reset link). The `forge` builder puts the port on the durable
//! job queue ([`QueuedMail`](crate::jobs::QueuedMail)); no use case knows which queue it is.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use forge_domain::users::Email;
use secrecy::SecretString;

use crate::common::UnexpectedError;

/// One rendered e-mail: a plain-text and an HTML version of the same content.
#[derive(Clone)]
pub struct MailMessage {
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Bodies may hold single-use links, so they are never printed.
impl std::fmt::Debug for MailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailMessage")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("html", &format_args!("<{} bytes>", self.html.len()))
            .finish()
    }
}

/// What a mail tells its recipient, with the data the templates need. Links are secrets (they
/// carry single-use tokens) and print as `[REDACTED]`.
#[derive(Debug, Clone)]
pub enum Notice {
    /// "Confirm that this address is yours": sent on registration, on creation by an admin, on a
    /// change of address (to the new one) and on request.
    VerifyEmail {
        /// The account's username, to greet it.
        username: String,
        /// `{public_url}/verify-email?token=…`.
        link: SecretString,
        /// How long the link works.
        valid_for: Duration,
    },
    /// "Set a new password with this link": sent on request (`password/forgot`).
    ResetPassword {
        /// The account's username.
        username: String,
        /// `{public_url}/reset-password?token=…`.
        link: SecretString,
        /// How long the link works.
        valid_for: Duration,
    },
    /// "Your password was changed": sent after a change or a reset.
    PasswordChanged {
        /// The account's username.
        username: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// "Your address was changed": sent to the old address after a change.
    EmailChanged {
        /// The account's username.
        username: String,
        /// The address the account now has.
        new_email: String,
        /// When it happened.
        at: DateTime<Utc>,
    },
    /// "You were added to a project": sent by the relay for a `project.member_added` event.
    AddedToProject {
        /// The account's username.
        username: String,
        /// The project's name.
        project_name: String,
        /// The role the account was given in it.
        role: String,
    },
}

impl Notice {
    /// The notice's stable name, which is also its templates' name: `verify_email`,
    /// `reset_password`, `password_changed`, `email_changed`, `added_to_project`.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::VerifyEmail { .. } => "verify_email",
            Self::ResetPassword { .. } => "reset_password",
            Self::PasswordChanged { .. } => "password_changed",
            Self::EmailChanged { .. } => "email_changed",
            Self::AddedToProject { .. } => "added_to_project",
        }
    }
}

/// Turns a notice into a message.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait MailTemplates: Send + Sync {
    /// The message telling `to` the `notice`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when a template is missing or fails to render (a bug).
    fn render(&self, to: &Email, notice: &Notice) -> Result<MailMessage, UnexpectedError>;
}

/// Accepts messages for delivery later. Use cases call it after their change is committed.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Takes `message` for delivery and returns at once, without waiting for it to be sent.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the queue cannot take it (full, or shutting down).
    async fn enqueue(&self, message: MailMessage) -> Result<(), UnexpectedError>;
}

/// Delivers one message now (SMTP, a file, ...). Called by a queue, never by a use case.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `message`.
    ///
    /// # Errors
    /// [`UnexpectedError`]: [`unavailable`](UnexpectedError::unavailable) when trying again
    /// later may work (the server is unreachable, a 4xx SMTP reply), otherwise
    /// [`internal`](UnexpectedError::internal) (a refused recipient, a bad message), which a
    /// queue does not retry.
    async fn send(&self, message: &MailMessage) -> Result<(), UnexpectedError>;
}

/// Renders a notice; a failure is logged and yields nothing.
pub(crate) fn render(templates: &dyn MailTemplates, to: &Email, notice: &Notice) -> Option<MailMessage> {
    match templates.render(to, notice) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::error!(error = ?e, mail = notice.name(), "a mail could not be rendered");
            None
        }
    }
}

/// Queues a rendered message; a failure is logged, not returned (see the module notes).
pub(crate) async fn enqueue(queue: &dyn MailQueue, message: MailMessage, name: &'static str) {
    if let Err(e) = queue.enqueue(message).await {
        tracing::error!(error = ?e, mail = name, "a mail could not be queued");
    }
}

/// Renders and queues a notice to `to`.
pub(crate) async fn send(templates: &dyn MailTemplates, queue: &dyn MailQueue, to: &Email, notice: Notice) {
    if let Some(message) = render(templates, to, &notice) {
        enqueue(queue, message, notice.name()).await;
    }
}
