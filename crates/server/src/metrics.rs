//! The Prometheus metrics of a server: the HTTP layer's registry, fed at each scrape with the
//! figures only the wiring can reach (the hashing pool, the database pool and statements, the
//! read cache, the jobs and the outbox), and the metrics-only listener when `metrics.bind` asks
//! for one.

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
};

use actix_web::{HttpServer, dev::Server};
use anyhow::Context as _;
use forge::Forge;
use forge_infrastructure::LATENCY_BOUNDS_MICROS;
use forge_presentation::{
    realtime::Hub,
    telemetry::{
        CacheFigures, HashingFigures, JobFigures, LatencyFigures, Metrics, MetricsAccess, RuntimeFigures,
        WebSocketFigures,
    },
};

use crate::config::{MetricsExposure, Settings};

/// Microseconds per second, for the conversion of the statement latency bounds.
const MICROS_PER_SECOND: f64 = 1_000_000.0;

/// The metrics of `forge`, or `None` when `[metrics]` serves them nowhere.
#[must_use]
pub fn metrics(settings: &Settings, forge: &Forge, hub: Option<&Arc<Hub>>) -> Option<Metrics> {
    if settings.metrics.exposure() == MetricsExposure::Off {
        return None;
    }
    let forge = forge.clone();
    let jobs = count_jobs(forge.clone());
    let hub = hub.cloned();
    Some(Metrics::new(env!("CARGO_PKG_VERSION"), move || {
        let mut figures = figures(&forge);
        figures.jobs = jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        figures.websockets = hub.as_ref().map(|hub| {
            let hub = hub.figures();
            WebSocketFigures {
                connections: hub.connections,
                messages_sent: hub.messages_sent,
                slow_readers_closed: hub.slow_readers_closed,
                closed_by_server: hub.closed_by_server,
                refused: hub.refused,
            }
        });
        figures
    }))
}

/// How often the job tables and the outbox are counted for the metrics.
const JOB_COUNT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Counts the jobs and the outbox's lag every [`JOB_COUNT_EVERY`] in the background, so that a
/// scrape reads the last count instead of querying the database.
fn count_jobs(forge: Forge) -> Arc<Mutex<Option<JobFigures>>> {
    // Declared (at zero) from the start when jobs are on, counted within the first tick.
    let last = Arc::new(Mutex::new(forge.jobs().map(|_| JobFigures::default())));
    let slot = Arc::downgrade(&last);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(JOB_COUNT_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            // The metrics are gone (the server stopped): so is this task.
            let Some(slot) = slot.upgrade() else { return };
            match forge.job_census().await {
                Ok(Some(census)) => {
                    let lag = census.oldest_undelivered_event.map_or(0.0, |oldest| {
                        to_precise_f64(u64::try_from((chrono::Utc::now() - oldest).num_milliseconds()).unwrap_or(0))
                            / 1000.0
                    });
                    let figures = JobFigures {
                        jobs: census.jobs.into_iter().map(|(queue, state, n)| (queue, state.name(), n)).collect(),
                        outbox_lag_seconds: lag,
                    };
                    *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(figures);
                }
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "the jobs could not be counted for the metrics"),
            }
        }
    });
    last
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
        cache: forge.cache_stats().map(|cache| CacheFigures {
            local_hits: cache.local_hits,
            local_misses: cache.local_misses,
            shared_hits: cache.shared_hits,
            shared_misses: cache.shared_misses,
            local_entries: cache.local_entries,
            local_enabled: cache.local_enabled,
        }),
        jobs: None,
        websockets: None,
        job_durations: forge
            .jobs()
            .map(|engine| engine.durations())
            .unwrap_or_default()
            .into_iter()
            .map(|(queue, outcome, histogram)| {
                let bounds = forge_infrastructure::jobs::JOB_DURATION_BOUNDS.iter().copied().chain([f64::INFINITY]);
                let latency = LatencyFigures {
                    buckets: bounds.zip(histogram.buckets).collect(),
                    sum_seconds: histogram.sum_seconds,
                    count: histogram.count,
                };
                (queue.to_owned(), outcome, latency)
            })
            .collect(),
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
