//! HTTP mechanics every endpoint shares: problem documents for framework errors, request ids,
//! security headers, CORS.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn invalid_json_is_a_400_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_a_400_problem() {
    let app = spawn_app().await;
    let response =
        app.post("/api/v1/auth/register", None, &json!({"email": 42, "username": "abc", "password": "x"})).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE").await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_problem() {
    let app = spawn_app().await;
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/nothing-here", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_malformed_id_reads_as_not_found() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    assert_problem(
        app.get("/api/v1/users/not-a-uuid", Some(&admin.access_token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn an_unsupported_method_is_a_405_problem_with_allow() {
    let app = spawn_app().await;
    for method in [Method::DELETE, Method::TRACE] {
        let response = app.client.request(method, app.url("/api/v1/auth/register")).send().await.unwrap();
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        assert!(allow.contains("POST"), "{allow}");
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_client_value_is_kept() {
    let app = spawn_app().await;
    let kept = app.client.get(app.url("/health/live")).header("x-request-id", "client-id-42").send().await.unwrap();
    assert_eq!(kept.headers()["x-request-id"], "client-id-42");
    let replaced =
        app.client.get(app.url("/health/live")).header("x-request-id", "x".repeat(129)).send().await.unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    let error = app.get("/nope", None).await;
    assert!(error.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for response in [app.get("/", None).await, app.get("/nope", None).await] {
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert!(h.contains_key("referrer-policy"));
    }
}

#[tokio::test]
async fn only_configured_origins_are_allowed_by_cors() {
    let app = spawn_app_with(|s| s.cors.origins = vec!["https://admin.example.com".into()]).await;
    for origin in ["http://localhost:3000", "https://admin.example.com"] {
        let response = app
            .client
            .request(Method::OPTIONS, app.url("/api/v1/users/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
    }
    let response = app.client.get(app.url("/")).header("origin", "https://evil.example.com").send().await.unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
}
