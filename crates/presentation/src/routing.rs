//! Resources that know their own methods, so every path answers a method it does not support
//! with a 405 problem document and an `Allow` header (and `OPTIONS` with 204 and `Allow`),
//! instead of actix-web's bare 404/405. Every route also gets the request time limit
//! ([`timeout`](crate::middleware::timeout)).
//!
//! An endpoint that takes a list of things to create at once is marked [`Endpoint::bulk`]: it gets
//! the bulk time limit instead of the ordinary one, and its list bodies
//! ([`ValidJsonList`](crate::extract::json::ValidJsonList)) the bulk size limit. An endpoint whose
//! `POST` creates something is marked [`Endpoint::idempotent`]: its `POST` honours
//! `Idempotency-Key` ([`idempotency`](crate::middleware::idempotency)). An endpoint whose `POST`
//! is a limited action (logging in, registering, ...) is marked [`Endpoint::limited`]: its `POST`
//! is counted per client address before anything else runs
//! ([`rate_limit`](crate::middleware::rate_limit)), so which requests are limited is declared
//! here, with the route, and nowhere else.

use actix_web::{
    FromRequest, Handler, HttpRequest, HttpResponse, Resource, Responder, Route,
    dev::{AppService, HttpServiceFactory},
    guard,
    http::{Method, header::HeaderValue},
    middleware::from_fn,
    web,
};

use forge_application::limits::LimitedAction;

use crate::{
    middleware::{idempotency::Idempotency, rate_limit, timeout},
    problem::Problem,
};

/// One path and the handler of each method it supports. Routes are kept until the endpoint is
/// registered, so the order of the builder's calls does not matter.
pub(crate) struct Endpoint {
    resource: Resource,
    methods: Vec<Method>,
    routes: Vec<(Method, Route)>,
    idempotency: Option<Idempotency>,
    limit: Option<LimitedAction>,
}

/// Marks a bulk endpoint's requests (see the module notes); read by the time limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BulkRoute;

impl Endpoint {
    /// An endpoint at `path` (relative to the enclosing scope) with no method yet.
    pub(crate) fn new(path: &str) -> Self {
        Self { resource: web::resource(path), methods: Vec::new(), routes: Vec::new(), idempotency: None, limit: None }
    }

    /// Makes the endpoint's `POST` honour `Idempotency-Key`, with keys belonging to the caller
    /// `idempotency` names.
    pub(crate) const fn idempotent(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = Some(idempotency);
        self
    }

    /// Makes the endpoint's `POST` the limited `action`: each request is counted against the
    /// action's limit per client address, and refused with 429 past it.
    pub(crate) const fn limited(mut self, action: LimitedAction) -> Self {
        self.limit = Some(action);
        self
    }

    /// Makes this a bulk endpoint: the bulk time limit and body size limit apply to it.
    pub(crate) fn bulk(mut self) -> Self {
        self.resource = self.resource.app_data(BulkRoute);
        self
    }

    /// `GET`, which also answers `HEAD` (the server drops the body).
    pub(crate) fn get<F, Args>(mut self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.methods.extend([Method::GET, Method::HEAD]);
        let route = web::route().guard(guard::Any(guard::Get()).or(guard::Head())).to(handler);
        self.routes.push((Method::GET, route));
        self
    }

    /// `POST`.
    pub(crate) fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::POST, handler)
    }

    /// `PUT`.
    pub(crate) fn put<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::PUT, handler)
    }

    /// `PATCH`.
    pub(crate) fn patch<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::PATCH, handler)
    }

    /// `DELETE`.
    pub(crate) fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.method(Method::DELETE, handler)
    }

    fn method<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.routes.push((method.clone(), web::method(method.clone()).to(handler)));
        self.methods.push(method);
        self
    }
}

impl HttpServiceFactory for Endpoint {
    fn register(self, config: &mut AppService) {
        let allow = allow_header(&self.methods);
        let mut resource = self.resource;
        for (method, route) in self.routes {
            let route = match self.idempotency {
                Some(idempotency) if method == Method::POST => {
                    route.wrap(from_fn(move |req, next| idempotency.handle(req, next)))
                }
                _ => route,
            };
            // Outside the time limit and the idempotency replay: a refused request does neither.
            let route = match self.limit {
                Some(action) if method == Method::POST => {
                    with_time_limit(route).wrap(from_fn(move |req, next| rate_limit::rate_limit(action, req, next)))
                }
                _ => with_time_limit(route),
            };
            resource = resource.route(route);
        }
        let resource = resource.default_service(web::to(move |req: HttpRequest| {
            let allow = allow.clone();
            async move { unsupported_method(&req, allow) }
        }));
        HttpServiceFactory::register(resource, config);
    }
}

fn with_time_limit(route: Route) -> Route {
    route.wrap(from_fn(timeout::timeout))
}

/// The `Allow` value: the methods in registration order, then `OPTIONS`.
fn allow_header(methods: &[Method]) -> HeaderValue {
    let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    names.push(Method::OPTIONS.as_str());
    // Method names are tokens, so the joined list is always a valid header value.
    HeaderValue::from_str(&names.join(", ")).unwrap_or_else(|_| HeaderValue::from_static("OPTIONS"))
}

/// Answers a method the path does not route. CORS preflights never get here: the CORS middleware
/// answers them before routing.
fn unsupported_method(req: &HttpRequest, allow: HeaderValue) -> HttpResponse {
    if req.method() == Method::OPTIONS {
        return HttpResponse::NoContent().insert_header((actix_web::http::header::ALLOW, allow)).finish();
    }
    Problem::method_not_allowed(req.method(), allow).respond_to(req)
}

/// The application's default service: nothing is routed at this path.
pub(crate) async fn not_found(req: HttpRequest) -> HttpResponse {
    Problem::not_found("there is nothing at this path").respond_to(&req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_in_order_then_options() {
        assert_eq!(allow_header(&[Method::GET, Method::HEAD, Method::PATCH]), "GET, HEAD, PATCH, OPTIONS");
    }
}
