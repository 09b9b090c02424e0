//! The root span of each request, for tracing-actix-web's `TracingLogger`.
//!
//! It records this crate's request id (not tracing-actix-web's own), so that every log line of a
//! request, from middleware, extractors, handlers and use cases alike, carries the id the client
//! sees in `X-Request-ID`. The client address is the one resolved through trusted proxies only.
//! Only the path is recorded, never the query string, which may hold what it should not.
//!
//! The span continues the caller's trace when the request carries a W3C `traceparent` (through
//! the global OpenTelemetry propagator the server installs), and records its `trace_id` and
//! `span_id` when traces are on, so that they appear on every log line of the request.

use std::fmt;

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
};
use opentelemetry::{propagation::Extractor, trace::TraceContextExt as _};
use tracing::{Span, field::Empty};
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::request_id::{RequestId, RequestStart};
use crate::extract::client;

/// Builds the root span and logs one line when the request completes.
pub struct ForgeRootSpan;

impl RootSpanBuilder for ForgeRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // The values are written only when a subscriber takes the span (the macro evaluates its
        // fields only then): at the default log level nothing is formatted per request.
        let method = request.method().as_str();
        let route = || request.match_pattern().unwrap_or_else(|| "default".to_owned());
        // The field names follow tracing-actix-web's default span, so that its `on_request_end`
        // can record the outcome into them.
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %lazy(|f| f.write_str(&route())),
            http.target = %request.path(),
            http.client_ip = %lazy(|f| match client::client_ip(request.request()) {
                Some(ip) => fmt::Display::fmt(&ip, f),
                None => Ok(()),
            }),
            request_id = %lazy(|f| match request.extensions().get::<RequestId>() {
                Some(id) => f.write_str(id.as_str()),
                None => Ok(()),
            }),
            user_id = Empty,
            http.status_code = Empty,
            otel.name = %lazy(|f| write!(f, "{method} {}", route())),
            otel.kind = "server",
            otel.status_code = Empty,
            exception.message = Empty,
            exception.details = Empty,
            trace_id = Empty,
            span_id = Empty,
        );
        if span.is_disabled() {
            return span;
        }
        continue_trace(request, &span);
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, latency_ms) = match outcome {
            Ok(res) => (
                res.status().as_u16(),
                res.request()
                    .extensions()
                    .get::<RequestStart>()
                    .map(|start| u64::try_from(start.0.elapsed().as_millis()).unwrap_or(u64::MAX)),
            ),
            Err(e) => (e.as_response_error().status_code().as_u16(), None),
        };
        // Records the status and, for an error answer, the error into the span's fields.
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        span.in_scope(|| {
            if status >= 500 {
                let error = match outcome {
                    Ok(res) => res.response().error().map(ToString::to_string),
                    Err(e) => Some(e.to_string()),
                };
                tracing::warn!(status, latency_ms, error = error.as_deref().unwrap_or(""), "request completed");
            } else {
                // A 4xx is the client's business (a refused login, a taken name): not a warning.
                tracing::info!(status, latency_ms, "request completed");
            }
        });
    }
}

/// The request's headers, as the propagator reads them.
/// A value written by a closure when (and each time) it is displayed.
struct Lazy<F>(F);

const fn lazy<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(write: F) -> Lazy<F> {
    Lazy(write)
}

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(actix_web::http::header::HeaderName::as_str).collect()
    }
}

/// Makes the caller's trace (its `traceparent`) the parent of `span`, and records the ids.
fn continue_trace(request: &ServiceRequest, span: &Span) {
    let parent =
        opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&Headers(request.headers())));
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed, and then there is nothing to join.
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let ids = context.span().span_context().clone();
    if ids.is_valid() {
        span.record("trace_id", tracing::field::display(ids.trace_id()));
        span.record("span_id", tracing::field::display(ids.span_id()));
    }
}
