//! Administration of background jobs: `GET /jobs`, `POST /jobs/{id}/retry`, `DELETE /jobs/{id}`.

pub mod handlers;

use actix_web::web;

use crate::routing::Endpoint;

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/jobs").get(handlers::list))
        .service(Endpoint::new("/jobs/{id}").delete(handlers::discard))
        .service(Endpoint::new("/jobs/{id}/retry").post(handlers::retry));
}
