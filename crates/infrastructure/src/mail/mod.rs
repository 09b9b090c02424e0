//! Mail: the templates that word each notice, and the mailers that deliver a message (one `.eml`
//! file per message under the data directory, or SMTP).
//!
//! ## Templates
//!
//! The application decides what a mail says (a [`Notice`](forge_application::mail::Notice) and
//! its data); the wording lives here, in `templates/mail/` of this crate: for each notice a
//! `<name>.subject.txt`, a `<name>.txt` and a `<name>.html` (which extends `layout.html`). They
//! are rendered with minijinja, compiled into the binary (so a deployment needs no template
//! files) and checked when the server starts. HTML templates are auto-escaped; plain text is
//! not; an undefined variable is an error, not an empty string. The application owns the data
//! and the choice of notice, not the words: changing a sentence touches no use case, and a use
//! case test does not break on a reworded mail.
//!
//! ## Delivery
//!
//! A use case only enqueues, through the application's
//! [`MailQueue`](forge_application::mail::MailQueue) port: each message becomes a job on the
//! durable `mail` queue ([`crate::jobs`]), and the job workers deliver it through a
//! [`Mailer`](forge_application::mail::Mailer) with exponential back-off and jitter, retrying the
//! failures the mailer calls temporary and ending the others dead at once.

mod file;
mod message;
#[cfg(feature = "smtp")]
mod smtp;
mod templates;

pub use file::FileMailer;
pub use message::Sender;
#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfig, SmtpMailer, SmtpSecurity};
pub use templates::MailTemplateSet;
