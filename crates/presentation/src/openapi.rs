//! The OpenAPI 3.1 document, generated from the code: every handler's `#[utoipa::path]`, the
//! request and response types' schemas, and what applies to every operation, added by
//! `Conventions` so no handler can forget it:
//!
//! - the optional `X-Request-ID` request header, and the `X-Request-ID` header on every response;
//! - the problem responses any request can get: 500, 503 and 504; 401 on authenticated
//!   operations; 400, 413, 415 and 422 on operations with a body; 400 and 422 on operations with
//!   query parameters;
//! - on the limited operations, the `RateLimit-*` headers on every response, added by
//!   `RateLimits`. A limited operation is one that documents its 429 (with `Retry-After`) in its
//!   `#[utoipa::path]`, next to the route declared limited (see [`crate::limits`]).
//!
//! Security: `bearer_auth` (a JWT in `Authorization: Bearer`) and `oauth2_password` (the same
//! token, obtained through the password grant at `/api/v1/auth/token`, which lets the docs page
//! log in). API keys are `api_key` (`X-API-Key: sk_…`) and `api_key_bearer`
//! (`Authorization: Bearer sk_…`); `Conventions` adds both to every authenticated operation
//! except those that need a session ([`SESSION_ONLY_OPERATIONS`]: managing sessions and keys).

use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, Components, ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder,
        path::{Operation, ParameterBuilder, ParameterIn},
        response::Response,
        schema::{ObjectBuilder, Type},
        security::{
            ApiKey, ApiKeyValue, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
            SecurityScheme,
        },
    },
};

use crate::openapi_exact::ExactContract;
use crate::{
    account, api_keys, audit, auth, dashboard, exports, jobs, limits, metrics, pagination, problem,
    problem::{PROBLEM_JSON, ProblemCode},
    projects, realtime, service, users,
};

/// The request and response header that carries the request id.
const REQUEST_ID_HEADER: &str = "X-Request-ID";

/// Authenticated operations an API key may not use: they manage sessions and keys, which needs
/// a session (a leaked key must not mint more keys or lock its owner out).
pub const SESSION_ONLY_OPERATIONS: [&str; 8] = [
    "create_ws_ticket",
    "list_sessions",
    "revoke_session",
    "logout_all",
    "list_api_keys",
    "create_api_key",
    "get_api_key",
    "revoke_api_key",
];

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Forge",
        description = "Accounts, authentication and role-based access, served as a REST API. \
                       Errors are RFC 9457 problem documents (`application/problem+json`).",
        license(name = "MIT OR Apache-2.0", identifier = "MIT OR Apache-2.0"),
    ),
    paths(
        service::root::root,
        service::health::live,
        service::health::ready,
        service::openapi::document,
        service::docs::redirect,
        auth::handlers::register,
        auth::handlers::login,
        auth::handlers::token,
        auth::handlers::refresh,
        auth::handlers::logout,
        auth::sessions::logout_all,
        auth::sessions::list,
        auth::sessions::revoke,
        users::handlers::me,
        users::handlers::update_me,
        users::handlers::list,
        users::handlers::create,
        users::handlers::create_many,
        users::handlers::get,
        users::handlers::replace,
        users::handlers::update,
        users::handlers::delete,
        users::handlers::restore,
        api_keys::handlers::list,
        api_keys::handlers::create,
        api_keys::handlers::get,
        api_keys::handlers::revoke,
        limits::handlers::unlock,
        account::handlers::verify_email,
        account::handlers::resend_verification,
        account::handlers::forgot_password,
        account::handlers::reset_password,
        account::handlers::change_password,
        projects::handlers::list,
        projects::handlers::create,
        projects::handlers::get,
        projects::handlers::replace,
        projects::handlers::update,
        projects::handlers::delete,
        projects::handlers::members,
        projects::handlers::add_member,
        projects::handlers::change_member_role,
        projects::handlers::remove_member,
        projects::handlers::transfer,
        projects::handlers::user_projects,
        audit::handlers::list,
        exports::handlers::create,
        exports::handlers::get,
        exports::handlers::download,
        realtime::handlers::ticket,
        realtime::handlers::connect,
        jobs::handlers::list,
        jobs::handlers::retry,
        jobs::handlers::discard,
        dashboard::handlers::stats,
        metrics::handlers::database,
    ),
    components(
        schemas(problem::ProblemDocument, problem::ProblemFieldError, pagination::PageLinks),
        responses(
            responses::MalformedRequest,
            responses::Unauthenticated,
            responses::InvalidCredentials,
            responses::InvalidToken,
            responses::Forbidden,
            responses::NotFound,
            responses::MethodNotAllowed,
            responses::Conflict,
            responses::PreconditionFailed,
            responses::NotModified,
            responses::PayloadTooLarge,
            responses::UnsupportedMediaType,
            responses::ValidationFailed,
            responses::Internal,
            responses::ServiceUnavailable,
            responses::Timeout,
            responses::RateLimited,
            responses::LoginRefused,
            responses::WebSocketUnauthenticated,
            responses::WebSocketForbidden,
            responses::TooManyConnections,
            responses::ConnectionsFull,
        ),
    ),
    modifiers(&SecuritySchemes, &Conventions, &RateLimits, &ProblemCodes, &ExactContract),
    tags(
        (name = "service", description = "What the server is, its health, and its documentation"),
        (name = "auth", description = "Registration, login, token refresh, logout, one's own sessions, e-mail verification and password reset"),
        (name = "users", description = "One's own account, and administration of every account"),
        (name = "api-keys", description = "Long-lived keys for scripts and services, with read and write scopes"),
        (name = "projects", description = "Projects, their members and their owner"),
        (name = "exports", description = "Files of users, projects and audit entries, written in the background"),
        (name = "realtime", description = "Live events over WebSocket: tickets for browsers, and the connection"),
        (name = "administration", description = "The audit trail, statistics, operational figures and background jobs"),
    ),
)]
struct ApiDoc;

