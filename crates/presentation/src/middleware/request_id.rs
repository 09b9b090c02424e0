//! The request id: the client's own `X-Request-ID` when it is sane (1 to 128 visible ASCII
//! characters), otherwise a new UUID v7. It is stored in the request's extensions for handlers,
//! problem documents and the log span, and sent back on every response, errors included.

use std::{fmt, sync::Arc, time::Instant};

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use uuid::Uuid;

/// The header that carries the request id both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-supplied id that is kept.
const MAX_LEN: usize = 128;

/// The id of the request being served, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// Wraps an id known to be acceptable.
    pub(crate) fn new(id: &str) -> Self {
        Self(Arc::from(id))
    }

    /// The client's id if it is acceptable, else a fresh UUID v7.
    #[must_use]
    pub fn accept_or_generate(header: Option<&HeaderValue>) -> Self {
        match header {
            Some(value) if is_acceptable(value.as_bytes()) => {
                // Visible ASCII is valid UTF-8; the fallback is unreachable but keeps this total.
                value.to_str().map_or_else(|_| Self::generate(), Self::new)
            }
            _ => Self::generate(),
        }
    }

    /// A fresh, time-ordered id.
    #[must_use]
    pub fn generate() -> Self {
        Self::new(&Uuid::now_v7().to_string())
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// When the request entered the application, for the latency in the completion log line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestStart(pub(crate) Instant);

fn is_acceptable(value: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&value.len()) && value.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// The middleware.
///
/// Like every application-wide middleware here, it must not keep a clone of the request while
/// the inner service runs: actix-web routes by mutating the request it expects to own alone. An
/// inner `Err` is therefore given the header through a response mapper rather than turned into a
/// response here.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = RequestId::accept_or_generate(req.headers().get(X_REQUEST_ID));
    req.extensions_mut().insert(id.clone());
    req.extensions_mut().insert(RequestStart(Instant::now()));
    // Accepted ids are visible ASCII and generated ones are UUIDs, so this always succeeds.
    let value = HeaderValue::from_str(id.as_str()).ok();
    match next.call(req).await {
        Ok(mut res) => {
            if let Some(value) = value {
                res.headers_mut().insert(X_REQUEST_ID, value);
            }
            Ok(res)
        }
        Err(mut e) => {
            if let Some(value) = value {
                e.add_response_mapper(move |mut res| {
                    res.headers_mut().insert(X_REQUEST_ID, value.clone());
                    res
                });
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(raw: &[u8]) -> bool {
        let value = HeaderValue::from_bytes(raw).unwrap();
        RequestId::accept_or_generate(Some(&value)).as_str().as_bytes() == raw
    }

    #[test]
    fn a_sane_client_id_is_kept() {
        assert!(accepted(b"abc-123"));
        assert!(accepted(b"!~"));
        assert!(accepted("a".repeat(128).as_bytes()));
    }

    #[test]
    fn an_id_that_is_too_long_or_has_invisible_characters_is_replaced() {
        assert!(!accepted("a".repeat(129).as_bytes()));
        assert!(!accepted(b"has space"));
        assert!(!accepted(b"tab\there"));
        assert!(!accepted(b""));
        assert!(!accepted("caf\u{e9}".as_bytes()));
    }

    #[test]
    fn a_missing_id_is_a_new_uuid_v7() {
        let id = RequestId::accept_or_generate(None);
        let uuid = Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
    }
}
