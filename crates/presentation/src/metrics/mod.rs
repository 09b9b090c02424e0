//! Operational figures: `GET /metrics/database` for admins.

mod errors;
pub mod handlers;
pub mod responses;

use actix_web::web;

use crate::routing::Endpoint;

/// Registers the endpoint, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/metrics/database").get(handlers::database));
}
