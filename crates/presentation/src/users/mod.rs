//! The users endpoints: `/users/me`, the list, and each account by id.
//!
//! `/users/bulk` is here too. `/users/me/password` is the account flows' (in [`crate::account`]),
//! `/users/{id}/unlock` the lockout's (in [`crate::limits`]) and `/users/{id}/projects` the
//! projects' (in [`crate::projects`]).

mod errors;
pub mod handlers;
pub mod query;
pub mod requests;
pub mod responses;

use actix_web::web;

use crate::{middleware::idempotency::Idempotency, routing::Endpoint};

/// Registers the endpoints, relative to `/api/v1`. `/users/me` and `/users/bulk` come before
/// `/users/{id}` so that `me` and `bulk` are never read as ids.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/users/me").get(handlers::me).patch(handlers::update_me))
        .service(Endpoint::new("/users").get(handlers::list).post(handlers::create).idempotent(Idempotency::per_user()))
        .service(Endpoint::new("/users/bulk").post(handlers::create_many).bulk().idempotent(Idempotency::per_user()))
        .service(
            Endpoint::new("/users/{id}")
                .get(handlers::get)
                .put(handlers::replace)
                .patch(handlers::update)
                .delete(handlers::delete),
        )
        .service(Endpoint::new("/users/{id}/restore").post(handlers::restore));
}
