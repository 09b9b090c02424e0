//! Configuration: built-in defaults, then `forge.toml` (or the file `--config` / `FORGE_CONFIG`
//! names), then `FORGE_<SECTION>__<KEY>` environment variables, then the short names of the
//! contract (`DATABASE_URL`, `FORGE_BIND`, ...). Read once, validated before anything starts: a bad
//! value stops start-up with a message naming the key and the reason.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use forge_application::{auth::AuthSettings, idempotency::IdempotencySettings};
use forge_domain::users::PasswordPolicy;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

mod hashing;
mod rate_limit;

pub use hashing::HashingConfig;
pub use rate_limit::RateLimitConfig;

/// The settings of one `forge` process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// `development` or `production`.
    pub env: Environment,
    /// Where the embedded database, mail files, exports and the development JWT key go.
    pub data_dir: PathBuf,
    /// The single-page app's address: used in mail links and allowed by CORS.
    pub public_url: String,
    /// Addresses or CIDR ranges of proxies whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
    /// The HTTP server.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// Redis (cache, limits, revocations, jobs, events). None: in-process adapters.
    pub redis: RedisSettings,
    /// Tokens, sessions and registration.
    pub auth: AuthConfig,
    /// The password policy.
    pub password: PasswordConfig,
    /// Cross-origin requests.
    pub cors: CorsSettings,
    /// The admin created on start when none exists.
    pub admin: AdminBootstrap,
    /// Logging.
    pub log: LogSettings,
    /// Request limits and the lockout after repeated failed logins.
    pub rate_limit: RateLimitConfig,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// `Idempotency-Key` retention.
    pub idempotency: IdempotencyConfig,
    /// The password-hashing threads and their queue.
    pub hashing: HashingConfig,
}

/// Development or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Generated secrets are fine; human-readable logs.
    #[default]
    Development,
    /// Refuses default or short secrets; JSON logs.
    Production,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct ServerSettings {
    pub bind: String,
    /// Worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    /// How long a graceful shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// The largest body of a bulk endpoint (`POST /users/bulk`).
    pub bulk_body_limit_bytes: usize,
    /// How long a request to a bulk endpoint may run.
    pub bulk_request_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; default `sqlite://<data dir>/forge.db`.
    pub url: Option<String>,
    pub max_connections: Option<u32>,
    /// Apply pending migrations when `serve` starts. Default: on for SQLite, off for PostgreSQL
    /// (run `forge migrate up` as a release step instead).
    pub migrate_on_start: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct RedisSettings {
    pub url: Option<String>,
}

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct PasswordConfig {
    pub min_length: usize,
    pub max_length: usize,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
    pub reject_common: bool,
    pub reject_personal_info: bool,
    pub min_strength: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct CorsSettings {
    #[serde(deserialize_with = "string_or_list")]
    pub origins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct AdminBootstrap {
    pub email: Option<String>,
    pub username: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct LogSettings {
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub level: String,
    /// `pretty`, `json`, or unset: pretty in development, JSON in production.
    pub format: Option<LogFormat>,
}

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
    /// Messages that may wait for delivery at once; past that, new ones are dropped (and logged).
    pub queue_capacity: usize,
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
            queue_capacity: 1024,
        }
    }
}

/// `Idempotency-Key` retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct IdempotencyConfig {
    /// How long the response to a request with an `Idempotency-Key` is replayed.
    pub ttl_secs: i64,
    /// How often expired keys are purged.
    pub purge_interval_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self { ttl_secs: 24 * 3600, purge_interval_secs: 3600 }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            env: Environment::Development,
            data_dir: PathBuf::from("./data"),
            public_url: "http://localhost:3000".into(),
            trusted_proxies: Vec::new(),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            redis: RedisSettings::default(),
            auth: AuthConfig::default(),
            password: PasswordConfig::default(),
            cors: CorsSettings::default(),
            admin: AdminBootstrap::default(),
            log: LogSettings::default(),
            rate_limit: RateLimitConfig::default(),
            mail: MailSettings::default(),
            idempotency: IdempotencyConfig::default(),
            hashing: HashingConfig::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            workers: None,
            request_timeout_secs: 30,
            body_limit_bytes: 1024 * 1024,
            shutdown_timeout_secs: 30,
            bulk_body_limit_bytes: 4 * 1024 * 1024,
            bulk_request_timeout_secs: 120,
        }
    }
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

