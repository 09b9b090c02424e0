//! Handlers of the lockout's endpoint.

use actix_web::{HttpRequest, HttpResponse, web};
use forge_application::limits::LockoutService;
use forge_domain::users::UserId;
use uuid::Uuid;

use crate::{
    extract::Authenticated,
    openapi::responses as problems,
    problem::{OrProblem, Problem},
};

/// Lift a lock left by repeated failed logins (admins)
///
/// Forgets the account's failed logins, so its owner can log in at once. Unlocking an account
/// that is not locked changes nothing. Written to the audit trail as `user.unlocked`.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/unlock",
    tag = "users",
    operation_id = "unlock_user",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 204, description = "The account is unlocked"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn unlock(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    lockout: web::Data<LockoutService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    lockout.unlock(&actor, UserId::from_uuid(*id)).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}
