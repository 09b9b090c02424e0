//! The authentication endpoints: register, login (JSON and the OAuth2 password form), refresh,
//! logout, and the caller's sessions (list, end one, end all).
//!
//! Still to come here (they slot in as further endpoints below): `password/*`, `email/*`.

pub mod cookie;
mod errors;
pub mod handlers;
pub mod requests;
pub mod responses;
pub mod sessions;

use actix_web::web;
use forge_application::limits::LimitedAction;

use crate::{middleware::idempotency::Idempotency, routing::Endpoint};

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/auth/register")
            .limited(LimitedAction::Register)
            .post(handlers::register)
            .idempotent(Idempotency::per_client()),
    )
    .service(Endpoint::new("/auth/login").limited(LimitedAction::Login).post(handlers::login))
    .service(Endpoint::new("/auth/token").limited(LimitedAction::Login).post(handlers::token))
    .service(Endpoint::new("/auth/refresh").limited(LimitedAction::Refresh).post(handlers::refresh))
    .service(Endpoint::new("/auth/logout").post(handlers::logout))
    .service(Endpoint::new("/auth/logout-all").post(sessions::logout_all))
    .service(Endpoint::new("/auth/sessions").get(sessions::list))
    .service(Endpoint::new("/auth/sessions/{id}").delete(sessions::revoke));
}
