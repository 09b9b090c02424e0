//! Prometheus metrics: what the HTTP layer counts itself, what it reads from the server at each
//! scrape, and the `GET /metrics` endpoint that serves them in the Prometheus text format
//! (version 0.0.4).
//!
//! Counted here, by the [`record`] middleware, for every request:
//!
//! - `forge_http_requests_total` and `forge_http_request_duration_seconds`, by route template
//!   (`/api/v1/users/{id}`, never the raw path; `unmatched` for a path no route knows), method
//!   and status class (`2xx` .. `5xx`);
//! - `forge_http_requests_in_flight`;
//! - `forge_logins_total` by outcome, from the answers to `POST /api/v1/auth/login` and
//!   `POST /api/v1/auth/token`;
//! - `forge_rate_limit_refusals_total` by route: answers with the `RATE_LIMITED` problem code.
//!
//! Read at each scrape from a [`FigureSource`] the server supplies: the password-hashing pool,
//! the database pool and statements, the mail queue. Nothing here knows where those figures
//! come from.
//!
//! Who may read `/metrics` is the server's decision: it serves [`metrics_app`] on a listener of
//! its own, or adds [`routes`] to the API's listener behind a bearer token (see
//! [`MetricsAccess`]).

use std::{
    fmt,
    sync::{Arc, atomic::AtomicI64},
    time::Instant,
};

use actix_web::{
    App, Error, HttpRequest, HttpResponse, ResponseError as _,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    http::{Method, StatusCode, header},
    middleware::Next,
    web,
};
use forge_application::metrics::{DatabaseBackend, DatabaseFigures};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _, prometheus_text},
    metrics::{
        counter::{ConstCounter, Counter},
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::Histogram,
    },
    registry::Registry,
};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use crate::problem::{Problem, ProblemCode};

/// The upper bounds, in seconds, of the request latency histogram's buckets.
pub const REQUEST_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// The route label of a request no route matched, so that scanners cannot make a label per path.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// A latency histogram kept elsewhere (the database's statements): per-bucket counts, not
/// cumulative, with the upper bound of each bucket in seconds; the last bound may be `+Inf`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyFigures {
    /// `(upper bound in seconds, observations in this bucket only)`, in increasing order.
    pub buckets: Vec<(f64, u64)>,
    /// The sum of all observations, in seconds.
    pub sum_seconds: f64,
    /// How many observations.
    pub count: u64,
}

/// The password-hashing pool's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashingFigures {
    /// Hashing threads.
    pub threads: u64,
    /// Hashes that may wait before new ones are refused.
    pub queue_capacity: u64,
    /// Hashes waiting for a thread.
    pub queued: u64,
    /// Hashes running.
    pub in_flight: u64,
    /// Hashes finished since start-up.
    pub completed: u64,
    /// Hashes refused because the queue was full, since start-up.
    pub rejected: u64,
}

/// The read cache's figures (with Redis): reads answered and missed by each level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheFigures {
    /// Reads the in-process level answered.
    pub local_hits: u64,
    /// Reads the in-process level missed (or skipped while it was off).
    pub local_misses: u64,
    /// Reads the Redis level answered.
    pub shared_hits: u64,
    /// Reads the Redis level missed (failures included).
    pub shared_misses: u64,
    /// Entries in the in-process level.
    pub local_entries: u64,
    /// Whether the in-process level is in use (it is off while Redis's channel is lost).
    pub local_enabled: bool,
}

/// Everything read at scrape time. A `None` part is left out of the output.
#[derive(Debug, Clone, Default)]
pub struct RuntimeFigures {
    /// The password-hashing pool.
    pub hashing: Option<HashingFigures>,
    /// The database pool and statement counts.
    pub database: Option<DatabaseFigures>,
    /// How long the database's statements took.
    pub statement_latency: Option<LatencyFigures>,
    /// The read cache, when it is on.
    pub cache: Option<CacheFigures>,
    /// The background jobs and the outbox, when jobs are on (as last counted).
    pub jobs: Option<JobFigures>,
    /// How long the job attempts this process ran took: `(queue, outcome, histogram)`.
    pub job_durations: Vec<(String, &'static str, LatencyFigures)>,
    /// The WebSocket connections of this instance.
    pub websockets: Option<WebSocketFigures>,
}

/// The WebSocket connections of one instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebSocketFigures {
    /// Connections open now.
    pub connections: u64,
    /// Event messages queued for connections since start-up.
    pub messages_sent: u64,
    /// Connections closed because their client did not read fast enough.
    pub slow_readers_closed: u64,
    /// Connections the server closed for another reason (access ended, events missed).
    pub closed_by_server: u64,
    /// Connections refused by a limit.
    pub refused: u64,
}

