//! Conditional requests: strong `ETag`s on single resources, `If-None-Match` (304) on reads and
//! `If-Match` (412) on writes.
//!
//! An ETag is `"<version>-<digest>"`: the resource's version, which moves on every stored change,
//! and a digest of the exact bytes of the representation, which also differ by viewer (the
//! `_links` show what the caller may do). Two responses with the same tag are byte for byte the
//! same, which is what a strong validator promises. A write only needs the version: `If-Match`
//! is turned into the version the client expects, and the use case refuses the change (with
//! [`PRECONDITION_FAILED`](crate::ProblemCode::PreconditionFailed)) unless the resource is still
//! at that version when it is written, so a conditional write that loses a race never
//! overwrites the winner.

use std::{
    future::{Ready, ready},
    hash::{DefaultHasher, Hasher},
};

use actix_web::{
    FromRequest, HttpRequest, HttpResponse,
    dev::Payload,
    http::{
        StatusCode,
        header::{self, EntityTag, Header, IfMatch as IfMatchHeader, IfNoneMatch},
    },
};
use serde::Serialize;

use crate::problem::Problem;

/// A version no stored resource has: what an `If-Match` that cannot match (a weak or foreign tag)
/// expects, so the use case answers it like any other mismatch, after its permission and
/// existence checks.
const NO_VERSION: i64 = -1;

/// The strong ETag of a representation `body` of a resource at `version`.
#[must_use]
pub fn etag(version: i64, body: &[u8]) -> EntityTag {
    let mut hasher = DefaultHasher::new();
    hasher.write(body);
    EntityTag::new_strong(format!("{version}-{:016x}", hasher.finish()))
}

/// The version an ETag of ours carries, if it is one.
fn version_of(tag: &EntityTag) -> Option<i64> {
    if tag.weak {
        return None;
    }
    let (version, digest) = tag.tag().split_once('-')?;
    if digest.len() != 16 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    version.parse().ok().filter(|v| *v >= 0)
}

/// A single resource as JSON, with its `ETag`; answers `304 Not Modified` (no body) when the
/// request's `If-None-Match` already names this representation.
///
/// # Errors
/// A [`Problem`] (500) if the body cannot be serialized, which would be a bug.
pub fn respond<T: Serialize>(
    req: &HttpRequest,
    status: StatusCode,
    version: i64,
    body: &T,
) -> Result<HttpResponse, Problem> {
    // Room for a user or a project as they are answered.
    let bytes = json_body(req, body, 1024)?;
    let tag = etag(version, &bytes);
    if status == StatusCode::OK && not_modified(req, &tag) {
        return Ok(HttpResponse::NotModified().insert_header(header::ETag(tag)).finish());
    }
    Ok(HttpResponse::build(status).insert_header(header::ETag(tag)).content_type("application/json").body(bytes))
}

/// `body` as JSON, written into a buffer of `capacity` bytes to start with: a body that grows from
/// empty by doubling copies itself on each step (a dozen times for a 13 KB page of users).
///
/// # Errors
/// A [`Problem`] (500) if the body cannot be serialized, which would be a bug.
pub(crate) fn json_body<T: Serialize>(req: &HttpRequest, body: &T, capacity: usize) -> Result<Vec<u8>, Problem> {
    let mut bytes = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut bytes, body).map_err(|e| {
        tracing::error!(error = %e, "a response body could not be serialized");
        Problem::internal().at(req)
    })?;
    Ok(bytes)
}

/// Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 says for this header).
fn not_modified(req: &HttpRequest, tag: &EntityTag) -> bool {
    if !matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD) {
        return false;
    }
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(items)) => items.iter().any(|item| item.weak_eq(tag)),
        Err(_) => false,
    }
}

/// The precondition of a write, from `If-Match`: `None` when the request has none (or `*`),
/// otherwise the version the client expects the resource to be at.
///
/// A tag that cannot be ours (weak, or not of our form) expects a version no resource has, so the
/// write is refused with 412 once the caller is known to be allowed to see the resource. With
/// several tags, the first of ours counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<i64>);

impl IfMatch {
    fn from_request(req: &HttpRequest) -> Self {
        if !req.headers().contains_key(header::IF_MATCH) {
            return Self(None);
        }
        match IfMatchHeader::parse(req) {
            Ok(IfMatchHeader::Any) => Self(None),
            Ok(IfMatchHeader::Items(items)) => Self(Some(items.iter().find_map(version_of).unwrap_or(NO_VERSION))),
            Err(_) => Self(Some(NO_VERSION)),
        }
    }
}

impl FromRequest for IfMatch {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::from_request(req)))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn an_etag_is_strong_and_carries_the_version() {
        let tag = etag(7, b"{\"a\":1}");
        assert!(!tag.weak);
        assert_eq!(version_of(&tag), Some(7));
        assert_ne!(tag, etag(7, b"{\"a\":2}"), "another representation, another tag");
        assert_ne!(tag, etag(8, b"{\"a\":1}"), "another version, another tag");
        assert_eq!(tag, etag(7, b"{\"a\":1}"));
    }

    #[test]
    fn if_match_gives_the_expected_version() {
        let tag = etag(3, b"x");
        let req = TestRequest::default().insert_header((header::IF_MATCH, tag.to_string())).to_http_request();
        assert_eq!(IfMatch::from_request(&req), IfMatch(Some(3)));
    }

    #[test]
    fn if_match_absent_or_any_expects_nothing() {
        assert_eq!(IfMatch::from_request(&TestRequest::default().to_http_request()), IfMatch(None));
        let any = TestRequest::default().insert_header((header::IF_MATCH, "*")).to_http_request();
        assert_eq!(IfMatch::from_request(&any), IfMatch(None));
    }

    #[test]
    fn if_match_with_a_weak_foreign_or_malformed_tag_can_never_match() {
        for value in [format!("W/{}", etag(3, b"x")), "\"abc\"".to_owned(), "3".to_owned(), "\"-1-0000\"".to_owned()] {
            let req = TestRequest::default().insert_header((header::IF_MATCH, value.clone())).to_http_request();
            assert_eq!(IfMatch::from_request(&req), IfMatch(Some(NO_VERSION)), "{value}");
        }
    }

    #[test]
    fn a_get_naming_the_current_tag_is_not_modified() {
        let body = serde_json::json!({"id": 1});
        let bytes = serde_json::to_vec(&body).unwrap();
        let tag = etag(1, &bytes);
        let req = TestRequest::get().insert_header((header::IF_NONE_MATCH, tag.to_string())).to_http_request();
        let res = respond(&req, StatusCode::OK, 1, &body).unwrap();
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers().get(header::ETAG).unwrap().to_str().unwrap(), tag.to_string());

        let other =
            TestRequest::get().insert_header((header::IF_NONE_MATCH, etag(0, b"x").to_string())).to_http_request();
        assert_eq!(respond(&other, StatusCode::OK, 1, &body).unwrap().status(), StatusCode::OK);
    }
}
