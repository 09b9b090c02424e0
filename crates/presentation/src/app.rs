//! The application: settings, state, and the one function that assembles routes, extractor
//! configuration and middleware.
//!
//! Routes (each path also answers `OPTIONS`, and any other method with a 405 and `Allow`):
//!
//! | path | methods |
//! |---|---|
//! | `/` | GET |
//! | `/health/live`, `/health/ready` | GET |
//! | `/openapi.json` | GET |
//! | `/docs` (redirect), `/docs/…` (Swagger UI) | GET |
//! | `/api/v1/auth/register`, `/login`, `/token`, `/refresh`, `/logout`, `/logout-all` | POST |
//! | `/api/v1/auth/sessions` | GET |
//! | `/api/v1/auth/sessions/{id}` | DELETE |
//! | `/api/v1/users/me` | GET, PATCH |
//! | `/api/v1/users` | GET, POST |
//! | `/api/v1/users/bulk` | POST |
//! | `/api/v1/users/{id}` | GET, PUT, PATCH, DELETE |
//! | `/api/v1/users/{id}/restore` | POST |
//! | `/api/v1/api-keys` | GET, POST |
//! | `/api/v1/api-keys/{id}` | GET, DELETE |
//! | `/api/v1/users/{id}/unlock` | POST |
//! | `/api/v1/auth/email/verify`, `/email/resend`, `/password/forgot`, `/password/reset` | POST |
//! | `/api/v1/users/me/password` | POST |
//! | `/api/v1/projects` | GET, POST |
//! | `/api/v1/projects/{id}` | GET, PUT, PATCH, DELETE |
//! | `/api/v1/projects/{id}/members` | GET, POST |
//! | `/api/v1/projects/{id}/members/{user_id}` | PATCH, DELETE |
//! | `/api/v1/projects/{id}/transfer` | POST |
//! | `/api/v1/users/{id}/projects` | GET |
//! | `/api/v1/audit-logs` | GET |
//! | `/api/v1/dashboard/stats` | GET |
//! | `/api/v1/metrics/database` | GET |
//! | `/metrics` | GET (only when the server serves it on this listener; see [`telemetry`]) |
//!
//! A new capability adds a module with a `routes` function and one `.configure(...)` line in
//! [`build_app`], its service to [`AppState`], and its handlers to the OpenAPI document.

use std::{collections::HashSet, sync::Arc, time::Duration};

use actix_cors::Cors;
use actix_web::{
    App, Error,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    http::Method,
    middleware::{Compress, from_fn},
    web,
};
use forge_application::{
    account::AccountService,
    api_keys::ApiKeyService,
    audit::AuditLogService,
    auth::AuthService,
    dashboard::DashboardService,
    exports::ExportService,
    health::HealthService,
    idempotency::IdempotencyService,
    jobs::JobsService,
    limits::{LimitService, LockoutService},
    metrics::MetricsService,
    projects::ProjectService,
    realtime::RealtimeService,
    users::UserService,
};
use ipnet::IpNet;
use tracing_actix_web::TracingLogger;

use crate::{
    account, api_keys, audit, auth, dashboard, exports, extract, jobs, limits, metrics,
    middleware::{self as mw, ForgeRootSpan},
    projects, realtime,
    realtime::Hub,
    routing, service, telemetry, users,
};

/// The largest request body accepted by default: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How long a request may run by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest body of a bulk endpoint accepted by default: 4 MiB, room for 1000 accounts even
/// with long names and passwords.
pub const DEFAULT_BULK_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// How long a bulk request may run by default: hashing 1000 passwords takes tens of seconds on
/// two cores.
pub const DEFAULT_BULK_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Headers a browser may send cross-origin.
const CORS_ALLOWED_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "x-request-id",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-api-key",
    "x-requested-with",
    "accept",
];

/// Response headers a browser script may read cross-origin.
const CORS_EXPOSED_HEADERS: [&str; 9] = [
    "x-request-id",
    "location",
    "link",
    "etag",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "idempotent-replayed",
];

/// How long a browser may cache a preflight answer, in seconds.
const CORS_MAX_AGE_SECONDS: usize = 3600;

/// What the HTTP layer needs to know about its deployment, read and validated by the server.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The single-page app's address; its origin is allowed by CORS.
    pub public_url: String,
    /// Further origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a request may run before it is answered with 504.
    pub request_timeout: Duration,
    /// The server's version, shown at `/`.
    pub version: String,
    /// Keep the refresh token in the `__Host-forge_refresh` cookie instead of response bodies
    /// (`auth.refresh_cookie`; see [`auth::cookie`](crate::auth::cookie)).
    pub refresh_cookie: bool,
    /// The largest body of a bulk endpoint, in bytes.
    pub bulk_body_limit: usize,
    /// How long a request to a bulk endpoint may run before it is answered with 504.
    pub bulk_request_timeout: Duration,
}

impl HttpSettings {
    /// The origins a browser page may call the API from (CORS) and open a WebSocket from: the
    /// app's own and the configured ones.
    #[must_use]
    pub fn allowed_origins(&self) -> HashSet<String> {
        std::iter::once(&self.public_url).chain(&self.cors_origins).filter_map(|url| origin_of(url)).collect()
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            public_url: "http://localhost:3000".to_owned(),
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            refresh_cookie: false,
            bulk_body_limit: DEFAULT_BULK_BODY_LIMIT,
            bulk_request_timeout: DEFAULT_BULK_REQUEST_TIMEOUT,
        }
    }
}

