//! The dashboard's statistics: `GET /dashboard/stats` for admins and managers.

mod errors;
pub mod handlers;
pub mod responses;

use actix_web::web;

use crate::routing::Endpoint;

/// Registers the endpoint, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/dashboard/stats").get(handlers::stats));
}
