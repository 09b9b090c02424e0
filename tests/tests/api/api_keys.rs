//! API keys end to end: shown once, listed by prefix, both header forms, scopes, revocation,
//! expiry, owners that can no longer act, and who may revoke.

use chrono::{Duration, SecondsFormat, Utc};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Session, TestApp, assert_problem, error_fields, spawn_app};

/// How a key is presented.
#[derive(Clone, Copy, Debug)]
enum Form {
    Bearer,
    Header,
}

/// Creates a key for `session` from `body`, and returns the answer.
async fn create(app: &TestApp, session: &Session, body: &Value) -> Value {
    let response = app.post("/api/v1/api-keys", Some(&session.access_token), body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "creating a key");
    response.json().await.unwrap()
}

/// A key of `session` with `scopes`: `(id, key)`.
async fn key_with(app: &TestApp, session: &Session, scopes: &[&str]) -> (String, String) {
    let created = create(app, session, &json!({"name": "automation", "scopes": scopes})).await;
    (created["id"].as_str().unwrap().to_owned(), created["key"].as_str().unwrap().to_owned())
}

async fn with_key(app: &TestApp, method: Method, path: &str, key: &str, form: Form, body: Option<&Value>) -> Response {
    let mut request = app.client.request(method, app.url(path));
    request = match form {
        Form::Bearer => request.bearer_auth(key),
        Form::Header => request.header("x-api-key", key),
    };
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn me_with(app: &TestApp, key: &str) -> Response {
    with_key(app, Method::GET, "/api/v1/users/me", key, Form::Header, None).await
}

async fn listed_keys(app: &TestApp, session: &Session) -> Value {
    let response = app.get("/api/v1/api-keys", Some(&session.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_new_key_is_shown_once_and_only_its_prefix_is_listed() {
    let app = spawn_app().await;
    let ada = app.member().await;

    let response = app.post("/api/v1/api-keys", Some(&ada.access_token), &json!({"name": "  CI deploys "})).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("sk_") && key.len() == 46, "{key}");
    assert!(key[3..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "base64url: {key}");
    assert_eq!(created["prefix"], &key[..11]);
    assert_eq!(created["name"], "CI deploys");
    assert_eq!(created["scopes"], json!(["read", "write"]), "both scopes by default");
    assert_eq!(created["expires_at"], Value::Null);
    assert_eq!(location, format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap()));

    let list = listed_keys(&app, &ada).await;
    assert_eq!(list["total"], 1);
    let item = &list["items"][0];
    assert_eq!(item["id"], created["id"]);
    assert_eq!(item["prefix"], &key[..11]);
    assert!(item.get("key").is_none());
    assert!(!list.to_string().contains(&key[11..]), "the secret part never appears again");
    let single: Value = app.get(&location, Some(&ada.access_token)).await.json().await.unwrap();
    assert_eq!(single["prefix"], &key[..11]);
    assert!(!single.to_string().contains(&key[11..]));
    let other = app.member().await;
    assert_eq!(listed_keys(&app, &other).await["total"], 0, "a list shows the caller's keys only");
}

#[tokio::test]
async fn a_key_authenticates_its_owner_in_either_header() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let (_, key) = key_with(&app, &ada, &["read"]).await;

    for form in [Form::Bearer, Form::Header] {
        let response = with_key(&app, Method::GET, "/api/v1/users/me", &key, form, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{form:?}");
        let me: Value = response.json().await.unwrap();
        assert_eq!(me["id"], ada.id.as_str(), "{form:?}");
    }
}

#[tokio::test]
async fn a_read_key_reads_but_every_write_is_forbidden_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_, key) = key_with(&app, &admin, &["read"]).await;
    let member = app.member().await;

    assert_eq!(me_with(&app, &key).await.status(), StatusCode::OK);
    let users = with_key(&app, Method::GET, "/api/v1/users", &key, Form::Bearer, None).await;
    assert_eq!(users.status(), StatusCode::OK);
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/users".to_owned(),
            Some(json!({"email": "x@example.com", "username": "xx_x", "password": "Vq7#mLp2!xZr-Tide"})),
        ),
        (Method::PATCH, "/api/v1/users/me".to_owned(), Some(json!({"full_name": "Changed"}))),
        (Method::DELETE, format!("/api/v1/users/{}", member.id), None),
    ] {
        let response = with_key(&app, method.clone(), &path, &key, Form::Header, body.as_ref()).await;
        assert_eq!(
            response.headers()["www-authenticate"].to_str().unwrap(),
            r#"Bearer error="insufficient_scope", scope="write""#
        );
        assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    let me: Value = me_with(&app, &key).await.json().await.unwrap();
    assert_eq!(me["full_name"], Value::Null);
    assert_eq!(app.get("/api/v1/users/me", Some(&member.access_token)).await.status(), StatusCode::OK, "not deleted");
}

