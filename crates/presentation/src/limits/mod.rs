//! Request limits and the lockout over HTTP.
//!
//! Which requests are limited is declared with each route:
//! `Endpoint::new("/auth/login").limited(LimitedAction::Login)` (see
//! [`Endpoint::limited`](crate::routing::Endpoint::limited)) puts the endpoint's `POST` behind the
//! [`rate_limit`](crate::middleware::rate_limit) middleware, which counts it per client address
//! before its handler or even its body is reached, with nothing to call from the handler. The
//! limited endpoints are the logins (`/auth/login`, `/auth/token`), `/auth/refresh`,
//! `/auth/register` and `/auth/password/forgot`; each documents its 429 in its OpenAPI
//! operation, and a test checks that the documented and the limited operations are the same. The
//! logins are also limited per account identifier, which only the handler knows after reading
//! the body: `guard_account` counts that, and the middleware reports whichever of the two
//! decisions is closer to refusing.
//!
//! Every response of a limited request carries `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (seconds until the window ends); a refusal is a 429 problem with
//! `Retry-After`.
//!
//! Also here: `POST /api/v1/users/{id}/unlock`, which lifts a lockout.

pub mod handlers;

use actix_web::{
    HttpMessage, HttpRequest,
    http::header::{self, HeaderMap, HeaderName, HeaderValue},
    web,
};
use chrono::Duration;
use forge_application::limits::{Decision, LimitService};

use crate::{
    problem::{OrProblem, Problem, ProblemCode},
    routing::Endpoint,
};

/// `RateLimit-Limit`: the requests a window allows.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`: the requests left in this window.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the window ends.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Whole seconds, rounded up: a client told to wait 0 s after a sub-second remainder would
/// retry too early.
#[must_use]
pub fn whole_seconds(duration: Duration) -> i64 {
    let millis = duration.num_milliseconds().max(0);
    (millis + 999) / 1000
}

/// The `Retry-After` header for a wait of `duration` (at least one second).
#[must_use]
pub fn retry_after(duration: Duration) -> (HeaderName, HeaderValue) {
    (header::RETRY_AFTER, HeaderValue::from(whole_seconds(duration).max(1)))
}

/// The `RateLimit-*` headers of `decision`.
#[must_use]
pub fn rate_limit_headers(decision: &Decision) -> [(HeaderName, HeaderValue); 3] {
    [
        (RATELIMIT_LIMIT, HeaderValue::from(decision.limit)),
        (RATELIMIT_REMAINING, HeaderValue::from(decision.remaining)),
        (RATELIMIT_RESET, HeaderValue::from(whole_seconds(decision.reset_after))),
    ]
}

/// Sets the `RateLimit-*` headers of `decision`, replacing any already there.
pub fn set_headers(headers: &mut HeaderMap, decision: &Decision) {
    for (name, value) in rate_limit_headers(decision) {
        headers.insert(name, value);
    }
}

/// The 429 of a request over its limit: `RATE_LIMITED` with `Retry-After` and the `RateLimit-*`
/// headers.
#[must_use]
pub fn too_many_requests(decision: &Decision) -> Problem {
    let wait = decision.retry_after.unwrap_or(decision.reset_after);
    let (name, value) = retry_after(wait);
    rate_limit_headers(decision).into_iter().fold(
        Problem::new(
            ProblemCode::RateLimited,
            format!("too many requests; retry after {} seconds", whole_seconds(wait).max(1)),
        )
        .with_header(name, value),
        |problem, (name, value)| problem.with_header(name, value),
    )
}

/// The per-account decision of a login, left for the middleware to report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccountDecision(pub(crate) Decision);

/// Counts a login attempt against the limit of the account `identifier` names.
///
/// # Errors
/// The 429 problem when the limit is reached; a 503 when the limiter fails.
pub(crate) async fn guard_account(req: &HttpRequest, limits: &LimitService, identifier: &str) -> Result<(), Problem> {
    let Some(decision) = limits.check_account(identifier).await.or_problem(req)? else {
        return Ok(());
    };
    req.extensions_mut().insert(AccountDecision(decision));
    if decision.allowed { Ok(()) } else { Err(too_many_requests(&decision).at(req)) }
}

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/users/{id}/unlock").post(handlers::unlock));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_rounded_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::milliseconds(1)), 1);
        assert_eq!(whole_seconds(Duration::seconds(2)), 2);
        assert_eq!(whole_seconds(Duration::milliseconds(2001)), 3);
        assert_eq!(whole_seconds(Duration::zero()), 0);
        assert_eq!(retry_after(Duration::zero()).1, "1");
    }
}
