//! Routing, errors of the HTTP layer itself, and the middleware.

use std::{sync::Arc, time::Duration};

use actix_web::{
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use async_trait::async_trait;
use forge_application::{
    common::UnexpectedError,
    health::{HealthService, Probe},
};
use forge_domain::users::Role;
use forge_presentation::{HttpSettings, build_app};
use serde_json::json;

use crate::support::{Mocks, error_codes, problem_of, user_with_role};

fn x_request_id(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>) -> Option<String> {
    res.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn header_of(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[actix_web::test]
async fn an_unknown_route_is_a_404_problem_document_naming_the_path_and_request_id() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::get().uri("/api/v1/nothing-here").insert_header(("X-Request-ID", "trace-me-1")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(x_request_id(&res).as_deref(), Some("trace-me-1"));
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "NOT_FOUND");
    assert_eq!(problem.problem_type, "/problems/not-found");
    assert_eq!(problem.instance.as_deref(), Some("/api/v1/nothing-here"));
    assert_eq!(problem.request_id.as_deref(), Some("trace-me-1"));
}

#[actix_web::test]
async fn a_method_the_path_does_not_support_is_a_405_with_allow() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::delete().uri("/api/v1/users/me").to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header_of(&res, "allow").as_deref(), Some("GET, HEAD, PATCH, OPTIONS"));
    assert!(x_request_id(&res).is_some());
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "METHOD_NOT_ALLOWED");
    assert_eq!(problem.detail, "DELETE is not supported here");
}

#[actix_web::test]
async fn trace_is_a_405_everywhere() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for path in ["/", "/health/live", "/api/v1/auth/login", "/api/v1/users/0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d"] {
        let req = TestRequest::default().method(actix_web::http::Method::TRACE).uri(path).to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert!(header_of(&res, "allow").is_some(), "{path}");
    }
}

#[actix_web::test]
async fn options_without_cors_lists_the_methods() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::default().method(actix_web::http::Method::OPTIONS).uri("/api/v1/users").to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(header_of(&res, "allow").as_deref(), Some("GET, HEAD, POST, OPTIONS"));
}

#[actix_web::test]
async fn head_is_answered_wherever_get_is() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::default().method(actix_web::http::Method::HEAD).uri("/health/live").to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_path_id_that_is_not_a_uuid_is_a_404() {
    let admin = user_with_role("root", Role::Admin);
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &admin).state())).await;
    let req = TestRequest::get()
        .uri("/api/v1/users/not-a-uuid")
        .insert_header((header::AUTHORIZATION, "Bearer t"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "NOT_FOUND");
    assert_eq!(problem.instance.as_deref(), Some("/api/v1/users/not-a-uuid"));
}

fn register(body: &'static str) -> TestRequest {
    TestRequest::post()
        .uri("/api/v1/auth/register")
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body)
}

