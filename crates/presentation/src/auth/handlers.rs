//! Handlers of the authentication endpoints.

use actix_web::{FromRequest, HttpRequest, HttpResponse, http::header, web};
use forge_application::{
    auth::{AuthService, LoginCommand, LoginOutcome},
    common::{FieldError, ValidationErrors},
    limits::LimitService,
};
use secrecy::ExposeSecret;

use super::{
    cookie,
    requests::{LoginRequest, RefreshRequest, RegisterRequest, TokenForm},
    responses::TokenResponse,
};
use crate::{
    extract::{AllowUnverified, ValidJson, client::client_context, json::required},
    limits::guard_account,
    middleware::idempotency::IdempotencyKeyHeader,
    openapi::responses as problems,
    problem::{OrProblem, Problem},
    users::responses::{UserResponse, Viewer, user_path},
};

/// Open an account
///
/// The new account is an active, unverified member. `role`, `is_active` and `is_verified` cannot
/// be chosen here. Self-registration can be switched off (403).
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    operation_id = "register",
    params(IdempotencyKeyHeader),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account was opened", body = UserResponse,
            headers(
                ("Location" = String, description = "The new user's path"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the kept response to an earlier request with the same `Idempotency-Key`"),
            )),
        (status = 403, response = problems::Forbidden),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
        (status = 429, response = problems::RateLimited),
    ),
)]
pub async fn register(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> Result<HttpResponse, Problem> {
    let user = auth.register(body.into_command(client_context(&req))).await.or_problem(&req)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, user_path(user.id())))
        .json(UserResponse::new(&user, Viewer::anonymous())))
}

/// Log in with an e-mail address or username and a password
///
/// Opens a session. Failures are indistinguishable: an unknown account, a wrong password and a
/// disabled account all answer 401 `INVALID_CREDENTIALS`. With `auth.refresh_cookie` on, the
/// refresh token is set as the `__Host-forge_refresh` cookie and left out of the body.
///
/// Limited per client address and per account identifier (429 `RATE_LIMITED`). After repeated
/// failures of one account, each further attempt must wait a growing delay (429
/// `RATE_LIMITED`), then the account is locked for a while (429 `ACCOUNT_LOCKED`, even with the
/// right password); an identifier that names no account is treated the same way.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "`__Host-forge_refresh`, in cookie mode only"))),
        (status = 401, response = problems::InvalidCredentials),
        (status = 422, response = problems::ValidationFailed),
        (status = 429, response = problems::LoginRefused),
    ),
)]
pub async fn login(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    limits: web::Data<LimitService>,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<HttpResponse, Problem> {
    let command = body.into_command(client_context(&req));
    guard_account(&req, &limits, &command.identifier).await?;
    let outcome = auth.login(command).await.or_problem(&req)?;
    Ok(token_response(&req, outcome))
}

/// Log in with the OAuth2 password grant
///
/// A form `grant_type=password&username=…&password=…`, where `username` may also be an e-mail
/// address. Answers like `/auth/login`, limits and lockout included. This is what the
/// documentation page's "Authorize" button uses.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    operation_id = "token",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "`__Host-forge_refresh`, in cookie mode only"))),
        (status = 400, response = problems::MalformedRequest),
        (status = 401, response = problems::InvalidCredentials),
        (status = 422, response = problems::ValidationFailed),
        (status = 429, response = problems::LoginRefused),
    ),
)]
pub async fn token(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    limits: web::Data<LimitService>,
    web::Form(form): web::Form<TokenForm>,
) -> Result<HttpResponse, Problem> {
    let command = password_grant(form, &req).map_err(|problem| problem.at(&req))?;
    guard_account(&req, &limits, &command.identifier).await?;
    let outcome = auth.login(command).await.or_problem(&req)?;
    Ok(token_response(&req, outcome))
}

