//! The request time limit: a request still running after `request_timeout` (`bulk_request_timeout`
//! on a [bulk endpoint](crate::routing::Endpoint::bulk)) is abandoned and
//! answered with 504 `TIMEOUT`. Dropping the handler's future drops whatever it was awaiting; an
//! open database transaction is rolled back, so nothing half-done is stored.
//!
//! It wraps each route (see the crate's `routing` module), covering body extraction and the
//! handler, rather than the whole application: only once a request is routed may it be cloned,
//! and a clone is needed to answer after the handler's future has been dropped.

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    rt::time,
};

use super::settings_of;
use crate::{
    problem::{Problem, ProblemCode},
    routing::BulkRoute,
};

/// The middleware.
pub async fn timeout(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let settings = settings_of(&req);
    let limit =
        if req.app_data::<BulkRoute>().is_some() { settings.bulk_request_timeout } else { settings.request_timeout };
    let http_req = req.request().clone();
    match time::timeout(limit, next.call(req)).await {
        Ok(outcome) => outcome.map(ServiceResponse::map_into_boxed_body),
        Err(_elapsed) => {
            tracing::warn!(limit_ms = limit.as_millis(), "request timed out");
            let detail = format!("the request took longer than {} and was abandoned", human(limit));
            let response = Problem::new(ProblemCode::Timeout, detail).at(&http_req).error_response();
            Ok(ServiceResponse::new(http_req, response))
        }
    }
}

/// `30 s`, or `250 ms` below a second.
fn human(limit: std::time::Duration) -> String {
    if limit.as_millis().is_multiple_of(1000) {
        format!("{} s", limit.as_secs())
    } else {
        format!("{} ms", limit.as_millis())
    }
}
