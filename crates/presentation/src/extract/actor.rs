//! The authenticated caller, from one of two kinds of credential:
//!
//! - `Authorization: Bearer <access token>` (a JWT), verified by [`AuthService::authenticate`],
//!   which also checks the session and the account as they are now;
//! - `Authorization: Bearer sk_…` or `X-API-Key: sk_…` (an API key), verified by
//!   [`ApiKeyService::authenticate_api_key`], which also checks the key's owner and whether the
//!   key's scopes allow the request.
//!
//! What a request intends is an HTTP matter, so it is read here from the method: `GET`, `HEAD`
//! and `OPTIONS` read, every other method writes. Whether a key may do that is the application's
//! decision.
//!
//! The caller is then admitted by [`AuthService::admit`]: with `auth.require_verified_email` on,
//! an account whose address is unverified gets 403 `EMAIL_NOT_VERIFIED` everywhere except the few
//! endpoints that take [`AllowUnverified`] instead of [`Authenticated`] (its own account, a new
//! verification mail, logout).

use actix_web::{
    FromRequest, HttpMessage, HttpRequest,
    dev::Payload,
    http::{Method, header},
    web,
};
use forge_application::{
    Actor,
    api_keys::ApiKeyService,
    auth::{AccessPurpose, AuthService},
};
use forge_domain::api_keys::{AccessIntent, KEY_PREFIX};
use futures::future::LocalBoxFuture;

use super::client::client_context;
use crate::problem::Problem;

/// The header that may carry an API key instead of `Authorization`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// An authenticated caller. Taking it as a handler argument makes the endpoint require a bearer
/// token or an API key; list it before the body so that an unauthenticated request is refused
/// before its body is read.
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
        Box::pin(async move {
            authenticate(&req, AccessPurpose::General).await.map(Self).map_err(|problem| problem.at(&req).into())
        })
    }
}

/// An authenticated caller whose e-mail address may still be unverified: for the endpoints an
/// unverified account needs in order to get verified (its own account, a new verification mail,
/// logout). Everything else takes [`Authenticated`].
#[derive(Debug, Clone)]
pub struct AllowUnverified(pub Actor);

impl FromRequest for AllowUnverified {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            authenticate(&req, AccessPurpose::AccountUpkeep).await.map(Self).map_err(|problem| problem.at(&req).into())
        })
    }
}

/// Authenticates and admits the request's caller as [`Authenticated`] would, for a middleware that
/// needs the caller before the handler runs (it then leaves the result in the request's
/// extensions, where the extractor finds it).
///
/// # Errors
/// The 401/403 (or 500/503) problem for a request whose caller is refused.
pub(crate) async fn authenticated(req: &HttpRequest) -> Result<Authenticated, Problem> {
    authenticate(req, AccessPurpose::General).await.map(Authenticated)
}

/// A credential as presented, not yet verified.
#[derive(Debug, PartialEq, Eq)]
enum Credential {
    AccessToken(String),
    ApiKey(String),
}

async fn authenticate(req: &HttpRequest, purpose: AccessPurpose) -> Result<Actor, Problem> {
    let Some(auth) = req.app_data::<web::Data<AuthService>>() else {
        tracing::error!("the authentication service is not registered with the application");
        return Err(Problem::internal());
    };
    let actor = match credential(req)? {
        Credential::AccessToken(token) => auth.authenticate(&token, client_context(req)).await?,
        Credential::ApiKey(key) => {
            let Some(api_keys) = req.app_data::<web::Data<ApiKeyService>>() else {
                tracing::error!("the API-key service is not registered with the application");
                return Err(Problem::internal());
            };
            api_keys.authenticate_api_key(&key, intent_of(req.method()), client_context(req)).await?
        }
    };
    tracing::Span::current().record("user_id", tracing::field::display(actor.id()));
    auth.admit(&actor, purpose)?;
    Ok(actor)
}