impl Default for PasswordConfig {
    fn default() -> Self {
        let p = PasswordPolicy::default();
        Self {
            min_length: p.min_length,
            max_length: p.max_length,
            require_uppercase: p.require_uppercase,
            require_lowercase: p.require_lowercase,
            require_digit: p.require_digit,
            require_symbol: p.require_symbol,
            reject_common: p.reject_common,
            reject_personal_info: p.reject_personal_info,
            min_strength: p.min_strength,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { level: "info".into(), format: None }
    }
}

/// Short environment variable names of the contract and the keys they set.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("REDIS_URL", "redis.url"),
    ("FORGE_DATA_DIR", "data_dir"),
    ("FORGE_BIND", "server.bind"),
    ("FORGE_ENV", "env"),
    ("FORGE_JWT_SECRET", "auth.jwt_secret"),
    ("FORGE_PUBLIC_URL", "public_url"),
    ("FORGE_CORS_ORIGINS", "cors.origins"),
    ("FORGE_TRUSTED_PROXIES", "trusted_proxies"),
    ("FORGE_ADMIN_EMAIL", "admin.email"),
    ("FORGE_ADMIN_USERNAME", "admin.username"),
    ("FORGE_ADMIN_PASSWORD", "admin.password"),
];

/// A setting that cannot be used, with the key that holds it.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {key}: {reason}")]
pub struct ConfigError {
    /// The dotted key, e.g. `server.bind`.
    pub key: String,
    /// Why it is refused.
    pub reason: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self { key: key.into(), reason: reason.to_string() }
    }
}

impl Settings {
    /// Loads the layered settings. `config_file` is `--config`/`FORGE_CONFIG`; without it
    /// `forge.toml` in the working directory is read if present.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key whose value cannot be read.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = config_file.map_or_else(|| PathBuf::from("forge.toml"), Path::to_path_buf);
        if config_file.is_some() && !file.exists() {
            return Err(ConfigError::new("--config", format!("{} does not exist", file.display())));
        }
        let short = Env::raw().filter_map(|key| {
            SHORT_NAMES
                .iter()
                .find(|(name, _)| key.as_str().eq_ignore_ascii_case(name))
                .map(|(_, target)| (*target).into())
        });
        Figment::from(Serialized::defaults(Self::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("FORGE_").filter(|key| key.as_str().contains("__")).split("__"))
            .merge(short)
            .extract()
            .map_err(|e| {
                let key = e.path.join(".");
                ConfigError::new(if key.is_empty() { "settings".to_owned() } else { key }, e.kind)
            })
    }

