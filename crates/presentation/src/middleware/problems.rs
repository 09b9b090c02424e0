//! Every error a client sees is a problem document. This crate's own errors already are; this
//! middleware catches the rest: actix-cors refusing a preflight, actix-web internals, Swagger UI's
//! missing files, an inner service's `Err`. Their bodies may hold library messages, so they are
//! replaced by a generic problem for the same status; their other headers (CORS, `Allow`, ...)
//! are kept.
//!
//! Responses whose body is JSON on purpose are left alone: problem documents, and the readiness
//! report, which is a 503 with a JSON body of its own.

use actix_web::{
    Error, HttpMessage, HttpResponse, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{StatusCode, header},
    middleware::Next,
};

use super::RequestId;
use crate::problem::Problem;

/// The middleware. The request's path and id are copied before the inner service runs, because
/// the request itself must not be held meanwhile (see
/// [`request_id`](super::request_id::request_id)).
pub async fn problems(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let path = req.path().to_owned();
    let request_id = req.extensions().get::<RequestId>().map(|id| id.as_str().to_owned());
    match next.call(req).await {
        Ok(res) => {
            let res = res.map_into_boxed_body();
            if !needs_rewrite(res.status(), res.headers()) {
                return Ok(res);
            }
            let (req, old) = res.into_parts();
            Ok(ServiceResponse::new(req, rewrite(&old, &path, request_id)))
        }
        Err(mut e) => {
            e.add_response_mapper(move |old| {
                if needs_rewrite(old.status(), old.headers()) { rewrite(&old, &path, request_id.clone()) } else { old }
            });
            Err(e)
        }
    }
}

/// A problem document for `old`'s status, with `old`'s other headers.
fn rewrite(old: &HttpResponse, path: &str, request_id: Option<String>) -> HttpResponse {
    if old.status().is_server_error() {
        tracing::error!(status = old.status().as_u16(), error = ?old.error(), "request failed outside the handlers");
    }
    let mut new = Problem::for_status(old.status()).at_path(path, request_id).error_response();
    for (name, value) in old.headers() {
        if ![header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_ENCODING].contains(name) {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new
}

fn needs_rewrite(status: StatusCode, headers: &header::HeaderMap) -> bool {
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let is_json =
        essence.is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
    !is_json
}
