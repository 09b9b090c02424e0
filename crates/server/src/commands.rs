//! What each `forge` sub-command does.

use std::io::IsTerminal;

use anyhow::Context;
use forge_application::users::{NewAdminCommand, UserConflict, UserError};
use forge_migration::{Migrator, MigratorTrait};
use secrecy::SecretString;

use crate::{
    cli::MigrateAction,
    config::{Environment, Settings},
    startup::{Application, Overrides, open_database, wire},
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

/// `forge migrate ...`.
///
/// # Errors
/// Connection or migration failures, or `fresh` on production without `--force`.
pub async fn migrate(settings: &Settings, action: MigrateAction) -> anyhow::Result<()> {
    let db = open_database(settings, false).await?;
    match action {
        MigrateAction::Up => {
            let pending = Migrator::get_pending_migrations(&db).await?.len();
            Migrator::up(&db, None).await.context("applying migrations")?;
            println!("applied {pending} migration(s)");
        }
        MigrateAction::Down { steps } => {
            Migrator::down(&db, Some(steps)).await.context("reverting migrations")?;
            println!("reverted up to {steps} migration(s)");
        }
        MigrateAction::Status => {
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:<10} {}", format!("{:?}", migration.status()).to_lowercase(), migration.name());
            }
        }
        MigrateAction::Fresh { force } => {
            anyhow::ensure!(
                force || settings.env != Environment::Production,
                "refusing to wipe a production database without --force"
            );
            Migrator::fresh(&db).await.context("recreating the schema")?;
            println!("schema recreated");
        }
    }
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
    let db = open_database(settings, true).await?;
    let services = wire(settings, db, &Overrides::default()).await?;
    let admin = services
        .users
        .create_admin(NewAdminCommand { email, username, password })
        .await
        .map_err(|e| anyhow::anyhow!(describe_user_error(&e)))?;
    println!("created admin {} ({})", admin.username(), admin.id());
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