/// What a request with `method` intends: reading for the safe methods, writing for the rest.
#[must_use]
pub fn intent_of(method: &Method) -> AccessIntent {
    if [Method::GET, Method::HEAD, Method::OPTIONS].contains(method) { AccessIntent::Read } else { AccessIntent::Write }
}

/// The credential of the request. Exactly one may be sent: both headers at once is refused
/// rather than guessing which one was meant.
fn credential(req: &HttpRequest) -> Result<Credential, Problem> {
    let api_key = req.headers().get(API_KEY_HEADER);
    let authorization = req.headers().get(header::AUTHORIZATION);
    match (api_key, authorization) {
        (Some(_), Some(_)) => {
            Err(Problem::unauthenticated("send one credential: `Authorization` or `X-API-Key`, not both"))
        }
        (Some(value), None) => {
            let key = value.to_str().map_err(|_| Problem::unauthenticated("the X-API-Key header is not readable"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(Problem::unauthenticated("the X-API-Key header is empty"));
            }
            Ok(Credential::ApiKey(key.to_owned()))
        }
        (None, Some(value)) => {
            let token = bearer_token(value)?;
            Ok(if token.starts_with(KEY_PREFIX) { Credential::ApiKey(token) } else { Credential::AccessToken(token) })
        }
        (None, None) => Err(Problem::unauthenticated(
            "authentication is required: send `Authorization: Bearer <access token or API key>` or `X-API-Key`",
        )),
    }
}

/// The token of an `Authorization: Bearer` header.
fn bearer_token(value: &header::HeaderValue) -> Result<String, Problem> {
    let value = value.to_str().map_err(|_| Problem::unauthenticated("the Authorization header is not readable"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Problem::unauthenticated("only `Authorization: Bearer <access token or API key>` is accepted"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(Problem::unauthenticated("the bearer token is empty"));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::problem::ProblemCode;

    fn credential_of(req: TestRequest) -> Result<Credential, Problem> {
        credential(&req.to_http_request())
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_case_of_the_scheme() {
        let req = TestRequest::default().insert_header((header::AUTHORIZATION, "bearer abc.def"));
        assert_eq!(credential_of(req).unwrap(), Credential::AccessToken("abc.def".into()));
    }

    #[test]
    fn a_missing_header_or_another_scheme_is_unauthenticated() {
        for req in [
            TestRequest::default(),
            TestRequest::default().insert_header((header::AUTHORIZATION, "Basic YTpi")),
            TestRequest::default().insert_header((header::AUTHORIZATION, "Bearer")),
            TestRequest::default().insert_header((header::AUTHORIZATION, "Bearer   ")),
            TestRequest::default().insert_header((API_KEY_HEADER, "  ")),
        ] {
            let problem = credential_of(req).unwrap_err();
            assert_eq!(problem.code(), ProblemCode::Unauthenticated);
        }
    }

    #[test]
    fn api_keys_are_read_from_either_header() {
        for req in [
            TestRequest::default().insert_header((header::AUTHORIZATION, "Bearer sk_live_123")),
            TestRequest::default().insert_header(("X-API-Key", " sk_live_123 ")),
        ] {
            assert_eq!(credential_of(req).unwrap(), Credential::ApiKey("sk_live_123".into()));
        }
    }

    #[test]
    fn two_credentials_at_once_are_refused() {
        let req = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer abc.def"))
            .insert_header(("X-API-Key", "sk_live_123"));
        let problem = credential_of(req).unwrap_err();
        assert_eq!(problem.code(), ProblemCode::Unauthenticated);
        assert!(problem.detail().contains("not both"), "{}", problem.detail());
    }

    #[test]
    fn safe_methods_read_and_every_other_method_writes() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert_eq!(intent_of(&method), AccessIntent::Read, "{method}");
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::TRACE] {
            assert_eq!(intent_of(&method), AccessIntent::Write, "{method}");
        }
    }
}