/// The login command of a password-grant form.
fn password_grant(form: TokenForm, req: &HttpRequest) -> Result<LoginCommand, Problem> {
    if form.grant_type.as_deref() != Some("password") {
        return Err(Problem::malformed("`grant_type` must be `password`, the only grant supported"));
    }
    // A form cannot say `null`: an empty value counts as missing.
    let username = form.username.filter(|u| !u.trim().is_empty());
    let password = form.password.filter(|p| !p.expose_secret().is_empty());
    match (username, password) {
        (Some(identifier), Some(password)) => Ok(LoginCommand { identifier, password, context: client_context(req) }),
        (username, password) => {
            let missing: Vec<FieldError> = [(username.is_none(), "username"), (password.is_none(), "password")]
                .into_iter()
                .filter(|(missing, _)| *missing)
                .map(|(_, field)| required(field))
                .collect();
            Err(Problem::validation(ValidationErrors::new(missing)))
        }
    }
}

/// Exchange a refresh token for a new pair
///
/// The presented token stops working. Presenting an already-used refresh token ends its whole
/// session: 401 `TOKEN_REVOKED` (unless within `auth.refresh_reuse_grace_secs` of its first use,
/// for parallel refreshes from one client).
///
/// In cookie mode (`auth.refresh_cookie = true`) the body is ignored: the token is read from the
/// `__Host-forge_refresh` cookie, the request must carry a non-empty `X-Requested-With` header
/// (403 `FORBIDDEN` otherwise), and the new refresh token is set as the cookie again; a refused
/// refresh clears the cookie.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    params(
        ("X-Requested-With" = Option<String>, Header,
            description = "Required (any non-empty value) in cookie mode, where the token comes from the cookie"),
    ),
    request_body(content = RefreshRequest, description = "The refresh token; ignored in cookie mode"),
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "`__Host-forge_refresh`, in cookie mode only"))),
        (status = 401, response = problems::InvalidToken),
        (status = 403, response = problems::Forbidden),
        (status = 422, response = problems::ValidationFailed),
        (status = 429, response = problems::RateLimited),
    ),
)]
pub async fn refresh(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    if cookie::enabled(&req) {
        let command = cookie::refresh_command(&req).map_err(|problem| problem.at(&req))?;
        let outcome = auth.refresh(command).await.or_problem(&req).map_err(cookie::clearing)?;
        return Ok(token_response(&req, outcome));
    }
    let ValidJson(body) = ValidJson::<RefreshRequest>::from_request(&req, &mut payload.into_inner()).await?;
    let outcome = auth.refresh(body.into_command(client_context(&req))).await.or_problem(&req)?;
    Ok(token_response(&req, outcome))
}

/// End the current session
///
/// Its access and refresh tokens stop working at once. In cookie mode the refresh cookie is
/// cleared. With an API key (which has no session) this does nothing. Allowed to accounts whose
/// address is not verified yet.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    operation_id = "logout",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    responses((status = 204, description = "Logged out")),
)]
pub async fn logout(
    req: HttpRequest,
    AllowUnverified(actor): AllowUnverified,
    auth: web::Data<AuthService>,
) -> Result<HttpResponse, Problem> {
    auth.logout(&actor).await.or_problem(&req)?;
    Ok(no_content_clearing_cookie(&req))
}

/// A 204 that, in cookie mode, also clears the refresh cookie.
pub(super) fn no_content_clearing_cookie(req: &HttpRequest) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    if cookie::enabled(req) {
        response.cookie(cookie::cleared_cookie());
    }
    response.finish()
}

/// Token responses must not be stored by anything on the way (RFC 6749 §5.1); `Cache-Control`
/// is set for every response by the security headers, `Pragma` for old caches. In cookie mode the
/// refresh token goes into the cookie and out of the body.
fn token_response(req: &HttpRequest, outcome: LoginOutcome) -> HttpResponse {
    let refresh_expires_in = outcome.tokens.refresh_expires_in;
    let mut body = TokenResponse::from(outcome);
    let mut response = HttpResponse::Ok();
    response.insert_header((header::PRAGMA, "no-cache"));
    if cookie::enabled(req)
        && let Some(token) = body.refresh_token.take()
    {
        response.cookie(cookie::refresh_cookie(&token, refresh_expires_in));
    }
    response.json(body)
}
