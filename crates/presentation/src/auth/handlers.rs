//! Handlers of the authentication endpoints.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use forge_application::{
    auth::{AuthService, LoginCommand},
    common::{FieldError, ValidationErrors},
};
use secrecy::ExposeSecret;

use super::{
    requests::{LoginRequest, RefreshRequest, RegisterRequest, TokenForm},
    responses::TokenResponse,
};
use crate::{
    extract::{Authenticated, ValidJson, client::client_context, json::required},
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
/// disabled account all answer 401 `INVALID_CREDENTIALS`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    operation_id = "login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, response = problems::InvalidCredentials),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn login(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<HttpResponse, Problem> {
    let outcome = auth.login(body.into_command(client_context(&req))).await.or_problem(&req)?;
    Ok(token_response(outcome.into()))
}

/// Log in with the OAuth2 password grant
///
/// A form `grant_type=password&username=…&password=…`, where `username` may also be an e-mail
/// address. Answers like `/auth/login`. This is what the documentation page's "Authorize"
/// button uses.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "auth",
    operation_id = "token",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, response = problems::MalformedRequest),
        (status = 401, response = problems::InvalidCredentials),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn token(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    web::Form(form): web::Form<TokenForm>,
) -> Result<HttpResponse, Problem> {
    let command = password_grant(form, &req).map_err(|problem| problem.at(&req))?;
    let outcome = auth.login(command).await.or_problem(&req)?;
    Ok(token_response(outcome.into()))
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
/// session: 401 `TOKEN_REVOKED`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenResponse),
        (status = 401, response = problems::InvalidToken),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn refresh(
    req: HttpRequest,
    auth: web::Data<AuthService>,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> Result<HttpResponse, Problem> {
    let outcome = auth.refresh(body.into_command(client_context(&req))).await.or_problem(&req)?;
    Ok(token_response(outcome.into()))
}

/// End the current session
///
/// Its access and refresh tokens stop working at once.
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
    Authenticated(actor): Authenticated,
    auth: web::Data<AuthService>,
) -> Result<HttpResponse, Problem> {
    auth.logout(&actor).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Token responses must not be stored by anything on the way (RFC 6749 §5.1); `Cache-Control`
/// is set for every response by the security headers, `Pragma` for old caches.
fn token_response(body: TokenResponse) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::PRAGMA, "no-cache")).json(body)
}
