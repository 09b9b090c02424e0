//! `GET /openapi.json`: the OpenAPI 3.1 document, generated from the code.

use actix_web::HttpResponse;

/// The OpenAPI document
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of every endpoint", body = Object)),
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::openapi())
}
