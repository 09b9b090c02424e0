//! Turning the parts of a request into typed values, and each way that can fail into a problem
//! document: the caller ([`Authenticated`]), where it comes from ([`client`]), JSON bodies
//! ([`ValidJson`]), list queries ([`ListQuery`]), and the error handlers for actix-web's own
//! extractors (JSON, form, query, path).

pub mod actor;
pub mod client;
pub mod json;
pub mod query;
pub mod unique_keys;

pub use actor::{AllowUnverified, Authenticated};
pub use json::{JsonRequest, ValidJson, ValidJsonList};
pub use query::{FromQuery, ListQuery, QueryParams};

use actix_web::{
    HttpMessage, HttpRequest,
    error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError, UrlencodedError},
    web,
};

use crate::problem::{Problem, ProblemCode};

/// JSON bodies: at most `limit` bytes, `Content-Type: application/json` required.
#[must_use]
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |err, req| json_problem(&err, limit).at(req).into())
}

/// Form bodies (`POST /auth/token`): at most `limit` bytes.
#[must_use]
pub fn form_config(limit: usize) -> web::FormConfig {
    web::FormConfig::default().limit(limit).error_handler(move |err, req| form_problem(&err, limit).at(req).into())
}

/// Query strings read with `web::Query`.
#[must_use]
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, req| query_problem(&err).at(req).into())
}

/// Path parameters: a segment that does not parse (an id that is not a UUID) names no resource.
#[must_use]
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, req: &HttpRequest| {
        Problem::not_found("there is nothing at this path").at(req).into()
    })
}

/// Refuses a JSON body declared in a charset other than UTF-8 (`application/json;
/// charset=utf-16`), which actix-web would otherwise read as UTF-8. No charset, or `utf-8` in any
/// case, passes; so does a request with no or another media type, which the JSON reader itself
/// refuses.
///
/// # Errors
/// 415 naming the charset rule.
pub(crate) fn utf8_json_only(req: &HttpRequest) -> Result<(), Problem> {
    let Ok(Some(mime)) = req.mime_type() else { return Ok(()) };
    match mime.get_param(actix_web::mime::CHARSET) {
        Some(charset) if !charset.as_str().eq_ignore_ascii_case("utf-8") => Err(Problem::new(
            ProblemCode::UnsupportedMediaType,
            "JSON bodies must be UTF-8: send no charset or `charset=utf-8`",
        )),
        _ => Ok(()),
    }
}

fn too_large(limit: usize) -> Problem {
    Problem::new(ProblemCode::PayloadTooLarge, format!("the body is larger than the limit of {limit} bytes"))
}

pub(crate) fn json_problem(err: &JsonPayloadError, limit: usize) -> Problem {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => too_large(limit),
        JsonPayloadError::ContentType => Problem::new(
            ProblemCode::UnsupportedMediaType,
            "the body must be JSON, sent with `Content-Type: application/json`",
        ),
        // A data error while reading a `UniqueKeys` is its only refusal: a repeated key.
        JsonPayloadError::Deserialize(e) if e.is_data() => Problem::malformed(format!("the body is refused: {e}")),
        // serde_json's syntax messages give a position, never the input or anything of ours.
        JsonPayloadError::Deserialize(e) => Problem::malformed(format!("the body is not valid JSON: {e}")),
        JsonPayloadError::Payload(e) => payload_problem(e, limit),
        JsonPayloadError::Serialize(e) => {
            tracing::error!(error = %e, "a JSON value could not be serialized");
            Problem::internal()
        }
        // The enum is non-exhaustive; anything new is about a body that could not be used.
        _ => Problem::malformed("the body could not be read"),
    }
}

fn form_problem(err: &UrlencodedError, limit: usize) -> Problem {
    match err {
        UrlencodedError::Overflow { .. } => too_large(limit),
        UrlencodedError::ContentType | UrlencodedError::Encoding => Problem::new(
            ProblemCode::UnsupportedMediaType,
            "the body must be a form, sent with `Content-Type: application/x-www-form-urlencoded`",
        ),
        UrlencodedError::Chunked => Problem::malformed("a form body must not use chunked transfer encoding"),
        UrlencodedError::UnknownLength => Problem::malformed("the Content-Length header is not readable"),
        UrlencodedError::Parse(e) => Problem::malformed(format!("the form is not valid: {e}")),
        UrlencodedError::Payload(e) => payload_problem(e, limit),
        UrlencodedError::Serialize(e) => {
            tracing::error!(error = %e, "a form value could not be serialized");
            Problem::internal()
        }
        _ => Problem::malformed("the body could not be read"),
    }
}

fn query_problem(err: &QueryPayloadError) -> Problem {
    match err {
        QueryPayloadError::Deserialize(e) => Problem::malformed(format!("the query string is not valid: {e}")),
        _ => Problem::malformed("the query string is not valid"),
    }
}

/// Reading the body failed below the parser: too large while streaming, or the connection broke.
fn payload_problem(err: &PayloadError, limit: usize) -> Problem {
    match err {
        PayloadError::Overflow => too_large(limit),
        _ => Problem::malformed("the body could not be read"),
    }
}
