//! Wiring: settings in, a running HTTP server out.

use std::{net::TcpListener, path::Path, sync::Arc, time::Duration};

use actix_web::{HttpServer, dev::Server};
use anyhow::Context;
use forge_application::auth::ports::OpaqueTokens;
use forge_application::{
    account::{AccountPorts, AccountService},
    api_keys::{ApiKeyPorts, ApiKeyService},
    audit::AuditLogService,
    auth::{AuthPorts, AuthService},
    common::Clock,
    dashboard::DashboardService,
    health::HealthService,
    idempotency::IdempotencyService,
    limits::{LimitService, LockoutPorts, LockoutService},
    mail::{MailQueue, MailTemplates, Mailer},
    metrics::MetricsService,
    projects::{ProjectPorts, ProjectService},
    users::{NewAdminCommand, UserPorts, UserService},
};
use forge_infrastructure::{
    Argon2Hasher, DatabaseProbe, InMemoryRateLimiter, InMemoryRevocationStore, InMemoryStatsCache, JwtAccessTokens,
    QueryStats, RandomTokens, SeaAccountTokenRepository, SeaApiKeyRepository, SeaAuditLogRepository,
    SeaDatabaseMetrics, SeaIdempotencyStore, SeaLoginThrottleRepository, SeaProjectRepository, SeaSessionRepository,
    SeaStatsSource, SeaUnitOfWork, SeaUserRepository, SystemClock,
    mail::{
        FileMailer, InProcessMailQueue, MailTemplateSet, MailWorker, RetryPolicy, SmtpConfig, SmtpMailer, SmtpSecurity,
        parse_sender,
    },
};
use forge_migration::{Migrator, MigratorTrait};
use forge_presentation::{AppState, HttpSettings};
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{MailTransport, Settings, SmtpTls};

/// Replacements for adapters, for test harnesses (an injectable clock instead of sleeping).
#[derive(Default, Clone)]
pub struct Overrides {
    /// The clock every use case reads.
    pub clock: Option<Arc<dyn Clock>>,
}

/// The use cases, built once and shared by every worker.
#[derive(Clone)]
pub struct Services {
    /// Authentication.
    pub auth: AuthService,
    /// Users management.
    pub users: UserService,
    /// Readiness.
    pub health: HealthService,
    /// E-mail verification, password reset and change.
    pub account: AccountService,
    /// The worker delivering queued mail; stopped (and drained) after the HTTP server.
    pub mail_worker: Arc<MailWorker>,
    /// API keys.
    pub api_keys: ApiKeyService,
    /// Request limits.
    pub limits: LimitService,
    /// The lockout after repeated failed logins.
    pub lockout: LockoutService,
    /// Projects and their members.
    pub projects: ProjectService,
    /// Reading the audit trail.
    pub audit: AuditLogService,
    /// `Idempotency-Key` claims and replays.
    pub idempotency: IdempotencyService,
    /// The dashboard's statistics.
    pub dashboard: DashboardService,
    /// Operational figures.
    pub metrics: MetricsService,
    /// Statement counts of the database pool.
    pub query_stats: Arc<QueryStats>,
    /// The password hasher, for its pool's figures.
    pub password_hasher: Arc<Argon2Hasher>,
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    services: Services,
    query_stats: Arc<QueryStats>,
    shutdown_grace: Duration,
    purge: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Validates the settings, connects and (when configured) migrates the database, wires the
    /// use cases, creates the bootstrap admin, and binds the listener.
    ///
    /// # Errors
    /// Any reason the service cannot start, with context naming what failed.
    pub async fn build(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        settings.validate()?;
        let address = settings.bind_address()?;
        let database = open_database(&settings, true).await?;
        let services = wire(&settings, database, &overrides).await?;
        let query_stats = services.query_stats.clone();

        let restored = services.auth.reload_revocations().await.context("loading session revocations")?;
        tracing::debug!(restored, "session revocations loaded");
        bootstrap_admin(&settings, &services.users).await?;

        let listener = TcpListener::bind(address).with_context(|| format!("binding {address}"))?;
        let port = listener.local_addr()?.port();
        let state = AppState {
            auth: services.auth.clone(),
            users: services.users.clone(),
            health: services.health.clone(),
            http: Arc::new(HttpSettings {
                public_url: settings.public_url.clone(),
                cors_origins: settings.cors.origins.clone(),
                trusted_proxies: settings.trusted_proxy_networks()?,
                body_limit: settings.server.body_limit_bytes,
                request_timeout: settings.request_timeout(),
                version: env!("CARGO_PKG_VERSION").into(),
                refresh_cookie: settings.auth.refresh_cookie,
                bulk_body_limit: settings.server.bulk_body_limit_bytes,
                bulk_request_timeout: std::time::Duration::from_secs(settings.server.bulk_request_timeout_secs),
            }),
            account: services.account.clone(),
            api_keys: services.api_keys.clone(),
            limits: services.limits.clone(),
            lockout: services.lockout.clone(),
            projects: services.projects.clone(),
            audit: services.audit.clone(),
            idempotency: services.idempotency.clone(),
            dashboard: services.dashboard.clone(),
            metrics: services.metrics.clone(),
        };
        let mut server = HttpServer::new(move || forge_presentation::build_app(state.clone()))
            .shutdown_timeout(settings.server.shutdown_timeout_secs)
            .listen(listener)?;
        if let Some(workers) = settings.server.workers {
            server = server.workers(workers);
        }
        tracing::info!(%address, port, database = if settings.uses_sqlite() { "sqlite" } else { "postgres" }, "listening");
        let shutdown_grace = Duration::from_secs(settings.server.shutdown_timeout_secs);
        let purge = tokio::spawn(purge_idempotency_keys(
            services.idempotency.clone(),
            std::time::Duration::from_secs(settings.idempotency.purge_interval_secs),
        ));
        Ok(Self { port, server: server.run(), services, query_stats, shutdown_grace, purge })
    }