#[tokio::test]
async fn a_write_key_writes_and_a_write_only_key_cannot_read() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let (_, both) = key_with(&app, &ada, &["read", "write"]).await;
    let (_, write_only) = key_with(&app, &ada, &["write"]).await;

    let patched =
        with_key(&app, Method::PATCH, "/api/v1/users/me", &both, Form::Bearer, Some(&json!({"full_name": "Ada"})))
            .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let pushed = with_key(
        &app,
        Method::PATCH,
        "/api/v1/users/me",
        &write_only,
        Form::Header,
        Some(&json!({"full_name": "Ada L"})),
    )
    .await;
    assert_eq!(pushed.status(), StatusCode::OK);
    assert_problem(me_with(&app, &write_only).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_very_next_request() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let (id, key) = key_with(&app, &ada, &["read"]).await;
    assert_eq!(me_with(&app, &key).await.status(), StatusCode::OK);

    let response = app.delete(&format!("/api/v1/api-keys/{id}"), Some(&ada.access_token)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(me_with(&app, &key).await, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
    assert_eq!(listed_keys(&app, &ada).await["total"], 0, "revoked keys are not listed");
    let again = app.delete(&format!("/api/v1/api-keys/{id}"), Some(&ada.access_token)).await;
    assert_problem(again, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_key_stops_working_at_its_expiry() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let expires_at = (Utc::now() + Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let created = create(&app, &ada, &json!({"name": "short-lived", "expires_at": expires_at})).await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(created["expires_at"], expires_at.as_str());

    app.clock.advance(Duration::minutes(59));
    assert_eq!(me_with(&app, key).await.status(), StatusCode::OK);
    app.clock.advance(Duration::minutes(2));

    let response = me_with(&app, key).await;
    assert_eq!(response.headers()["www-authenticate"].to_str().unwrap(), r#"Bearer error="invalid_token""#);
    assert_problem(response, StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED").await;
}

#[tokio::test]
async fn the_keys_of_a_deleted_or_deactivated_user_stop_working_on_the_next_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let deleted = app.member().await;
    let deactivated = app.member().await;
    let (_, deleted_key) = key_with(&app, &deleted, &["read"]).await;
    let (_, deactivated_key) = key_with(&app, &deactivated, &["read"]).await;
    assert_eq!(me_with(&app, &deleted_key).await.status(), StatusCode::OK);

    let response = app.delete(&format!("/api/v1/users/{}", deleted.id), Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app
        .patch(&format!("/api/v1/users/{}", deactivated.id), Some(&admin.access_token), &json!({"is_active": false}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_problem(me_with(&app, &deleted_key).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    assert_problem(me_with(&app, &deactivated_key).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn an_admin_revokes_anyones_key_and_a_member_gets_404_for_keys_not_its_own() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ada = app.member().await;
    let grace = app.member().await;
    let (ada_key_id, ada_key) = key_with(&app, &ada, &["read"]).await;
    let (grace_key_id, grace_key) = key_with(&app, &grace, &["read"]).await;

    let by_member = app.delete(&format!("/api/v1/api-keys/{grace_key_id}"), Some(&ada.access_token)).await;
    assert_problem(by_member, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let read_by_member = app.get(&format!("/api/v1/api-keys/{grace_key_id}"), Some(&ada.access_token)).await;
    assert_problem(read_by_member, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(me_with(&app, &grace_key).await.status(), StatusCode::OK, "still works");

    let read_by_admin = app.get(&format!("/api/v1/api-keys/{ada_key_id}"), Some(&admin.access_token)).await;
    assert_eq!(read_by_admin.status(), StatusCode::OK);
    let by_admin = app.delete(&format!("/api/v1/api-keys/{ada_key_id}"), Some(&admin.access_token)).await;
    assert_eq!(by_admin.status(), StatusCode::NO_CONTENT);
    assert_problem(me_with(&app, &ada_key).await, StatusCode::UNAUTHORIZED, "TOKEN_REVOKED").await;
}

#[tokio::test]
async fn an_api_key_cannot_create_list_or_revoke_keys() {
    let app = spawn_app().await;
    let ada = app.admin().await;
    let (id, key) = key_with(&app, &ada, &["read", "write"]).await;

    let created =
        with_key(&app, Method::POST, "/api/v1/api-keys", &key, Form::Bearer, Some(&json!({"name": "another"}))).await;
    assert_problem(created, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let listed = with_key(&app, Method::GET, "/api/v1/api-keys", &key, Form::Header, None).await;
    assert_problem(listed, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let revoked = with_key(&app, Method::DELETE, &format!("/api/v1/api-keys/{id}"), &key, Form::Header, None).await;
    assert_problem(revoked, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(listed_keys(&app, &ada).await["total"], 1, "nothing was created or revoked");
}

#[tokio::test]
async fn invalid_keys_and_bad_creation_bodies_are_refused() {
    let app = spawn_app().await;
    let ada = app.member().await;

    let response = app
        .post(
            "/api/v1/api-keys",
            Some(&ada.access_token),
            &json!({"name": "", "scopes": ["read", "admin"], "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["name", "scopes", "expires_at"]);
    let response = app.post("/api/v1/api-keys", Some(&ada.access_token), &json!({"name": "x", "scopes": []})).await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let response = app.post("/api/v1/api-keys", Some(&ada.access_token), &json!({"name": "x", "key": "sk_mine"})).await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(listed_keys(&app, &ada).await["total"], 0, "nothing was created");

    let fake = format!("sk_{}", "A".repeat(43));
    assert_problem(me_with(&app, &fake).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let both = app
        .client
        .get(app.url("/api/v1/users/me"))
        .bearer_auth(&ada.access_token)
        .header("x-api-key", &fake)
        .send()
        .await
        .unwrap();
    assert_problem(both, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn last_used_at_is_recorded_at_most_once_a_minute() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let (_, key) = key_with(&app, &ada, &["read"]).await;
    let last_used = || async { listed_keys(&app, &ada).await["items"][0]["last_used_at"].clone() };
    assert_eq!(last_used().await, Value::Null);

    assert_eq!(me_with(&app, &key).await.status(), StatusCode::OK);
    let first = last_used().await;
    assert!(first.is_string(), "{first}");

    app.clock.advance(Duration::seconds(30));
    assert_eq!(me_with(&app, &key).await.status(), StatusCode::OK);
    assert_eq!(last_used().await, first, "not written again within a minute");

    app.clock.advance(Duration::seconds(31));
    assert_eq!(me_with(&app, &key).await.status(), StatusCode::OK);
    let later = last_used().await;
    let at = |v: &Value| v.as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap();
    assert!(at(&later) > at(&first), "{later} after {first}");
}

#[tokio::test]
async fn the_key_list_is_paginated_and_sorted() {
    let app = spawn_app().await;
    let ada = app.member().await;
    for name in ["charlie", "alpha", "bravo"] {
        create(&app, &ada, &json!({"name": name})).await;
    }

    let response = app.get("/api/v1/api-keys?sort=name&order=asc&limit=2", Some(&ada.access_token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["link"].to_str().unwrap().contains(r#"rel="next""#));
    let page: Value = response.json().await.unwrap();
    let names: Vec<&str> = page["items"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha", "bravo"]);
    assert_eq!((page["total"].as_u64(), page["pages"].as_u64()), (Some(3), Some(2)));
    let bad = app.get("/api/v1/api-keys?sort=digest", Some(&ada.access_token)).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
}
