//! Mail for tests: templates that say each notice plainly, and a queue that records every
//! message instead of sending it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use forge_domain::users::Email;
use secrecy::ExposeSecret;

use crate::{
    common::UnexpectedError,
    mail::{MailMessage, MailQueue, MailTemplates, Mailer, Notice},
};

/// [`MailTemplates`] that render every notice plainly: the subject is the notice's
/// [name](Notice::name) (`verify_email`, `reset_password`, `password_changed`, `email_changed`),
/// so a test can tell mails apart without matching wording; the text says what happened and
/// holds the link, if any, on a line of its own; the HTML is the same text, escaped, in a `<pre>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainMailTemplates;

impl PlainMailTemplates {
    /// The templates.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

impl MailTemplates for PlainMailTemplates {
    fn render(&self, to: &Email, notice: &Notice) -> Result<MailMessage, UnexpectedError> {
        let text = match notice {
            Notice::VerifyEmail { username, link, valid_for } => format!(
                "Hello {username},\n\nconfirm your e-mail address with this link (it works for {} minutes):\n{}\n",
                valid_for.num_minutes(),
                link.expose_secret()
            ),
            Notice::ResetPassword { username, link, valid_for } => format!(
                "Hello {username},\n\nset a new password with this link (it works for {} minutes):\n{}\n",
                valid_for.num_minutes(),
                link.expose_secret()
            ),
            Notice::PasswordChanged { username, at } => {
                format!("Hello {username},\n\nyour password was changed at {}.\n", at.to_rfc3339())
            }
            Notice::EmailChanged { username, new_email, at } => {
                format!("Hello {username},\n\nyour e-mail address was changed to {new_email} at {}.\n", at.to_rfc3339())
            }
            Notice::AddedToProject { username, project_name, role } => {
                format!("Hello {username},\n\nyou were added to the project {project_name} as {role}.\n")
            }
        };
        let html = format!("<pre>{}</pre>", escape_html(&text));
        Ok(MailMessage { to: to.clone(), subject: notice.name().to_owned(), text, html })
    }
}

fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// The token in the first link of `text` that carries one (`...?token=…`), as mailed by the
/// account flows: what a test hands to `verify_email` or `reset_password`.
#[must_use]
pub fn link_token(text: &str) -> Option<&str> {
    let (_, rest) = text.split_once("token=")?;
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|token| !token.is_empty())
}

/// A [`MailQueue`] (and a [`Mailer`]) that records every message it is handed, in order, and
/// sends nothing: a test reads what the use cases mailed.
///
/// Addresses are compared as [`Email`] stores them, lower-cased: `to("Ada@Example.com")` finds
/// the mails to `ada@example.com`.
#[derive(Debug, Default)]
pub struct RecordingMailQueue {
    messages: Mutex<Vec<MailMessage>>,
}

impl RecordingMailQueue {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message, in the order it was handed over.
    #[must_use]
    pub fn messages(&self) -> Vec<MailMessage> {
        self.lock().clone()
    }

    /// How many messages there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// The messages to `address`, in order.
    #[must_use]
    pub fn to(&self, address: &str) -> Vec<MailMessage> {
        let address = address.trim().to_lowercase();
        self.lock().iter().filter(|message| message.to.as_ref() == address).cloned().collect()
    }

    /// The latest message to `address`.
    #[must_use]
    pub fn last_to(&self, address: &str) -> Option<MailMessage> {
        self.to(address).pop()
    }

    /// The token of the latest message to `address` that carries a link with one (see
    /// [`link_token`]).
    #[must_use]
    pub fn last_token_to(&self, address: &str) -> Option<String> {
        self.to(address).iter().rev().find_map(|message| link_token(&message.text).map(str::to_owned))
    }

    /// Forgets every message.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn record(&self, message: MailMessage) {
        self.lock().push(message);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<MailMessage>> {
        // Every update is a single push or clear: a panic elsewhere cannot leave it half-updated.
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl MailQueue for RecordingMailQueue {
    async fn enqueue(&self, message: MailMessage) -> Result<(), UnexpectedError> {
        self.record(message);
        Ok(())
    }
}

#[async_trait]
impl Mailer for RecordingMailQueue {
    async fn send(&self, message: &MailMessage) -> Result<(), UnexpectedError> {
        self.record(message.clone());
        Ok(())
    }
}
