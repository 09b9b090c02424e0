//! Production delivery over SMTP.

use std::time::Duration;

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    mail::{MailMessage, Mailer},
};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor, transport::smtp::authentication::Credentials};
use secrecy::{ExposeSecret as _, SecretString};

use super::message::{Sender, build, recipient_domain};

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a relay on the same host or network only). Default port 25.
    None,
    /// Plain connection upgraded with `STARTTLS`, which is required. Default port 587.
    StartTls,
    /// TLS from the first byte ("SMTPS"). Default port 465.
    Tls,
}

impl SmtpSecurity {
    /// The port used when none is configured.
    #[must_use]
    pub const fn default_port(self) -> u16 {
        match self {
            Self::None => 25,
            Self::StartTls => 587,
            Self::Tls => 465,
        }
    }
}

/// Where and how to reach the SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The server's host name (also the name its TLS certificate must carry).
    pub host: String,
    /// The port; the security mode's default when absent.
    pub port: Option<u16>,
    /// Login, when the server wants one.
    pub username: Option<String>,
    /// Password of `username`.
    pub password: Option<SecretString>,
    /// How the connection is secured.
    pub security: SmtpSecurity,
    /// How long one network operation may take.
    pub timeout: Duration,
}

/// [`Mailer`] over a pooled, asynchronous SMTP connection (lettre, rustls with the Mozilla
/// root certificates).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Sender,
}

impl SmtpMailer {
    /// A mailer sending as `from` through the server `config` describes. No connection is made
    /// until the first message.
    ///
    /// # Errors
    /// A sentence when the host cannot be used for TLS.
    pub fn new(config: SmtpConfig, from: Sender) -> Result<Self, String> {
        let builder = match config.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host),
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                .map_err(|e| format!("cannot use {} for STARTTLS: {e}", config.host))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| format!("cannot use {} for TLS: {e}", config.host))?,
        };
        let mut builder =
            builder.port(config.port.unwrap_or_else(|| config.security.default_port())).timeout(Some(config.timeout));
        if let Some(username) = config.username {
            let password = config.password.as_ref().map(|p| p.expose_secret().to_owned()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(username, password));
        }
        Ok(Self { transport: builder.build(), from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    #[tracing::instrument(skip_all, fields(recipient_domain = recipient_domain(message)))]
    async fn send(&self, message: &MailMessage) -> Result<(), UnexpectedError> {
        let email = build(&self.from, message)?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            // A 5xx reply (unknown recipient, refused sender, message rejected) will not change
            // by trying again; everything else (4xx, connection, TLS, timeout) may.
            Err(e) if e.is_permanent() => Err(UnexpectedError::internal(e)),
            Err(e) => Err(UnexpectedError::unavailable(e)),
        }
    }
}
