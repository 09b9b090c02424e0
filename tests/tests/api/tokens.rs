//! Forged, tampered and misplaced credentials.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{assert_problem, spawn_app};

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn a_request_without_credentials_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/users/me", None).await;
    assert_eq!(response.headers()["www-authenticate"].to_str().unwrap().split(' ').next(), Some("Bearer"));
    assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn the_access_token_carries_the_documented_claims() {
    let app = spawn_app().await;
    let session = app.member().await;
    let parts: Vec<&str> = session.access_token.split('.').collect();
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    assert_eq!(header["alg"], "HS256");
    for claim in ["iss", "aud", "sub", "sid", "jti", "iat", "exp", "typ"] {
        assert!(claims.get(claim).is_some(), "claim {claim} in {claims}");
    }
    assert_eq!(claims["sub"], session.id.as_str());
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
}

#[tokio::test]
async fn a_token_whose_subject_was_changed_is_refused() {
    let app = spawn_app().await;
    let victim = app.member().await;
    let attacker = app.member().await;
    let parts: Vec<&str> = attacker.access_token.split('.').collect();
    let mut claims = decode_part(parts[1]);
    claims["sub"] = json!(victim.id);
    let forged = format!("{}.{}.{}", parts[0], encode_part(&claims), parts[2]);

    let response = app.get("/api/v1/users/me", Some(&forged)).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let app = spawn_app().await;
    let session = app.member().await;
    let parts: Vec<&str> = session.access_token.split('.').collect();
    let header = encode_part(&json!({"alg": "none", "typ": "JWT"}));
    for forged in [format!("{header}.{}.", parts[1]), format!("{header}.{}", parts[1])] {
        let response = app.get("/api/v1/users/me", Some(&forged)).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
}

#[tokio::test]
async fn a_token_with_a_flipped_signature_is_refused() {
    let app = spawn_app().await;
    let session = app.member().await;
    let mut token = session.access_token.clone();
    let last = token.pop().unwrap();
    token.push(if last == 'A' { 'B' } else { 'A' });
    let response = app.get("/api/v1/users/me", Some(&token)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_token_from_another_installation_is_refused() {
    let app = spawn_app().await;
    let other = crate::harness::spawn_app_with(|s| {
        s.auth.jwt_secret = Some(secrecy::SecretString::from("another-installation-key-abcdefghijklmnop"));
    })
    .await;
    let session = other.member().await;
    let response = app.get("/api/v1/users/me", Some(&session.access_token)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = spawn_app().await;
    let session = app.member().await;
    let response = app.get("/api/v1/users/me", Some(&session.refresh_token)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_token_in_the_query_string_is_refused() {
    let app = spawn_app().await;
    let session = app.member().await;
    let response = app.get(&format!("/api/v1/users/me?access_token={}", session.access_token), None).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
}

#[tokio::test]
async fn garbage_in_the_authorization_header_is_refused() {
    let app = spawn_app().await;
    for value in ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Bearer \u{7f}"] {
        let Ok(response) = app.client.get(app.url("/api/v1/users/me")).header("authorization", value).send().await
        else {
            continue;
        };
        assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
}
