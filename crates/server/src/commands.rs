//! What each `forge` sub-command does.

use std::io::IsTerminal;

use anyhow::Context;
use forge_application::users::{NewAdminCommand, UserConflict, UserError};
use forge_infrastructure::Database;
use secrecy::SecretString;

use crate::{
    cli::MigrateAction,
    config::{Environment, Settings},
    startup::{Application, Overrides, builder, redact},
};

/// `forge serve`.
///
/// # Errors
/// Any start-up failure.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let application = Application::build(settings, Overrides::default()).await?;
    application.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `forge worker`: runs the workers of every job queue until SIGTERM or Ctrl-C, then lets the
/// running jobs finish (within `server.shutdown_timeout_secs`; a job still running then is run
/// again later by another worker). It serves `/health/live` and `/health/ready` on `server.bind`
/// and, when `metrics.bind` is set, `/metrics` there. On the embedded SQLite default it migrates
/// first, as `serve`.
///
/// # Errors
/// Any start-up failure.
pub async fn worker(settings: Settings) -> anyhow::Result<()> {
    let jobs = crate::startup::job_settings(&settings);
    let grace = std::time::Duration::from_secs(settings.server.shutdown_timeout_secs);
    let worker_name = jobs.worker_name.clone();
    let forge = builder(&settings, &Overrides::default(), true)?.jobs(jobs, true).build().await?;
    // The health checks on `server.bind`, for the orchestrator's probes (and `forge healthcheck`),
    // and the metrics on `metrics.bind` when it is set.
    // A worker beside `forge serve` on one machine finds the address taken: it runs without them.
    let health = forge.health.clone();
    let health_server = match std::net::TcpListener::bind(&settings.server.bind) {
        Ok(listener) => Some(
            actix_web::HttpServer::new(move || forge_presentation::service::health_app(health.clone()))
                .workers(1)
                .disable_signals()
                .listen(listener)?
                .run(),
        ),
        Err(e) => {
            tracing::warn!(bind = %settings.server.bind, error = %e, "the health checks are not served: set server.bind (FORGE_BIND) to a free address");
            None
        }
    };
    let health_handle = health_server.as_ref().map(actix_web::dev::Server::handle);
    let health_task = health_server.map(tokio::spawn);
    let metrics = crate::metrics::metrics(&settings, &forge, None);
    let metrics_server = crate::metrics::own_listener(&settings, metrics.as_ref())?;
    let metrics_handle = metrics_server.as_ref().map(|(server, _)| server.handle());
    if let Some((server, _)) = metrics_server {
        tokio::spawn(server);
    }
    tracing::info!(worker = %worker_name, bind = %settings.server.bind, "job workers running; health checks served");
    stop_signal().await?;
    tracing::info!("stopping the job workers");
    if let (Some(handle), Some(task)) = (health_handle, health_task) {
        handle.stop(true).await;
        let _ = task.await;
    }
    if let Some(handle) = metrics_handle {
        handle.stop(true).await;
    }
    forge.shutdown(grace).await;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or Ctrl-C.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("listening for SIGTERM")?;
        tokio::select! {
            _ = terminate.recv() => {}
            interrupted = tokio::signal::ctrl_c() => interrupted.context("listening for Ctrl-C")?,
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("listening for Ctrl-C")?;
    Ok(())
}

/// `forge migrate ...`.
///
/// # Errors
/// Connection or migration failures, or `fresh` on production without `--force`.
pub async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let url = settings.database_url();
    if settings.uses_sqlite() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating the data directory {}", settings.data_dir.display()))?;
    }
    // Schema management runs on one connection: SQLite's `PRAGMA foreign_keys = OFF`, which
    // `migrate fresh` issues before dropping the tables, holds for the connection it runs on
    // only, and the drops must run on that same one.
    let db =
        Database::connect(&url, 1).await.with_context(|| format!("connecting to the database ({})", redact(&url)))?;
    match action {
        MigrateAction::Up => {
            let applied = db.migrate_up().await.context("applying migrations")?;
            println!("applied {applied} migration(s)");
        }
        MigrateAction::Down { steps } => {
            db.migrate_down(steps).await.context("reverting migrations")?;
            println!("reverted up to {steps} migration(s)");
        }
        MigrateAction::Status => {
            for (name, applied) in db.migrations().await.context("reading the migration status")? {
                println!("{:<10} {name}", if applied { "applied" } else { "pending" });
            }
        }
        MigrateAction::Fresh { force } => {
            anyhow::ensure!(
                force || settings.env != Environment::Production,
                "refusing to wipe a production database without --force"
            );
            db.migrate_fresh().await.context("recreating the schema")?;
            println!("schema recreated");
        }
    }
    db.close().await.context("closing the database")?;
    Ok(())
}

/// `forge create-admin`.
///
/// # Errors
/// A missing password, an invalid field, a taken e-mail or username.
pub async fn create_admin(settings: &Settings, email: String, username: String) -> anyhow::Result<()> {
    let password = match &settings.admin.password {
        Some(password) => password.clone(),
        None => prompt_password()?,
    };
    let forge = builder(settings, &Overrides::default(), true)?.build().await?;
    let admin = forge
        .users
        .create_admin(NewAdminCommand { email, username, password })
        .await
        .map_err(|e| anyhow::anyhow!(describe_user_error(&e)))?;
    println!("created admin {} ({})", admin.username(), admin.id());
    forge.shutdown(std::time::Duration::from_secs(settings.server.shutdown_timeout_secs)).await;
    Ok(())
}

fn prompt_password() -> anyhow::Result<SecretString> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "set FORGE_ADMIN_PASSWORD, or run on a terminal to be asked for the password"
    );
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    anyhow::ensure!(first == second, "the passwords differ");
    Ok(SecretString::from(first))
}

/// An operator-facing sentence for a failed admin creation.
#[must_use]
pub fn describe_user_error(error: &UserError) -> String {
    match error {
        UserError::Validation(errors) => {
            errors.errors().iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
        }
        UserError::Conflict(UserConflict::EmailTaken) => "a user with this e-mail address exists".into(),
        UserError::Conflict(UserConflict::UsernameTaken) => "a user with this username exists".into(),
        other => other.to_string(),
    }
}

/// `forge openapi`.
///
/// # Errors
/// Serialization failure.
pub fn openapi() -> anyhow::Result<()> {
    println!("{}", forge_presentation::openapi().to_pretty_json()?);
    Ok(())
}

/// `forge healthcheck`: `GET /health/live` on the configured port over loopback, within two
/// seconds.
///
/// # Errors
/// When the server does not answer, or answers anything but 200.
pub fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    use std::io::{Read as _, Write as _};
    let port = settings.bind_address()?.port();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = std::time::Duration::from_secs(2);
    let mut stream =
        std::net::TcpStream::connect_timeout(&address, timeout).with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).context("reading the status line")?;
    anyhow::ensure!(
        head.starts_with(b"HTTP/1.") && &head[9..12] == b"200",
        "not live: {}",
        String::from_utf8_lossy(&head)
    );
    Ok(())
}
