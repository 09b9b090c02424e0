//! The `[auth]` section: the signing key and claims of access tokens, the lifetimes of tokens,
//! sessions and mailed links, registration and e-mail verification.

use forge_application::auth::AuthSettings;
use forge_domain::users::PasswordPolicy;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{ConfigError, Environment};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct AuthConfig {
    /// Signing key for access tokens. Development: generated and kept in the data dir.
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_secs: i64,
    pub session_lifetime_secs: i64,
    pub session_idle_timeout_secs: i64,
    pub refresh_reuse_grace_secs: i64,
    pub allow_registration: bool,
    /// Keep refresh tokens in a `__Host-` cookie instead of response bodies (single-page apps).
    pub refresh_cookie: bool,
    /// Refuse accounts whose address is not verified (403 `EMAIL_NOT_VERIFIED`) everywhere but
    /// their own account page, the verification endpoints and logout.
    pub require_verified_email: bool,
    /// How long an e-mail verification link works.
    pub email_verification_ttl_secs: i64,
    /// How long a password reset link works.
    pub password_reset_ttl_secs: i64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let d = AuthSettings::default();
        Self {
            jwt_secret: None,
            jwt_issuer: "forge".into(),
            jwt_audience: "forge-api".into(),
            access_token_ttl_secs: d.access_token_ttl.num_seconds(),
            session_lifetime_secs: d.session_lifetime.num_seconds(),
            session_idle_timeout_secs: d.session_idle_timeout.num_seconds(),
            refresh_reuse_grace_secs: d.refresh_reuse_grace.num_seconds(),
            allow_registration: d.allow_registration,
            refresh_cookie: false,
            require_verified_email: d.require_verified_email,
            email_verification_ttl_secs: d.email_verification_ttl.num_seconds(),
            password_reset_ttl_secs: d.password_reset_ttl.num_seconds(),
        }
    }
}

impl AuthConfig {
    /// Checks every value; in production, also that the signing key is a real secret.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `auth.*` key.
    pub fn validate(&self, env: Environment) -> Result<(), ConfigError> {
        for (key, value) in [
            ("auth.access_token_ttl_secs", self.access_token_ttl_secs),
            ("auth.session_lifetime_secs", self.session_lifetime_secs),
            ("auth.session_idle_timeout_secs", self.session_idle_timeout_secs),
        ] {
            if value <= 0 {
                return Err(ConfigError::new(key, "must be a positive number of seconds"));
            }
        }
        if self.access_token_ttl_secs > 24 * 3600 {
            return Err(ConfigError::new("auth.access_token_ttl_secs", "must be at most 86400 (one day)"));
        }
        if self.refresh_reuse_grace_secs < 0 || self.refresh_reuse_grace_secs > 300 {
            return Err(ConfigError::new("auth.refresh_reuse_grace_secs", "must be between 0 and 300"));
        }
        self.validate_secret(env)?;
        for (key, value) in [
            ("auth.email_verification_ttl_secs", self.email_verification_ttl_secs),
            ("auth.password_reset_ttl_secs", self.password_reset_ttl_secs),
        ] {
            if value <= 0 || value > 30 * 24 * 3600 {
                return Err(ConfigError::new(key, "must be a positive number of seconds, at most 30 days"));
            }
        }
        Ok(())
    }

