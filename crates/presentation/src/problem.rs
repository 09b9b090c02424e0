//! RFC 9457 problem documents, and the one place where use-case errors become HTTP.
//!
//! Every error enum of the application layer is matched here exhaustively, with no wildcard arm
//! and no downcasting, so a new variant does not compile until someone has decided its status,
//! its stable `code` and the detail a client may see. Nothing internal reaches a client: an
//! unexpected failure is logged with its whole cause chain (inside the request's span, so the log
//! line carries the request id) and answered with a body that says only that an internal error
//! occurred.
//!
//! A [`Problem`] is built without knowing the request; [`Problem::at`] (or
//! [`OrProblem::or_problem`] in handlers) adds the `instance` and `request_id` fields.

use std::{borrow::Cow, fmt};

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError,
    body::BoxBody,
    http::{
        Method, StatusCode,
        header::{self, HeaderName, HeaderValue},
    },
};
use forge_application::{
    account::AccountError,
    api_keys::{ApiKeyAuthError, ApiKeyError},
    audit::AuditLogError,
    auth::{AdmissionError, AuthenticateError, LoginError, LogoutError, RefreshError, RegisterError, SessionError},
    common::{FieldError, UnexpectedError, UnexpectedKind, ValidationErrors},
    dashboard::DashboardError,
    metrics::MetricsError,
    projects::ProjectError,
    users::UserError,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::middleware::RequestId;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// How long a client should wait before retrying when a dependency is down.
const RETRY_AFTER_SECONDS: &str = "5";

/// The stable, machine-readable error codes of the API (see `API.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemCode {
    /// 400: the body is not valid JSON, a field has the wrong type, bad query syntax.
    MalformedRequest,
    /// 401: no credentials, or credentials that do not authenticate.
    Unauthenticated,
    /// 401: login with a wrong identifier or password.
    InvalidCredentials,
    /// 401: the token is past its expiry.
    TokenExpired,
    /// 401: the token's session was ended.
    TokenRevoked,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 403: the account is disabled.
    AccountDisabled,
    /// 403: the e-mail address must be verified first.
    EmailNotVerified,
    /// 404: no such resource, or it is soft-deleted.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 409: the e-mail address belongs to another account.
    EmailTaken,
    /// 409: the username belongs to another account.
    UsernameTaken,
    /// 409: the request conflicts with the resource's state.
    Conflict,
    /// 412: `If-Match` does not match the current version.
    PreconditionFailed,
    /// 413: the body is over the configured limit.
    PayloadTooLarge,
    /// 415: the body is not of a media type the endpoint accepts.
    UnsupportedMediaType,
    /// 422: well-formed, but values break the rules; every bad field is listed.
    ValidationFailed,
    /// 429: too many requests.
    RateLimited,
    /// 429: repeated failed logins locked the account.
    AccountLocked,
    /// 500: a bug.
    Internal,
    /// 503: a dependency is down.
    ServiceUnavailable,
    /// 503: the password-hashing queue is full; nothing changed.
    ServerBusy,
    /// 504: the request ran past the server's time limit.
    Timeout,
}

