//! The `forge` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Forge: accounts, users and projects behind a REST API.
#[derive(Debug, Parser)]
#[command(name = "forge", version, about)]
pub struct Cli {
    /// Configuration file (default: ./forge.toml when it exists).
    #[arg(long, global = true, env = "FORGE_CONFIG")]
    pub config: Option<PathBuf>,

    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API (with the embedded default, the SQLite database is migrated first).
    Serve {
        /// Listen address, e.g. 0.0.0.0:8000 (overrides FORGE_BIND).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Manage the schema of the configured database.
    Migrate {
        /// up, down, status or fresh.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Create an admin. The password comes from FORGE_ADMIN_PASSWORD, or is asked for on a terminal.
    CreateAdmin {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
        /// The admin's username.
        #[arg(long)]
        username: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 when the server on this machine answers `GET /health/live` with 200 (for container
    /// health checks in images without a shell or curl).
    Healthcheck,
    /// Run the background job workers (every queue) until SIGTERM or Ctrl-C.
    Worker,
}

/// What `forge migrate` does.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the most recent migrations.
    Down {
        /// How many to revert.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Drop every table and migrate from scratch (refused in production without --force).
    Fresh {
        /// Confirm wiping a production database.
        #[arg(long)]
        force: bool,
    },
}
