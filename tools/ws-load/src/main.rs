//! A load generator for Forge's WebSocket endpoint, `GET /api/v1/ws`.
//!
//! - `idle N` opens N connections of one user (a bounded number of handshakes in flight at a
//!   time), waits for each one's `{"type": "ready"}`, prints a `ready` line once all are open and
//!   holds them, answering the server's pings, until the hold ends or the process gets SIGINT or
//!   SIGTERM.
//! - `fanout N EVENTS INTERVAL_MS` opens N connections the same way, then changes the user's
//!   `full_name` EVENTS times (`PATCH /api/v1/users/me`, one request after another, a tick of
//!   `INTERVAL_MS` apart, each with a name of its own) and measures, for every connection, the time
//!   from sending a request to receiving the `account.updated` that carries its name.
//!
//! Results are printed as `key=value` lines that `scripts/ws-bench.sh` reads. Every connection
//! uses the same bearer token, so the server's per-user connection limit must be raised
//! (`FORGE_REALTIME__MAX_CONNECTIONS_PER_USER`).

mod fanout;
mod idle;
mod socket;
mod stats;

use std::{process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};

use crate::socket::Target;

/// Load for `GET /api/v1/ws`.
#[derive(Debug, Parser)]
#[command(name = "forge-ws-load", version, about)]
struct Cli {
    /// The server's base URL.
    #[arg(long, env = "WS_LOAD_URL", default_value = "http://127.0.0.1:8000")]
    url: String,
    /// An access token; every connection and request is authenticated with it.
    #[arg(long, env = "WS_LOAD_TOKEN", hide_env_values = true)]
    token: String,
    /// WebSocket handshakes in flight at once (the server's listen backlog is finite).
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Opens CONNECTIONS sockets and holds them, answering pings, until the hold ends or
    /// SIGINT/SIGTERM.
    Idle {
        /// How many connections.
        connections: usize,
        /// How long to hold them once all are open, in seconds.
        #[arg(long, default_value_t = 600)]
        hold_secs: u64,
    },
    /// Opens CONNECTIONS sockets, then sends EVENTS profile changes `INTERVAL_MS` apart and
    /// measures when each socket receives each one.
    Fanout {
        /// How many connections.
        connections: usize,
        /// How many `PATCH /api/v1/users/me`.
        events: usize,
        /// Milliseconds between two requests.
        interval_ms: u64,
        /// Pause between the last connection's `ready` and the first request, in milliseconds.
        #[arg(long, default_value_t = 2000)]
        settle_ms: u64,
        /// How long to wait after the last request for deliveries still on their way, in seconds.
        #[arg(long, default_value_t = 10)]
        grace_secs: u64,
    },
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-ws-load: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if cli.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let target = Target::new(&cli.url, &cli.token)?;
    match cli.command {
        Command::Idle { connections, hold_secs } => {
            idle::run(target, connections, cli.concurrency, Duration::from_secs(hold_secs)).await
        }
        Command::Fanout { connections, events, interval_ms, settle_ms, grace_secs } => {
            let plan = fanout::Plan {
                connections,
                events,
                interval: Duration::from_millis(interval_ms.max(1)),
                settle: Duration::from_millis(settle_ms),
                grace: Duration::from_secs(grace_secs),
                concurrency: cli.concurrency,
            };
            fanout::run(target, &plan).await
        }
    }
}
