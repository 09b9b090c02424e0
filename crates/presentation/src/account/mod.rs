//! The account endpoints mailed links lead to, and the password change:
//!
//! | path | method | auth |
//! |---|---|---|
//! | `/api/v1/auth/email/verify` | POST `{"token"}` → 204 | none |
//! | `/api/v1/auth/email/resend` | POST → 202 | bearer (unverified accounts too) |
//! | `/api/v1/auth/password/forgot` | POST `{"email"}` → 202 | none |
//! | `/api/v1/auth/password/reset` | POST `{"token", "new_password"}` → 204 | none |
//! | `/api/v1/users/me/password` | POST `{"current_password", "new_password"}` → 204 | bearer |
//!
//! Tokens travel in bodies only (the single-page app reads them from the mailed link and posts
//! them); a token in a query string is refused before any handler runs.

mod errors;
pub mod handlers;
pub mod requests;

use actix_web::web;
use forge_application::limits::LimitedAction;

use crate::routing::Endpoint;

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(Endpoint::new("/auth/email/verify").post(handlers::verify_email))
        .service(Endpoint::new("/auth/email/resend").post(handlers::resend_verification))
        .service(
            Endpoint::new("/auth/password/forgot")
                .limited(LimitedAction::ForgotPassword)
                .post(handlers::forgot_password),
        )
        .service(Endpoint::new("/auth/password/reset").post(handlers::reset_password))
        .service(Endpoint::new("/users/me/password").post(handlers::change_password));
}
