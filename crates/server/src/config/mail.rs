//! The `[mail]` section: how outgoing mail leaves (`file` or `smtp`), from whom, and how often
//! delivery is tried. The lifetimes of mailed links are in `[auth]`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Outgoing mail: how it leaves (`file` or `smtp`) and how often delivery is tried.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct MailSettings {
    /// `file` (each message an `.eml` file under `<data dir>/mail/`) or `smtp`.
    pub transport: MailTransport,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    pub smtp_host: Option<String>,
    /// Default: 25 with `smtp_tls = "none"`, 587 with `starttls`, 465 with `tls`.
    pub smtp_port: Option<u16>,
    pub smtp_username: Option<String>,
    #[serde(skip_serializing)]
    pub smtp_password: Option<SecretString>,
    pub smtp_tls: SmtpTls,
    pub smtp_timeout_secs: u64,
    /// Attempts per message, the first included.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further one.
    pub retry_initial_delay_ms: u64,
}

/// Where mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// One `.eml` file per message under `<data dir>/mail/`: nothing leaves the machine.
    #[default]
    File,
    /// An SMTP server.
    Smtp,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: a relay on the same host or a trusted network only.
    None,
    /// `STARTTLS`, required.
    #[default]
    Starttls,
    /// TLS from the first byte.
    Tls,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: MailTransport::File,
            from: "Forge <no-reply@localhost>".into(),
            smtp_host: None,
            smtp_port: None,
            smtp_username: None,
            smtp_password: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_timeout_secs: 10,
            max_attempts: 5,
            retry_initial_delay_ms: 1000,
        }
    }
}

impl MailSettings {
    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `mail.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        forge_infrastructure::mail::Sender::parse(&self.from)
            .map_err(|reason| ConfigError::new("mail.from", reason))?;
        if self.transport == MailTransport::Smtp && self.smtp_host.as_deref().is_none_or(|h| h.trim().is_empty()) {
            return Err(ConfigError::new("mail.smtp_host", "must be set when mail.transport is smtp"));
        }
        if self.smtp_port == Some(0) {
            return Err(ConfigError::new("mail.smtp_port", "must be between 1 and 65535"));
        }
        match (&self.smtp_username, &self.smtp_password) {
            (Some(_), None) => {
                return Err(ConfigError::new("mail.smtp_password", "must be set with mail.smtp_username"));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new("mail.smtp_username", "must be set with mail.smtp_password"));
            }
            _ => {}
        }
        if self.smtp_timeout_secs == 0 {
            return Err(ConfigError::new("mail.smtp_timeout_secs", "must be at least 1"));
        }
        if !(1..=20).contains(&self.max_attempts) {
            return Err(ConfigError::new("mail.max_attempts", "must be between 1 and 20"));
        }
        if !(1..=3_600_000).contains(&self.retry_initial_delay_ms) {
            return Err(ConfigError::new("mail.retry_initial_delay_ms", "must be between 1 and 3600000 (an hour)"));
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's `Jail` closures return its large error type; the tests build settings field by field.
#[allow(clippy::result_large_err, clippy::field_reassign_with_default)]
mod tests {
    use figment::Jail;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn mail_settings_are_read_and_checked_by_key() {
        Jail::expect_with(|jail| {
            jail.set_env("FORGE_MAIL__TRANSPORT", "smtp");
            jail.set_env("FORGE_MAIL__SMTP_HOST", "smtp.example.com");
            jail.set_env("FORGE_MAIL__SMTP_TLS", "tls");
            jail.set_env("FORGE_MAIL__FROM", "Forge <no-reply@example.com>");
            jail.set_env("FORGE_AUTH__REQUIRE_VERIFIED_EMAIL", "true");
            let s = Settings::load(None).unwrap();
            assert_eq!((s.mail.transport, s.mail.smtp_tls), (MailTransport::Smtp, SmtpTls::Tls));
            assert!(s.auth_settings().require_verified_email);
            s.validate().unwrap();
            jail.set_env("FORGE_MAIL__SMTP_TLS", "ssl");
            assert_eq!(Settings::load(None).unwrap_err().key, "mail.smtp_tls");
            Ok(())
        });
        let defaults = Settings::default();
        assert_eq!(defaults.mail.transport, MailTransport::File);
        let mut s = Settings::default();
        s.mail.from = "not an address".into();
        assert_eq!(s.validate().unwrap_err().key, "mail.from");
        let mut s = Settings::default();
        s.mail.transport = MailTransport::Smtp;
        assert_eq!(s.validate().unwrap_err().key, "mail.smtp_host");
        let mut s = Settings::default();
        s.mail.smtp_username = Some("forge".into());
        assert_eq!(s.validate().unwrap_err().key, "mail.smtp_password");
        let mut s = Settings::default();
        s.mail.max_attempts = 0;
        assert_eq!(s.validate().unwrap_err().key, "mail.max_attempts");
    }
}
