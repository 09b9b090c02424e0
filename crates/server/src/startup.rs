//! Wiring: settings in, a running HTTP server out.
//!
//! The use cases are wired by the `forge` crate's builder, the same one an embedding service
//! uses; this module turns the server's settings into that builder's, and adds what only a
//! server has: the HTTP listener, the bootstrap admin and the development signing key kept in
//! the data directory.

use std::{net::TcpListener, path::Path, sync::Arc, time::Duration};

use actix_web::{HttpServer, dev::Server};
use anyhow::Context;
use forge::{Forge, ForgeBuilder, MailDelivery, SmtpConfig, SmtpSecurity};
use forge_application::{auth::ports::OpaqueTokens as _, common::Clock, users::NewAdminCommand};
use forge_infrastructure::{QueryStats, RandomTokens};
use forge_presentation::{
    AppState, HttpSettings,
    realtime::{CloseCode, Hub},
};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{MailTransport, Settings, SmtpTls};

/// See [`Application::build`]'s server settings.
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// Replacements for adapters, for test harnesses (an injectable clock instead of sleeping).
#[derive(Default, Clone)]
pub struct Overrides {
    /// The clock every use case reads.
    pub clock: Option<Arc<dyn Clock>>,
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    forge: Forge,
    shutdown_grace: Duration,
    /// The metrics-only listener (`metrics.bind`) and its port.
    metrics_server: Option<(Server, u16)>,
    /// This instance's WebSocket connections, and the task feeding them.
    hub: Arc<Hub>,
    hub_task: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Validates the settings, wires the use cases over the configured database (migrating it
    /// when configured), creates the bootstrap admin, and binds the listener.
    ///
    /// # Errors
    /// Any reason the service cannot start, with context naming what failed.
    pub async fn build(settings: Settings, overrides: Overrides) -> anyhow::Result<Self> {
        settings.validate()?;
        let address = settings.bind_address()?;
        let forge = builder(&settings, &overrides, true)?.build().await?;
        if !forge.shares_state() && !settings.uses_sqlite() {
            tracing::warn!(
                "no Redis (REDIS_URL): request limits count per instance, so with several instances \
                 a client gets the full limit from each, and WebSocket events reach only the clients of \
                 the instance where they happened; ended sessions are still refused by every instance"
            );
        }
        bootstrap_admin(&settings, &forge).await?;

        let listener = TcpListener::bind(address).with_context(|| format!("binding {address}"))?;
        let port = listener.local_addr()?.port();
        // This instance's WebSocket connections, fed by the bus (every instance's events).
        let hub = Arc::new(Hub::new(settings.realtime.limits()));
        // Without Redis, a session ended through another instance is not signalled here: the
        // connections' sessions are checked every `realtime.revalidate_secs` instead.
        let revalidate = (!forge.shares_state()).then(|| Duration::from_secs(settings.realtime.revalidate_secs));
        let hub_task = hub.start(&*forge.event_bus(), forge.realtime().clone(), revalidate);
        let prometheus = crate::metrics::metrics(&settings, &forge, Some(&hub));
        let metrics_server = crate::metrics::own_listener(&settings, prometheus.as_ref())?;
        let state = AppState {
            auth: forge.auth.clone(),
            users: forge.users.clone(),
            health: forge.health.clone(),
            http: Arc::new(HttpSettings {
                public_url: settings.public_url.clone(),
                cors_origins: settings.cors.origins.clone(),
                trusted_proxies: settings.trusted_proxy_networks()?,
                body_limit: settings.server.body_limit_bytes,
                request_timeout: settings.request_timeout(),
                version: env!("CARGO_PKG_VERSION").into(),
                refresh_cookie: settings.auth.refresh_cookie,
                bulk_body_limit: settings.server.bulk_body_limit_bytes,
                bulk_request_timeout: Duration::from_secs(settings.server.bulk_request_timeout_secs),
            }),
            account: forge.account.clone(),
            api_keys: forge.api_keys.clone(),
            limits: forge.limits.clone(),
            lockout: forge.lockout.clone(),
            projects: forge.projects.clone(),
            audit: forge.audit.clone(),
            idempotency: forge.idempotency.clone(),
            dashboard: forge.dashboard.clone(),
            metrics: forge.metrics.clone(),
            jobs: forge.job_services().map(|services| (services.exports.clone(), services.jobs.clone())),
            realtime: Some((forge.realtime().clone(), hub.clone())),
            metrics_endpoint: (settings.metrics.exposure() == crate::config::MetricsExposure::ApiListener)
                .then(|| crate::metrics::access(&settings)),
            prometheus,
        };
        let mut server = HttpServer::new(move || forge_presentation::build_app(state.clone()))
            .shutdown_timeout(settings.server.shutdown_timeout_secs)
            // How long a connection the server is done with waits for the client to close it: a
            // WebSocket's closing handshake ends when the TCP connection does (browsers report the
            // close only then), so this is short.
            .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
            .listen(listener)?;
        if let Some(workers) = settings.server.workers {
            server = server.workers(workers);
        }
        tracing::info!(%address, port, database = if settings.uses_sqlite() { "sqlite" } else { "postgres" }, "listening");
        let shutdown_grace = Duration::from_secs(settings.server.shutdown_timeout_secs);
        Ok(Self { port, server: server.run(), forge, shutdown_grace, metrics_server, hub, hub_task })
    }

    /// The port actually bound (useful with port 0).
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics-only listener, when `metrics.bind` set one.
    #[must_use]
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// The use cases, for harnesses that act without HTTP.
    #[must_use]
    pub const fn services(&self) -> &Forge {
        &self.forge
    }

    /// Statement counts of the database pool.
    #[must_use]
    pub fn query_stats(&self) -> Arc<QueryStats> {
        self.forge.query_stats()
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes in-flight requests, delivers the mail still
    /// queued (within the shutdown grace period), and returns.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics_server.map(|(server, _)| {
            let handle = server.handle();
            (tokio::spawn(server), handle)
        });
        // The server stops on SIGTERM or Ctrl-C; its WebSockets would hold it until the grace
        // period ends, so they are closed at once with 1001 (clients reconnect elsewhere).
        let hub = self.hub.clone();
        let closer = tokio::spawn(async move {
            stop_signal().await;
            hub.close_all(CloseCode::GoingAway);
        });
        let served = self.server.await;
        closer.abort();
        self.hub.close_all(CloseCode::GoingAway);
        self.hub_task.abort();
        if let Some((task, handle)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        self.forge.shutdown(self.shutdown_grace).await;
        served
    }
}

