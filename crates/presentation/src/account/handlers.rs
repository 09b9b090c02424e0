//! Handlers of the account endpoints. What each flow does, and every rule about tokens and
//! passwords, is [`AccountService`]'s; these turn HTTP into its calls and back.

use actix_web::{HttpRequest, HttpResponse, web};
use forge_application::account::AccountService;

use super::requests::{ChangePasswordRequest, ForgotPasswordRequest, ResetPasswordRequest, VerifyEmailRequest};
use crate::{
    extract::{AllowUnverified, Authenticated, ValidJson, client::client_context},
    openapi::responses as problems,
    problem::{OrProblem, Problem},
};

/// Verify an e-mail address
///
/// With the token from the link mailed on registration, on an address change or on request. The
/// token works once. An unknown, used, expired or otherwise unusable token is a 422 naming
/// `token` with the code `INVALID_TOKEN`, and nothing changes.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email/verify",
    tag = "auth",
    operation_id = "verify_email",
    request_body = VerifyEmailRequest,
    responses(
        (status = 204, description = "The address is verified"),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn verify_email(
    req: HttpRequest,
    account: web::Data<AccountService>,
    ValidJson(body): ValidJson<VerifyEmailRequest>,
) -> Result<HttpResponse, Problem> {
    account.verify_email(body.token, client_context(&req)).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a new verification link
///
/// Earlier links stop working. An address that is already verified gets no mail; the answer is
/// the same. Allowed to accounts whose address is not verified yet.
#[utoipa::path(
    post,
    path = "/api/v1/auth/email/resend",
    tag = "auth",
    operation_id = "resend_verification",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    responses((status = 202, description = "A new link is on its way, unless the address is already verified")),
)]
pub async fn resend_verification(
    req: HttpRequest,
    AllowUnverified(actor): AllowUnverified,
    account: web::Data<AccountService>,
) -> Result<HttpResponse, Problem> {
    account.resend_verification(&actor).await.or_problem(&req)?;
    Ok(HttpResponse::Accepted().finish())
}

/// Ask for a password reset link
///
/// Answers 202 with an empty body whether or not an account has this address, so the answer
/// tells nothing about which addresses exist. An account that may log in is mailed a
/// single-use link, valid for an hour by default; earlier reset links stop working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password/forgot",
    tag = "auth",
    operation_id = "forgot_password",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "If an account has this address, a reset link is on its way"),
        (status = 422, response = problems::ValidationFailed),
        (status = 429, response = problems::RateLimited),
    ),
)]
pub async fn forgot_password(
    req: HttpRequest,
    account: web::Data<AccountService>,
    ValidJson(body): ValidJson<ForgotPasswordRequest>,
) -> Result<HttpResponse, Problem> {
    account.forgot_password(body.into_command(client_context(&req))).await.or_problem(&req)?;
    Ok(HttpResponse::Accepted().finish())
}

/// Set a new password with a reset link's token
///
/// The token works once; every session of the account ends. An unusable token is a 422 naming
/// `token` (`INVALID_TOKEN`); a new password the policy refuses, a 422 naming `new_password`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password/reset",
    tag = "auth",
    operation_id = "reset_password",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is changed and every session ended"),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn reset_password(
    req: HttpRequest,
    account: web::Data<AccountService>,
    ValidJson(body): ValidJson<ResetPasswordRequest>,
) -> Result<HttpResponse, Problem> {
    account.reset_password(body.into_command(client_context(&req))).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change the caller's password
///
/// Needs the current password (422 `INVALID_PASSWORD` on `current_password` when wrong). The
/// caller's other sessions end; the one making the request stays. A notice is mailed.
#[utoipa::path(
    post,
    path = "/api/v1/users/me/password",
    tag = "users",
    operation_id = "change_password",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "The password is changed; other sessions ended"),
        (status = 403, response = problems::Forbidden),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn change_password(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    account: web::Data<AccountService>,
    ValidJson(body): ValidJson<ChangePasswordRequest>,
) -> Result<HttpResponse, Problem> {
    account.change_password(&actor, body.into()).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}
