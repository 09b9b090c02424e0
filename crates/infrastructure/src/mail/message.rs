//! From the application's [`MailMessage`] to an RFC 5322 message.

use forge_application::{UnexpectedError, mail::MailMessage};
use lettre::{
    Message,
    message::{Mailbox, MultiPart},
};

/// The address mails are sent from, such as `Forge <no-reply@example.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender(Mailbox);

impl Sender {
    /// Parses a sender such as `Forge <no-reply@example.com>` or `no-reply@example.com`.
    ///
    /// # Errors
    /// A sentence saying why it is not an address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.trim().parse::<Mailbox>().map(Self).map_err(|e| format!("{raw:?} is not a mail address ({e})"))
    }

    pub(crate) const fn mailbox(&self) -> &Mailbox {
        &self.0
    }
}

impl std::fmt::Display for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

/// The message from `from` to the recipient, as `multipart/alternative` with the plain text
/// first and the HTML second (the last part is the preferred one), with a fresh `Message-ID`
/// and the current date.
///
/// # Errors
/// An internal (not retried) [`UnexpectedError`] when the recipient is not an address the mail
/// library accepts.
pub(crate) fn build(from: &Sender, message: &MailMessage) -> Result<Message, UnexpectedError> {
    let to: Mailbox = message.to.as_ref().parse().map_err(UnexpectedError::internal)?;
    Message::builder()
        .from(from.mailbox().clone())
        .to(to)
        .subject(message.subject.clone())
        .message_id(None)
        .multipart(MultiPart::alternative_plain_html(message.text.clone(), message.html.clone()))
        .map_err(UnexpectedError::internal)
}

/// The part of an address worth logging: its domain.
pub(crate) fn recipient_domain(message: &MailMessage) -> &str {
    message.to.as_ref().rsplit_once('@').map_or("", |(_, domain)| domain)
}