/// The OpenAPI document of every endpoint (served at `/openapi.json`, printed by
/// `forge openapi`).
#[must_use]
pub fn openapi() -> openapi::OpenApi {
    ApiDoc::openapi()
}

/// Reusable problem responses, referenced from operations as
/// `(status = 404, response = responses::NotFound)`.
pub mod responses {
    use utoipa::{
        ToResponse,
        openapi::{RefOr, response::Response},
    };

    use super::problem_response;
    use crate::problem::ProblemCode;

    macro_rules! problem_responses {
        ($($(#[$doc:meta])* $name:ident => $code:expr, $description:literal;)*) => {$(
            $(#[$doc])*
            pub struct $name;

            impl<'r> ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<Response>) {
                    (stringify!($name), problem_response($description, $code).into())
                }
            }
        )*};
    }

    /// 409: every conflict code, each with what it means.
    pub struct Conflict;

    impl<'r> ToResponse<'r> for Conflict {
        fn response() -> (&'r str, RefOr<Response>) {
            let codes: Vec<String> = ProblemCode::ALL
                .iter()
                .filter(|code| code.status().as_u16() == 409)
                .map(|code| format!("`{}`: {}", code.as_str(), code.meaning().trim_start_matches("409: ")))
                .collect();
            let description = format!(
                "The request conflicts with the state of a resource; `code` says which rule:\n\n- {}",
                codes.join("\n- ")
            );
            ("Conflict", problem_response(&description, ProblemCode::AlreadyMember).into())
        }
    }

    /// 429 of `GET /api/v1/ws`: not a request limit (no `RateLimit-*` headers, no `Retry-After`).
    pub struct TooManyConnections;

    impl<'r> ToResponse<'r> for TooManyConnections {
        fn response() -> (&'r str, RefOr<Response>) {
            let mut response = problem_response(
                "`TOO_MANY_CONNECTIONS`: the user already has as many WebSocket connections to this instance as it \
                 may; close one first",
                ProblemCode::TooManyConnections,
            );
            response.headers.retain(|name, _| name == super::REQUEST_ID_HEADER);
            ("TooManyConnections", response.into())
        }
    }

    /// 304: the representation named by `If-None-Match` is still current. No body.
    pub struct NotModified;

