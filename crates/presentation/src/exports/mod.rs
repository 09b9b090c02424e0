//! Exports: `POST /exports` asks for one, `GET /exports/{id}` follows its progress, and
//! `GET /exports/{id}/download` streams its file chunk by chunk.

mod errors;
pub mod handlers;
pub mod requests;
pub mod responses;

use actix_web::web;

use crate::{middleware::idempotency::Idempotency, routing::Endpoint};

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/exports").post(handlers::create).idempotent(Idempotency::per_user()))
        .service(Endpoint::new("/exports/{id}").get(handlers::get))
        .service(Endpoint::new("/exports/{id}/download").get(handlers::download));
}
