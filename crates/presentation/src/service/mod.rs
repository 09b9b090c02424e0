//! The service endpoints, outside `/api/v1`: `/` (what this is), `/health/live` and
//! `/health/ready` (for orchestrators), `/openapi.json` and `/docs`.
//!
//! `GET /metrics` is not here: the server decides where it is served (see [`crate::telemetry`]).

pub mod docs;
pub mod health;
pub mod openapi;
pub mod root;

use actix_web::web;

use crate::routing::Endpoint;

/// Registers the endpoints at the root of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/").get(root::root))
        .service(Endpoint::new("/health/live").get(health::live))
        .service(Endpoint::new("/health/ready").get(health::ready))
        .service(Endpoint::new("/openapi.json").get(openapi::document))
        .service(Endpoint::new("/docs").get(docs::redirect))
        .service(docs::swagger_ui());
}
