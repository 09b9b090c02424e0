//! The caller's sessions (list, end one, end all), idle timeout, and the refresh-token cookie.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Session, TestApp, TestUser, assert_problem, session_from, spawn_app, spawn_app_with};

/// The `sid` claim of an access token: the session it belongs to.
fn sid_of(access_token: &str) -> String {
    let claims = access_token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

async fn sessions_of(app: &TestApp, session: &Session) -> Vec<Value> {
    let response = app.get("/api/v1/auth/sessions", Some(&session.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn refresh(app: &TestApp, refresh_token: &str) -> Response {
    app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": refresh_token})).await
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_session_list_shows_each_live_session_and_marks_the_current_one() {
    let app = spawn_app().await;
    let first = app.member().await;
    let second = app.login(&first.user).await;

    let items = sessions_of(&app, &second).await;

    assert_eq!(items.len(), 2);
    let current: Vec<(&str, bool)> =
        items.iter().map(|s| (s["id"].as_str().unwrap(), s["current"].as_bool().unwrap())).collect();
    let (second_sid, first_sid) = (sid_of(&second.access_token), sid_of(&first.access_token));
    assert_eq!(current, [(second_sid.as_str(), true), (first_sid.as_str(), false)], "newest first");
    for item in &items {
        assert_eq!(item["ip"], "127.0.0.1");
        assert_eq!(time(&item["expires_at"]) - time(&item["last_used_at"]), Duration::days(7), "idle end");
        let mut keys: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["created_at", "current", "expires_at", "id", "ip", "last_used_at", "user_agent"]);
    }
}

#[tokio::test]
async fn ending_one_session_stops_its_tokens_on_the_next_request_and_spares_the_others() {
    let app = spawn_app().await;
    let keeper = app.member().await;
    let ended = app.login(&keeper.user).await;

    let response =
        app.delete(&format!("/api/v1/auth/sessions/{}", sid_of(&ended.access_token)), Some(&keeper.access_token)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let me = app.get("/api/v1/users/me", Some(&ended.access_token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    assert_problem(refresh(&app, &ended.refresh_token).await, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    assert_eq!(app.get("/api/v1/users/me", Some(&keeper.access_token)).await.status(), StatusCode::OK);
    let listed: Vec<String> =
        sessions_of(&app, &keeper).await.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, [sid_of(&keeper.access_token)]);
    let again =
        app.delete(&format!("/api/v1/auth/sessions/{}", sid_of(&ended.access_token)), Some(&keeper.access_token)).await;
    assert_problem(again, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_user_may_end_its_current_session() {
    let app = spawn_app().await;
    let session = app.member().await;

    let response = app
        .delete(&format!("/api/v1/auth/sessions/{}", sid_of(&session.access_token)), Some(&session.access_token))
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let me = app.get("/api/v1/users/me", Some(&session.access_token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}

#[tokio::test]
async fn another_users_session_or_an_unknown_id_is_not_found_and_nothing_ends() {
    let app = spawn_app().await;
    let victim = app.member().await;
    let other = app.member().await;
    let admin = app.admin().await;

    for caller in [&other, &admin] {
        let path = format!("/api/v1/auth/sessions/{}", sid_of(&victim.access_token));
        assert_problem(app.delete(&path, Some(&caller.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    let unknown = format!("/api/v1/auth/sessions/{}", uuid::Uuid::now_v7());
    assert_problem(app.delete(&unknown, Some(&other.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let malformed = app.delete("/api/v1/auth/sessions/not-a-uuid", Some(&other.access_token)).await;
    assert_problem(malformed, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    assert_eq!(app.get("/api/v1/users/me", Some(&victim.access_token)).await.status(), StatusCode::OK);
    assert_eq!(refresh(&app, &victim.refresh_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_including_the_current_one() {
    let app = spawn_app().await;
    let first = app.member().await;
    let second = app.login(&first.user).await;
    let third = app.login(&first.user).await;
    let bystander = app.member().await;

    let response = app.post("/api/v1/auth/logout-all", Some(&second.access_token), &json!({})).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for session in [&first, &second, &third] {
        let me = app.get("/api/v1/users/me", Some(&session.access_token)).await;
        assert_problem(me, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
        assert_problem(refresh(&app, &session.refresh_token).await, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    }
    assert_eq!(app.get("/api/v1/users/me", Some(&bystander.access_token)).await.status(), StatusCode::OK);
    let fresh = app.login(&first.user).await;
    assert_eq!(sessions_of(&app, &fresh).await.len(), 1, "a new login works and is the only session");
}

#[tokio::test]
async fn the_idle_timeout_counts_from_the_last_refresh_and_then_ends_the_session() {
    let app = spawn_app().await;
    let mut session = app.member().await;
    for _ in 0..2 {
        app.clock.advance(Duration::days(6));
        let response = refresh(&app, &session.refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK, "a refresh within the idle timeout keeps the session");
        session = session_from(session.user.clone(), &response.json::<Value>().await.unwrap());
    }

    app.clock.advance(Duration::days(7) + Duration::seconds(1));

    assert_problem(refresh(&app, &session.refresh_token).await, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;
    let fresh = app.login(&session.user).await;
    let listed: Vec<String> =
        sessions_of(&app, &fresh).await.iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(listed, [sid_of(&fresh.access_token)], "the idle session is no longer listed");
}

#[tokio::test]
async fn an_api_key_cannot_manage_sessions() {
    let app = spawn_app().await;
    let session = app.member().await;
    let created: Value =
        app.post("/api/v1/api-keys", Some(&session.access_token), &json!({"name": "ci"})).await.json().await.unwrap();
    let key = created["key"].as_str().unwrap();

    let list = app.client.get(app.url("/api/v1/auth/sessions")).header("x-api-key", key).send().await.unwrap();
    assert_problem(list, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let all = app.client.post(app.url("/api/v1/auth/logout-all")).bearer_auth(key).send().await.unwrap();
    assert_problem(all, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let one = app
        .client
        .delete(app.url(&format!("/api/v1/auth/sessions/{}", sid_of(&session.access_token))))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_problem(one, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(app.get("/api/v1/users/me", Some(&session.access_token)).await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// The refresh-token cookie

const COOKIE: &str = "__Host-forge_refresh";

/// The `Set-Cookie` headers of a response.
fn set_cookies(response: &Response) -> Vec<String> {
    response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// The refresh token a response sets, and the cookie's attributes (lower-cased, sorted).
fn refresh_cookie(response: &Response) -> (String, Vec<String>) {
    let [cookie] = <[String; 1]>::try_from(set_cookies(response)).expect("exactly one Set-Cookie");
    let mut parts = cookie.split(';').map(str::trim);
    let (name, value) = parts.next().unwrap().split_once('=').unwrap();
    assert_eq!(name, COOKIE);
    let mut attributes: Vec<String> = parts.map(str::to_ascii_lowercase).collect();
    attributes.sort_unstable();
    (value.to_owned(), attributes)
}

async fn cookie_login(app: &TestApp, user: &TestUser) -> (Value, String) {
    let response = app.post("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (token, _) = refresh_cookie(&response);
    (response.json().await.unwrap(), token)
}

async fn cookie_refresh(app: &TestApp, token: &str, requested_with: Option<&str>) -> Response {
    let mut request = app.client.post(app.url("/api/v1/auth/refresh")).header("cookie", format!("{COOKIE}={token}"));
    if let Some(value) = requested_with {
        request = request.header("x-requested-with", value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn in_cookie_mode_login_and_the_token_form_set_a_host_only_cookie_instead_of_the_body_field() {
    let app = spawn_app_with(|s| s.auth.refresh_cookie = true).await;
    let user = TestUser::generate();
    app.register(&user).await;

    let response = app.post("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;

    assert_eq!(response.status(), StatusCode::OK);
    let (token, attributes) = refresh_cookie(&response);
    assert_eq!(token.len(), 43, "a 256-bit token");
    assert_eq!(attributes, ["httponly", "max-age=604800", "path=/", "samesite=strict", "secure"]);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(
        app.get("/api/v1/users/me", Some(body["access_token"].as_str().unwrap())).await.status(),
        StatusCode::OK
    );

    let form = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type", "password"), ("username", user.username.as_str()), ("password", user.password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(refresh_cookie(&form).1, attributes);
    assert!(form.json::<Value>().await.unwrap().get("refresh_token").is_none());
}

#[tokio::test]
async fn in_cookie_mode_refresh_reads_the_cookie_and_requires_x_requested_with() {
    let app = spawn_app_with(|s| s.auth.refresh_cookie = true).await;
    let user = TestUser::generate();
    app.register(&user).await;
    let (_, token) = cookie_login(&app, &user).await;

    for requested_with in [None, Some("")] {
        let refused = cookie_refresh(&app, &token, requested_with).await;
        assert!(set_cookies(&refused).is_empty());
        let problem = assert_problem(refused, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        assert!(problem["detail"].as_str().unwrap().contains("X-Requested-With"), "{problem}");
    }

    let response = cookie_refresh(&app, &token, Some("XMLHttpRequest")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let (next, attributes) = refresh_cookie(&response);
    assert_ne!(next, token);
    assert!(attributes.contains(&"httponly".to_owned()) && attributes.contains(&"secure".to_owned()));
    let body: Value = response.json().await.unwrap();
    assert!(body.get("refresh_token").is_none());
    assert_eq!(
        app.get("/api/v1/users/me", Some(body["access_token"].as_str().unwrap())).await.status(),
        StatusCode::OK
    );

    // The used token again: the session ends, and the answer clears the cookie.
    let reuse = cookie_refresh(&app, &token, Some("XMLHttpRequest")).await;
    let (cleared, attributes) = refresh_cookie(&reuse);
    assert_eq!(cleared, "");
    assert!(attributes.contains(&"max-age=0".to_owned()), "{attributes:?}");
    assert_problem(reuse, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    let newest = cookie_refresh(&app, &next, Some("XMLHttpRequest")).await;
    assert_problem(newest, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;

    let missing = app.client.post(app.url("/api/v1/auth/refresh")).header("x-requested-with", "fetch").send().await;
    assert_problem(missing.unwrap(), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn in_cookie_mode_logout_and_logout_all_clear_the_cookie() {
    let app = spawn_app_with(|s| s.auth.refresh_cookie = true).await;
    let user = TestUser::generate();
    app.register(&user).await;

    for path in ["/api/v1/auth/logout", "/api/v1/auth/logout-all"] {
        let (body, token) = cookie_login(&app, &user).await;
        let response = app.post(path, Some(body["access_token"].as_str().unwrap()), &json!({})).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        let (value, attributes) = refresh_cookie(&response);
        assert_eq!(value, "", "{path}");
        assert!(attributes.contains(&"max-age=0".to_owned()), "{path}: {attributes:?}");
        assert_problem(cookie_refresh(&app, &token, Some("fetch")).await, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED")
            .await;
    }
}

#[tokio::test]
async fn in_cookie_mode_the_grace_window_lets_parallel_refreshes_with_one_cookie_succeed() {
    let app = spawn_app_with(|s| {
        s.auth.refresh_cookie = true;
        s.auth.refresh_reuse_grace_secs = 10;
    })
    .await;
    let user = TestUser::generate();
    app.register(&user).await;
    let (_, token) = cookie_login(&app, &user).await;

    let (a, b) = tokio::join!(cookie_refresh(&app, &token, Some("fetch")), cookie_refresh(&app, &token, Some("fetch")));

    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    assert_ne!(refresh_cookie(&a).0, refresh_cookie(&b).0, "each gets a token of its own");
    app.clock.advance(Duration::seconds(11));
    assert_problem(cookie_refresh(&app, &token, Some("fetch")).await, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}

#[tokio::test]
async fn without_a_grace_window_a_second_refresh_with_one_token_ends_the_session() {
    let app = spawn_app().await;
    let session = app.member().await;
    assert_eq!(refresh(&app, &session.refresh_token).await.status(), StatusCode::OK);

    assert_problem(refresh(&app, &session.refresh_token).await, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    let me = app.get("/api/v1/users/me", Some(&session.access_token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}
