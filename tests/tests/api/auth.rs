//! Registration, login, the token form, refresh rotation and logout.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestUser, assert_problem, error_fields, session_from, spawn_app, spawn_app_with};

#[tokio::test]
async fn register_returns_201_with_the_user_and_its_location() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let mut body = user.body();
    body["full_name"] = json!("Ada Lovelace");

    let response = app.post("/api/v1/auth/register", None, &body).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/users/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["email"], user.email);
    assert_eq!(created["username"], user.username);
    assert_eq!(created["full_name"], "Ada Lovelace");
    assert_eq!(created["role"], "member");
    assert_eq!(created["is_active"], true);
    assert_eq!(created["is_verified"], false);
    assert!(created["last_login_at"].is_null());
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    assert!(!created.to_string().contains("argon2"));
    let id = uuid::Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    let session = app.login(&user).await;
    let stored: Value = app.get("/api/v1/users/me", Some(&session.access_token)).await.json().await.unwrap();
    assert_eq!(stored["created_at"], created["created_at"], "the response shows what was stored");
}

#[tokio::test]
async fn register_returns_409_when_the_email_is_taken_in_any_case() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let mut again = TestUser::generate();
    again.email = user.email.to_uppercase();

    let response = app.post("/api/v1/auth/register", None, &again.body()).await;

    assert_problem(response, StatusCode::CONFLICT, "EMAIL_TAKEN").await;
}

#[tokio::test]
async fn register_returns_409_when_the_username_is_taken_in_another_case() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let mut again = TestUser::generate();
    again.username = user.username.to_uppercase();

    let response = app.post("/api/v1/auth/register", None, &again.body()).await;

    assert_problem(response, StatusCode::CONFLICT, "USERNAME_TAKEN").await;
}

#[tokio::test]
async fn register_lists_every_invalid_field_at_once() {
    let app = spawn_app().await;

    let response = app
        .post(
            "/api/v1/auth/register",
            None,
            &json!({"email": "not-an-email", "username": "a", "password": "short", "full_name": "x\u{0}y"}),
        )
        .await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "full_name", "password", "username"]);
    assert_eq!(problem["detail"], "4 fields are invalid");
    let password = problem["errors"].as_array().unwrap().iter().find(|e| e["field"] == "password").unwrap();
    assert_eq!(password["code"], "TOO_SHORT");
}

#[tokio::test]
async fn register_refuses_a_common_or_personal_password() {
    let app = spawn_app().await;
    let mut user = TestUser::generate();
    user.password = "Password123!".into();
    let problem = assert_problem(
        app.post("/api/v1/auth/register", None, &user.body()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "TOO_COMMON");

    user.password = format!("X9!{}", user.username);
    let problem = assert_problem(
        app.post("/api/v1/auth/register", None, &user.body()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "CONTAINS_PERSONAL_INFO");
}

#[tokio::test]
async fn register_refuses_a_role_in_the_body_and_creates_nothing() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    let mut body = user.body();
    body["role"] = json!("admin");
    body["is_verified"] = json!(true);

    let response = app.post("/api/v1/auth/register", None, &body).await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["is_verified", "role"]);
    assert!(problem["errors"].as_array().unwrap().iter().all(|e| e["code"] == "NOT_ALLOWED"));
    let created = app.register(&user).await;
    assert_eq!(created["role"], "member");
}

#[tokio::test]
async fn twenty_parallel_registrations_with_one_email_create_exactly_one_account() {
    let app = spawn_app().await;
    let email = TestUser::generate().email;
    let attempts = (0..20).map(|_| {
        let mut user = TestUser::generate();
        user.email.clone_from(&email);
        let app = &app;
        async move { app.post("/api/v1/auth/register", None, &user.body()).await.status() }
    });

    let statuses = futures::future::join_all(attempts).await;

    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 19, "{statuses:?}");
}

#[tokio::test]
async fn registration_can_be_switched_off() {
    let app = spawn_app_with(|s| s.auth.allow_registration = false).await;

    let response = app.post("/api/v1/auth/register", None, &TestUser::generate().body()).await;

    assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

#[tokio::test]
async fn login_works_by_email_and_by_username_in_any_case() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;

    let by_email = app
        .post("/api/v1/auth/login", None, &json!({"email": user.email.to_uppercase(), "password": user.password}))
        .await;
    let by_username = app
        .post("/api/v1/auth/login", None, &json!({"username": user.username.to_uppercase(), "password": user.password}))
        .await;

    for response in [by_email, by_username] {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 900);
        assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
        assert!(body["refresh_token"].as_str().unwrap().len() >= 43);
        assert_eq!(body["user"]["email"], user.email);
        assert!(!body["user"]["last_login_at"].is_null());
    }
}

