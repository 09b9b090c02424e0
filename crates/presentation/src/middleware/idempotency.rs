//! `Idempotency-Key` on creating `POST`s: the first response to a key is kept and replayed to
//! every repeat of the same request, so a client may retry a creation safely.
//!
//! What it does, for a `POST` that carries the header (any other request passes through):
//!
//! 1. checks the key: 1 to 255 visible ASCII characters, sent once (else 422 naming
//!    `Idempotency-Key`);
//! 2. finds the caller: the authenticated user ([`Idempotency::per_user`]; a request whose
//!    credentials do not authenticate gets the 401 the handler would give), or the client's
//!    address for anonymous endpoints ([`Idempotency::per_client`]);
//! 3. reads the body (up to the bulk body limit, else 413) and fingerprints the request
//!    ([`fingerprint`]: SHA-256 of the method, the path with its query string, and the body);
//! 4. asks the application ([`IdempotencyService`]) and
//!    - runs the handler when the key is new, then keeps its response (status, the headers in
//!      [`REPLAYED_HEADERS`], body) for the retention period; a server error (5xx), 401, 408 or
//!      429 is not kept and frees the key, so a retry runs again; so does a request abandoned
//!      half-way (time limit, dropped connection);
//!    - replays the kept response, with `Idempotent-Replayed: true`, when the same request comes
//!      again;
//!    - answers 409 `CONFLICT` (with `Retry-After`) while the first request still runs;
//!    - answers 422 `VALIDATION_FAILED` with the error code `IDEMPOTENCY_KEY_REUSED` when the
//!      key comes with a different request.
//!
//! ## Applying it to an endpoint
//!
//! On an [`Endpoint`](crate::routing::Endpoint), mark it and its `POST` gets the middleware
//! (inside the time limit):
//!
//! ```text
//! cfg.service(
//!     Endpoint::new("/projects").get(handlers::list).post(handlers::create).idempotent(Idempotency::per_user()),
//! );
//! ```
//!
//! On a plain actix-web resource or route,
//! `.wrap(from_fn(move |req, next| Idempotency::per_user().handle(req, next)))`: it leaves every
//! method but `POST` alone. Document the header on the operation with
//! `params(IdempotencyKeyHeader)` in its `#[utoipa::path]`.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{
    Error, HttpMessage, HttpRequest, HttpResponse, ResponseError,
    body::{BodySize, BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::{
        Method, StatusCode,
        header::{self, HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};
use forge_application::{
    common::{FieldError, ValidationErrors},
    idempotency::{Begin, Claim, IdempotencyCaller, IdempotencyKey, IdempotencyService, ports::StoredResponse},
};
use forge_domain::FieldViolation as _;
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};
use utoipa::IntoParams;

use super::settings_of;
use crate::{
    extract::{actor::authenticated, client::client_ip},
    problem::{Problem, ProblemCode},
};

/// The request header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// How errors about the key name it.
const KEY_FIELD: &str = "Idempotency-Key";

/// The response header on a replayed response.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The response headers kept and replayed with a response.
pub const REPLAYED_HEADERS: [HeaderName; 5] =
    [header::CONTENT_TYPE, header::LOCATION, header::ETAG, header::LINK, header::CONTENT_LANGUAGE];

/// The largest response body kept for replay (a bulk creation of 1000 accounts answers about
/// 700 KiB); a larger or streamed one is passed through and its key freed.
const MAX_STORED_BODY: u64 = 8 * 1024 * 1024;

/// How long a client should wait before repeating a request whose first run is still going.
const RETRY_AFTER_SECONDS: &str = "1";

/// Whose keys an endpoint's requests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallerKind {
    User,
    Client,
}

/// The middleware's configuration: whose keys an endpoint's requests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idempotency(CallerKind);

impl Idempotency {
    /// For authenticated endpoints: keys belong to the authenticated user.
    #[must_use]
    pub const fn per_user() -> Self {
        Self(CallerKind::User)
    }

    /// For anonymous endpoints (registration): keys belong to the client's address.
    #[must_use]
    pub const fn per_client() -> Self {
        Self(CallerKind::Client)
    }

    /// The middleware's work on one request, for `actix_web::middleware::from_fn`:
    /// `.wrap(from_fn(move |req, next| Idempotency::per_user().handle(req, next)))`.
    ///
    /// # Errors
    /// An inner service's error, passed on (the key is freed first).
    pub async fn handle(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<BoxBody>, Error> {
        idempotent(self, req, next).await
    }
}

/// The `Idempotency-Key` request header, for the OpenAPI document of creating operations:
/// `params(IdempotencyKeyHeader)`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct IdempotencyKeyHeader {
    /// A key of your choosing (1 to 255 visible ASCII characters) that makes this creation safe
    /// to retry: for 24 hours the same key with the same request returns the first response
    /// again (with `Idempotent-Replayed: true`) and creates nothing; with a different request it
    /// is a 422 (`IDEMPOTENCY_KEY_REUSED`); while the first request runs, a 409.
    #[param(rename = "Idempotency-Key", min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    idempotency_key: Option<String>,
}

