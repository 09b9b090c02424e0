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
/// The health checks alone, at `/health/live` and `/health/ready`: what a process without the API
/// (`forge worker`) serves so that its orchestrator can probe it.
pub fn health_app(
    health: forge_application::health::HealthService,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .app_data(web::Data::new(health))
        .service(Endpoint::new("/health/live").get(health::live))
        .service(Endpoint::new("/health/ready").get(health::ready))
        .default_service(web::to(crate::routing::not_found))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/").get(root::root))
        .service(Endpoint::new("/health/live").get(health::live))
        .service(Endpoint::new("/health/ready").get(health::ready))
        .service(Endpoint::new("/openapi.json").get(openapi::document))
        .service(Endpoint::new("/docs").get(docs::redirect))
        .service(docs::swagger_ui());
}
