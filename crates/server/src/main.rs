//! The `forge` binary.

use std::process::ExitCode;

use clap::Parser;
use forge_server::{
    cli::{Cli, Command},
    commands,
    config::Settings,
    telemetry,
};

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