    /// The port actually bound (useful with port 0).
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The use cases, for harnesses that act without HTTP.
    #[must_use]
    pub const fn services(&self) -> &Services {
        &self.services
    }

    /// Statement counts of the database pool.
    #[must_use]
    pub fn query_stats(&self) -> Arc<QueryStats> {
        self.query_stats.clone()
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes in-flight requests, delivers the mail still
    /// queued (within the shutdown grace period), and returns.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.purge.abort();
        self.services.mail_worker.shutdown(self.shutdown_grace).await;
        served
    }
}

/// Connects to the configured database. With `for_serving`, applies pending migrations when
/// `database.migrate_on_start` says so (default: SQLite yes, PostgreSQL no) and otherwise refuses
/// to serve a schema with pending migrations; without it (schema management), opens a single
/// connection.
///
/// # Errors
/// Connection or migration failures.
pub async fn open_database(settings: &Settings, for_serving: bool) -> anyhow::Result<DatabaseConnection> {
    let url = settings.database_url();
    if settings.uses_sqlite() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    }
    // Schema management runs on one connection: SQLite's `PRAGMA foreign_keys = OFF`, which
    // `migrate fresh` issues before dropping the tables, holds for the connection it runs on only,
    // and the drops must run on that same one.
    let max_connections = if for_serving {
        settings.database.max_connections.unwrap_or(if settings.uses_sqlite() { 8 } else { 16 })
    } else {
        1
    };
    let database = forge_infrastructure::connect(&url, max_connections)
        .await
        .with_context(|| format!("connecting to the database ({})", redact(&url)))?;
    if for_serving {
        if settings.database.migrate_on_start.unwrap_or_else(|| settings.uses_sqlite()) {
            Migrator::up(&database, None).await.context("migrating the database")?;
        } else {
            let pending = Migrator::get_pending_migrations(&database).await.context("reading the migration status")?;
            anyhow::ensure!(
                pending.is_empty(),
                "the database has {} pending migration(s): run `forge migrate up` first",
                pending.len()
            );
        }
    }
    Ok(database)
}

