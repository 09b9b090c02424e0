//! `GET /docs`: Swagger UI, served from the binary (no network needed), reading
//! `/openapi.json`. Its "Authorize" button logs in through the OAuth2 password grant at
//! `/api/v1/auth/token`, or takes a bearer token as is.

use actix_web::{HttpResponse, http::header};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// The page itself lives under `/docs/`, where its relative asset paths resolve.
const DOCS_ROOT: &str = "/docs/";

/// The interactive documentation
#[utoipa::path(
    get,
    path = "/docs",
    tag = "service",
    operation_id = "docs",
    responses((status = 308, description = "Redirects to the documentation page at `/docs/`",
        headers(("Location" = String, description = "`/docs/`")))),
)]
pub async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, DOCS_ROOT)).finish()
}

/// Swagger UI's files, under `/docs/`.
#[must_use]
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(
        Config::new(["/openapi.json"])
            .persist_authorization(true)
            .display_request_duration(true)
            .try_it_out_enabled(true)
            // The default validator is an online service: the page must not call out.
            .validator_url("none"),
    )
}
