//! RFC 9457 problem documents: the document, its builder, and the mappings every capability
//! shares (unexpected failures, invalid fields, stale writes).
//!
//! Each capability maps its own use-case errors next to its handlers (`users/errors.rs`,
//! `projects/errors.rs`, ...), as one exhaustive `match` with no wildcard arm and no downcasting,
//! so a new variant does not compile until someone has decided its status, its stable `code`
//! ([`ProblemCode`]) and the detail a client may see. Nothing internal reaches a client: an
//! unexpected failure is logged with its whole cause chain (inside the request's span, so the log
//! line carries the request id) and answered with a body that says only that an internal error
//! occurred.
//!
//! A [`Problem`] is built without knowing the request; [`Problem::at`] (or
//! [`OrProblem::or_problem`] in handlers) adds the `instance` and `request_id` fields.

mod code;

pub use code::ProblemCode;

use std::{borrow::Cow, fmt};

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError,
    body::BoxBody,
    http::{
        Method, StatusCode,
        header::{self, HeaderName, HeaderValue},
    },
};
use forge_application::common::{FieldError, Staleness, UnexpectedError, UnexpectedKind, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::middleware::RequestId;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// How long a client should wait before retrying when a dependency is down.
const RETRY_AFTER_SECONDS: &str = "5";

/// One bad field or parameter of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProblemFieldError {
    /// The field as the client named it (`items[3].email` inside arrays).
    #[schema(example = "password")]
    pub field: String,
    /// A stable machine-readable code.
    #[schema(example = "TOO_SHORT")]
    pub code: String,
    /// What is wrong, for people.
    #[schema(example = "must be at least 8 characters")]
    pub message: String,
}

impl From<FieldError> for ProblemFieldError {
    fn from(e: FieldError) -> Self {
        Self { field: e.field, code: e.code.to_owned(), message: e.message }
    }
}

/// The body of every error response (RFC 9457), served as `application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation-failed", "title": "Validation failed", "status": 422,
    "detail": "1 field is invalid", "instance": "/api/v1/auth/register", "code": "VALIDATION_FAILED",
    "request_id": "0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d",
    "errors": [{"field": "password", "code": "TOO_SHORT", "message": "must be at least 8 characters"}]
}))]
pub struct ProblemDocument {
    /// A URI reference naming the kind of problem: `/problems/<code in kebab case>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, safe to show to people.
    pub detail: String,
    /// The path of the request that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The stable machine-readable code.
    pub code: String,
    /// The request id, as in the `X-Request-ID` header and the server's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every bad field, for field-level problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemFieldError>,
}

/// An error response: a problem document plus the headers that go with it.
///
/// Boxed, because it travels in the `Err` of nearly every handler and extractor and should cost
/// a pointer there, not the whole document.
#[derive(Clone)]
pub struct Problem(Box<Inner>);

#[derive(Clone)]
struct Inner {
    code: ProblemCode,
    /// Normally `code.status()`; differs only for statuses the API has no code of its own for
    /// (see [`Problem::for_status`]).
    status: StatusCode,
    detail: Cow<'static, str>,
    errors: Vec<ProblemFieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    instance: Option<String>,
    request_id: Option<String>,
}

impl Problem {
    /// A problem of kind `code` with a detail that is safe to show.
    pub fn new(code: ProblemCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self(Box::new(Inner {
            code,
            status: code.status(),
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            instance: None,
            request_id: None,
        }))
    }

    /// Adds field-level errors.
    #[must_use]
    pub fn with_errors(mut self, errors: impl IntoIterator<Item = FieldError>) -> Self {
        self.0.errors.extend(errors.into_iter().map(ProblemFieldError::from));
        self
    }

    /// Adds a response header (`WWW-Authenticate`, `Retry-After`, `Allow`, ...).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    /// Fills in what only the request knows: its path (`instance`) and its id.
    #[must_use]
    pub fn at(self, req: &HttpRequest) -> Self {
        let request_id = req.extensions().get::<RequestId>().map(|id| id.as_str().to_owned());
        self.at_path(req.path(), request_id)
    }