    impl<'r> ToResponse<'r> for NotModified {
        fn response() -> (&'r str, RefOr<Response>) {
            let response = utoipa::openapi::ResponseBuilder::new()
                .description("Not modified: the `ETag` sent in `If-None-Match` is still current; no body")
                .header("ETag", super::string_header("The current strong validator (the one sent)"))
                .header(super::REQUEST_ID_HEADER, super::request_id_header())
                .build();
            ("NotModified", response.into())
        }
    }

    problem_responses! {
        /// 400.
        MalformedRequest => ProblemCode::MalformedRequest,
            "`MALFORMED_REQUEST`: the body is not valid JSON, a field has the wrong type, or the query is malformed";
        /// 401 without a usable credential.
        Unauthenticated => ProblemCode::Unauthenticated,
            "`UNAUTHENTICATED`, `TOKEN_EXPIRED` or `TOKEN_REVOKED`: no usable access token or API key";
        /// 401 on login.
        InvalidCredentials => ProblemCode::InvalidCredentials,
            "`INVALID_CREDENTIALS`: unknown account, wrong password or disabled account (indistinguishable)";
        /// 401 on refresh.
        InvalidToken => ProblemCode::Unauthenticated,
            "`UNAUTHENTICATED` (unknown token), `TOKEN_EXPIRED` or `TOKEN_REVOKED` (the session ended)";
        /// 403.
        Forbidden => ProblemCode::Forbidden,
            "`FORBIDDEN`: authenticated but not allowed (also: an API key without the scope the request needs, or used where a session is required); `EMAIL_NOT_VERIFIED` when the server requires a verified address";
        /// 404.
        NotFound => ProblemCode::NotFound, "`NOT_FOUND`: no such resource, or it is deleted";
        /// 405.
        MethodNotAllowed => ProblemCode::MethodNotAllowed,
            "`METHOD_NOT_ALLOWED`: the path does not support this method; `Allow` lists those it does";
        /// 412.
        PreconditionFailed => ProblemCode::PreconditionFailed,
            "`PRECONDITION_FAILED`: `If-Match` names a version the resource is no longer at (or a \
             conditional write lost a race); nothing changed. Read it again and retry with its new `ETag`";
        /// 413.
        PayloadTooLarge => ProblemCode::PayloadTooLarge, "`PAYLOAD_TOO_LARGE`: the body is over the limit";
        /// 415.
        UnsupportedMediaType => ProblemCode::UnsupportedMediaType,
            "`UNSUPPORTED_MEDIA_TYPE`: the body is not of the media type the endpoint reads";
        /// 422.
        ValidationFailed => ProblemCode::ValidationFailed,
            "`VALIDATION_FAILED`: every bad field or parameter is listed in `errors`";
        /// 500.
        Internal => ProblemCode::Internal, "`INTERNAL`: a bug; quote the request id when reporting it";
        /// 503.
        ServiceUnavailable => ProblemCode::ServiceUnavailable,
            "`SERVICE_UNAVAILABLE`: a dependency is down; `SERVER_BUSY`: the password-hashing queue is full \
             (login, registration, password changes, account creation) and nothing changed. Retry after \
             `Retry-After` seconds";
        /// 504.
        Timeout => ProblemCode::Timeout, "`TIMEOUT`: the request ran past the server's time limit";
        /// 429 of a limited endpoint.
        RateLimited => ProblemCode::RateLimited,
            "`RATE_LIMITED`: too many requests from this client address; retry after `Retry-After` seconds";
        /// 401 of `GET /api/v1/ws`.
        WebSocketUnauthenticated => ProblemCode::InvalidTicket,
            "`UNAUTHENTICATED`, `TOKEN_EXPIRED` or `TOKEN_REVOKED`: no usable access token or API key; \
             `INVALID_TICKET`: the ticket is unknown, used, expired, or its session has ended";
        /// 403 of `GET /api/v1/ws`.
        WebSocketForbidden => ProblemCode::OriginNotAllowed,
            "`ORIGIN_NOT_ALLOWED`: the `Origin` header is not an allowed origin; `FORBIDDEN`: an API key \
             without the `read` scope; `EMAIL_NOT_VERIFIED` when the server requires a verified address";
        /// 503 of `GET /api/v1/ws`.
        ConnectionsFull => ProblemCode::ConnectionsFull,
            "`CONNECTIONS_FULL`: this instance holds as many WebSocket connections as it may; \
             `SERVICE_UNAVAILABLE`: a dependency is down. Retry after `Retry-After` seconds";
        /// 429 on login.
        LoginRefused => ProblemCode::AccountLocked,
            "`RATE_LIMITED`: too many requests from this address or for this account, or too soon after \
             repeated failed logins; `ACCOUNT_LOCKED`: repeated failed logins locked the account, even the \
             right password is refused. Retry after `Retry-After` seconds (the same for unknown accounts)";
    }
}

