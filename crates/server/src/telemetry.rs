//! Logging: human-readable lines in development, one JSON object per line in production. Every
//! line logged while serving a request carries that request's id (through its span).

use std::io::IsTerminal as _;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{Environment, LogFormat, Settings};

/// Installs the global subscriber. `RUST_LOG` overrides `log.level`. Calling it twice is
/// harmless (the second call does nothing), which keeps tests that build several servers simple.
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let format = settings.log.format.unwrap_or(match settings.env {
        Environment::Development => LogFormat::Pretty,
        Environment::Production => LogFormat::Json,
    });
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_current_span(true).with_span_list(false).flatten_event(true))
            .try_init(),
        LogFormat::Pretty => {
            registry.with(fmt::layer().compact().with_ansi(std::io::stdout().is_terminal())).try_init()
        }
    };
}