    /// The signing key: long enough when set, and set to a real secret in production.
    fn validate_secret(&self, env: Environment) -> Result<(), ConfigError> {
        if let Some(secret) = &self.jwt_secret
            && secret.expose_secret().len() < 32
        {
            return Err(ConfigError::new("auth.jwt_secret", "must be at least 32 bytes long"));
        }
        if env == Environment::Production {
            match &self.jwt_secret {
                None => {
                    return Err(ConfigError::new("auth.jwt_secret", "must be set in production (FORGE_JWT_SECRET)"));
                }
                Some(secret) if is_weak_secret(secret.expose_secret()) => {
                    return Err(ConfigError::new(
                        "auth.jwt_secret",
                        "is a placeholder or too repetitive to be a secret",
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The authentication settings for the use cases, with the password policy in force and the
    /// app's address (for mailed links).
    #[must_use]
    pub fn settings(&self, password_policy: PasswordPolicy, public_url: &str) -> AuthSettings {
        AuthSettings {
            allow_registration: self.allow_registration,
            password_policy,
            access_token_ttl: chrono::Duration::seconds(self.access_token_ttl_secs),
            session_lifetime: chrono::Duration::seconds(self.session_lifetime_secs),
            session_idle_timeout: chrono::Duration::seconds(self.session_idle_timeout_secs),
            refresh_reuse_grace: chrono::Duration::seconds(self.refresh_reuse_grace_secs),
            require_verified_email: self.require_verified_email,
            public_url: public_url.to_owned(),
            email_verification_ttl: chrono::Duration::seconds(self.email_verification_ttl_secs),
            password_reset_ttl: chrono::Duration::seconds(self.password_reset_ttl_secs),
        }
    }
}

/// Placeholders and low-variety strings that must never sign production tokens.
fn is_weak_secret(secret: &str) -> bool {
    let lowered = secret.to_ascii_lowercase();
    let distinct = secret.chars().collect::<std::collections::HashSet<_>>().len();
    ["changeme", "change-me", "secret", "default", "example", "placeholder"].iter().any(|p| lowered.contains(p))
        || distinct < 10
}

#[cfg(test)]
// figment's `Jail` closures return its large error type; the tests build settings field by field.
#[allow(clippy::result_large_err, clippy::field_reassign_with_default)]
mod tests {
    use figment::Jail;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn production_refuses_a_missing_short_or_placeholder_secret() {
        let mut s = Settings { env: Environment::Production, ..Settings::default() };
        assert_eq!(s.validate().unwrap_err().key, "auth.jwt_secret");
        s.auth.jwt_secret = Some(SecretString::from("short"));
        assert_eq!(s.validate().unwrap_err().key, "auth.jwt_secret");
        s.auth.jwt_secret = Some(SecretString::from("changeme-changeme-changeme-changeme"));
        assert_eq!(s.validate().unwrap_err().key, "auth.jwt_secret");
        s.auth.jwt_secret = Some(SecretString::from("q8Zr2LkP0vXw7NcT4yHb9MfJ3sDg6AeU"));
        s.validate().unwrap();
    }

    #[test]
    fn the_refresh_cookie_and_grace_window_are_read_from_the_environment() {
        Jail::expect_with(|jail| {
            let defaults = Settings::load(None).unwrap();
            assert!(!defaults.auth.refresh_cookie);
            assert_eq!(defaults.auth.refresh_reuse_grace_secs, 0);
            jail.set_env("FORGE_AUTH__REFRESH_COOKIE", "true");
            jail.set_env("FORGE_AUTH__REFRESH_REUSE_GRACE_SECS", "5");
            let s = Settings::load(None).unwrap();
            assert!(s.auth.refresh_cookie);
            assert_eq!(s.auth_settings().refresh_reuse_grace, chrono::Duration::seconds(5));
            s.validate().unwrap();
            Ok(())
        });
        let mut s = Settings::default();
        s.auth.refresh_reuse_grace_secs = 301;
        assert_eq!(s.validate().unwrap_err().key, "auth.refresh_reuse_grace_secs");
    }

    #[test]
    fn mailed_links_live_a_positive_time_of_at_most_30_days() {
        let defaults = Settings::default();
        assert_eq!(defaults.auth_settings().password_reset_ttl, chrono::Duration::hours(1));
        assert_eq!(defaults.auth_settings().email_verification_ttl, chrono::Duration::hours(24));
        let mut s = Settings::default();
        s.auth.password_reset_ttl_secs = 0;
        assert_eq!(s.validate().unwrap_err().key, "auth.password_reset_ttl_secs");
        let mut auth = AuthConfig::default();
        auth.email_verification_ttl_secs = 31 * 24 * 3600;
        assert_eq!(auth.validate(Environment::Development).unwrap_err().key, "auth.email_verification_ttl_secs");
    }
}