impl ProblemCode {
    /// The HTTP status this code is sent with.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::InvalidCredentials | Self::TokenExpired | Self::TokenRevoked => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden | Self::AccountDisabled | Self::EmailNotVerified => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken | Self::UsernameTaken | Self::Conflict => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited | Self::AccountLocked => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable | Self::ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The code as it appears in the `code` field, e.g. `VALIDATION_FAILED`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest => "MALFORMED_REQUEST",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::Forbidden => "FORBIDDEN",
            Self::AccountDisabled => "ACCOUNT_DISABLED",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::UsernameTaken => "USERNAME_TAKEN",
            Self::Conflict => "CONFLICT",
            Self::PreconditionFailed => "PRECONDITION_FAILED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ValidationFailed => "VALIDATION_FAILED",
            Self::RateLimited => "RATE_LIMITED",
            Self::AccountLocked => "ACCOUNT_LOCKED",
            Self::Internal => "INTERNAL",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::ServerBusy => "SERVER_BUSY",
            Self::Timeout => "TIMEOUT",
        }
    }

    /// A short, human-readable summary that does not change from occurrence to occurrence.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::MalformedRequest => "Malformed request",
            Self::Unauthenticated => "Authentication required",
            Self::InvalidCredentials => "Invalid credentials",
            Self::TokenExpired => "Token expired",
            Self::TokenRevoked => "Token revoked",
            Self::Forbidden => "Forbidden",
            Self::AccountDisabled => "Account disabled",
            Self::EmailNotVerified => "E-mail address not verified",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::EmailTaken => "E-mail address taken",
            Self::UsernameTaken => "Username taken",
            Self::Conflict => "Conflict",
            Self::PreconditionFailed => "Precondition failed",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::ValidationFailed => "Validation failed",
            Self::RateLimited => "Too many requests",
            Self::AccountLocked => "Account locked",
            Self::Internal => "Internal error",
            Self::ServiceUnavailable => "Service unavailable",
            Self::ServerBusy => "Server busy",
            Self::Timeout => "Timeout",
        }
    }

    /// The `type` URI: `/problems/` and the code in kebab case.
    #[must_use]
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.as_str().to_ascii_lowercase().replace('_', "-"))
    }
}

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
    fn invalid_token(code: ProblemCode, detail: &'static str) -> Self {
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
        response.json(self.document())
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

// The mapping of every use-case error. Keep these matches free of `_` arms.

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

impl From<RegisterError> for Problem {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::RegistrationClosed => Self::new(ProblemCode::Forbidden, "registration is closed"),
            RegisterError::Validation(errors) => Self::validation(errors),
            RegisterError::EmailTaken => email_taken(),
            RegisterError::UsernameTaken => username_taken(),
            RegisterError::Unexpected(e) => e.into(),
        }
    }
}

impl From<LoginError> for Problem {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => {
                Self::new(ProblemCode::InvalidCredentials, "the e-mail address, username or password is incorrect")
                    .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
            }
            LoginError::RateLimited { retry_after } => {
                let (name, value) = crate::limits::retry_after(retry_after);
                Self::new(
                    ProblemCode::RateLimited,
                    format!(
                        "too many failed logins; retry after {} seconds",
                        crate::limits::whole_seconds(retry_after).max(1)
                    ),
                )
                .with_header(name, value)
            }
            LoginError::AccountLocked { retry_after } => {
                let (name, value) = crate::limits::retry_after(retry_after);
                Self::new(
                    ProblemCode::AccountLocked,
                    format!(
                        "the account is locked after repeated failed logins; retry after {} seconds, or ask an \
                         administrator to unlock it",
                        crate::limits::whole_seconds(retry_after).max(1)
                    ),
                )
                .with_header(name, value)
            }
            LoginError::Unexpected(e) => e.into(),
        }
    }
}

impl From<RefreshError> for Problem {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Invalid => Self::invalid_token(ProblemCode::Unauthenticated, "the refresh token is invalid"),
            RefreshError::Expired => Self::invalid_token(ProblemCode::TokenExpired, "the refresh token has expired"),
            RefreshError::Revoked => Self::invalid_token(ProblemCode::TokenRevoked, "the session was revoked"),
            RefreshError::Unexpected(e) => e.into(),
        }
    }
}

impl From<AuthenticateError> for Problem {
    fn from(e: AuthenticateError) -> Self {
        match e {
            AuthenticateError::Invalid => {
                Self::invalid_token(ProblemCode::Unauthenticated, "the access token is invalid")
            }
            AuthenticateError::Expired => {
                Self::invalid_token(ProblemCode::TokenExpired, "the access token has expired")
            }
            AuthenticateError::Revoked => Self::invalid_token(ProblemCode::TokenRevoked, "the session was revoked"),
            AuthenticateError::Unexpected(e) => e.into(),
        }
    }
}

impl From<LogoutError> for Problem {
    fn from(e: LogoutError) -> Self {
        match e {
            LogoutError::Unexpected(e) => e.into(),
        }
    }
}

impl From<UserError> for Problem {
    fn from(e: UserError) -> Self {
        match e {
            UserError::NotFound => Self::not_found("no such user"),
            UserError::Forbidden => Self::new(ProblemCode::Forbidden, "you are not allowed to do this"),
            UserError::Validation(errors) => Self::validation(errors),
            UserError::EmailTaken => email_taken(),
            UserError::UsernameTaken => username_taken(),
            UserError::Conflict(message) => Self::new(ProblemCode::Conflict, message),
            UserError::Stale => Self::new(
                ProblemCode::PreconditionFailed,
                "the user changed since it was read: fetch it again and retry with its new ETag",
            ),
            UserError::Unexpected(e) => e.into(),
        }
    }
}

