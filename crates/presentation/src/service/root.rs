//! `GET /`: what this server is, and where its documentation is.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::HttpSettings;

/// What this server is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RootResponse {
    /// Always `forge`.
    #[schema(example = "forge")]
    pub name: String,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: String,
    /// Always `ok` when the process answers.
    #[schema(example = "ok")]
    pub status: String,
    /// The path of the interactive documentation.
    #[schema(example = "/docs")]
    pub docs: String,
}

/// What this server is
#[utoipa::path(
    get,
    path = "/",
    tag = "service",
    operation_id = "root",
    responses((status = 200, description = "The server's name and version", body = RootResponse)),
)]
pub async fn root(settings: web::Data<HttpSettings>) -> HttpResponse {
    HttpResponse::Ok().json(RootResponse {
        name: "forge".to_owned(),
        version: settings.version.clone(),
        status: "ok".to_owned(),
        docs: "/docs".to_owned(),
    })
}
