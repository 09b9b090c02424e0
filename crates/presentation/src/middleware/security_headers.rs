//! Security headers on every response: `X-Content-Type-Options: nosniff`,
//! `Cache-Control: no-store`, `Content-Security-Policy: frame-ancestors 'none'`,
//! `Referrer-Policy: no-referrer`, and `Strict-Transport-Security` when the request came over
//! HTTPS (directly, or through a trusted proxy that says so in `X-Forwarded-Proto`).
//!
//! A header a handler has already set is left alone, so an endpoint can deliberately differ
//! (a future file download may allow caching, for example).

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderMap, HeaderName, HeaderValue},
    middleware::Next,
};

use super::settings_of;
use crate::{app::HttpSettings, extract::client};

/// The policy of API responses: JSON is never a document to frame or run.
const API_CSP: &str = "frame-ancestors 'none'";

/// The documentation page loads its own scripts, styles and inline images (Swagger UI builds
/// styles at run time) and calls the API on the same origin; nothing from elsewhere.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The middleware. An inner `Err` gets the headers through a response mapper (see
/// [`request_id`](super::request_id::request_id) for why it is not turned into a response here).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let https = is_https(&req, &settings_of(&req));
    let docs = req.path() == "/docs" || req.path().starts_with("/docs/");
    match next.call(req).await {
        Ok(mut res) => {
            apply(res.headers_mut(), docs, https);
            Ok(res)
        }
        Err(mut e) => {
            e.add_response_mapper(move |mut res| {
                apply(res.headers_mut(), docs, https);
                res
            });
            Err(e)
        }
    }
}

fn apply(headers: &mut HeaderMap, docs: bool, https: bool) {
    set_default(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set_default(headers, header::CACHE_CONTROL, "no-store");
    set_default(headers, header::CONTENT_SECURITY_POLICY, if docs { DOCS_CSP } else { API_CSP });
    set_default(headers, header::REFERRER_POLICY, "no-referrer");
    if https {
        set_default(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
}

fn set_default(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    if !headers.contains_key(&name) {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

/// Whether the client reached us over HTTPS. `X-Forwarded-Proto` is believed only from a trusted
/// proxy: anyone else could claim anything.
fn is_https(req: &ServiceRequest, settings: &HttpSettings) -> bool {
    if req.app_config().secure() || req.uri().scheme_str() == Some("https") {
        return true;
    }
    let from_trusted_proxy =
        req.peer_addr().is_some_and(|peer| client::is_trusted(peer.ip(), &settings.trusted_proxies));
    from_trusted_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}