impl From<SessionError> for Problem {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::NotFound => Self::not_found("no such session"),
            SessionError::ApiKeyNotAllowed => {
                Self::new(ProblemCode::Forbidden, "sessions cannot be managed with an API key; log in instead")
            }
            SessionError::Unexpected(e) => e.into(),
        }
    }
}

impl From<AuditLogError> for Problem {
    fn from(e: AuditLogError) -> Self {
        match e {
            AuditLogError::Forbidden => Self::new(ProblemCode::Forbidden, "only admins may read the audit trail"),
            AuditLogError::Validation(errors) => Self::validation(errors),
            AuditLogError::Unexpected(e) => e.into(),
        }
    }
}

impl From<DashboardError> for Problem {
    fn from(e: DashboardError) -> Self {
        match e {
            DashboardError::Forbidden => {
                Self::new(ProblemCode::Forbidden, "only admins and managers may see the statistics")
            }
            DashboardError::Unexpected(e) => e.into(),
        }
    }
}

impl From<AdmissionError> for Problem {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::EmailNotVerified => Self::new(
                ProblemCode::EmailNotVerified,
                "verify your e-mail address first: follow the link mailed to you, or ask for a new one",
            ),
        }
    }
}

impl From<ApiKeyError> for Problem {
    fn from(e: ApiKeyError) -> Self {
        match e {
            ApiKeyError::NotFound => Self::not_found("no such API key"),
            ApiKeyError::ApiKeyNotAllowed => {
                Self::new(ProblemCode::Forbidden, "API keys cannot be managed with an API key; log in instead")
            }
            ApiKeyError::Validation(errors) => Self::validation(errors),
            ApiKeyError::Unexpected(e) => e.into(),
        }
    }
}

impl From<ApiKeyAuthError> for Problem {
    fn from(e: ApiKeyAuthError) -> Self {
        match e {
            ApiKeyAuthError::Invalid => Self::invalid_token(ProblemCode::Unauthenticated, "the API key is invalid"),
            ApiKeyAuthError::Expired => Self::invalid_token(ProblemCode::TokenExpired, "the API key has expired"),
            ApiKeyAuthError::Revoked => Self::invalid_token(ProblemCode::TokenRevoked, "the API key was revoked"),
            // RFC 6750 §3.1: a valid credential without the scope the request needs.
            ApiKeyAuthError::InsufficientScope(scope) => {
                let challenge = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
                let problem =
                    Self::new(ProblemCode::Forbidden, format!("this API key does not have the `{scope}` scope"));
                match HeaderValue::from_str(&challenge) {
                    Ok(value) => problem.with_header(header::WWW_AUTHENTICATE, value),
                    Err(_) => problem,
                }
            }
            ApiKeyAuthError::Unexpected(e) => e.into(),
        }
    }
}

impl From<AccountError> for Problem {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Validation(errors) => Self::validation(errors),
            AccountError::Conflict(message) => Self::new(ProblemCode::Conflict, message),
            AccountError::Unexpected(e) => e.into(),
        }
    }
}

impl From<ProjectError> for Problem {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::NotFound => Self::not_found("no such project"),
            ProjectError::MemberNotFound => Self::not_found("the project has no such member"),
            ProjectError::UserNotFound => Self::not_found("no such user"),
            ProjectError::Forbidden => Self::new(ProblemCode::Forbidden, "you are not allowed to do this"),
            ProjectError::Validation(errors) => Self::validation(errors),
            ProjectError::NameTaken => {
                Self::new(ProblemCode::Conflict, "the owner already has a project with this name")
            }
            ProjectError::Conflict(message) => Self::new(ProblemCode::Conflict, message),
            ProjectError::Stale => Self::new(
                ProblemCode::PreconditionFailed,
                "the project or membership changed since it was read: fetch it again and retry with its new ETag",
            ),
            ProjectError::Unexpected(e) => e.into(),
        }
    }
}

impl From<MetricsError> for Problem {
    fn from(e: MetricsError) -> Self {
        match e {
            MetricsError::Forbidden => Self::new(ProblemCode::Forbidden, "only admins may see operational figures"),
        }
    }
}

fn email_taken() -> Problem {
    Problem::new(ProblemCode::EmailTaken, "an account with this e-mail address already exists")
}

fn username_taken() -> Problem {
    Problem::new(ProblemCode::UsernameTaken, "an account with this username already exists")
}

