//! Logging and traces.
//!
//! Logs: human-readable lines in development, one JSON object per line in production. Every
//! line logged while serving a request carries that request's id (through its span), and, when
//! traces are on, its `trace_id` and `span_id`.
//!
//! Traces: OpenTelemetry spans exported over OTLP, configured by the standard variables, or
//! where one is not set by its stand-in in the `[tracing]` section
//! ([`TracingSettings`](crate::config::TracingSettings)):
//!
//! | variable | meaning |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | the collector; setting either turns export on |
//! | `OTEL_TRACES_EXPORTER` | `otlp` turns export on (default endpoint); `none` turns it off |
//! | `OTEL_SDK_DISABLED` | `true` turns everything off |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` | `grpc` or `http/protobuf` (the default) |
//! | `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | the resource (service name default: `forge`) |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | the sampler, e.g. `parentbased_traceidratio` and `0.1` |
//!
//! Spans of Forge's own crates at `INFO` and above are exported whatever the log level, which
//! filters log lines only. Spans are exported in batches from a thread of their own: a slow or unreachable collector
//! costs dropped spans, never a slower or failed request. In production without a collector,
//! trace and span ids are still made (and logged) so that log lines of one request can be told
//! apart from the caller's `traceparent` onward; nothing is exported.

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracerProvider},
};
use tracing::Level;
use tracing_subscriber::{EnvFilter, Layer as _, filter::Targets, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{Environment, LogFormat, Settings, TracingSettings};

/// The service name when `OTEL_SERVICE_NAME` does not give one.
const DEFAULT_SERVICE_NAME: &str = "forge";

/// How spans leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Not at all.
    None,
    /// OTLP over gRPC.
    Grpc,
    /// OTLP over HTTP with protobuf bodies.
    HttpProtobuf,
}

/// What the `OTEL_*` variables (read through `var`) ask for.
pub fn export_from(var: impl Fn(&str) -> Option<String>) -> Export {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Export::None;
    }
    let exporter = var("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase());
    if exporter.as_deref() == Some("none") {
        return Export::None;
    }
    let wanted = set("OTEL_EXPORTER_OTLP_ENDPOINT")
        || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        || exporter.as_deref() == Some("otlp");
    if !wanted {
        return Export::None;
    }
    let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
    match protocol.map(|p| p.trim().to_ascii_lowercase()).as_deref() {
        Some("grpc") => Export::Grpc,
        _ => Export::HttpProtobuf,
    }
}

/// Keeps the trace pipeline alive; [`Telemetry::shutdown`] exports what is still buffered.
#[must_use = "dropping it without shutdown loses the spans still buffered"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    #[must_use]
    pub const fn exports(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered, now.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(e) = provider.force_flush()
        {
            tracing::warn!(error = %e, "exporting the buffered spans failed");
        }
    }

    /// Exports the spans still buffered and stops the pipeline.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("stopping the trace export failed: {e}");
        }
    }
}

/// The tracer provider for `export`: with a batch exporter, or with none (ids only). Without an
/// `endpoint`, the exporter reads the `OTEL_EXPORTER_OTLP_*` variables.
///
/// # Errors
/// When the exporter cannot be built (a malformed endpoint).
fn provider(export: Export, endpoint: Option<String>, tracing: &TracingSettings) -> anyhow::Result<SdkTracerProvider> {
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource =
            resource.with_service_name(tracing.service_name.clone().unwrap_or_else(|| DEFAULT_SERVICE_NAME.into()));
    }
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
    if std::env::var_os("OTEL_TRACES_SAMPLER").is_none()
        && let Some(ratio) = tracing.sample_ratio
    {
        builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))));
    }
    let builder = match export {
        Export::None => builder,
        Export::Grpc => {
            let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            if let Some(endpoint) = endpoint {
                exporter = exporter.with_endpoint(endpoint);
            }
            builder.with_batch_exporter(exporter.build()?)
        }
        Export::HttpProtobuf => {
            let mut exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
            if let Some(endpoint) = endpoint {
                exporter = exporter.with_endpoint(endpoint);
            }
            builder.with_batch_exporter(exporter.build()?)
        }
    };
    Ok(builder.build())
}

/// Installs the global subscriber and, when asked for, the trace pipeline (which needs a Tokio
/// runtime entered for gRPC). `RUST_LOG` overrides `log.level`. Calling it twice is harmless
/// (the second subscriber is not installed), which keeps tests that build several servers
/// simple.
pub fn init(settings: &Settings) -> Telemetry {
    let (export, endpoint) = choose(&settings.tracing, |name| std::env::var(name).ok());
    init_with(settings, export, endpoint)
}

