//! Request limits per client address, around the `POST` of each endpoint declared
//! [`limited`](crate::routing::Endpoint::limited), with the action it counts against.
//!
//! Runs around the route, outside its time limit and its extractors, so a limited route is
//! limited whether or not its handler asks for it, and a request is counted before its body is
//! even read (a malformed login counts like any other). The client address is the one [`client`] resolves, which
//! believes `X-Forwarded-For` only from a trusted proxy. A refused request never reaches its
//! handler. A request that goes ahead gets the `RateLimit-*` headers on its response, from the
//! address's decision or from the handler's per-account one (left in the request's extensions),
//! whichever is closer to refusing.
//!
//! When the limiter fails, the request is refused with 503 rather than let through uncounted.

use actix_web::{
    Error, HttpMessage, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use forge_application::limits::{LimitService, LimitedAction};

use crate::{
    extract::client,
    limits::{self, AccountDecision},
    problem::Problem,
};

/// The middleware, for a route whose requests are the limited `action`.
pub async fn rate_limit(
    action: LimitedAction,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(service) = req.app_data::<web::Data<LimitService>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let decision = match service.check_client(action, client::client_ip(req.request())).await {
        Ok(decision) => decision,
        Err(e) => {
            let response = Problem::from(e).at(req.request()).error_response();
            return Ok(req.into_response(response));
        }
    };
    if let Some(refused) = decision.filter(|d| !d.allowed) {
        let response = limits::too_many_requests(&refused).at(req.request()).error_response();
        return Ok(req.into_response(response));
    }
    match next.call(req).await {
        Ok(mut res) => {
            let account = res.request().extensions().get::<AccountDecision>().map(|a| a.0);
            let reported = match (decision, account) {
                (Some(client), Some(account)) => Some(client.most_restrictive(account)),
                (client, account) => client.or(account),
            };
            if let Some(reported) = reported {
                limits::set_headers(res.headers_mut(), &reported);
            }
            Ok(res.map_into_boxed_body())
        }
        Err(mut e) => {
            if let Some(decision) = decision {
                e.add_response_mapper(move |mut res| {
                    limits::set_headers(res.headers_mut(), &decision);
                    res
                });
            }
            Err(e)
        }
    }
}