    /// As [`Problem::at`], for middleware that no longer holds the request.
    #[must_use]
    pub fn at_path(mut self, path: &str, request_id: Option<String>) -> Self {
        self.0.instance = Some(path.to_owned());
        self.0.request_id = request_id;
        if self.0.code == ProblemCode::Internal
            && let Some(id) = &self.0.request_id
        {
            self.0.detail = format!("an internal error occurred; quote request id {id} when reporting it").into();
        }
        self
    }

    /// The stable code.
    #[must_use]
    pub fn code(&self) -> ProblemCode {
        self.0.code
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The detail.
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The headers sent along.
    #[must_use]
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.0.headers
    }

    /// The body.
    #[must_use]
    pub fn document(&self) -> ProblemDocument {
        let p = &self.0;
        ProblemDocument {
            problem_type: p.code.type_uri(),
            title: p.code.title().to_owned(),
            status: p.status.as_u16(),
            detail: p.detail.to_string(),
            instance: p.instance.clone(),
            code: p.code.as_str().to_owned(),
            request_id: p.request_id.clone(),
            errors: p.errors.clone(),
        }
    }

    // Constructors for the problems the HTTP layer raises itself.

    /// 400 `MALFORMED_REQUEST`.
    pub fn malformed(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ProblemCode::MalformedRequest, detail)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ProblemCode::NotFound, detail)
    }

    /// 422 `VALIDATION_FAILED` listing every bad field; the detail counts them.
    #[must_use]
    pub fn validation(errors: ValidationErrors) -> Self {
        Self::new(ProblemCode::ValidationFailed, errors.to_string()).with_errors(errors.into_errors())
    }

    /// 401 `UNAUTHENTICATED` for a request that brought no usable credentials.
    pub fn unauthenticated(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ProblemCode::Unauthenticated, detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// A 401 for a token that was presented but refused (RFC 6750 `invalid_token`).
    pub(crate) fn invalid_token(code: ProblemCode, detail: &'static str) -> Self {
        Self::new(code, detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer error="invalid_token""#))
    }

    /// 405 `METHOD_NOT_ALLOWED`, with the `Allow` header listing what the path supports.
    #[must_use]
    pub fn method_not_allowed(method: &Method, allowed: HeaderValue) -> Self {
        Self::new(ProblemCode::MethodNotAllowed, format!("{method} is not supported here"))
            .with_header(header::ALLOW, allowed)
    }

    /// 500 `INTERNAL`. The caller logs the cause; the body never names it.
    #[must_use]
    pub fn internal() -> Self {
        Self::new(ProblemCode::Internal, "an internal error occurred")
    }

    /// 503: the endpoint needs the background jobs, which this server was built without (an
    /// embedding service that did not turn them on).
    #[must_use]
    pub fn jobs_off() -> Self {
        Self::new(ProblemCode::ServiceUnavailable, "background jobs are not enabled on this server")
    }

    /// 503 `SERVICE_UNAVAILABLE`, with `Retry-After`.
    #[must_use]
    pub fn unavailable() -> Self {
        Self::new(ProblemCode::ServiceUnavailable, "a service this request needs is unavailable; retry later")
            .with_header(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS))
    }

    /// The generic problem for an error response produced outside this crate (actix-web,
    /// actix-cors, Swagger UI), keeping its status. Its detail is generic on purpose: those
    /// responses may carry library messages that must not reach clients.
    #[must_use]
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::BAD_REQUEST => (ProblemCode::MalformedRequest, "the request is malformed"),
            StatusCode::UNAUTHORIZED => (ProblemCode::Unauthenticated, "authentication is required"),
            StatusCode::FORBIDDEN => (ProblemCode::Forbidden, "the request is not allowed"),
            StatusCode::NOT_FOUND => (ProblemCode::NotFound, "there is nothing at this path"),
            StatusCode::METHOD_NOT_ALLOWED => (ProblemCode::MethodNotAllowed, "this method is not supported here"),
            StatusCode::CONFLICT => (ProblemCode::Conflict, "the request conflicts with the resource's state"),
            StatusCode::PRECONDITION_FAILED => (ProblemCode::PreconditionFailed, "a precondition failed"),
            StatusCode::PAYLOAD_TOO_LARGE => (ProblemCode::PayloadTooLarge, "the body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                (ProblemCode::UnsupportedMediaType, "the body's media type is not supported here")
            }
            StatusCode::UNPROCESSABLE_ENTITY => (ProblemCode::ValidationFailed, "the request is invalid"),
            StatusCode::TOO_MANY_REQUESTS => (ProblemCode::RateLimited, "too many requests"),
            StatusCode::SERVICE_UNAVAILABLE => (ProblemCode::ServiceUnavailable, "the service is unavailable"),
            StatusCode::GATEWAY_TIMEOUT => (ProblemCode::Timeout, "the request took too long"),
            s if s.is_server_error() => (ProblemCode::Internal, "an internal error occurred"),
            _ => (ProblemCode::MalformedRequest, "the request cannot be served"),
        };
        let mut problem = Self::new(code, detail);
        problem.0.status = status;
        problem
    }
}