/// The use cases the handlers call, and the HTTP settings. Each is registered as its own
/// `web::Data`, so a handler asks for exactly the service it uses.
#[derive(Clone)]
pub struct AppState {
    /// Registration, login, tokens, logout, authentication.
    pub auth: AuthService,
    /// Users management.
    pub users: UserService,
    /// Readiness probes.
    pub health: HealthService,
    /// HTTP settings.
    pub http: Arc<HttpSettings>,
    /// API keys: management and authentication.
    pub api_keys: ApiKeyService,
    /// Request limits per client address and per login identifier.
    pub limits: LimitService,
    /// The lockout after repeated failed logins (its admin side: unlock).
    pub lockout: LockoutService,
    /// E-mail verification, password reset and change.
    pub account: AccountService,
    /// Projects and their members.
    pub projects: ProjectService,
    /// Reading the audit trail.
    pub audit: AuditLogService,
    /// `Idempotency-Key` claims and replays.
    pub idempotency: IdempotencyService,
    /// The dashboard's statistics.
    pub dashboard: DashboardService,
    /// Operational figures.
    pub metrics: MetricsService,
    /// Exports and administration of jobs, when jobs are on (their endpoints answer 503
    /// otherwise).
    pub jobs: Option<(ExportService, JobsService)>,
    /// Real-time connections: the use cases and this instance's hub (their endpoints answer
    /// 503 when absent).
    pub realtime: Option<(RealtimeService, Arc<Hub>)>,
    /// Prometheus metrics, counted for every request when set (see [`telemetry`]).
    pub prometheus: Option<telemetry::Metrics>,
    /// Serve `GET /metrics` on this listener to callers this rule allows; `None`: not here.
    pub metrics_endpoint: Option<telemetry::MetricsAccess>,
}

/// The whole application: routes, extractor configuration and middleware. Called once per
/// worker: `HttpServer::new(move || forge_presentation::build_app(state.clone()))`.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let settings = state.http;
    let cors = cors(&settings);
    App::new()
        .app_data(web::Data::new(state.auth))
        .app_data(web::Data::new(state.users))
        .app_data(web::Data::new(state.health))
        .app_data(web::Data::new(state.api_keys))
        .app_data(web::Data::new(state.limits))
        .app_data(web::Data::new(state.lockout))
        .app_data(web::Data::new(state.account))
        .app_data(web::Data::new(state.projects))
        .app_data(web::Data::from(Arc::clone(&settings)))
        .app_data(web::Data::new(state.audit))
        .app_data(web::Data::new(state.idempotency))
        .app_data(web::Data::new(state.dashboard))
        .app_data(web::Data::new(state.metrics))
        // Routes are matched in the order they are registered, one after the other: the API
        // first, and in it the accounts, which every client reads most.
        .service(
            web::scope("/api/v1")
                .configure(users::routes)
                .configure(auth::routes)
                .configure(api_keys::routes)
                .configure(limits::routes)
                .configure(account::routes)
                .configure(projects::routes)
                .configure(audit::routes)
                .configure(exports::routes)
                .configure(realtime::routes)
                .configure(jobs::routes)
                .configure(dashboard::routes)
                .configure(metrics::routes),
        )
        .configure(|cfg| {
            if let Some(prometheus) = state.prometheus {
                cfg.app_data(web::Data::new(prometheus));
            }
            if let Some((realtime, hub)) = state.realtime {
                cfg.app_data(web::Data::new(realtime));
                cfg.app_data(web::Data::from(hub));
            }
            if let Some((exports, jobs)) = state.jobs {
                cfg.app_data(web::Data::new(exports));
                cfg.app_data(web::Data::new(jobs));
            }
            if let Some(access) = state.metrics_endpoint {
                cfg.app_data(web::Data::new(access));
                telemetry::routes(cfg);
            }
        })
        .app_data(extract::json_config(settings.body_limit))
        .app_data(extract::form_config(settings.body_limit))
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .configure(service::routes)
        .default_service(web::to(routing::not_found))
        // Innermost first: each `wrap` goes around everything before it. The request limits and
        // the time limit wrap each route instead (see `routing`).
        .wrap(from_fn(mw::token_in_url::token_in_url))
        .wrap(from_fn(mw::protocol::url_length))
        .wrap(cors)
        .wrap(from_fn(mw::protocol::cors_credentials))
        .wrap(from_fn(mw::problems::problems))
        .wrap(TracingLogger::<ForgeRootSpan>::new())
        .wrap(from_fn(telemetry::record))
        .wrap(from_fn(mw::request_id::request_id))
        .wrap(from_fn(mw::security_headers::security_headers))
        .wrap(Compress::default())
        .wrap(from_fn(mw::protocol::connect_uncompressed))
}

/// CORS: only the app's own origin and the configured ones, with credentials; never `*`. (The
/// credentials header goes only with an allowed origin: see [`mw::protocol::cors_credentials`].)
fn cors(settings: &HttpSettings) -> Cors {
    let allowed = settings.allowed_origins();
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin.to_str().ok().and_then(origin_of).is_some_and(|o| allowed.contains(&o))
        })
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allowed_headers(CORS_ALLOWED_HEADERS)
        .expose_headers(CORS_EXPOSED_HEADERS)
        .supports_credentials()
        .max_age(CORS_MAX_AGE_SECONDS)
}

/// The origin (`scheme://host[:port]`, lower-cased, default port dropped) of a URL or origin;
/// `None` for anything else, `null` included.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalized_from_urls() {
        assert_eq!(origin_of("http://localhost:3000/").as_deref(), Some("http://localhost:3000"));
        assert_eq!(origin_of("HTTPS://App.Example.com:443/path?q").as_deref(), Some("https://app.example.com"));
        assert_eq!(origin_of("http://example.com:80").as_deref(), Some("http://example.com"));
        assert_eq!(origin_of("null"), None);
        assert_eq!(origin_of("file:///etc"), None);
        assert_eq!(origin_of("http://user@evil.example"), None);
    }
}