/// The job tables and the outbox, counted in the background (not at each scrape).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobFigures {
    /// Jobs by queue and state (`queued`, `running`, `succeeded`, `failed`, `dead`).
    pub jobs: Vec<(String, &'static str, u64)>,
    /// How long the oldest undelivered outbox event has waited, in seconds (0 when none waits).
    pub outbox_lag_seconds: f64,
}

/// Where the scrape-time figures come from (the server's wiring).
pub trait FigureSource: Send + Sync + 'static {
    /// The figures as they are now; called once per scrape.
    fn figures(&self) -> RuntimeFigures;
}

impl<F: Fn() -> RuntimeFigures + Send + Sync + 'static> FigureSource for F {
    fn figures(&self) -> RuntimeFigures {
        self()
    }
}

/// The labels of the request counter and histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status_class: &'static str,
}

/// The label of the login counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The label of the rate-limit counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

/// The metrics of one server: its registry and the handles the middleware updates. Build one
/// per server with [`Metrics::new`] and share it (it is cheap to clone).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
    in_flight: Gauge<i64, AtomicI64>,
    logins: Family<OutcomeLabel, Counter>,
    rate_limited: Family<RouteLabel, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with every metric, `forge_build_info{version}` set to 1, and `source` read at
    /// each scrape.
    #[must_use]
    pub fn new(version: &str, source: impl FigureSource) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("forge_http_requests", "HTTP requests answered", requests.clone());
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(REQUEST_BUCKETS)) as fn() -> Histogram,
        );
        registry.register(
            "forge_http_request_duration_seconds",
            "Time from receiving a request to its response",
            durations.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register("forge_http_requests_in_flight", "HTTP requests being handled now", in_flight.clone());
        let logins = Family::<OutcomeLabel, Counter>::default();
        registry.register("forge_logins", "Login attempts by outcome", logins.clone());
        let rate_limited = Family::<RouteLabel, Counter>::default();
        registry.register(
            "forge_rate_limit_refusals",
            "Requests refused with 429 RATE_LIMITED, by route",
            rate_limited.clone(),
        );
        registry.register_collector(Box::new(Scraped { version: version.to_owned(), source: Box::new(source) }));
        Self { inner: Arc::new(Inner { registry, requests, durations, in_flight, logins, rate_limited }) }
    }

    /// The metrics in the Prometheus text format (version 0.0.4).
    ///
    /// # Errors
    /// Only if formatting fails, which writing to a `String` does not.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }

    /// Counts one answered request.
    fn observe(&self, route: String, method: &Method, status: StatusCode, seconds: f64) {
        let labels =
            RequestLabels { route, method: method_label(method).to_owned(), status_class: status_class(status) };
        self.inner.requests.get_or_create(&labels).inc();
        self.inner.durations.get_or_create(&labels).observe(seconds);
    }
}

/// A bounded method label: the methods the API uses, and `other` for anything else.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `1xx` .. `5xx`.
fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The outcome label of a login answer.
fn login_outcome(status: StatusCode, code: Option<ProblemCode>) -> &'static str {
    match code {
        Some(ProblemCode::InvalidCredentials) => "invalid_credentials",
        Some(ProblemCode::RateLimited) => "rate_limited",
        Some(ProblemCode::AccountLocked) => "locked",
        Some(ProblemCode::ServerBusy) => "busy",
        _ if status.is_success() => "success",
        _ if status.is_server_error() => "error",
        _ => "rejected",
    }
}

/// Whether a request is a login attempt.
fn is_login(method: &Method, route: &str) -> bool {
    method == Method::POST && matches!(route, "/api/v1/auth/login" | "/api/v1/auth/token")
}

