//! The API-key endpoints: the caller's keys (`/api-keys`), and each key by id. Managing keys
//! needs a session: with an API key these answer 403.

mod errors;
pub mod handlers;
pub mod query;
pub mod requests;
pub mod responses;

use actix_web::web;

use crate::{middleware::idempotency::Idempotency, routing::Endpoint};

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/api-keys").get(handlers::list).post(handlers::create).idempotent(Idempotency::per_user()),
    )
    .service(Endpoint::new("/api-keys/{id}").get(handlers::get).delete(handlers::revoke));
}
