//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code, with the lengths of the
//! configured password policy.

use actix_web::{HttpResponse, web};
use forge_application::auth::AuthService;

/// The OpenAPI document
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of every endpoint", body = Object)),
)]
pub async fn document(auth: web::Data<AuthService>) -> HttpResponse {
    let mut doc = crate::openapi::openapi();
    crate::openapi_exact::state_password_policy(&mut doc, &auth.settings().password_policy);
    HttpResponse::Ok().json(doc)
}
