//! The audit trail, read-only: `GET /audit-logs` for admins. Every other method on it is a 405,
//! and there is no path to a single entry that could be changed or deleted.

mod errors;
pub mod handlers;
pub mod query;
pub mod responses;

use actix_web::web;

use crate::routing::Endpoint;

/// Registers the endpoint, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/audit-logs").get(handlers::list));
}