    /// The database URL in force.
    #[must_use]
    pub fn database_url(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("forge.db").display()))
    }

    /// Whether the database is the embedded SQLite one.
    #[must_use]
    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// Checks every value that could stop the service later, so it stops now instead.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind_address()?;
        let url = self.database_url();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::new("database.url", "must start with sqlite:, postgres:// or postgresql://"));
        }
        if self.database.max_connections == Some(0) {
            return Err(ConfigError::new("database.max_connections", "must be at least 1"));
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError::new("public_url", "must be an http:// or https:// URL"));
        }
        for origin in &self.cors.origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.trim_end_matches('/') != origin
            {
                return Err(ConfigError::new(
                    "cors.origins",
                    format!("{origin:?} is not an origin such as https://app.example.com"),
                ));
            }
        }
        self.trusted_proxy_networks()?;
        if self.server.request_timeout_secs == 0 {
            return Err(ConfigError::new("server.request_timeout_secs", "must be at least 1"));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(ConfigError::new("server.body_limit_bytes", "must be at least 1024"));
        }
        if self.server.bulk_body_limit_bytes < self.server.body_limit_bytes {
            return Err(ConfigError::new("server.bulk_body_limit_bytes", "must be at least server.body_limit_bytes"));
        }
        if self.server.bulk_request_timeout_secs < self.server.request_timeout_secs {
            return Err(ConfigError::new(
                "server.bulk_request_timeout_secs",
                "must be at least server.request_timeout_secs",
            ));
        }
        if self.server.workers == Some(0) {
            return Err(ConfigError::new("server.workers", "must be at least 1"));
        }
        for (key, value) in [
            ("auth.access_token_ttl_secs", self.auth.access_token_ttl_secs),
            ("auth.session_lifetime_secs", self.auth.session_lifetime_secs),
            ("auth.session_idle_timeout_secs", self.auth.session_idle_timeout_secs),
        ] {
            if value <= 0 {
                return Err(ConfigError::new(key, "must be a positive number of seconds"));
            }
        }
        if self.auth.access_token_ttl_secs > 24 * 3600 {
            return Err(ConfigError::new("auth.access_token_ttl_secs", "must be at most 86400 (one day)"));
        }
        if self.auth.refresh_reuse_grace_secs < 0 || self.auth.refresh_reuse_grace_secs > 300 {
            return Err(ConfigError::new("auth.refresh_reuse_grace_secs", "must be between 0 and 300"));
        }
        if self.idempotency.ttl_secs < 60 || self.idempotency.ttl_secs > 30 * 24 * 3600 {
            return Err(ConfigError::new("idempotency.ttl_secs", "must be between 60 and 2592000 (30 days)"));
        }
        if self.idempotency.purge_interval_secs == 0 {
            return Err(ConfigError::new("idempotency.purge_interval_secs", "must be at least 1"));
        }
        let p = &self.password;
        if p.min_length < 1 || p.min_length > p.max_length {
            return Err(ConfigError::new("password.min_length", "must be at least 1 and at most password.max_length"));
        }
        if p.max_length > 1024 {
            return Err(ConfigError::new("password.max_length", "must be at most 1024"));
        }
        if p.min_strength > 4 {
            return Err(ConfigError::new("password.min_strength", "must be between 0 and 4"));
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.expose_secret().len() < 32
        {
            return Err(ConfigError::new("auth.jwt_secret", "must be at least 32 bytes long"));
        }
        if self.env == Environment::Production {
            match &self.auth.jwt_secret {
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
        self.validate_account_mail()?;
        // The password alone is how `forge create-admin` receives it; the bootstrap admin of
        // `serve` needs all three.
        let admin = &self.admin;
        if (admin.email.is_some() || admin.username.is_some())
            && !(admin.email.is_some() && admin.username.is_some() && admin.password.is_some())
        {
            return Err(ConfigError::new(
                "admin",
                "FORGE_ADMIN_EMAIL, FORGE_ADMIN_USERNAME and FORGE_ADMIN_PASSWORD must be set together",
            ));
        }
        self.rate_limit.validate()?;
        self.hashing.validate()?;
        Ok(())
    }

    /// The `mail` section and the lifetimes of mailed links.
    fn validate_account_mail(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("auth.email_verification_ttl_secs", self.auth.email_verification_ttl_secs),
            ("auth.password_reset_ttl_secs", self.auth.password_reset_ttl_secs),
        ] {
            if value <= 0 || value > 30 * 24 * 3600 {
                return Err(ConfigError::new(key, "must be a positive number of seconds, at most 30 days"));
            }
        }
        let mail = &self.mail;
        forge_infrastructure::mail::parse_sender(&mail.from).map_err(|reason| ConfigError::new("mail.from", reason))?;
        if mail.transport == MailTransport::Smtp && mail.smtp_host.as_deref().is_none_or(|h| h.trim().is_empty()) {
            return Err(ConfigError::new("mail.smtp_host", "must be set when mail.transport is smtp"));
        }
        if mail.smtp_port == Some(0) {
            return Err(ConfigError::new("mail.smtp_port", "must be between 1 and 65535"));
        }
        match (&mail.smtp_username, &mail.smtp_password) {
            (Some(_), None) => {
                return Err(ConfigError::new("mail.smtp_password", "must be set with mail.smtp_username"));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new("mail.smtp_username", "must be set with mail.smtp_password"));
            }
            _ => {}
        }
        if mail.smtp_timeout_secs == 0 {
            return Err(ConfigError::new("mail.smtp_timeout_secs", "must be at least 1"));
        }
        if !(1..=20).contains(&mail.max_attempts) {
            return Err(ConfigError::new("mail.max_attempts", "must be between 1 and 20"));
        }
        if !(1..=3_600_000).contains(&mail.retry_initial_delay_ms) {
            return Err(ConfigError::new("mail.retry_initial_delay_ms", "must be between 1 and 3600000 (an hour)"));
        }
        if mail.queue_capacity == 0 {
            return Err(ConfigError::new("mail.queue_capacity", "must be at least 1"));
        }
        Ok(())
    }

    /// The listen address.
    ///
    /// # Errors
    /// [`ConfigError`] for `server.bind` when it is not `host:port`.
    pub fn bind_address(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|_| {
            ConfigError::new("server.bind", format!("{:?} is not an address such as 127.0.0.1:8000", self.server.bind))
        })
    }

    /// The trusted proxies as networks (a bare address is a /32 or /128).
    ///
    /// # Errors
    /// [`ConfigError`] for `trusted_proxies`.
    pub fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|raw| {
                raw.parse::<ipnet::IpNet>()
                    .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::new("trusted_proxies", format!("{raw:?} is not an IP address or CIDR range"))
                    })
            })
            .collect()
    }

    /// The authentication settings for the use cases.
    #[must_use]
    pub fn auth_settings(&self) -> AuthSettings {
        let p = &self.password;
        AuthSettings {
            allow_registration: self.auth.allow_registration,
            password_policy: PasswordPolicy {
                min_length: p.min_length,
                max_length: p.max_length,
                require_uppercase: p.require_uppercase,
                require_lowercase: p.require_lowercase,
                require_digit: p.require_digit,
                require_symbol: p.require_symbol,
                reject_common: p.reject_common,
                reject_personal_info: p.reject_personal_info,
                min_strength: p.min_strength,
            },
            access_token_ttl: chrono::Duration::seconds(self.auth.access_token_ttl_secs),
            session_lifetime: chrono::Duration::seconds(self.auth.session_lifetime_secs),
            session_idle_timeout: chrono::Duration::seconds(self.auth.session_idle_timeout_secs),
            refresh_reuse_grace: chrono::Duration::seconds(self.auth.refresh_reuse_grace_secs),
            require_verified_email: self.auth.require_verified_email,
            public_url: self.public_url.clone(),
            email_verification_ttl: chrono::Duration::seconds(self.auth.email_verification_ttl_secs),
            password_reset_ttl: chrono::Duration::seconds(self.auth.password_reset_ttl_secs),
        }
    }

    /// The request time limit.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.server.request_timeout_secs)
    }

    /// How long idempotency keys are kept. An unfinished claim holds its key for as long as the
    /// slowest request may run (the bulk time limit) and a minute more: past that its instance
    /// must have crashed.
    #[must_use]
    pub fn idempotency_settings(&self) -> IdempotencySettings {
        let longest = self.server.request_timeout_secs.max(self.server.bulk_request_timeout_secs);
        IdempotencySettings {
            ttl: chrono::Duration::seconds(self.idempotency.ttl_secs),
            lease: chrono::Duration::seconds(i64::try_from(longest).unwrap_or(i64::MAX / 2) + 60),
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

/// Accepts `["a", "b"]` in TOML and `a,b` in an environment variable.
fn string_or_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(deserializer)? {
        Raw::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        Raw::Many(v) => v,
    })
}