/// Counts the request, its latency and status, and the logins and refusals among them. Does
/// nothing when the application has no [`Metrics`].
///
/// # Errors
/// Those of the inner service, unchanged.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(metrics) = req.app_data::<web::Data<Metrics>>().cloned() else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let method = req.method().clone();
    let in_flight = InFlight::enter(&metrics);
    let outcome = next.call(req).await;
    drop(in_flight);
    let (status, code) = match &outcome {
        Ok(res) => (res.status(), res.response().extensions().get::<ProblemCode>().copied()),
        Err(e) => (e.as_response_error().status_code(), e.as_error::<Problem>().map(Problem::code)),
    };
    if code == Some(ProblemCode::RateLimited) {
        metrics.inner.rate_limited.get_or_create(&RouteLabel { route: route.clone() }).inc();
    }
    if is_login(&method, &route) {
        metrics.inner.logins.get_or_create(&OutcomeLabel { outcome: login_outcome(status, code) }).inc();
    }
    metrics.observe(route, &method, status, started.elapsed().as_secs_f64());
    outcome
}

/// One request in `forge_http_requests_in_flight`, until dropped (also when the client goes
/// away and the request's future is dropped unfinished).
struct InFlight(Gauge<i64, AtomicI64>);

impl InFlight {
    fn enter(metrics: &Metrics) -> Self {
        metrics.inner.in_flight.inc();
        Self(metrics.inner.in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Who may read `/metrics` on a listener.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// The bearer token a scraper must send; `None`: anyone who reaches the listener.
    pub token: Option<SecretString>,
}

impl MetricsAccess {
    /// Whether the request's `Authorization` header carries the token (when one is required).
    fn allows(&self, req: &HttpRequest) -> bool {
        let Some(token) = &self.token else { return true };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .unwrap_or_default();
        // Comparing digests takes the same time wherever the strings differ.
        Sha256::digest(presented.trim().as_bytes()) == Sha256::digest(token.expose_secret().as_bytes())
    }
}

/// `GET /metrics`.
async fn scrape(req: HttpRequest, metrics: web::Data<Metrics>, access: web::Data<MetricsAccess>) -> HttpResponse {
    if !access.allows(&req) {
        return Problem::unauthenticated("a bearer token is required to read the metrics").at(&req).error_response();
    }
    match metrics.render() {
        Ok(body) => HttpResponse::Ok().content_type(prometheus_text::CONTENT_TYPE).body(body),
        Err(_) => Problem::internal().at(&req).error_response(),
    }
}

/// Registers `GET /metrics`; the application must hold [`Metrics`] and [`MetricsAccess`] as
/// `web::Data`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routing::Endpoint::new("/metrics").get(scrape));
}

/// The application of a metrics-only listener: `GET /metrics` and nothing else.
pub fn metrics_app(
    metrics: Metrics,
    access: MetricsAccess,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(metrics))
        .app_data(web::Data::new(access))
        .configure(routes)
        .default_service(web::to(crate::routing::not_found))
}

/// The figures read at each scrape, and the build information.
struct Scraped {
    version: String,
    source: Box<dyn FigureSource>,
}

impl fmt::Debug for Scraped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scraped").field("version", &self.version).finish_non_exhaustive()
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let value = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    value.encode(encoder.encode_descriptor(name, help, None, value.metric_type())?)
}

fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let value = ConstCounter::new(value);
    value.encode(encoder.encode_descriptor(name, help, None, value.metric_type())?)
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let figures = self.source.figures();
        let backend = match figures.database.map(|d| d.backend) {
            Some(DatabaseBackend::Postgres) => "postgres",
            Some(DatabaseBackend::Sqlite) => "sqlite",
            None => "unknown",
        };
        let info = ConstGauge::new(1_i64);
        let mut family = encoder.encode_descriptor(
            "forge_build_info",
            "The running build: its version and database backend; always 1",
            None,
            info.metric_type(),
        )?;
        let labels = [("version", self.version.as_str()), ("backend", backend)];
        info.encode(family.encode_family(&labels)?)?;

        if let Some(hashing) = figures.hashing {
            gauge(&mut encoder, "forge_password_hashing_threads", "Password-hashing threads", hashing.threads)?;
            gauge(
                &mut encoder,
                "forge_password_hashing_queue_capacity",
                "Hashes that may wait before new ones are refused with 503 SERVER_BUSY",
                hashing.queue_capacity,
            )?;
            gauge(&mut encoder, "forge_password_hashing_queue_depth", "Hashes waiting for a thread", hashing.queued)?;
            gauge(&mut encoder, "forge_password_hashing_in_flight", "Hashes running now", hashing.in_flight)?;
            counter(&mut encoder, "forge_password_hashing_completed", "Hashes finished", hashing.completed)?;
            counter(
                &mut encoder,
                "forge_password_hashing_rejected",
                "Hashes refused because the queue was full",
                hashing.rejected,
            )?;
        }
        if let Some(database) = figures.database {
            let pool = database.pool;
            let connections = ConstGauge::new(0_i64);
            let mut family = encoder.encode_descriptor(
                "forge_db_pool_connections",
                "Open database connections, by state",
                None,
                connections.metric_type(),
            )?;
            for (state, value) in [("idle", pool.idle), ("in_use", pool.in_use)] {
                ConstGauge::new(i64::from(value)).encode(family.encode_family(&[("state", state)])?)?;
            }
            gauge(
                &mut encoder,
                "forge_db_pool_max_connections",
                "The most connections the pool opens",
                u64::from(pool.max),
            )?;
            counter(&mut encoder, "forge_db_statements", "Database statements run", database.statements)?;
            counter(
                &mut encoder,
                "forge_db_statement_errors",
                "Database statements that failed",
                database.failed_statements,
            )?;
        }
        if let Some(latency) = figures.statement_latency {
            let mut metric = encoder.encode_descriptor(
                "forge_db_statement_duration_seconds",
                "Time the database took to run a statement",
                None,
                prometheus_client::metrics::MetricType::Histogram,
            )?;
            metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                latency.sum_seconds,
                latency.count,
                &latency.buckets,
                None,
            )?;
        }
        if let Some(cache) = figures.cache {
            let reads = ConstCounter::new(0_u64);
            let mut family = encoder.encode_descriptor(
                "forge_cache_reads",
                "Reads of the read cache, by level (local: in process; shared: Redis) and result",
                None,
                reads.metric_type(),
            )?;
            for (level, result, value) in [
                ("local", "hit", cache.local_hits),
                ("local", "miss", cache.local_misses),
                ("shared", "hit", cache.shared_hits),
                ("shared", "miss", cache.shared_misses),
            ] {
                ConstCounter::new(value).encode(family.encode_family(&[("level", level), ("result", result)])?)?;
            }
            gauge(
                &mut encoder,
                "forge_cache_local_entries",
                "Entries in the in-process cache level",
                cache.local_entries,
            )?;
            gauge(
                &mut encoder,
                "forge_cache_local_enabled",
                "1 while the in-process cache level is in use (0 while Redis's invalidations cannot be heard)",
                u64::from(cache.local_enabled),
            )?;
        }
        if let Some(jobs) = figures.jobs {
            let count = ConstGauge::new(0_i64);
            let mut family = encoder.encode_descriptor(
                "forge_jobs",
                "Background jobs in the database, by queue and state (counted every few seconds)",
                None,
                count.metric_type(),
            )?;
            for (queue, state, value) in &jobs.jobs {
                ConstGauge::new(i64::try_from(*value).unwrap_or(i64::MAX))
                    .encode(family.encode_family(&[("queue", queue.as_str()), ("state", state)])?)?;
            }
            if !figures.job_durations.is_empty() {
                let mut family = encoder.encode_descriptor(
                    "forge_job_duration_seconds",
                    "How long the job attempts this process ran took, by queue and outcome (succeeded or failed)",
                    None,
                    prometheus_client::metrics::MetricType::Histogram,
                )?;
                for (queue, outcome, histogram) in &figures.job_durations {
                    family
                        .encode_family(&[("queue", queue.as_str()), ("outcome", *outcome)])?
                        .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                        histogram.sum_seconds,
                        histogram.count,
                        &histogram.buckets,
                        None,
                    )?;
                }
            }
            let lag = ConstGauge::new(jobs.outbox_lag_seconds);
            lag.encode(encoder.encode_descriptor(
                "forge_outbox_lag_seconds",
                "How long the oldest outbox event not yet delivered has waited",
                None,
                lag.metric_type(),
            )?)?;
        }
        if let Some(ws) = figures.websockets {
            gauge(
                &mut encoder,
                "forge_websocket_connections",
                "WebSocket connections open on this instance",
                ws.connections,
            )?;
            counter(
                &mut encoder,
                "forge_websocket_messages_sent",
                "Live events queued for WebSocket connections",
                ws.messages_sent,
            )?;
            let closed = ConstCounter::new(0_u64);
            let mut family = encoder.encode_descriptor(
                "forge_websocket_closed_by_server",
                "WebSocket connections the server closed, by reason",
                None,
                closed.metric_type(),
            )?;
            for (reason, value) in
                [("slow_reader", ws.slow_readers_closed), ("access_ended_or_resume", ws.closed_by_server)]
            {
                ConstCounter::new(value).encode(family.encode_family(&[("reason", reason)])?)?;
            }
            counter(&mut encoder, "forge_websocket_refused", "WebSocket connections refused by a limit", ws.refused)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test as actix_test;
    use forge_application::metrics::PoolFigures;

    use super::*;

    fn figures() -> RuntimeFigures {
        RuntimeFigures {
            hashing: Some(HashingFigures {
                threads: 2,
                queue_capacity: 16,
                queued: 3,
                in_flight: 2,
                completed: 40,
                rejected: 1,
            }),
            database: Some(DatabaseFigures {
                backend: DatabaseBackend::Sqlite,
                pool: PoolFigures { size: 4, idle: 3, in_use: 1, max: 8 },
                statements: 120,
                failed_statements: 2,
            }),
            statement_latency: Some(LatencyFigures {
                buckets: vec![(0.001, 5), (0.01, 2), (f64::INFINITY, 1)],
                sum_seconds: 0.5,
                count: 8,
            }),
            jobs: Some(JobFigures {
                jobs: vec![("mail".into(), "dead", 2), ("exports".into(), "running", 1)],
                outbox_lag_seconds: 1.5,
            }),
            websockets: Some(WebSocketFigures {
                connections: 7,
                messages_sent: 120,
                slow_readers_closed: 2,
                closed_by_server: 3,
                refused: 1,
            }),
            job_durations: vec![(
                "mail".into(),
                "succeeded",
                LatencyFigures { buckets: vec![(0.1, 3), (f64::INFINITY, 1)], sum_seconds: 2.5, count: 4 },
            )],
            cache: Some(CacheFigures {
                local_hits: 90,
                local_misses: 10,
                shared_hits: 6,
                shared_misses: 4,
                local_entries: 12,
                local_enabled: true,
            }),
        }
    }

    #[test]
    fn scrape_time_figures_are_rendered_as_text() {
        let text = Metrics::new("1.2.3", figures).render().unwrap();
        assert!(text.contains("forge_build_info{version=\"1.2.3\",backend=\"sqlite\"} 1\n"), "{text}");
        assert!(text.contains("forge_password_hashing_queue_depth 3\n"), "{text}");
        assert!(text.contains("forge_websocket_connections 7\n"), "{text}");
        assert!(text.contains("forge_websocket_messages_sent_total 120\n"), "{text}");
        assert!(text.contains("forge_websocket_closed_by_server_total{reason=\"slow_reader\"} 2\n"), "{text}");
        assert!(text.contains("forge_websocket_refused_total 1\n"), "{text}");
        assert!(text.contains("forge_password_hashing_rejected_total 1\n"), "{text}");
        assert!(text.contains("forge_db_pool_connections{state=\"in_use\"} 1\n"), "{text}");
        assert!(text.contains("forge_db_statements_total 120\n"), "{text}");
        assert!(text.contains("forge_db_statement_duration_seconds_bucket{le=\"0.01\"} 7\n"), "{text}");
        assert!(text.contains("forge_db_statement_duration_seconds_bucket{le=\"+Inf\"} 8\n"), "{text}");
        assert!(text.contains("forge_db_statement_duration_seconds_count 8\n"), "{text}");
        assert!(text.contains("forge_cache_reads_total{level=\"local\",result=\"hit\"} 90\n"), "{text}");
        assert!(text.contains("forge_cache_reads_total{level=\"shared\",result=\"miss\"} 4\n"), "{text}");
        assert!(text.contains("forge_cache_local_entries 12\n"), "{text}");
        assert!(text.contains("forge_jobs{queue=\"mail\",state=\"dead\"} 2\n"), "{text}");
        assert!(text.contains("forge_jobs{queue=\"exports\",state=\"running\"} 1\n"), "{text}");
        assert!(text.contains("forge_outbox_lag_seconds 1.5\n"), "{text}");
        assert!(text.contains("forge_job_duration_seconds_count{queue=\"mail\",outcome=\"succeeded\"} 4\n"), "{text}");
        assert!(
            text.contains("forge_job_duration_seconds_bucket{le=\"0.1\",queue=\"mail\",outcome=\"succeeded\"} 3\n")
                || text
                    .contains("forge_job_duration_seconds_bucket{queue=\"mail\",outcome=\"succeeded\",le=\"0.1\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("forge_cache_local_enabled 1\n"), "{text}");
    }

    #[test]
    fn absent_figures_are_left_out() {
        let text = Metrics::new("1.2.3", RuntimeFigures::default).render().unwrap();
        assert!(text.contains("backend=\"unknown\""), "{text}");
        assert!(!text.contains("forge_password_hashing"), "{text}");
        assert!(!text.contains("forge_db_"), "{text}");
        assert!(!text.contains("forge_cache_"), "{text}");
    }

    #[test]
    fn login_outcomes_follow_the_problem_code() {
        assert_eq!(login_outcome(StatusCode::OK, None), "success");
        assert_eq!(
            login_outcome(StatusCode::UNAUTHORIZED, Some(ProblemCode::InvalidCredentials)),
            "invalid_credentials"
        );
        assert_eq!(login_outcome(StatusCode::TOO_MANY_REQUESTS, Some(ProblemCode::AccountLocked)), "locked");
        assert_eq!(login_outcome(StatusCode::TOO_MANY_REQUESTS, Some(ProblemCode::RateLimited)), "rate_limited");
        assert_eq!(login_outcome(StatusCode::UNPROCESSABLE_ENTITY, Some(ProblemCode::ValidationFailed)), "rejected");
        assert_eq!(login_outcome(StatusCode::INTERNAL_SERVER_ERROR, Some(ProblemCode::Internal)), "error");
    }

    async fn ok() -> HttpResponse {
        HttpResponse::Ok().finish()
    }

    async fn limited() -> Result<HttpResponse, Problem> {
        Err(Problem::new(ProblemCode::RateLimited, "slow down"))
    }

    #[actix_web::test]
    async fn requests_are_counted_by_route_template_and_status_class() {
        let metrics = Metrics::new("0.0.0", RuntimeFigures::default);
        let app = actix_test::init_service(
            App::new()
                .app_data(web::Data::new(metrics.clone()))
                .route("/things/{id}", web::get().to(ok))
                .route("/api/v1/auth/login", web::post().to(limited))
                .wrap(actix_web::middleware::from_fn(record)),
        )
        .await;
        for id in ["a", "b"] {
            let res = actix_test::call_service(
                &app,
                actix_test::TestRequest::get().uri(&format!("/things/{id}")).to_request(),
            )
            .await;
            assert_eq!(res.status(), StatusCode::OK);
        }
        let res =
            actix_test::call_service(&app, actix_test::TestRequest::post().uri("/api/v1/auth/login").to_request())
                .await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        actix_test::call_service(&app, actix_test::TestRequest::get().uri("/nowhere/42").to_request()).await;

        let text = metrics.render().unwrap();
        assert!(
            text.contains("forge_http_requests_total{route=\"/things/{id}\",method=\"GET\",status_class=\"2xx\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("forge_http_requests_total{route=\"unmatched\",method=\"GET\",status_class=\"4xx\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("/things/a"), "{text}");
        assert!(text.contains("forge_logins_total{outcome=\"rate_limited\"} 1\n"), "{text}");
        assert!(text.contains("forge_rate_limit_refusals_total{route=\"/api/v1/auth/login\"} 1\n"), "{text}");
        assert!(
            text.contains("forge_http_request_duration_seconds_count{route=\"/things/{id}\",method=\"GET\",status_class=\"2xx\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("forge_http_requests_in_flight 0\n"), "{text}");
    }

    #[actix_web::test]
    async fn the_endpoint_refuses_a_caller_without_the_token() {
        let metrics = Metrics::new("0.0.0", RuntimeFigures::default);
        let access = MetricsAccess { token: Some(SecretString::from("scrape-secret".to_owned())) };
        let app = actix_test::init_service(metrics_app(metrics, access)).await;
        let res = actix_test::call_service(&app, actix_test::TestRequest::get().uri("/metrics").to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = actix_test::call_service(
            &app,
            actix_test::TestRequest::get()
                .uri("/metrics")
                .insert_header(("Authorization", "Bearer wrong"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = actix_test::call_service(
            &app,
            actix_test::TestRequest::get()
                .uri("/metrics")
                .insert_header(("Authorization", "Bearer scrape-secret"))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().get(header::CONTENT_TYPE).unwrap(), prometheus_text::CONTENT_TYPE);
        let body = actix_test::read_body(res).await;
        assert!(std::str::from_utf8(&body).unwrap().contains("forge_build_info"));
    }
}
