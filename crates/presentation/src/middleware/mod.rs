//! The middleware every request goes through, outermost first:
//!
//! 0. [`protocol::connect_uncompressed`]: the answer to `CONNECT` is never compressed;
//! 1. compression (actix-web's `Compress`);
//! 2. [`security_headers`]: `nosniff`, `no-store`, CSP, referrer policy, HSTS over HTTPS;
//! 3. [`request_id`]: accepts or makes the request id and puts it on every response;
//! 4. tracing-actix-web's `TracingLogger` with [`ForgeRootSpan`], after the request id so that
//!    every log line of the request carries it;
//! 5. [`problems`]: turns any error response not already a problem document (actix-cors, actix-web
//!    internals, Swagger UI) into one;
//! 6. [`protocol::cors_credentials`]: no `Access-Control-Allow-Credentials` without an allowed
//!    origin; then CORS itself (actix-cors);
//! 7. [`protocol::url_length`]: a 414 for an over-long URL; then [`token_in_url`]: refuses
//!    tokens in the query string before any handler sees them;
//! 8. [`rate_limit`], around the `POST` of each endpoint declared limited: counts its requests
//!    per client address, refuses those over the limit with 429, and puts the `RateLimit-*`
//!    headers on the others;
//! 9. [`timeout`], around each route: answers 504 when a request runs past the limit;
//! 10. [`idempotency`], inside the time limit, around the `POST` of endpoints that create
//!     something: `Idempotency-Key` replays.
//!
//! Middleware only deals with HTTP mechanics; none of it knows a use case, except that
//! [`rate_limit`] asks the limits service to count.

pub mod idempotency;
pub mod problems;
pub mod protocol;
pub mod rate_limit;
pub mod request_id;
pub mod root_span;
pub mod security_headers;
pub mod timeout;
pub mod token_in_url;

pub use request_id::RequestId;
pub use root_span::ForgeRootSpan;

use actix_web::{HttpRequest, dev::ServiceRequest, web};

use crate::app::HttpSettings;

/// The HTTP settings registered with the application, or the defaults in a bare test app.
pub(crate) fn settings_of(req: &ServiceRequest) -> web::Data<HttpSettings> {
    req.app_data::<web::Data<HttpSettings>>().cloned().unwrap_or_else(|| web::Data::new(HttpSettings::default()))
}

/// As [`settings_of`], for extractors and handlers.
pub(crate) fn settings_of_request(req: &HttpRequest) -> web::Data<HttpSettings> {
    req.app_data::<web::Data<HttpSettings>>().cloned().unwrap_or_else(|| web::Data::new(HttpSettings::default()))
}
