//! Configuration: built-in defaults, then `forge.toml` (or the file `--config` / `FORGE_CONFIG`
//! names), then `FORGE_<SECTION>__<KEY>` environment variables, then the short names of the
//! contract (`DATABASE_URL`, `FORGE_BIND`, ...). Read once, validated before anything starts: a bad
//! value stops start-up with a message naming the key and the reason.
//!
//! Each section of the file is a module here that owns its keys, its defaults and its checks:
//! [`server`], [`database`], [`redis`] (with `[cache]`), [`auth`], [`password`], [`cors`], [`admin`], [`log`],
//! [`rate_limit`], [`mail`] and [`idempotency`]. This module holds the top-level keys (`env`,
//! `data_dir`, `public_url`, `trusted_proxies`), the layering, and [`Settings::validate`], which
//! only composes the sections' checks.

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
use serde::{Deserialize, Deserializer, Serialize};

mod admin;
mod auth;
mod cors;
mod database;
mod hashing;
mod idempotency;
mod jobs;
mod log;
mod mail;
mod metrics;
mod password;
mod rate_limit;
mod realtime;
mod redis;
mod server;
mod traces;

pub use admin::AdminBootstrap;
pub use auth::AuthConfig;
pub use cors::CorsSettings;
pub use database::DatabaseSettings;
pub use hashing::HashingConfig;
pub use idempotency::IdempotencyConfig;
pub use jobs::{JobsConfig, QueueConfig};
pub use log::{LogFormat, LogSettings};
pub use mail::{MailSettings, MailTransport, SmtpTls};
pub use metrics::{MetricsExposure, MetricsSettings};
pub use rate_limit::RateLimitConfig;
pub use realtime::RealtimeConfig;
pub use redis::{CacheConfig, RedisSettings};
pub use server::ServerSettings;
pub use traces::TracingSettings;

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
    /// The read cache of principals and accounts.
    pub cache: CacheConfig,
    /// Tokens, sessions and registration.
    pub auth: AuthConfig,
    /// The password policy.
    #[serde(with = "password::PasswordPolicyDef")]
    pub password: PasswordPolicy,
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
    /// Where `GET /metrics` is served, and to whom.
    pub metrics: MetricsSettings,
    /// OpenTelemetry traces, where the `OTEL_*` variables do not say.
    pub tracing: TracingSettings,
    /// Background job queues and their workers.
    pub jobs: JobsConfig,
    /// WebSocket connections and their bounds.
    pub realtime: RealtimeConfig,
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
            cache: CacheConfig::default(),
            auth: AuthConfig::default(),
            password: PasswordPolicy::default(),
            cors: CorsSettings::default(),
            admin: AdminBootstrap::default(),
            log: LogSettings::default(),
            rate_limit: RateLimitConfig::default(),
            mail: MailSettings::default(),
            idempotency: IdempotencyConfig::default(),
            hashing: HashingConfig::default(),
            metrics: MetricsSettings::default(),
            tracing: TracingSettings::default(),
            jobs: JobsConfig::default(),
            realtime: RealtimeConfig::default(),
        }
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
        self.database.url_in(&self.data_dir)
    }

    /// Whether the database is the embedded SQLite one.
    #[must_use]
    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// Checks every value that could stop the service later, so it stops now instead. Each
    /// section checks its own values; this only composes them.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.database.validate(&self.data_dir)?;
        validate_public_url(&self.public_url)?;
        self.cors.validate()?;
        self.trusted_proxy_networks()?;
        self.auth.validate(self.env)?;
        self.idempotency.validate()?;
        self.hashing.validate()?;
        self.realtime.validate()?;
        self.redis.validate()?;
        self.cache.validate()?;
        self.metrics.validate()?;
        self.tracing.validate()?;
        password::validate(&self.password)?;
        self.mail.validate()?;
        self.admin.validate()?;
        self.jobs.validate()?;
        self.rate_limit.validate()
    }

    /// The listen address.
    ///
    /// # Errors
    /// [`ConfigError`] for `server.bind` when it is not `host:port`.
    pub fn bind_address(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind_address()
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
        self.auth.settings(self.password.clone(), &self.public_url)
    }

    /// The request time limit.
    #[must_use]
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.server.request_timeout_secs)
    }

    /// How long idempotency keys are kept, and leased while their request runs.
    #[must_use]
    pub fn idempotency_settings(&self) -> IdempotencySettings {
        self.idempotency.settings(self.server.longest_request_secs())
    }
}

/// The app's address must be an absolute HTTP(S) URL: mail links are built on it.
fn validate_public_url(public_url: &str) -> Result<(), ConfigError> {
    if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
        return Err(ConfigError::new("public_url", "must be an http:// or https:// URL"));
    }
    Ok(())
}

/// In the sections' tests: a key and a way to spoil its value.
#[cfg(test)]
type Spoiled<T> = (&'static str, fn(&mut T));

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
}