/// Resolves at SIGTERM or Ctrl-C (the server itself stops on them too).
async fn stop_signal() {
    #[cfg(unix)]
    {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The embedding builder with the server's settings: the database (applying migrations when
/// `database.migrate_on_start` says so, default SQLite yes and PostgreSQL no, when `for_serving`;
/// otherwise never), the signing key, the auth, limit, lockout, idempotency and mail settings.
///
/// # Errors
/// When the development signing key cannot be read or created, or the limits do not parse.
pub fn builder(settings: &Settings, overrides: &Overrides, for_serving: bool) -> anyhow::Result<ForgeBuilder> {
    if settings.uses_sqlite() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    }
    let migrate = for_serving && settings.database.migrate_on_start.unwrap_or_else(|| settings.uses_sqlite());
    let mut builder = Forge::builder(settings.database_url())
        .migrate(migrate)
        .jwt_secret(jwt_secret(settings)?)
        .jwt_issuer_and_audience(settings.auth.jwt_issuer.clone(), settings.auth.jwt_audience.clone())
        .auth(settings.auth_settings())
        .rate_limits(settings.rate_limit.limits()?, settings.rate_limit.capacity)
        .lockout(settings.rate_limit.lockout_enabled.then(|| settings.rate_limit.lockout_policy()))
        .idempotency(settings.idempotency_settings(), Duration::from_secs(settings.idempotency.purge_interval_secs))
        .mail(mail(settings)?)
        .mail_from(settings.mail.from.clone())
        .data_dir(settings.data_dir.clone())
        .hashing(settings.hashing.pool_settings())
        .realtime(settings.realtime.settings())
        .jobs(job_settings(settings), for_serving && settings.jobs.run_in_serve)
        .exports(
            forge::ExportSettings {
                retention: Duration::from_secs(settings.jobs.export_retention_secs),
                batch_size: settings.jobs.export_batch_size,
            },
            Duration::from_secs(settings.jobs.retention_secs),
        );
    builder = builder.cache(settings.cache.settings());
    if let Some(url) = &settings.redis.url {
        builder = builder.redis(url.clone(), settings.redis.prefix.clone());
    }
    if let Some(max) = settings.database.max_connections {
        builder = builder.max_connections(max);
    }
    if let Some(clock) = &overrides.clock {
        builder = builder.clock(clock.clone());
    }
    Ok(builder)
}

/// The job engine's settings: the `[jobs]` section, with the mail queue's retries from `[mail]`.
#[must_use]
pub fn job_settings(settings: &Settings) -> forge::JobSettings {
    settings.jobs.settings(settings.mail.max_attempts, Duration::from_millis(settings.mail.retry_initial_delay_ms))
}

/// Where the configured mail goes: `.eml` files under `<data dir>/mail/`, or SMTP.
///
/// # Errors
/// SMTP without a host.
fn mail(settings: &Settings) -> anyhow::Result<MailDelivery> {
    let config = &settings.mail;
    Ok(match config.transport {
        MailTransport::File => MailDelivery::Files(settings.data_dir.join("mail")),
        MailTransport::Smtp => MailDelivery::Smtp(SmtpConfig {
            host: config.smtp_host.clone().context("mail.smtp_host must be set when mail.transport is smtp")?,
            port: config.smtp_port,
            username: config.smtp_username.clone(),
            password: config.smtp_password.clone(),
            security: match config.smtp_tls {
                SmtpTls::None => SmtpSecurity::None,
                SmtpTls::Starttls => SmtpSecurity::StartTls,
                SmtpTls::Tls => SmtpSecurity::Tls,
            },
            timeout: Duration::from_secs(config.smtp_timeout_secs),
        }),
    })
}

/// Creates the `FORGE_ADMIN_*` admin when set and no admin exists.
async fn bootstrap_admin(settings: &Settings, forge: &Forge) -> anyhow::Result<()> {
    let (Some(email), Some(username), Some(password)) =
        (&settings.admin.email, &settings.admin.username, &settings.admin.password)
    else {
        return Ok(());
    };
    let created = forge
        .users
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