async fn idempotent(
    config: Idempotency,
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.method() != Method::POST || !req.headers().contains_key(IDEMPOTENCY_KEY) {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    }
    let http_req = req.request().clone();
    let key = match key_of(&http_req) {
        Ok(key) => key,
        Err(problem) => return Ok(refuse(http_req, problem)),
    };
    let Some(service) = req.app_data::<web::Data<IdempotencyService>>().map(|data| data.get_ref().clone()) else {
        tracing::error!("the idempotency service is not registered with the application");
        return Ok(refuse(http_req, Problem::internal()));
    };
    let caller = match config.0 {
        CallerKind::User => match authenticated(&http_req).await {
            Ok(authenticated) => {
                let caller = IdempotencyCaller::User(authenticated.0.id());
                // The handler's `Authenticated` finds it here instead of authenticating again.
                req.extensions_mut().insert(authenticated);
                caller
            }
            Err(problem) => return Ok(refuse(http_req, problem)),
        },
        CallerKind::Client => {
            IdempotencyCaller::Client(client_ip(&http_req).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()))
        }
    };
    let settings = settings_of(&req);
    let limit = settings.body_limit.max(settings.bulk_body_limit);
    let body = match read_body(&mut req, limit).await {
        Ok(body) => body,
        Err(problem) => return Ok(refuse(http_req, problem)),
    };
    let target = http_req.uri().path_and_query().map_or_else(|| http_req.path().to_owned(), ToString::to_string);
    let fingerprint = fingerprint(req.method().as_str(), &target, &body);
    req.set_payload(Payload::from(body));

    let claim = match service.begin(&caller, &key, &fingerprint).await {
        Ok(Begin::Proceed(claim)) => claim,
        Ok(Begin::Replay(stored)) => {
            tracing::debug!(status = stored.status, "replaying an idempotent response");
            return Ok(ServiceResponse::new(http_req, replay(&stored)));
        }
        Ok(Begin::InProgress) => {
            let problem = Problem::new(
                ProblemCode::Conflict,
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            return Ok(refuse(http_req, problem));
        }
        Ok(Begin::KeyReused) => {
            let error = FieldError::new(
                KEY_FIELD,
                "IDEMPOTENCY_KEY_REUSED",
                "was already used with a different request; use a new key for a new request",
            );
            return Ok(refuse(http_req, Problem::validation(ValidationErrors::new(vec![error]))));
        }
        Err(e) => return Ok(refuse(http_req, e.into())),
    };

    let guard = ReleaseOnDrop { service: service.clone(), claim: claim.clone(), armed: AtomicBool::new(true) };
    let outcome = next.call(req).await;
    guard.disarm();
    match outcome {
        Ok(res) => finish(&service, &claim, res).await,
        Err(error) => {
            release(&service, &claim).await;
            Err(error)
        }
    }
}

/// The one `Idempotency-Key` of the request, checked.
fn key_of(req: &HttpRequest) -> Result<IdempotencyKey, Problem> {
    let field = KEY_FIELD;
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Problem::validation(ValidationErrors::single(field, "DUPLICATE", "must be sent at most once")));
    };
    let raw = value.to_str().unwrap_or("\u{7f}");
    IdempotencyKey::parse(raw)
        .map_err(|e| Problem::validation(ValidationErrors::single(field, e.code(), e.to_string())))
}

/// The whole body, up to `limit` bytes.
async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<web::Bytes, Problem> {
    let too_large =
        || Problem::new(ProblemCode::PayloadTooLarge, format!("the body is larger than the limit of {limit} bytes"));
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Problem::malformed("the body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The fingerprint of a request: SHA-256 (hex) of `method`, a line feed, `target` (the path and
/// query string as sent), a line feed, and the body.
#[must_use]
pub fn fingerprint(method: &str, target: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b"\n");
    hasher.update(target.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// Whether a response is kept for replay: not a server error, and not an answer that a retry
/// could change on its own (401 credentials, 408 timeout, 429 rate limit).
fn is_kept(status: StatusCode) -> bool {
    !(status.is_server_error()
        || matches!(status, StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS))
}

/// Keeps the handler's response for replay when it should be kept, and passes it on.
async fn finish(
    service: &IdempotencyService,
    claim: &Claim,
    res: ServiceResponse<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let storable = is_kept(res.status())
        && matches!(res.response().body().size(), BodySize::None | BodySize::Sized(0..=MAX_STORED_BODY));
    if !storable {
        release(service, claim).await;
        return Ok(res.map_into_boxed_body());
    }
    let (req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let e: Box<dyn std::error::Error> = e.into();
            tracing::error!(error = %e, "a response body could not be read for an idempotent replay");
            release(service, claim).await;
            return Ok(refuse(req, Problem::internal()));
        }
    };
    let stored = StoredResponse {
        status: head.status().as_u16(),
        headers: REPLAYED_HEADERS
            .iter()
            .flat_map(|name| head.headers().get_all(name).map(move |v| (name, v)))
            .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned())))
            .collect(),
        body: bytes.to_vec(),
    };
    if let Err(e) = service.complete(claim, &stored).await {
        // The client still gets its answer; a repeat will find the key running until the lease
        // ends, and then run again.
        tracing::error!(error = ?e, "an idempotent response could not be stored");
    }
    Ok(ServiceResponse::new(req, head.set_body(BoxBody::new(bytes))))
}

/// A kept response, answered again.
fn replay(stored: &StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
            response.append_header((name, value));
        }
    }
    response.insert_header((IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")));
    response.body(stored.body.clone())
}

fn refuse(req: HttpRequest, problem: Problem) -> ServiceResponse<BoxBody> {
    let response = problem.at(&req).error_response();
    ServiceResponse::new(req, response)
}

async fn release(service: &IdempotencyService, claim: &Claim) {
    if let Err(e) = service.release(claim).await {
        tracing::error!(error = ?e, "an idempotency key could not be released; it frees itself when its lease ends");
    }
}

/// Frees the claim if the request is abandoned while its handler runs (the time limit, or a
/// client that hung up drops the future): the release then runs on its own task.
struct ReleaseOnDrop {
    service: IdempotencyService,
    claim: Claim,
    armed: AtomicBool,
}

impl ReleaseOnDrop {
    fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if self.armed.load(Ordering::Relaxed) {
            let (service, claim) = (self.service.clone(), self.claim.clone());
            actix_web::rt::spawn(async move { release(&service, &claim).await });
        }
    }
}