/// Builds every adapter and use case, and counts the statements run on `database`.
///
/// # Errors
/// When the JWT key cannot be read or created, or the schema cannot be read.
pub async fn wire(
    settings: &Settings,
    mut database: DatabaseConnection,
    overrides: &Overrides,
) -> anyhow::Result<Services> {
    // Before the connection is cloned: clones share the counter.
    let query_stats = QueryStats::attach(&mut database);
    let auth_settings = settings.auth_settings();
    let secret = jwt_secret(settings)?;
    let clock: Arc<dyn Clock> = overrides.clock.clone().unwrap_or_else(|| Arc::new(SystemClock::new()));
    let users = Arc::new(SeaUserRepository::new(database.clone()));
    let sessions = Arc::new(SeaSessionRepository::new(database.clone()));
    let unit_of_work = Arc::new(SeaUnitOfWork::new(database.clone()));
    let hasher = Arc::new(
        Argon2Hasher::owasp(settings.hashing.pool_settings()).context("starting the password-hashing threads")?,
    );
    let revocations = Arc::new(InMemoryRevocationStore::new(clock.clone()));
    let opaque_tokens = Arc::new(RandomTokens::new());
    let access_tokens = Arc::new(JwtAccessTokens::new(
        secret.expose_secret().as_bytes(),
        settings.auth.jwt_issuer.clone(),
        settings.auth.jwt_audience.clone(),
        auth_settings.access_token_ttl,
    ));
    // In-process limits: one instance counts alone (a shared adapter is for several).
    let limiter = Arc::new(InMemoryRateLimiter::new(settings.rate_limit.capacity));
    let lockout = LockoutService::new(
        LockoutPorts {
            users: users.clone(),
            throttles: Arc::new(SeaLoginThrottleRepository::new(database.clone())),
            limiter: limiter.clone(),
            unit_of_work: unit_of_work.clone(),
            clock: clock.clone(),
        },
        settings.rate_limit.lockout_policy(),
    );
    let limits = LimitService::new(limiter, clock.clone(), settings.rate_limit.limits()?);
    let Mail { templates: mail_templates, queue: mail_queue, worker: mail_worker } = mail(settings)?;
    let auth = AuthService::new(
        AuthPorts {
            users: users.clone(),
            sessions: sessions.clone(),
            unit_of_work: unit_of_work.clone(),
            hasher: hasher.clone(),
            access_tokens,
            opaque_tokens: opaque_tokens.clone(),
            revocations: revocations.clone(),
            clock: clock.clone(),
            mail_templates: mail_templates.clone(),
            mail_queue: mail_queue.clone(),
        },
        auth_settings.clone(),
    );
    let account = AccountService::new(
        AccountPorts {
            users: users.clone(),
            sessions: sessions.clone(),
            tokens: Arc::new(SeaAccountTokenRepository::new(database.clone())),
            unit_of_work: unit_of_work.clone(),
            hasher: hasher.clone(),
            opaque_tokens: opaque_tokens.clone(),
            revocations: revocations.clone(),
            mail_templates: mail_templates.clone(),
            mail_queue: mail_queue.clone(),
            clock: clock.clone(),
        },
        auth_settings.clone(),
    );
    let api_keys = ApiKeyService::new(ApiKeyPorts {
        api_keys: Arc::new(SeaApiKeyRepository::new(database.clone())),
        users: users.clone(),
        unit_of_work: unit_of_work.clone(),
        tokens: opaque_tokens.clone(),
        clock: clock.clone(),
    });
    let projects = ProjectService::new(ProjectPorts {
        projects: Arc::new(SeaProjectRepository::new(database.clone())),
        users: users.clone(),
        unit_of_work: unit_of_work.clone(),
        clock: clock.clone(),
    });
    let auth = if settings.rate_limit.lockout_enabled { auth.with_lockout(lockout.clone()) } else { auth };
    let users = UserService::new(
        UserPorts {
            users,
            sessions,
            unit_of_work,
            hasher: hasher.clone(),
            revocations,
            clock: clock.clone(),
            opaque_tokens,
            mail_templates,
            mail_queue,
        },
        auth_settings,
    );
    let audit = AuditLogService::new(Arc::new(SeaAuditLogRepository::new(database.clone())));
    let idempotency = IdempotencyService::new(
        Arc::new(SeaIdempotencyStore::new(database.clone())),
        clock.clone(),
        settings.idempotency_settings(),
    );
    let health = HealthService::new()
        .with_probe("database", Arc::new(DatabaseProbe::new(database.clone(), std::time::Duration::from_secs(2))));
    let stats_source = SeaStatsSource::new(database.clone());
    let dashboard = DashboardService::new(
        Arc::new(stats_source),
        Arc::new(InMemoryStatsCache::new()),
        clock.clone(),
        DashboardService::DEFAULT_MAX_AGE,
    );
    let metrics = MetricsService::new(Arc::new(SeaDatabaseMetrics::new(database, query_stats.clone())));
    Ok(Services {
        auth,
        users,
        health,
        account,
        api_keys,
        limits,
        lockout,
        projects,
        mail_worker: Arc::new(mail_worker),
        audit,
        idempotency,
        dashboard,
        metrics,
        query_stats,
        password_hasher: hasher,
    })
}

