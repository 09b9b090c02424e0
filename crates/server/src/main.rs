//! The `forge` binary.

use std::process::ExitCode;

use clap::Parser;
use forge_server::{
    cli::{Cli, Command},
    commands,
    config::Settings,
    telemetry,
};

/// jemalloc instead of glibc's malloc. Under a long mixed load on SQLite, glibc's per-thread arenas
/// (one per database connection's worker thread, one per runtime thread) kept growing by about
/// 0.4 to 0.6 MiB a minute and never gave memory back; jemalloc's stayed flat at the same level,
/// and its background threads purge freed pages (a burst of WebSocket connections, the hashing
/// blocks) after about 10 s, idle or not. mimalloc, tried in the same runs, held about 45 MiB
/// more. Figures: `docs/performance.md` and `docs/security.md` (soak).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve { bind: None });
    if let Command::Serve { bind: Some(bind) } = &command {
        settings.server.bind.clone_from(bind);
    }
    if let Err(e) = settings.validate() {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    if matches!(command, Command::Openapi) {
        return report(commands::openapi());
    }
    if matches!(command, Command::Healthcheck) {
        return report(commands::healthcheck(&settings));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The gRPC trace exporter needs the runtime entered when it is built.
    let telemetry = {
        let _entered = runtime.enter();
        telemetry::init(&settings)
    };
    // actix-web's server runs on this runtime through `actix_rt`'s tokio integration.
    let outcome = runtime.block_on(async move {
        match command {
            Command::Serve { .. } => commands::serve(settings).await,
            Command::Migrate { action } => commands::migrate(&settings, action).await,
            Command::CreateAdmin { email, username } => commands::create_admin(&settings, email, username).await,
            Command::Openapi => commands::openapi(),
            Command::Healthcheck => commands::healthcheck(&settings),
            Command::Worker => commands::worker(settings).await,
        }
    });
    telemetry.shutdown();
    report(outcome)
}

fn report(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