#[cfg(test)]
// figment's `Jail` closures return its large error type; the tests build settings field by field.
#[allow(clippy::result_large_err, clippy::field_reassign_with_default)]
mod tests {
    use figment::Jail;

    use super::*;

    #[test]
    fn defaults_are_the_embedded_mode() {
        Jail::expect_with(|_| {
            let s = Settings::load(None).unwrap();
            assert_eq!(s.server.bind, "127.0.0.1:8000");
            assert_eq!(s.database_url(), "sqlite://./data/forge.db");
            assert!(s.uses_sqlite());
            assert_eq!(s.env, Environment::Development);
            s.validate().unwrap();
            Ok(())
        });
    }

    #[test]
    fn short_names_file_and_sectioned_variables_are_layered() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "forge.toml",
                "public_url = \"https://file.example.com\"\n[server]\nbind = \"0.0.0.0:9000\"\n",
            )?;
            jail.set_env("FORGE_BIND", "127.0.0.1:7000");
            jail.set_env("DATABASE_URL", "postgres://db.example.com/forge");
            jail.set_env("FORGE_CORS_ORIGINS", "https://a.example.com, https://b.example.com");
            jail.set_env("FORGE_AUTH__ACCESS_TOKEN_TTL_SECS", "600");
            let s = Settings::load(None).unwrap();
            assert_eq!(s.public_url, "https://file.example.com");
            assert_eq!(s.server.bind, "127.0.0.1:7000");
            assert_eq!(s.database_url(), "postgres://db.example.com/forge");
            assert_eq!(s.cors.origins, ["https://a.example.com", "https://b.example.com"]);
            assert_eq!(s.auth.access_token_ttl_secs, 600);
            Ok(())
        });
    }

    #[test]
    fn an_unreadable_value_names_its_key() {
        Jail::expect_with(|jail| {
            jail.set_env("FORGE_SERVER__REQUEST_TIMEOUT_SECS", "soon");
            let err = Settings::load(None).unwrap_err();
            assert_eq!(err.key, "server.request_timeout_secs");
            Ok(())
        });
    }

    #[test]
    fn validation_names_the_bad_key() {
        let mut s = Settings::default();
        s.server.bind = "localhost".into();
        assert_eq!(s.validate().unwrap_err().key, "server.bind");
        let mut s = Settings::default();
        s.trusted_proxies = vec!["10.0.0.0/8".into(), "nonsense".into()];
        assert_eq!(s.validate().unwrap_err().key, "trusted_proxies");
        let mut s = Settings::default();
        s.password.min_strength = 5;
        assert_eq!(s.validate().unwrap_err().key, "password.min_strength");
        let mut s = Settings::default();
        s.idempotency.ttl_secs = 0;
        assert_eq!(s.validate().unwrap_err().key, "idempotency.ttl_secs");
        let mut s = Settings::default();
        s.server.bulk_body_limit_bytes = 1024;
        assert_eq!(s.validate().unwrap_err().key, "server.bulk_body_limit_bytes");
        let mut s = Settings::default();
        s.server.bulk_request_timeout_secs = 5;
        assert_eq!(s.validate().unwrap_err().key, "server.bulk_request_timeout_secs");
    }

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
    fn the_admin_bootstrap_needs_all_three_values() {
        let mut s = Settings::default();
        s.admin.email = Some("root@example.com".into());
        assert_eq!(s.validate().unwrap_err().key, "admin");
        let mut s = Settings::default();
        s.admin.password = Some(SecretString::from("Analytical-Engine-1843!"));
        s.validate().expect("the password alone is create-admin's input");
    }

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
        assert_eq!(defaults.auth_settings().password_reset_ttl, chrono::Duration::hours(1));
        assert_eq!(defaults.auth_settings().email_verification_ttl, chrono::Duration::hours(24));
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
        let mut s = Settings::default();
        s.auth.password_reset_ttl_secs = 0;
        assert_eq!(s.validate().unwrap_err().key, "auth.password_reset_ttl_secs");
    }
}
