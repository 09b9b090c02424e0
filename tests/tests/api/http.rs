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

#[tokio::test]
async fn no_credentials_header_without_an_allowed_origin() {
    let app = spawn_app().await;
    let plain = app.client.get(app.url("/")).send().await.unwrap();
    assert!(plain.headers().get("access-control-allow-credentials").is_none());
    let refused = app.client.get(app.url("/")).header("origin", "https://evil.example.com").send().await.unwrap();
    assert!(refused.headers().get("access-control-allow-credentials").is_none());
    let allowed = app.client.get(app.url("/")).header("origin", "http://localhost:3000").send().await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn an_over_long_url_is_a_414_problem() {
    let app = spawn_app().await;
    let response = app.get(&format!("/api/v1/users?search={}", "a".repeat(20_000)), None).await;
    assert_problem(response, StatusCode::URI_TOO_LONG, "URI_TOO_LONG").await;
}

#[tokio::test]
async fn json_declared_in_another_charset_is_a_415_and_a_repeated_key_a_400() {
    let app = spawn_app().await;
    let user = crate::harness::TestUser::generate();
    let body = user.body().to_string();
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json; charset=utf-16")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE").await;

    let twice = format!(
        r#"{{"email": "{}", "username": "{}", "password": "{}", "username": "admin"}}"#,
        user.email, user.username, user.password
    );
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(twice)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
    assert!(problem["detail"].as_str().unwrap().contains("same key twice"), "{problem}");
}

/// Reads an HTTP/1.1 answer to its end (the server closes the connection after it) and returns
/// its head (lower-cased) and body.
async fn raw_exchange(address: &str, request: &str) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // A guard against a hang, not a timing assertion: the connection must end.
    tokio::time::timeout(std::time::Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection after answering CONNECT")
        .unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head");
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    (head, answer[split + 4..].to_vec())
}

#[tokio::test]
async fn the_405_to_connect_is_framed_by_its_length_and_not_compressed() {
    let app = spawn_app().await;
    let (head, body) = raw_exchange(
        &app.address,
        "CONNECT /api/v1/users HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("http/1.1 405"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert!(!head.contains("content-encoding"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .expect("a content-length")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(body.len(), length);
    let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "METHOD_NOT_ALLOWED");
}