/// Compact, because tracing-actix-web logs it for every error response.
impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        let mut debug = f.debug_struct("Problem");
        debug.field("status", &p.status.as_u16()).field("code", &p.code.as_str()).field("detail", &p.detail);
        if !p.errors.is_empty() {
            let fields: Vec<String> = p.errors.iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
            debug.field("errors", &fields);
        }
        debug.finish()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.0.status.as_u16(), self.0.code.as_str(), self.0.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.0.status);
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        for (name, value) in &self.0.headers {
            response.append_header((name.clone(), value.clone()));
        }
        // `json` keeps the content type set above.
        let mut response = response.json(self.document());
        // For middleware that counts answers by code (the metrics).
        response.extensions_mut().insert(self.0.code);
        response
    }
}

/// Lets a handler return a problem it built itself (404, 405) as its response, with the request
/// filled in.
impl Responder for Problem {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse<Self::Body> {
        HttpResponse::from_error(self.at(req))
    }
}

/// Turns a use-case error into a problem about this request, in one call.
pub trait OrProblem<T> {
    /// Maps the error through its `Into<Problem>` mapping and fills in the request.
    ///
    /// # Errors
    /// The mapped problem.
    fn or_problem(self, req: &HttpRequest) -> Result<T, Problem>;
}

impl<T, E: Into<Problem>> OrProblem<T> for Result<T, E> {
    fn or_problem(self, req: &HttpRequest) -> Result<T, Problem> {
        self.map_err(|e| e.into().at(req))
    }
}

// The mappings every capability shares.

impl From<UnexpectedError> for Problem {
    fn from(e: UnexpectedError) -> Self {
        // Logged here, inside the request's span, because this is the last place that holds the
        // cause; the response says nothing about it.
        match e.kind() {
            UnexpectedKind::Busy { retry_after } => {
                // Expected under load, and refused before anything changed: not an error line.
                tracing::debug!(error = %e, "request refused: too busy");
                let (name, value) = crate::limits::retry_after(retry_after);
                Self::new(ProblemCode::ServerBusy, "the server is too busy to check passwords now; nothing changed")
                    .with_header(name, value)
            }
            UnexpectedKind::Unavailable => {
                tracing::error!(error = ?e, "request failed unexpectedly");
                Self::unavailable()
            }
            UnexpectedKind::Internal => {
                tracing::error!(error = ?e, "request failed unexpectedly");
                Self::internal()
            }
        }
    }
}

impl From<ValidationErrors> for Problem {
    fn from(e: ValidationErrors) -> Self {
        Self::validation(e)
    }
}