/// Forgets expired idempotency keys every `every`, for as long as the server runs (keys are also
/// judged expired when they are used, so this only bounds the table's size).
async fn purge_idempotency_keys(idempotency: IdempotencyService, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match idempotency.purge_expired().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "expired idempotency keys purged"),
            Err(e) => tracing::warn!(error = ?e, "purging expired idempotency keys failed; retrying later"),
        }
    }
}

/// What the use cases mail through, and the worker behind the queue.
struct Mail {
    templates: Arc<dyn MailTemplates>,
    queue: Arc<dyn MailQueue>,
    worker: MailWorker,
}

/// The mail templates, the configured mailer (`.eml` files under `<data dir>/mail/`, or SMTP)
/// and the in-process queue delivering through it, whose worker starts now.
///
/// # Errors
/// A template that does not compile, or an unusable sender or SMTP host.
fn mail(settings: &Settings) -> anyhow::Result<Mail> {
    let config = &settings.mail;
    let templates = MailTemplateSet::new("Forge").context("compiling the mail templates")?;
    let from = parse_sender(&config.from).map_err(|reason| anyhow::anyhow!("mail.from: {reason}"))?;
    let mailer: Arc<dyn Mailer> = match config.transport {
        MailTransport::File => {
            let dir = settings.data_dir.join("mail");
            tracing::info!(dir = %dir.display(), "mail is written to files");
            Arc::new(FileMailer::new(dir, from))
        }
        MailTransport::Smtp => {
            let host = config.smtp_host.clone().context("mail.smtp_host must be set when mail.transport is smtp")?;
            let security = match config.smtp_tls {
                SmtpTls::None => SmtpSecurity::None,
                SmtpTls::Starttls => SmtpSecurity::StartTls,
                SmtpTls::Tls => SmtpSecurity::Tls,
            };
            tracing::info!(%host, port = ?config.smtp_port, tls = ?config.smtp_tls, "mail is sent over SMTP");
            Arc::new(
                SmtpMailer::new(
                    SmtpConfig {
                        host,
                        port: config.smtp_port,
                        username: config.smtp_username.clone(),
                        password: config.smtp_password.clone(),
                        security,
                        timeout: Duration::from_secs(config.smtp_timeout_secs),
                    },
                    from,
                )
                .map_err(|reason| anyhow::anyhow!("mail.smtp_host: {reason}"))?,
            )
        }
    };
    let policy = RetryPolicy {
        max_attempts: config.max_attempts,
        first_delay: Duration::from_millis(config.retry_initial_delay_ms),
    };
    let (queue, worker) = InProcessMailQueue::start(mailer, policy, config.queue_capacity);
    Ok(Mail { templates: Arc::new(templates), queue: Arc::new(queue), worker })
}

/// Creates the `FORGE_ADMIN_*` admin when set and no admin exists.
async fn bootstrap_admin(settings: &Settings, users: &UserService) -> anyhow::Result<()> {
    let (Some(email), Some(username), Some(password)) =
        (&settings.admin.email, &settings.admin.username, &settings.admin.password)
    else {
        return Ok(());
    };
    let created = users
        .ensure_admin(NewAdminCommand { email: email.clone(), username: username.clone(), password: password.clone() })
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "creating the bootstrap admin from FORGE_ADMIN_*: {}",
                crate::commands::describe_user_error(&e)
            )
        })?;
    if let Some(admin) = created {
        tracing::info!(user_id = %admin.id(), "bootstrap admin created");
    }
    Ok(())
}

/// The configured signing key; in development without one, a key generated once and kept in
/// `<data dir>/jwt_secret` so tokens survive restarts.
fn jwt_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    if let Some(secret) = &settings.auth.jwt_secret {
        return Ok(secret.clone());
    }
    let path = settings.data_dir.join("jwt_secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        anyhow::ensure!(existing.len() >= 32, "{} holds a key shorter than 32 bytes", path.display());
        return Ok(SecretString::from(existing.to_owned()));
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let (generated, _) = RandomTokens::new().generate();
    write_private(&path, generated.expose_secret()).with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(path = %path.display(), "no FORGE_JWT_SECRET set: generated a development signing key");
    Ok(generated)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// A database URL without its password, for messages.
#[must_use]
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
