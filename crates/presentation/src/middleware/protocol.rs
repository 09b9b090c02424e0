//! Small corrections to what the HTTP libraries send on their own:
//!
//! - [`cors_credentials`]: actix-cors puts `Access-Control-Allow-Credentials: true` (and
//!   `Access-Control-Expose-Headers`) on every response, even one to a request from no origin or
//!   a refused one. Those headers only mean something beside an `Access-Control-Allow-Origin`, so
//!   they are removed where that header is absent.
//! - [`url_length`]: a request whose path and query are longer than [`MAX_URL_LENGTH`] is answered
//!   with a 414 problem document before routing. (Past 64 KiB the HTTP parser itself refuses the
//!   request line with a bare 400, before any of the application runs; past 128 KiB of request
//!   head it answers a bare 431.)
//! - [`connect_uncompressed`]: a `CONNECT` request turns the rest of the connection into its
//!   payload, and actix-http then frames a streamed (compressed) answer by closing the
//!   connection while still declaring `Transfer-Encoding: chunked`. The answer to `CONNECT` (a
//!   405: nothing here tunnels) is therefore never compressed, so it goes out with a
//!   `Content-Length`, and the connection is closed after it.

use actix_web::{
    Error, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{ConnectionType, Method, header},
    middleware::Next,
};

use crate::problem::{Problem, ProblemCode};

/// The longest path and query string accepted, in bytes: 8 KiB, the limit of common proxies.
pub const MAX_URL_LENGTH: usize = 8 * 1024;

/// Removes the CORS headers that only make sense with an allowed origin from responses that have
/// none (see the module notes).
pub async fn cors_credentials(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    match next.call(req).await {
        Ok(mut res) => {
            strip_cors_without_origin(res.headers_mut());
            Ok(res.map_into_boxed_body())
        }
        Err(mut e) => {
            e.add_response_mapper(|mut res| {
                strip_cors_without_origin(res.headers_mut());
                res
            });
            Err(e)
        }
    }
}

fn strip_cors_without_origin(headers: &mut header::HeaderMap) {
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
        headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
    }
}

/// Answers 414 to a request whose path and query exceed [`MAX_URL_LENGTH`].
pub async fn url_length(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let length = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if length > MAX_URL_LENGTH {
        let problem = Problem::new(
            ProblemCode::UriTooLong,
            format!("the path and query string are {length} bytes long; the limit is {MAX_URL_LENGTH}"),
        )
        .at(req.request());
        let response = problem.error_response();
        return Ok(req.into_response(response));
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}

/// Keeps the answer to `CONNECT` uncompressed and closes the connection after it (see the module
/// notes). Wraps the compression middleware, so it must be the outermost layer.
pub async fn connect_uncompressed(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() != Method::CONNECT {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    }
    req.headers_mut().remove(header::ACCEPT_ENCODING);
    match next.call(req).await {
        Ok(mut res) => {
            res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
            Ok(res.map_into_boxed_body())
        }
        Err(mut e) => {
            e.add_response_mapper(|mut res| {
                res.head_mut().set_connection_type(ConnectionType::Close);
                res
            });
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn credentials_and_exposed_headers_go_only_with_an_allowed_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("etag"));
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        let mut with_origin = headers.clone();
        with_origin.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("https://a.example"));

        strip_cors_without_origin(&mut headers);
        assert!(!headers.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        assert!(!headers.contains_key(header::ACCESS_CONTROL_EXPOSE_HEADERS));
        assert!(headers.contains_key(header::VARY));

        strip_cors_without_origin(&mut with_origin);
        assert_eq!(with_origin.len(), 4);
    }
}