impl Problem {
    /// The one mapping of a write that found `what` changed since it was read: 412
    /// `PRECONDITION_FAILED` when the request sent `If-Match`, 409 `CONCURRENT_UPDATE` (retryable)
    /// when it did not ([`Staleness::for_request`] decides which).
    #[must_use]
    pub fn stale(staleness: Staleness, what: &str) -> Self {
        match staleness {
            Staleness::Precondition => Self::new(
                ProblemCode::PreconditionFailed,
                format!("{what} changed since it was read: fetch it again and retry with its new ETag"),
            ),
            Staleness::LostRace => Self::new(
                ProblemCode::ConcurrentUpdate,
                format!("{what} changed while the request was handled; nothing was changed, retry it"),
            ),
        }
    }
}

/// Helpers for the mapping tests of every capability.
#[cfg(test)]
pub(crate) mod testing {
    use actix_web::http::header::{self, HeaderName};
    use forge_application::common::{FieldError, ValidationErrors};

    use super::Problem;

    pub(crate) fn www_authenticate(problem: &Problem) -> Option<&str> {
        header_of(problem, &header::WWW_AUTHENTICATE)
    }

    pub(crate) fn header_of<'a>(problem: &'a Problem, wanted: &HeaderName) -> Option<&'a str> {
        problem.headers().iter().find(|(name, _)| name == wanted).and_then(|(_, value)| value.to_str().ok())
    }

    pub(crate) fn assert_maps(problem: Problem, status: u16, code: &str) -> Problem {
        assert_eq!(problem.status().as_u16(), status, "{problem}");
        assert_eq!(problem.code().as_str(), code, "{problem}");
        problem
    }

    pub(crate) fn two_errors() -> ValidationErrors {
        ValidationErrors::new(vec![
            FieldError::new("email", "INVALID_FORMAT", "must be a valid e-mail address"),
            FieldError::new("password", "TOO_SHORT", "must be at least 8 characters"),
        ])
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{body::to_bytes, test::TestRequest};

    use super::*;
    use crate::problem::testing::{assert_maps, header_of};

    #[test]
    fn an_unavailable_dependency_is_a_503_with_retry_after() {
        let problem: Problem = UnexpectedError::unavailable("connection refused").into();
        assert_maps(problem.clone(), 503, "SERVICE_UNAVAILABLE");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("5"));
        assert!(!problem.detail().contains("connection refused"));
    }

    #[actix_web::test]
    async fn an_internal_error_says_only_that_it_happened_and_names_the_request_id() {
        let req = TestRequest::get().uri("/api/v1/users/me?x=1").to_http_request();
        req.extensions_mut().insert(RequestId::new("req-42"));
        let problem = Problem::from(UnexpectedError::internal("SELECT * FROM users failed at /src/db.rs")).at(&req);
        let document = problem.document();
        assert_eq!(document.request_id.as_deref(), Some("req-42"));
        assert_eq!(document.instance.as_deref(), Some("/api/v1/users/me"));
        assert!(document.detail.contains("req-42"));
        assert!(!document.detail.contains("SELECT"));

        let response = problem.error_response();
        assert_eq!(response.headers().get(header::CONTENT_TYPE).unwrap(), PROBLEM_JSON);
        let body = to_bytes(response.into_body()).await.unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(!text.contains("SELECT") && !text.contains("db.rs"), "{text}");
    }

    #[test]
    fn the_document_carries_type_title_status_and_code() {
        let document = Problem::new(ProblemCode::ValidationFailed, "1 field is invalid").document();
        assert_eq!(document.problem_type, "/problems/validation-failed");
        assert_eq!(document.title, "Validation failed");
        assert_eq!(document.status, 422);
        assert_eq!(document.code, "VALIDATION_FAILED");
        let json = serde_json::to_value(&document).unwrap();
        assert_eq!(json["type"], "/problems/validation-failed");
        assert!(json.get("errors").is_none(), "an empty list of errors is left out");
    }

    #[test]
    fn a_status_without_a_code_of_its_own_keeps_its_status() {
        let problem = Problem::for_status(StatusCode::LENGTH_REQUIRED);
        assert_eq!(problem.status(), StatusCode::LENGTH_REQUIRED);
        assert_eq!(problem.document().status, 411);
        assert_eq!(Problem::for_status(StatusCode::BAD_GATEWAY).code(), ProblemCode::Internal);
    }
}