#[tokio::test]
async fn login_failures_are_indistinguishable() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let disabled = TestUser::generate();
    let created = app.register(&disabled).await;
    let admin = app.admin().await;
    let response = app
        .patch(
            &format!("/api/v1/users/{}", created["id"].as_str().unwrap()),
            Some(&admin.access_token),
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut bodies = Vec::new();
    for (email, password) in [
        ("nobody@example.com", user.password.as_str()),
        (user.email.as_str(), "Wrong-Password-42!"),
        (disabled.email.as_str(), disabled.password.as_str()),
    ] {
        let response = app.post("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await;
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        let mut body = assert_problem(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[1], bodies[2]);
}

#[tokio::test]
async fn login_without_an_identifier_is_a_validation_error() {
    let app = spawn_app().await;
    let response = app.post("/api/v1/auth/login", None, &json!({"password": "whatever"})).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["code"], "REQUIRED");
}

#[tokio::test]
async fn the_token_endpoint_accepts_the_oauth2_password_form() {
    let app = spawn_app().await;
    let user = TestUser::generate();
    app.register(&user).await;

    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type", "password"), ("username", user.username.as_str()), ("password", user.password.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    let me = app.get("/api/v1/users/me", body["access_token"].as_str()).await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_token_endpoint_refuses_other_grant_types() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .form(&[("grant_type", "client_credentials"), ("username", "x"), ("password", "y")])
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
}

#[tokio::test]
async fn refresh_rotates_the_pair_and_the_old_refresh_token_stops_working() {
    let app = spawn_app().await;
    let session = app.member().await;

    let response = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;

    assert_eq!(response.status(), StatusCode::OK);
    let renewed = session_from(session.user.clone(), &response.json::<Value>().await.unwrap());
    assert_ne!(renewed.refresh_token, session.refresh_token);
    assert_eq!(app.get("/api/v1/users/me", Some(&renewed.access_token)).await.status(), StatusCode::OK);
    let again = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_problem(again, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let session = app.member().await;
    let response = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    let renewed = session_from(session.user.clone(), &response.json::<Value>().await.unwrap());

    let reuse = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_problem(reuse, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;

    let newest = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": renewed.refresh_token})).await;
    assert_problem(newest, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    let me = app.get("/api/v1/users/me", Some(&renewed.access_token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}

#[tokio::test]
async fn a_refresh_grace_window_lets_parallel_refreshes_succeed() {
    let app = spawn_app_with(|s| s.auth.refresh_reuse_grace_secs = 10).await;
    let session = app.member().await;
    let body = json!({"refresh_token": session.refresh_token});

    let (a, b) =
        tokio::join!(app.post("/api/v1/auth/refresh", None, &body), app.post("/api/v1/auth/refresh", None, &body));

    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(b.status(), StatusCode::OK);
    app.clock.advance(Duration::seconds(11));
    let late = app.post("/api/v1/auth/refresh", None, &body).await;
    assert_problem(late, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}

#[tokio::test]
async fn an_unknown_refresh_token_is_refused() {
    let app = spawn_app().await;
    let response = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": "not-a-token"})).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn a_refresh_token_expires_after_the_idle_timeout() {
    let app = spawn_app().await;
    let session = app.member().await;
    app.clock.advance(Duration::days(8));
    let response = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;
}

#[tokio::test]
async fn an_access_token_expires_after_fifteen_minutes() {
    let app = spawn_app().await;
    let session = app.member().await;
    app.clock.advance(Duration::minutes(14));
    assert_eq!(app.get("/api/v1/users/me", Some(&session.access_token)).await.status(), StatusCode::OK);
    app.clock.advance(Duration::minutes(2));
    let response = app.get("/api/v1/users/me", Some(&session.access_token)).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = spawn_app().await;
    let session = app.member().await;
    let other = app.login(&session.user).await;

    let response = app.post("/api/v1/auth/logout", Some(&session.access_token), &json!({})).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let me = app.get("/api/v1/users/me", Some(&session.access_token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    let refresh = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    assert_eq!(
        app.get("/api/v1/users/me", Some(&other.access_token)).await.status(),
        StatusCode::OK,
        "other sessions live on"
    );
}

#[tokio::test]
async fn a_revoked_session_stays_revoked_after_a_restart() {
    let app = spawn_app().await;
    let session = app.member().await;
    let response = app.post("/api/v1/auth/logout", Some(&session.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let restarted = app.another_instance().await;

    let response =
        app.client.get(format!("{restarted}/api/v1/users/me")).bearer_auth(&session.access_token).send().await.unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}