/// The export the variables (read through `var`) and `[tracing]` ask for, and the endpoint to
/// pass to the exporter: `[tracing]`'s when no endpoint variable is set (the exporter reads those
/// itself), for HTTP with the signal's path as the variable would get it.
pub fn choose(tracing: &TracingSettings, var: impl Fn(&str) -> Option<String>) -> (Export, Option<String>) {
    let env = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let export = export_from(|name| env(name).or_else(|| tracing.stand_in(name)));
    let endpoint_variable =
        env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some();
    let endpoint = match (&tracing.otlp_endpoint, export) {
        _ if endpoint_variable => None,
        (Some(endpoint), Export::HttpProtobuf) => Some(format!("{}/v1/traces", endpoint.trim_end_matches('/'))),
        (Some(endpoint), Export::Grpc) => Some(endpoint.clone()),
        _ => None,
    };
    (export, endpoint)
}

/// As [`init`], with the export chosen by the caller, and the collector's address when given
/// (for gRPC `http://host:4317`; for HTTP the whole URL, `http://host:4318/v1/traces`).
pub fn init_with(settings: &Settings, export: Export, endpoint: Option<String>) -> Telemetry {
    // SeaORM's per-statement spans are for the collector, not the log: without this, a log level
    // of `info` would build one for every statement whether or not traces are exported.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},sea_orm=warn", settings.log.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let format = settings.log.format.unwrap_or(match settings.env {
        Environment::Development => LogFormat::Pretty,
        Environment::Production => LogFormat::Json,
    });
    // Ids for the logs in JSON, spans for the collector when one is configured.
    let provider = if export != Export::None || format == LogFormat::Json {
        match provider(export, endpoint, &settings.tracing) {
            Ok(provider) => Some(provider),
            Err(e) => {
                eprintln!("traces are off: cannot build the OTLP exporter: {e}");
                None
            }
        }
    } else {
        None
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // Spans of Forge's own crates and SeaORM's statement spans (`db.system`, `db.operation`) at
    // INFO and above, whatever the log level (which filters the log lines only), and never the
    // exporter's own HTTP or gRPC calls.
    let spans = Targets::new().with_target("forge", Level::INFO).with_target("sea_orm", Level::INFO);
    let otel =
        provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("forge")).with_filter(spans));
    let output = match format {
        LogFormat::Json => fmt::layer().json().event_format(crate::log_format::JsonLines).boxed(),
        LogFormat::Pretty => fmt::layer().compact().with_ansi(std::io::stdout().is_terminal()).boxed(),
    };
    let installed = tracing_subscriber::registry().with(otel).with(output.with_filter(filter)).try_init().is_ok();
    let exported = export != Export::None && installed;
    if exported {
        tracing::info!(?export, "exporting traces over OTLP");
    }
    Telemetry { provider: provider.filter(|_| installed) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(vars: &[(&str, &str)]) -> Export {
        export_from(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn traces_are_off_unless_a_collector_is_named() {
        assert_eq!(export(&[]), Export::None);
        assert_eq!(export(&[("OTEL_SERVICE_NAME", "api")]), Export::None);
        assert_eq!(export(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]), Export::HttpProtobuf);
        assert_eq!(export(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")]), Export::HttpProtobuf);
        assert_eq!(export(&[("OTEL_TRACES_EXPORTER", "otlp")]), Export::HttpProtobuf);
    }

    #[test]
    fn the_protocol_variable_chooses_grpc() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317");
        assert_eq!(export(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]), Export::Grpc);
        assert_eq!(export(&[endpoint, ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")]), Export::Grpc);
        assert_eq!(export(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]), Export::HttpProtobuf);
    }

    #[test]
    fn the_tracing_section_stands_in_for_unset_variables() {
        let section = TracingSettings {
            otlp_endpoint: Some("http://collector:4318/".into()),
            sample_ratio: Some(0.1),
            ..TracingSettings::default()
        };
        let none = |_: &str| None;
        assert_eq!(choose(&section, none), (Export::HttpProtobuf, Some("http://collector:4318/v1/traces".into())));
        let grpc = TracingSettings { otlp_protocol: Some("grpc".into()), ..section.clone() };
        assert_eq!(choose(&grpc, none), (Export::Grpc, Some("http://collector:4318/".into())));
        // The standard variables win: their endpoint is left to the exporter, their protocol used.
        let vars = |name: &str| match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://other:4317".to_owned()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("grpc".to_owned()),
            _ => None,
        };
        assert_eq!(choose(&section, vars), (Export::Grpc, None));
        assert_eq!(choose(&TracingSettings::default(), none), (Export::None, None));
    }

    #[test]
    fn off_switches_win() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317");
        assert_eq!(export(&[endpoint, ("OTEL_SDK_DISABLED", "true")]), Export::None);
        assert_eq!(export(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]), Export::None);
    }
}