/// A problem response: `application/problem+json`, with the headers its code comes with.
fn problem_response(description: &str, example_code: ProblemCode) -> Response {
    let example = serde_json::json!({
        "type": example_code.type_uri(),
        "title": example_code.title(),
        "status": example_code.status().as_u16(),
        "detail": "…",
        "instance": "/api/v1/…",
        "code": example_code.as_str(),
        "request_id": "0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d",
    });
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        ContentBuilder::new().schema(Some(Ref::from_schema_name("ProblemDocument"))).example(Some(example)).build(),
    );
    response = response.header(REQUEST_ID_HEADER, request_id_header());
    match example_code.status().as_u16() {
        401 => {
            response = response.header(
                "WWW-Authenticate",
                string_header("`Bearer`, with `error=\"invalid_token\"` when a token was refused"),
            );
        }
        405 => response = response.header("Allow", string_header("The methods the path supports")),
        503 => response = response.header("Retry-After", string_header("Seconds to wait before retrying")),
        429 => {
            response = response.header("Retry-After", integer_header("Seconds to wait before retrying"));
            for (name, description) in RATE_LIMIT_HEADERS {
                response = response.header(name, integer_header(description));
            }
        }
        _ => {}
    }
    response.build()
}

/// The headers of every response of a limited endpoint.
const RATE_LIMIT_HEADERS: [(&str, &str); 3] = [
    ("RateLimit-Limit", "The requests a window allows (when limits are on)"),
    ("RateLimit-Remaining", "The requests left in the current window"),
    ("RateLimit-Reset", "Seconds until the current window ends"),
];

fn integer_header(description: &str) -> openapi::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
        .description(Some(description))
        .build()
}

fn string_header(description: &str) -> openapi::Header {
    HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(description))
        .build()
}

fn request_id_header() -> openapi::Header {
    string_header("The request id: the client's own if it sent a sane one, else a new UUID v7")
}

/// Registers the security schemes.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            "bearer_auth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from login, refresh or the token endpoint. With `auth.require_verified_email` \
                         on, an account whose address is not verified gets 403 `EMAIL_NOT_VERIFIED` everywhere but \
                         `GET /users/me`, `POST /auth/email/resend` and `POST /auth/logout`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "oauth2_password",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/api/v1/auth/token", Scopes::new()))],
                "The OAuth2 password grant; `username` may be an e-mail address",
            )),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (`sk_…`) from `POST /api/v1/api-keys`; `read` keys may only GET, HEAD and OPTIONS",
            ))),
        );
        components.add_security_scheme(
            "api_key_bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_…")
                    .description(Some("An API key (`sk_…`) sent as `Authorization: Bearer sk_…`"))
                    .build(),
            ),
        );
    }
}

/// Documents the request limits where they apply: on every `POST` that documents a 429 (see the
/// module notes). Runs after [`Conventions`], so the problem responses it added get the headers
/// too: a referenced response is copied into the operation to carry them.
struct RateLimits;

impl Modify for RateLimits {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let shared = doc.components.as_ref().map(|c| c.responses.clone()).unwrap_or_default();
        for item in doc.paths.paths.values_mut() {
            let Some(operation) = item.post.as_mut().filter(|o| o.responses.responses.contains_key("429")) else {
                continue;
            };
            for response in operation.responses.responses.values_mut() {
                if let RefOr::Ref(reference) = response
                    && let Some(resolved) = reference.ref_location.rsplit('/').next().and_then(|n| shared.get(n))
                {
                    *response = resolved.clone();
                }
                if let RefOr::T(response) = response {
                    for (name, description) in RATE_LIMIT_HEADERS {
                        response
                            .headers
                            .entry(name.to_owned())
                            .or_insert_with(|| RefOr::T(integer_header(description)));
                    }
                }
            }
        }
    }
}

