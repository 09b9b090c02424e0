//! The authenticated caller: `Authorization: Bearer <access token>`, verified by
//! [`AuthService::authenticate`], which also checks the session and the account as they are now.
//!
//! API keys (`sk_...`, in `Authorization` or `X-API-Key`) are part of the contract but not built
//! yet; until they are, presenting one is a 401 that says so, rather than a misleading "invalid
//! token".

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};
use forge_application::{Actor, auth::AuthService};
use futures::future::LocalBoxFuture;

use super::client::client_context;
use crate::problem::Problem;

/// The prefix of API keys.
const API_KEY_PREFIX: &str = "sk_";

/// An authenticated caller. Taking it as a handler argument makes the endpoint require a bearer
/// token; list it before the body so that an unauthenticated request is refused before its body
/// is read.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Already authenticated by a middleware (idempotency needs the caller first)?
        if let Some(authenticated) = req.extensions().get::<Self>().cloned() {
            return Box::pin(async move { Ok(authenticated) });
        }
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await.map_err(|problem| problem.at(&req).into()) })
    }
}

/// Authenticates the request's bearer token.
///
/// # Errors
/// The 401 (or 500/503) problem for a request whose credentials do not authenticate.
pub(crate) async fn authenticate(req: &HttpRequest) -> Result<Authenticated, Problem> {
    let token = bearer_token(req)?;
    let Some(auth) = req.app_data::<web::Data<AuthService>>() else {
        tracing::error!("the authentication service is not registered with the application");
        return Err(Problem::internal());
    };
    let actor = auth.authenticate(&token, client_context(req)).await?;
    tracing::Span::current().record("user_id", tracing::field::display(actor.id()));
    Ok(Authenticated(actor))
}

/// The bearer token of the request.
fn bearer_token(req: &HttpRequest) -> Result<String, Problem> {
    if req.headers().contains_key("x-api-key") {
        return Err(api_keys_not_enabled());
    }
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Err(Problem::unauthenticated(
            "authentication is required: send `Authorization: Bearer <access token>`",
        ));
    };
    let value = value.to_str().map_err(|_| Problem::unauthenticated("the Authorization header is not readable"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Problem::unauthenticated("only `Authorization: Bearer <access token>` is accepted"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Problem::unauthenticated("the bearer token is empty"));
    }
    if token.starts_with(API_KEY_PREFIX) {
        return Err(api_keys_not_enabled());
    }
    Ok(token.to_owned())
}

fn api_keys_not_enabled() -> Problem {
    Problem::unauthenticated("API keys are not enabled yet")
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::problem::ProblemCode;

    fn token_of(req: TestRequest) -> Result<String, Problem> {
        bearer_token(&req.to_http_request())
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_case_of_the_scheme() {
        let req = TestRequest::default().insert_header((header::AUTHORIZATION, "bearer abc.def"));
        assert_eq!(token_of(req).unwrap(), "abc.def");
    }

    #[test]
    fn a_missing_header_or_another_scheme_is_unauthenticated() {
        for req in [
            TestRequest::default(),
            TestRequest::default().insert_header((header::AUTHORIZATION, "Basic YTpi")),
            TestRequest::default().insert_header((header::AUTHORIZATION, "Bearer")),
            TestRequest::default().insert_header((header::AUTHORIZATION, "Bearer   ")),
        ] {
            let problem = token_of(req).unwrap_err();
            assert_eq!(problem.code(), ProblemCode::Unauthenticated);
        }
    }

    #[test]
    fn api_keys_are_refused_until_they_exist() {
        for req in [
            TestRequest::default().insert_header((header::AUTHORIZATION, "Bearer sk_live_123")),
            TestRequest::default().insert_header(("X-API-Key", "sk_live_123")),
        ] {
            let problem = token_of(req).unwrap_err();
            assert_eq!(problem.code(), ProblemCode::Unauthenticated);
            assert_eq!(problem.detail(), "API keys are not enabled yet");
        }
    }
}
