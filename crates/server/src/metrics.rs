//! The Prometheus metrics of a server: the HTTP layer's registry, fed at each scrape with the
//! figures only the wiring can reach (the hashing pool, the database pool and statements, the
//! mail queue), and the metrics-only listener when `metrics.bind` asks for one.

use std::net::TcpListener;

use actix_web::{HttpServer, dev::Server};
use anyhow::Context as _;
use forge::Forge;
use forge_infrastructure::LATENCY_BOUNDS_MICROS;
use forge_presentation::telemetry::{
    CacheFigures, HashingFigures, LatencyFigures, Metrics, MetricsAccess, RuntimeFigures,
};

use crate::config::{MetricsExposure, Settings};

/// Microseconds per second, for the conversion of the statement latency bounds.
const MICROS_PER_SECOND: f64 = 1_000_000.0;

/// The metrics of `forge`, or `None` when `[metrics]` serves them nowhere.
#[must_use]
pub fn metrics(settings: &Settings, forge: &Forge) -> Option<Metrics> {
    if settings.metrics.exposure() == MetricsExposure::Off {
        return None;
    }
    let forge = forge.clone();
    Some(Metrics::new(env!("CARGO_PKG_VERSION"), move || figures(&forge)))
}

/// Everything read at scrape time.
fn figures(forge: &Forge) -> RuntimeFigures {
    let hashing = forge.hashing_stats();
    let latency = forge.query_stats().latency();
    let to_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let bounds =
        LATENCY_BOUNDS_MICROS.iter().map(|micros| to_precise_f64(*micros) / MICROS_PER_SECOND).chain([f64::INFINITY]);
    RuntimeFigures {
        hashing: Some(HashingFigures {
            threads: to_u64(hashing.threads),
            queue_capacity: to_u64(hashing.queue_capacity),
            queued: to_u64(hashing.queued),
            in_flight: to_u64(hashing.in_flight),
            completed: hashing.completed,
            rejected: hashing.rejected,
        }),
        database: Some(forge.database_figures()),
        statement_latency: Some(LatencyFigures {
            count: latency.buckets.iter().sum(),
            buckets: bounds.zip(latency.buckets).collect(),
            sum_seconds: to_precise_f64(latency.sum_micros) / MICROS_PER_SECOND,
        }),
        pending_mail: Some(to_u64(forge.pending_mail())),
        cache: forge.cache_stats().map(|cache| CacheFigures {
            local_hits: cache.local_hits,
            local_misses: cache.local_misses,
            shared_hits: cache.shared_hits,
            shared_misses: cache.shared_misses,
            local_entries: cache.local_entries,
            local_enabled: cache.local_enabled,
        }),
    }
}

/// A count as a float; exact below 2^53, which a count of microseconds reaches after 285 years.
#[allow(clippy::cast_precision_loss)]
const fn to_precise_f64(n: u64) -> f64 {
    n as f64
}

/// The access rule of the `/metrics` endpoint.
#[must_use]
pub fn access(settings: &Settings) -> MetricsAccess {
    MetricsAccess { token: settings.metrics.token.clone() }
}

/// The metrics-only listener when `metrics.bind` is set: the server, not yet awaited, and its
/// port.
///
/// # Errors
/// When the address cannot be bound.
pub fn own_listener(settings: &Settings, metrics: Option<&Metrics>) -> anyhow::Result<Option<(Server, u16)>> {
    let (MetricsExposure::OwnListener(address), Some(metrics)) = (settings.metrics.exposure(), metrics) else {
        return Ok(None);
    };
    let listener = TcpListener::bind(address).with_context(|| format!("binding metrics.bind {address}"))?;
    let port = listener.local_addr()?.port();
    let (metrics, access) = (metrics.clone(), access(settings));
    let server = HttpServer::new(move || forge_presentation::telemetry::metrics_app(metrics.clone(), access.clone()))
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
    tracing::info!(%address, port, "serving /metrics");
    Ok(Some((server, port)))
}