/// Adds what applies to every operation (see the module notes).
struct Conventions;

/// The `code` of a problem document is one of [`ProblemCode::ALL`]: an enum in the schema, each
/// value explained in its description.
struct ProblemCodes;

impl Modify for ProblemCodes {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let Some(RefOr::T(openapi::schema::Schema::Object(document))) =
            doc.components.as_mut().and_then(|c| c.schemas.get_mut("ProblemDocument"))
        else {
            return;
        };
        let meanings: Vec<String> =
            ProblemCode::ALL.iter().map(|code| format!("`{}` ({})", code.as_str(), code.meaning())).collect();
        let code = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ProblemCode::ALL.iter().map(|code| code.as_str())))
            .description(Some(format!("The stable machine-readable code: {}", meanings.join("; "))));
        document.properties.insert("code".to_owned(), code.into());
    }
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                add_conventions(operation);
            }
        }
    }
}

fn add_conventions(operation: &mut Operation) {
    let session_only = operation.operation_id.as_deref().is_some_and(|id| SESSION_ONLY_OPERATIONS.contains(&id));
    if let Some(security) = operation.security.as_mut().filter(|s| !s.is_empty())
        && !session_only
    {
        security.push(SecurityRequirement::new("api_key", Vec::<String>::new()));
        security.push(SecurityRequirement::new("api_key_bearer", Vec::<String>::new()));
    }

    operation.parameters.get_or_insert_with(Vec::new).push(RefOr::T(
        ParameterBuilder::new()
            .name(REQUEST_ID_HEADER)
            .parameter_in(ParameterIn::Header)
            .required(openapi::Required::False)
            // No length in the schema: any value is accepted, and one that is not sane is replaced.
            .description(Some(
                "Your own request id, echoed back if it is 1 to 128 visible ASCII characters; any other \
                 value is replaced by a new UUID v7",
            ))
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build(),
    ));

    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let has_query = operation.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.parameter_in == ParameterIn::Query,
        RefOr::Ref(_) => false,
    });
    let mut common: Vec<(&str, &str)> = Vec::new();
    if has_body || has_query {
        common.extend([("400", "MalformedRequest"), ("422", "ValidationFailed")]);
    }
    if has_body {
        common.extend([("413", "PayloadTooLarge"), ("415", "UnsupportedMediaType")]);
    }
    if secured {
        common.push(("401", "Unauthenticated"));
    }
    common.extend([("500", "Internal"), ("503", "ServiceUnavailable"), ("504", "Timeout")]);
    for (status, name) in common {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }

    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.headers.entry(REQUEST_ID_HEADER.to_owned()).or_insert_with(|| RefOr::T(request_id_header()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(openapi()).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
        let mut found = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                found.push((method.to_uppercase(), path.clone(), operation));
            }
        }
        found
    }

    fn collect_refs<'a>(value: &'a Value, refs: &mut BTreeSet<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    refs.insert(target);
                }
                map.values().for_each(|v| collect_refs(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        assert_eq!(document()["openapi"], "3.1.0");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut refs = BTreeSet::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for target in refs {
            let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("external reference {target}"));
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
    }

    #[test]
    fn every_operation_documents_the_request_id_both_ways() {
        let doc = document();
        for (method, path, operation) in operations(&doc) {
            let parameters = operation["parameters"].as_array().unwrap();
            assert!(parameters.iter().any(|p| p["name"] == REQUEST_ID_HEADER), "{method} {path}");
            for (status, response) in operation["responses"].as_object().unwrap() {
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(target) => doc.pointer(target.trim_start_matches('#')).unwrap(),
                    None => response,
                };
                assert!(response["headers"].get(REQUEST_ID_HEADER).is_some(), "{method} {path} {status}");
            }
        }
    }

    #[test]
    fn authenticated_operations_require_a_bearer_token_and_document_401() {
        let doc = document();
        for (method, path, operation) in operations(&doc) {
            let public =
                path == "/" || path.starts_with("/health") || path.starts_with("/docs") || path == "/openapi.json";
            let public = public
                || [
                    "/api/v1/auth/register",
                    "/api/v1/auth/login",
                    "/api/v1/auth/token",
                    "/api/v1/auth/refresh",
                    "/api/v1/auth/email/verify",
                    "/api/v1/auth/password/forgot",
                    "/api/v1/auth/password/reset",
                ]
                .contains(&path.as_str());
            let secured = operation.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
            assert_eq!(secured, !public, "{method} {path}");
            if secured {
                assert!(operation["responses"].get("401").is_some(), "{method} {path}");
            }
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer_auth"]["scheme"], "bearer");
        assert_eq!(doc["components"]["securitySchemes"]["bearer_auth"]["bearerFormat"], "JWT");
        assert_eq!(
            doc["components"]["securitySchemes"]["oauth2_password"]["flows"]["password"]["tokenUrl"],
            "/api/v1/auth/token"
        );
    }

    #[test]
    fn api_keys_are_accepted_everywhere_but_where_a_session_is_required() {
        let doc = document();
        let mut session_only = Vec::new();
        for (method, path, operation) in operations(&doc) {
            let Some(security) = operation.get("security").and_then(Value::as_array).filter(|s| !s.is_empty()) else {
                continue;
            };
            let schemes: BTreeSet<&str> =
                security.iter().flat_map(|r| r.as_object().unwrap().keys().map(String::as_str)).collect();
            let accepts_keys = schemes.contains("api_key") && schemes.contains("api_key_bearer");
            if accepts_keys {
                assert!(schemes.contains("bearer_auth"), "{method} {path}");
            } else {
                session_only.push(operation["operationId"].as_str().unwrap().to_owned());
                assert!(operation["responses"].get("403").is_some(), "{method} {path} documents the 403 for keys");
            }
        }
        session_only.sort_unstable();
        let mut expected = SESSION_ONLY_OPERATIONS.map(str::to_owned).to_vec();
        expected.sort_unstable();
        assert_eq!(session_only, expected);
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["api_key"]["type"], "apiKey");
        assert_eq!(schemes["api_key"]["in"], "header");
        assert_eq!(schemes["api_key"]["name"], "X-API-Key");
        assert_eq!(schemes["api_key_bearer"]["scheme"], "bearer");
    }

    #[test]
    fn the_session_and_api_key_endpoints_are_documented() {
        let doc = document();
        let listed: BTreeSet<(String, String)> =
            operations(&doc).into_iter().map(|(method, path, _)| (method, path)).collect();
        for (method, path) in [
            ("GET", "/api/v1/auth/sessions"),
            ("DELETE", "/api/v1/auth/sessions/{id}"),
            ("POST", "/api/v1/auth/logout-all"),
            ("GET", "/api/v1/api-keys"),
            ("POST", "/api/v1/api-keys"),
            ("GET", "/api/v1/api-keys/{id}"),
            ("DELETE", "/api/v1/api-keys/{id}"),
        ] {
            assert!(listed.contains(&(method.to_owned(), path.to_owned())), "{method} {path}");
        }
        let created = &doc["components"]["schemas"]["CreatedApiKeyResponse"];
        assert!(created["required"].as_array().unwrap().contains(&Value::from("key")));
        let listed_key = &doc["components"]["schemas"]["ApiKeyResponse"];
        assert!(listed_key["properties"].get("key").is_none(), "a listed key never shows the key");
        let token = &doc["components"]["schemas"]["TokenResponse"];
        assert!(!token["required"].as_array().unwrap().contains(&Value::from("refresh_token")));
    }

    #[test]
    fn error_responses_are_problem_documents() {
        let doc = document();
        for (name, response) in doc["components"]["responses"].as_object().unwrap() {
            if name == "NotModified" {
                assert!(response.get("content").is_none(), "a 304 has no body");
                continue;
            }
            let schema = &response["content"][PROBLEM_JSON]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/ProblemDocument", "{name}");
        }
        for (method, path, operation) in operations(&doc) {
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let is_problem = response.get("$ref").is_some() || response["content"].get(PROBLEM_JSON).is_some();
                    // The readiness report is the one error answered with its own body.
                    assert!(is_problem || path == "/health/ready", "{method} {path} {status}");
                }
            }
        }
    }

    #[test]
    fn limited_operations_document_429_and_the_rate_limit_headers_on_every_response() {
        let doc = document();
        for path in [
            "/api/v1/auth/login",
            "/api/v1/auth/token",
            "/api/v1/auth/refresh",
            "/api/v1/auth/register",
            "/api/v1/auth/password/forgot",
        ] {
            let operation = &doc["paths"][path]["post"];
            let responses = operation["responses"].as_object().unwrap();
            let too_many = &responses["429"];
            let too_many = match too_many.get("$ref").and_then(Value::as_str) {
                Some(target) => doc.pointer(target.trim_start_matches('#')).unwrap(),
                None => too_many,
            };
            assert!(too_many["headers"].get("Retry-After").is_some(), "{path}");
            for (status, response) in responses {
                for (header, _) in RATE_LIMIT_HEADERS {
                    assert!(response["headers"].get(header).is_some(), "{path} {status} {header}");
                }
            }
        }
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["429"];
        assert!(login["description"].as_str().unwrap().contains("ACCOUNT_LOCKED"));
        let unlimited = &doc["paths"]["/api/v1/auth/logout"]["post"]["responses"];
        assert!(unlimited.get("429").is_none());
    }

    #[test]
    fn the_unlock_endpoint_is_documented_for_admins() {
        let doc = document();
        let unlock = &doc["paths"]["/api/v1/users/{id}/unlock"]["post"];
        assert_eq!(unlock["operationId"], "unlock_user");
        for status in ["204", "401", "403", "404"] {
            assert!(unlock["responses"].get(status).is_some(), "{status}");
        }
    }

    #[test]
    fn single_users_document_their_etags_and_preconditions() {
        let doc = document();
        let parameters = |path: &str, method: &str| -> Vec<String> {
            doc["paths"][path][method]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        };
        for (path, method) in [("/api/v1/users/me", "get"), ("/api/v1/users/{id}", "get")] {
            assert!(parameters(path, method).contains(&"If-None-Match".to_owned()), "{method} {path}");
            let responses = &doc["paths"][path][method]["responses"];
            assert!(responses["200"]["headers"].get("ETag").is_some(), "{method} {path}");
            assert_eq!(responses["304"]["$ref"], "#/components/responses/NotModified", "{method} {path}");
        }
        for (path, method) in [
            ("/api/v1/users/me", "patch"),
            ("/api/v1/users/{id}", "put"),
            ("/api/v1/users/{id}", "patch"),
            ("/api/v1/users/{id}", "delete"),
        ] {
            assert!(parameters(path, method).contains(&"If-Match".to_owned()), "{method} {path}");
            let responses = &doc["paths"][path][method]["responses"];
            assert_eq!(responses["412"]["$ref"], "#/components/responses/PreconditionFailed", "{method} {path}");
        }
    }

    #[test]
    fn creating_posts_document_the_idempotency_key() {
        let doc = document();
        for path in [
            "/api/v1/auth/register",
            "/api/v1/users",
            "/api/v1/users/bulk",
            "/api/v1/projects",
            "/api/v1/projects/{id}/members",
            "/api/v1/api-keys",
        ] {
            let operation = &doc["paths"][path]["post"];
            let key = operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "Idempotency-Key")
                .unwrap_or_else(|| panic!("{path}"));
            assert_eq!(key["in"], "header", "{path}");
            assert_eq!(key["schema"]["maxLength"], 255, "{path}");
            assert!(operation["responses"]["201"]["headers"].get("Idempotent-Replayed").is_some(), "{path}");
            assert!(operation["responses"].get("409").is_some(), "{path}");
        }
    }

    #[test]
    fn every_operation_has_a_unique_id_and_a_tag() {
        let doc = document();
        let mut ids = BTreeSet::new();
        for (method, path, operation) in operations(&doc) {
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}"));
            assert!(ids.insert(id.to_owned()), "duplicate {id}");
            assert!(operation["tags"].as_array().is_some_and(|t| !t.is_empty()), "{method} {path}");
        }
    }
}
