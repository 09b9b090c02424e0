//! Request limits and the lockout over HTTP.
//!
//! Which requests are limited is decided here, by method and path ([`LIMITED_ROUTES`]), and
//! enforced by the [`rate_limit`](crate::middleware::rate_limit) middleware before routing, so a
//! route listed here is limited as soon as it exists: `POST /api/v1/auth/password/forgot` is
//! listed ahead of its handler, and gets its per-address limit and headers the moment it is
//! routed, with nothing to call from the handler. The logins are also limited per account
//! identifier, which only the handler knows after reading the body: `guard_account` counts
//! that, and the middleware reports whichever of the two decisions is closer to refusing.
//!
//! Every response of a limited request carries `RateLimit-Limit`, `RateLimit-Remaining` and
//! `RateLimit-Reset` (seconds until the window ends); a refusal is a 429 problem with
//! `Retry-After`.
//!
//! Also here: `POST /api/v1/users/{id}/unlock`, which lifts a lockout.

pub mod handlers;

use actix_web::{
    HttpMessage, HttpRequest,
    http::{
        Method,
        header::{self, HeaderMap, HeaderName, HeaderValue},
    },
    web,
};
use chrono::Duration;
use forge_application::limits::{Decision, LimitService, LimitedAction};

use crate::{
    problem::{OrProblem, Problem, ProblemCode},
    routing::Endpoint,
};

/// The limited routes (all `POST`), by their full path.
pub const LIMITED_ROUTES: [(&str, LimitedAction); 5] = [
    ("/api/v1/auth/login", LimitedAction::Login),
    ("/api/v1/auth/token", LimitedAction::Login),
    ("/api/v1/auth/refresh", LimitedAction::Refresh),
    ("/api/v1/auth/register", LimitedAction::Register),
    ("/api/v1/auth/password/forgot", LimitedAction::ForgotPassword),
];

/// `RateLimit-Limit`: the requests a window allows.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`: the requests left in this window.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`: seconds until the window ends.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The limited action of a request, if it is one.
#[must_use]
pub fn limited_action(method: &Method, path: &str) -> Option<LimitedAction> {
    if method != Method::POST {
        return None;
    }
    LIMITED_ROUTES.iter().find(|(route, _)| *route == path).map(|(_, action)| *action)
}

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
    fn only_posts_to_the_listed_paths_are_limited() {
        assert_eq!(limited_action(&Method::POST, "/api/v1/auth/token"), Some(LimitedAction::Login));
        assert_eq!(limited_action(&Method::POST, "/api/v1/auth/password/forgot"), Some(LimitedAction::ForgotPassword));
        assert_eq!(limited_action(&Method::GET, "/api/v1/auth/login"), None);
        assert_eq!(limited_action(&Method::POST, "/api/v1/auth/logout"), None);
        assert_eq!(limited_action(&Method::POST, "/api/v1/auth/login/"), None);
    }

    #[test]
    fn waits_are_rounded_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::milliseconds(1)), 1);
        assert_eq!(whole_seconds(Duration::seconds(2)), 2);
        assert_eq!(whole_seconds(Duration::milliseconds(2001)), 3);
        assert_eq!(whole_seconds(Duration::zero()), 0);
        assert_eq!(retry_after(Duration::zero()).1, "1");
    }
}