#[cfg(test)]
mod tests {
    use actix_web::{body::to_bytes, test::TestRequest};
    use forge_application::common::FieldError;

    use super::*;

    fn www_authenticate(problem: &Problem) -> Option<&str> {
        problem
            .headers()
            .iter()
            .find(|(name, _)| name == header::WWW_AUTHENTICATE)
            .and_then(|(_, value)| value.to_str().ok())
    }

    fn header_of<'a>(problem: &'a Problem, wanted: &HeaderName) -> Option<&'a str> {
        problem.headers().iter().find(|(name, _)| name == wanted).and_then(|(_, value)| value.to_str().ok())
    }

    fn assert_maps(problem: Problem, status: u16, code: &str) -> Problem {
        assert_eq!(problem.status().as_u16(), status, "{problem}");
        assert_eq!(problem.code().as_str(), code, "{problem}");
        problem
    }

    fn two_errors() -> ValidationErrors {
        ValidationErrors::new(vec![
            FieldError::new("email", "INVALID_FORMAT", "must be a valid e-mail address"),
            FieldError::new("password", "TOO_SHORT", "must be at least 8 characters"),
        ])
    }

    #[test]
    fn every_register_error_maps_to_its_status_and_code() {
        assert_maps(RegisterError::RegistrationClosed.into(), 403, "FORBIDDEN");
        assert_maps(RegisterError::EmailTaken.into(), 409, "EMAIL_TAKEN");
        assert_maps(RegisterError::UsernameTaken.into(), 409, "USERNAME_TAKEN");
        let problem = assert_maps(RegisterError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_eq!(problem.detail(), "2 fields are invalid");
        assert_eq!(problem.document().errors.len(), 2);
        assert_maps(RegisterError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn a_single_invalid_field_is_counted_in_the_singular() {
        let errors = ValidationErrors::single("email", "REQUIRED", "is required");
        let problem = assert_maps(RegisterError::Validation(errors).into(), 422, "VALIDATION_FAILED");
        assert_eq!(problem.detail(), "1 field is invalid");
        assert_eq!(
            problem.document().errors,
            [ProblemFieldError { field: "email".into(), code: "REQUIRED".into(), message: "is required".into() }]
        );
    }

    #[test]
    fn login_failures_are_invalid_credentials_with_a_bearer_challenge() {
        let problem = assert_maps(LoginError::InvalidCredentials.into(), 401, "INVALID_CREDENTIALS");
        assert_eq!(www_authenticate(&problem), Some("Bearer"));
        assert_maps(LoginError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn a_full_hashing_queue_is_503_server_busy_with_retry_after() {
        let busy = UnexpectedError::busy("queue full", chrono::Duration::milliseconds(300));
        let problem = assert_maps(LoginError::Unexpected(busy).into(), 503, "SERVER_BUSY");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("1"));
        let busy = UnexpectedError::busy("queue full", chrono::Duration::seconds(3));
        let problem = assert_maps(RegisterError::Unexpected(busy).into(), 503, "SERVER_BUSY");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("3"));
    }

    #[test]
    fn lockout_refusals_are_429_with_retry_after_in_whole_seconds() {
        let wait = chrono::Duration::milliseconds(1500);
        let problem = assert_maps(LoginError::RateLimited { retry_after: wait }.into(), 429, "RATE_LIMITED");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("2"));
        let locked = chrono::Duration::minutes(15);
        let problem = assert_maps(LoginError::AccountLocked { retry_after: locked }.into(), 429, "ACCOUNT_LOCKED");
        assert_eq!(header_of(&problem, &header::RETRY_AFTER), Some("900"));
        assert!(problem.detail().contains("900 seconds"), "{}", problem.detail());
    }

    #[test]
    fn every_refresh_error_maps_to_its_status_code_and_invalid_token_challenge() {
        for (error, code) in [
            (RefreshError::Invalid, "UNAUTHENTICATED"),
            (RefreshError::Expired, "TOKEN_EXPIRED"),
            (RefreshError::Revoked, "TOKEN_REVOKED"),
        ] {
            let problem = assert_maps(error.into(), 401, code);
            assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="invalid_token""#));
        }
        assert_maps(RefreshError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn every_authenticate_error_maps_to_its_status_code_and_invalid_token_challenge() {
        for (error, code) in [
            (AuthenticateError::Invalid, "UNAUTHENTICATED"),
            (AuthenticateError::Expired, "TOKEN_EXPIRED"),
            (AuthenticateError::Revoked, "TOKEN_REVOKED"),
        ] {
            let problem = assert_maps(error.into(), 401, code);
            assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="invalid_token""#));
        }
        assert_maps(AuthenticateError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn logout_failures_are_unexpected() {
        assert_maps(LogoutError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn every_user_error_maps_to_its_status_and_code() {
        assert_maps(UserError::NotFound.into(), 404, "NOT_FOUND");
        assert_maps(UserError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(UserError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(UserError::EmailTaken.into(), 409, "EMAIL_TAKEN");
        assert_maps(UserError::UsernameTaken.into(), 409, "USERNAME_TAKEN");
        let conflict = assert_maps(UserError::Conflict("admins cannot delete themselves").into(), 409, "CONFLICT");
        assert_eq!(conflict.detail(), "admins cannot delete themselves");
        assert_maps(UserError::Stale.into(), 412, "PRECONDITION_FAILED");
        assert_maps(UserError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn every_session_error_maps_to_its_status_and_code() {
        assert_maps(SessionError::NotFound.into(), 404, "NOT_FOUND");
        assert_maps(SessionError::ApiKeyNotAllowed.into(), 403, "FORBIDDEN");
        assert_maps(SessionError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn every_api_key_error_maps_to_its_status_and_code() {
        assert_maps(ApiKeyError::NotFound.into(), 404, "NOT_FOUND");
        assert_maps(ApiKeyError::ApiKeyNotAllowed.into(), 403, "FORBIDDEN");
        assert_maps(ApiKeyError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(ApiKeyError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn refused_api_keys_are_401_with_an_invalid_token_challenge_and_a_missing_scope_403() {
        for (error, code) in [
            (ApiKeyAuthError::Invalid, "UNAUTHENTICATED"),
            (ApiKeyAuthError::Expired, "TOKEN_EXPIRED"),
            (ApiKeyAuthError::Revoked, "TOKEN_REVOKED"),
        ] {
            let problem = assert_maps(error.into(), 401, code);
            assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="invalid_token""#));
        }
        let scope = forge_domain::api_keys::ApiKeyScope::Write;
        let problem = assert_maps(ApiKeyAuthError::InsufficientScope(scope).into(), 403, "FORBIDDEN");
        assert_eq!(problem.detail(), "this API key does not have the `write` scope");
        assert_eq!(www_authenticate(&problem), Some(r#"Bearer error="insufficient_scope", scope="write""#));
        assert_maps(ApiKeyAuthError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn an_unverified_address_is_a_403_email_not_verified() {
        assert_maps(AdmissionError::EmailNotVerified.into(), 403, "EMAIL_NOT_VERIFIED");
    }

    #[test]
    fn every_account_error_maps_to_its_status_and_code() {
        let token = ValidationErrors::single("token", "INVALID_TOKEN", "is invalid, expired or already used");
        let problem = assert_maps(AccountError::Validation(token).into(), 422, "VALIDATION_FAILED");
        assert_eq!(problem.document().errors[0].code, "INVALID_TOKEN");
        assert_maps(AccountError::Conflict("try again").into(), 409, "CONFLICT");
        assert_maps(AccountError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn every_project_error_maps_to_its_status_and_code() {
        for (error, detail) in [
            (ProjectError::NotFound, "no such project"),
            (ProjectError::MemberNotFound, "the project has no such member"),
            (ProjectError::UserNotFound, "no such user"),
        ] {
            assert_eq!(assert_maps(error.into(), 404, "NOT_FOUND").detail(), detail);
        }
        assert_maps(ProjectError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(ProjectError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(ProjectError::NameTaken.into(), 409, "CONFLICT");
        let conflict = assert_maps(ProjectError::Conflict("the owner cannot leave").into(), 409, "CONFLICT");
        assert_eq!(conflict.detail(), "the owner cannot leave");
        assert_maps(ProjectError::Stale.into(), 412, "PRECONDITION_FAILED");
        assert_maps(ProjectError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn every_audit_log_error_maps_to_its_status_and_code() {
        assert_maps(AuditLogError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(AuditLogError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(AuditLogError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn dashboard_and_metrics_errors_map_to_their_status_and_code() {
        assert_maps(DashboardError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(DashboardError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
        assert_maps(MetricsError::Forbidden.into(), 403, "FORBIDDEN");
    }

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