#[actix_web::test]
async fn a_body_that_is_not_json_is_a_400_with_a_short_position() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let res = test::call_service(&app, register(r#"{"email": "#).to_request()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "MALFORMED_REQUEST");
    assert_eq!(problem.detail, "the body is not valid JSON: EOF while parsing a value at line 1 column 10");
}

#[actix_web::test]
async fn a_field_of_the_wrong_type_is_a_400_naming_it() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let res =
        test::call_service(&app, register(r#"{"email": 5, "username": "ada", "password": "x"}"#).to_request()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "MALFORMED_REQUEST");
    assert_eq!(error_codes(&problem), ["email:INVALID_TYPE"]);
}

#[actix_web::test]
async fn a_body_that_is_not_declared_as_json_is_a_415() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for req in [
        TestRequest::post().uri("/api/v1/auth/register").set_payload(r#"{"email": "a@b.co"}"#),
        TestRequest::post()
            .uri("/api/v1/auth/register")
            .insert_header((header::CONTENT_TYPE, "text/plain"))
            .set_payload(r#"{"email": "a@b.co"}"#),
    ] {
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(problem_of(res).await.code, "UNSUPPORTED_MEDIA_TYPE");
    }
}

#[actix_web::test]
async fn a_body_over_the_limit_is_a_413_with_or_without_content_length() {
    let settings = HttpSettings { body_limit: 64, ..HttpSettings::default() };
    let app = test::init_service(build_app(Mocks { http: settings, ..Mocks::default() }.state())).await;
    let big = format!(r#"{{"email": "{}"}}"#, "a".repeat(200));

    let declared = register("").set_payload(big.clone()).to_request();
    let res = test::call_service(&app, declared).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(x_request_id(&res).is_some());
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "PAYLOAD_TOO_LARGE");
    assert_eq!(problem.detail, "the body is larger than the limit of 64 bytes");

    let mut streamed = register("").set_payload(big).to_request();
    streamed.headers_mut().remove(header::CONTENT_LENGTH);
    let res = test::call_service(&app, streamed).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem_of(res).await.code, "PAYLOAD_TOO_LARGE");
}

#[actix_web::test]
async fn a_token_in_the_query_string_is_refused_before_any_handler() {
    // No token is known to the mocks: a 401 would mean the handler ran.
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for uri in ["/api/v1/users/me?access_token=abc", "/api/v1/users?page=1&API_KEY=sk_1", "/health/live?token=x"] {
        let res = test::call_service(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(x_request_id(&res).is_some());
        let problem = problem_of(res).await;
        assert_eq!(problem.code, "MALFORMED_REQUEST");
        assert!(problem.detail.contains("must not be sent in the URL"), "{}", problem.detail);
    }
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for uri in ["/health/live", "/nowhere"] {
        let res = test::call_service(&app, TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(header_of(&res, "x-content-type-options").as_deref(), Some("nosniff"), "{uri}");
        assert_eq!(header_of(&res, "cache-control").as_deref(), Some("no-store"), "{uri}");
        assert_eq!(header_of(&res, "content-security-policy").as_deref(), Some("frame-ancestors 'none'"), "{uri}");
        assert_eq!(header_of(&res, "referrer-policy").as_deref(), Some("no-referrer"), "{uri}");
        assert_eq!(header_of(&res, "strict-transport-security"), None, "plain HTTP: {uri}");
    }
}

#[actix_web::test]
async fn hsts_is_sent_when_a_trusted_proxy_says_the_request_came_over_https() {
    let settings = HttpSettings { trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()], ..HttpSettings::default() };
    let app = test::init_service(build_app(Mocks { http: settings, ..Mocks::default() }.state())).await;
    let from_proxy = TestRequest::get()
        .uri("/health/live")
        .peer_addr("10.0.0.2:4000".parse().unwrap())
        .insert_header(("X-Forwarded-Proto", "https"))
        .to_request();
    let res = test::call_service(&app, from_proxy).await;
    assert_eq!(header_of(&res, "strict-transport-security").as_deref(), Some("max-age=31536000; includeSubDomains"));

    let spoofed = TestRequest::get()
        .uri("/health/live")
        .peer_addr("198.51.100.9:4000".parse().unwrap())
        .insert_header(("X-Forwarded-Proto", "https"))
        .to_request();
    let res = test::call_service(&app, spoofed).await;
    assert_eq!(header_of(&res, "strict-transport-security"), None);
}

#[actix_web::test]
async fn a_sane_request_id_is_echoed_and_any_other_replaced_even_on_errors() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let long = "x".repeat(129);
    for (sent, kept) in [("abc-123", true), ("with space", false), (long.as_str(), false)] {
        for req in [
            TestRequest::get().uri("/health/live"),
            TestRequest::get().uri("/missing"),
            TestRequest::put().uri("/health/live"),
        ] {
            let res = test::call_service(&app, req.insert_header(("X-Request-ID", sent)).to_request()).await;
            let got = x_request_id(&res).unwrap();
            if kept {
                assert_eq!(got, sent);
            } else {
                assert_ne!(got, sent);
                assert_eq!(uuid::Uuid::parse_str(&got).unwrap().get_version_num(), 7);
            }
        }
    }
}

fn cors_settings() -> HttpSettings {
    HttpSettings {
        public_url: "https://app.example.com/".to_owned(),
        cors_origins: vec!["https://admin.example.com".to_owned()],
        ..HttpSettings::default()
    }
}

#[actix_web::test]
async fn an_allowed_origin_gets_cors_headers_with_credentials() {
    let app = test::init_service(build_app(Mocks { http: cors_settings(), ..Mocks::default() }.state())).await;
    for origin in ["https://app.example.com", "https://admin.example.com"] {
        let req = TestRequest::get().uri("/health/live").insert_header((header::ORIGIN, origin)).to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(header_of(&res, "access-control-allow-origin").as_deref(), Some(origin));
        assert_eq!(header_of(&res, "access-control-allow-credentials").as_deref(), Some("true"));
        let exposed = header_of(&res, "access-control-expose-headers").unwrap().to_ascii_lowercase();
        for name in ["x-request-id", "location", "link", "etag", "retry-after", "ratelimit-limit"] {
            assert!(exposed.contains(name), "{name} not exposed: {exposed}");
        }
    }
}

#[actix_web::test]
async fn a_refused_origin_gets_no_cors_headers() {
    let app = test::init_service(build_app(Mocks { http: cors_settings(), ..Mocks::default() }.state())).await;
    let req =
        TestRequest::get().uri("/health/live").insert_header((header::ORIGIN, "https://evil.example")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "access-control-allow-origin"), None);
}

#[actix_web::test]
async fn a_preflight_from_an_allowed_origin_is_answered_with_the_request_id() {
    let app = test::init_service(build_app(Mocks { http: cors_settings(), ..Mocks::default() }.state())).await;
    let req = TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/api/v1/users/me")
        .insert_header((header::ORIGIN, "https://app.example.com"))
        .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "PATCH"))
        .insert_header((header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization, content-type, idempotency-key"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "access-control-allow-origin").as_deref(), Some("https://app.example.com"));
    assert!(header_of(&res, "access-control-allow-methods").unwrap().contains("PATCH"));
    assert!(x_request_id(&res).is_some());
}

#[actix_web::test]
async fn a_preflight_from_a_refused_origin_is_a_problem_document_without_cors_headers() {
    let app = test::init_service(build_app(Mocks { http: cors_settings(), ..Mocks::default() }.state())).await;
    let req = TestRequest::default()
        .method(actix_web::http::Method::OPTIONS)
        .uri("/api/v1/users/me")
        .insert_header((header::ORIGIN, "https://evil.example"))
        .insert_header((header::ACCESS_CONTROL_REQUEST_METHOD, "GET"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header_of(&res, "access-control-allow-origin"), None);
    assert!(x_request_id(&res).is_some());
    assert_eq!(problem_of(res).await.code, "MALFORMED_REQUEST");
}

/// A dependency that takes its time.
struct SlowProbe(Duration);

#[async_trait]
impl Probe for SlowProbe {
    async fn check(&self) -> Result<(), UnexpectedError> {
        actix_web::rt::time::sleep(self.0).await;
        Ok(())
    }
}

#[actix_web::test]
async fn a_request_past_the_time_limit_is_a_504() {
    let settings = HttpSettings { request_timeout: Duration::from_millis(50), ..HttpSettings::default() };
    let health = HealthService::new().with_probe("database", Arc::new(SlowProbe(Duration::from_secs(5))));
    let app = test::init_service(build_app(Mocks { http: settings, health, ..Mocks::default() }.state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(x_request_id(&res).is_some());
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "TIMEOUT");
    assert_eq!(problem.instance.as_deref(), Some("/health/ready"));
}

#[actix_web::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::get().uri("/openapi.json").insert_header((header::ACCEPT_ENCODING, "gzip")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(header_of(&res, "content-encoding").as_deref(), Some("gzip"));
}

#[actix_web::test]
async fn unknown_and_protected_fields_are_refused_before_the_use_case_runs() {
    // Any call to a port would fail the test: the mocks expect nothing.
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/register")
        .set_json(
            json!({"email": "ada@example.com", "username": "ada", "password": "x", "role": "admin", "color": "red"}),
        )
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem_of(res).await;
    assert_eq!(problem.detail, "2 fields are invalid");
    assert_eq!(error_codes(&problem), ["color:UNKNOWN_FIELD", "role:NOT_ALLOWED"]);
}

#[actix_web::test]
async fn credentials_are_allowed_only_beside_an_allowed_origin() {
    let app = test::init_service(build_app(Mocks { http: cors_settings(), ..Mocks::default() }.state())).await;
    for origin in [None, Some("https://evil.example"), Some("null")] {
        for uri in ["/health/live", "/nowhere"] {
            let mut req = TestRequest::get().uri(uri);
            if let Some(origin) = origin {
                req = req.insert_header((header::ORIGIN, origin));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(header_of(&res, "access-control-allow-origin"), None, "{origin:?} {uri}");
            assert_eq!(header_of(&res, "access-control-allow-credentials"), None, "{origin:?} {uri}");
            assert_eq!(header_of(&res, "access-control-expose-headers"), None, "{origin:?} {uri}");
        }
    }
    let allowed =
        TestRequest::get().uri("/nowhere").insert_header((header::ORIGIN, "https://app.example.com")).to_request();
    let res = test::call_service(&app, allowed).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&res, "access-control-allow-credentials").as_deref(), Some("true"));
}

#[actix_web::test]
async fn an_over_long_url_is_a_414_problem_document() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let limit = forge_presentation::middleware::protocol::MAX_URL_LENGTH;
    let long_query = format!("/api/v1/users?search={}", "a".repeat(limit));
    let long_path = format!("/{}", "p".repeat(limit));
    for uri in [long_query, long_path] {
        let res = test::call_service(&app, TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::URI_TOO_LONG);
        assert!(x_request_id(&res).is_some());
        let problem = problem_of(res).await;
        assert_eq!(problem.code, "URI_TOO_LONG");
        assert!(problem.detail.contains(&format!("the limit is {limit}")), "{}", problem.detail);
    }
    // At the limit, the request is routed as usual (here: no credentials).
    let at_limit = format!("/api/v1/users/me?{}", "a".repeat(limit - "/api/v1/users/me?".len()));
    assert_eq!(at_limit.len(), limit);
    let res = test::call_service(&app, TestRequest::get().uri(&at_limit).to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn json_in_a_charset_other_than_utf8_is_a_415() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for content_type in [
        "application/json; charset=utf-16",
        "application/json;charset=ISO-8859-1",
        "application/json; charset=\"utf-32\"",
    ] {
        let req = register(r#"{"colour": "red"}"#).insert_header((header::CONTENT_TYPE, content_type)).to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type}");
        let problem = problem_of(res).await;
        assert_eq!(problem.code, "UNSUPPORTED_MEDIA_TYPE");
        assert!(problem.detail.contains("UTF-8"), "{}", problem.detail);
    }
    // UTF-8, said or not, is read: the unknown field shows the body got to the field checks.
    for content_type in ["application/json", "application/json; charset=utf-8", "application/json; charset=UTF-8"] {
        let req = register(r#"{"colour": "red"}"#).insert_header((header::CONTENT_TYPE, content_type)).to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{content_type}");
        assert!(error_codes(&problem_of(res).await).contains(&"colour:UNKNOWN_FIELD".to_owned()));
    }
}

#[actix_web::test]
async fn a_json_object_that_repeats_a_key_is_a_400() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for body in [
        r#"{"email": "a@example.com", "email": "b@example.com", "username": "ada", "password": "x"}"#,
        r#"{"email": "a@example.com", "username": "ada", "password": "x", "extra": {"k": 1, "k": 2}}"#,
    ] {
        let res = test::call_service(&app, register(body).to_request()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        let problem = problem_of(res).await;
        assert_eq!(problem.code, "MALFORMED_REQUEST");
        assert!(
            problem.detail.starts_with("the body is refused: an object has the same key twice at line 1"),
            "{}",
            problem.detail
        );
    }
}

/// serde_json, built with `raw_value` (sqlx turns it on), reads an object whose first key is its
/// private `RawValue` token as JSON text nested in a string. A body is read as the JSON it is: the
/// token is an unknown field, and the registration nested in it is not read.
#[actix_web::test]
async fn serde_json_private_raw_value_key_is_an_unknown_field_not_nested_json() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let body = r#"{"$serde_json::private::RawValue": "{\"email\": \"a@example.com\", \"username\": \"ada\", \"password\": \"x\"}"}"#;
    let res = test::call_service(&app, register(body).to_request()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let codes = error_codes(&problem_of(res).await);
    assert!(codes.contains(&"$serde_json::private::RawValue:UNKNOWN_FIELD".to_owned()), "{codes:?}");
    assert!(codes.contains(&"email:REQUIRED".to_owned()), "{codes:?}");
}

#[actix_web::test]
async fn the_answer_to_connect_is_not_compressed_and_closes_the_connection() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::default()
        .method(actix_web::http::Method::CONNECT)
        .uri("/api/v1/users")
        .insert_header((header::ACCEPT_ENCODING, "gzip"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(header_of(&res, "content-encoding"), None);
    assert_eq!(res.response().head().connection_type(), actix_web::http::ConnectionType::Close);
    assert_eq!(problem_of(res).await.code, "METHOD_NOT_ALLOWED");
    // Other methods are still compressed.
    let req = TestRequest::get().uri("/openapi.json").insert_header((header::ACCEPT_ENCODING, "gzip")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(header_of(&res, "content-encoding").as_deref(), Some("gzip"));
}
