//! `Idempotency-Key` on the creating POSTs: a repeat replays the first response and creates
//! nothing; a reused key with another body is a 422; a key in use is a 409; keys expire.

use chrono::Duration;
use forge_application::idempotency::{Begin, IdempotencyCaller, IdempotencyKey};
use forge_presentation::middleware::idempotency::fingerprint;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestUser, assert_problem, error_fields, spawn_app};

async fn post_with_key(app: &TestApp, path: &str, token: Option<&str>, key: &str, body: &Value) -> Response {
    let mut request = app.client.post(app.url(path)).header("idempotency-key", key).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn user_count(app: &TestApp, token: &str) -> u64 {
    let page: Value = app.get("/api/v1/users?limit=1", Some(token)).await.json().await.unwrap();
    page["total"].as_u64().unwrap()
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_repeated_creation_replays_the_first_response_and_creates_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let body = TestUser::generate().body();

    let first = post_with_key(&app, "/api/v1/users", Some(token), "create-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let (location, etag) = (header(&first, "location"), header(&first, "etag"));
    let first_body = first.bytes().await.unwrap();
    let count = user_count(&app, token).await;

    let again = post_with_key(&app, "/api/v1/users", Some(token), "create-1", &body).await;

    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(header(&again, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(header(&again, "location"), location);
    assert_eq!(header(&again, "etag"), etag);
    assert_eq!(header(&again, "content-type").as_deref(), Some("application/json"));
    assert_eq!(again.bytes().await.unwrap(), first_body, "the very same body");
    assert_eq!(user_count(&app, token).await, count, "nothing new was created");
}

#[tokio::test]
async fn the_key_with_a_different_body_is_a_422_and_creates_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let created = post_with_key(&app, "/api/v1/users", Some(token), "create-1", &TestUser::generate().body()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let count = user_count(&app, token).await;

    let other = post_with_key(&app, "/api/v1/users", Some(token), "create-1", &TestUser::generate().body()).await;

    let problem = assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["Idempotency-Key"]);
    assert_eq!(problem["errors"][0]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(user_count(&app, token).await, count);
}

#[tokio::test]
async fn a_key_whose_request_is_still_running_is_a_409_until_it_is_released() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let body = TestUser::generate().body();
    // Another instance is in the middle of this very request.
    let caller = IdempotencyCaller::User(admin.id.parse::<uuid::Uuid>().unwrap().into());
    let key = IdempotencyKey::parse("create-1").unwrap();
    let print = fingerprint("POST", "/api/v1/users", &serde_json::to_vec(&body).unwrap());
    let Begin::Proceed(claim) = app.services.idempotency.begin(&caller, &key, &print).await.unwrap() else {
        panic!("the key was free")
    };
    let count = user_count(&app, token).await;

    let running = post_with_key(&app, "/api/v1/users", Some(token), "create-1", &body).await;

    assert_eq!(header(&running, "retry-after").as_deref(), Some("1"));
    assert_problem(running, StatusCode::CONFLICT, "CONFLICT").await;
    assert_eq!(user_count(&app, token).await, count);
    app.services.idempotency.release(&claim).await.unwrap();
    let after = post_with_key(&app, "/api/v1/users", Some(token), "create-1", &body).await;
    assert_eq!(after.status(), StatusCode::CREATED, "a released key runs the request");
}

#[tokio::test]
async fn different_callers_with_the_same_key_are_independent() {
    let app = spawn_app().await;
    let first = app.admin().await;
    let second = app.admin().await;
    let count = user_count(&app, &first.access_token).await;

    for admin in [&first, &second] {
        let response =
            post_with_key(&app, "/api/v1/users", Some(&admin.access_token), "same-key", &TestUser::generate().body())
                .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(header(&response, "idempotent-replayed"), None);
    }
    assert_eq!(user_count(&app, &first.access_token).await, count + 2);
}

#[tokio::test]
async fn keys_expire_after_a_day() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let body = TestUser::generate().body();
    assert_eq!(post_with_key(&app, "/api/v1/users", Some(token), "k", &body).await.status(), StatusCode::CREATED);

    // Each step logs in again: access tokens live 15 minutes.
    app.clock.advance(Duration::hours(23));
    let later = app.login(&admin.user).await;
    let replayed = post_with_key(&app, "/api/v1/users", Some(&later.access_token), "k", &body).await;
    assert_eq!(header(&replayed, "idempotent-replayed").as_deref(), Some("true"), "still kept after 23 h");

    app.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let admin = app.login(&admin.user).await;
    let token = admin.access_token.as_str();
    let fresh = post_with_key(&app, "/api/v1/users", Some(token), "k", &TestUser::generate().body()).await;
    assert_eq!(fresh.status(), StatusCode::CREATED, "an expired key is free for a new request");
    assert_eq!(header(&fresh, "idempotent-replayed"), None);

    app.clock.advance(Duration::days(2));
    assert!(app.services.idempotency.purge_expired().await.unwrap() >= 1, "expired keys are purged");
}

#[tokio::test]
async fn a_repeated_registration_replays_by_client_address_instead_of_a_409() {
    let app = spawn_app().await;
    let user = TestUser::generate();

    let first = post_with_key(&app, "/api/v1/auth/register", None, "register-1", &user.body()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body: Value = first.json().await.unwrap();
    let again = post_with_key(&app, "/api/v1/auth/register", None, "register-1", &user.body()).await;

    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(header(&again, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    let without_key = app.post("/api/v1/auth/register", None, &user.body()).await;
    assert_problem(without_key, StatusCode::CONFLICT, "EMAIL_TAKEN").await;
}

#[tokio::test]
async fn a_repeated_bulk_creation_replays_and_creates_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let items = json!([TestUser::generate().body(), TestUser::generate().body()]);

    let first = post_with_key(&app, "/api/v1/users/bulk", Some(token), "bulk-1", &items).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.bytes().await.unwrap();
    let count = user_count(&app, token).await;
    let again = post_with_key(&app, "/api/v1/users/bulk", Some(token), "bulk-1", &items).await;

    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(header(&again, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(again.bytes().await.unwrap(), first_body);
    assert_eq!(user_count(&app, token).await, count);
}

#[tokio::test]
async fn a_bad_key_is_a_422_and_an_unauthenticated_request_a_401() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let body = TestUser::generate().body();

    let long = "k".repeat(256);
    for key in ["has space", long.as_str()] {
        let response = post_with_key(&app, "/api/v1/users", Some(&admin.access_token), key, &body).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
        assert_eq!(error_fields(&problem), ["Idempotency-Key"]);
    }
    let anonymous = post_with_key(&app, "/api/v1/users", None, "k", &body).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn projects_members_and_api_keys_are_created_once_per_key() {
    let app = spawn_app().await;
    let owner = app.member().await;
    let token = owner.access_token.as_str();
    let count = |path: &'static str| {
        let app = &app;
        async move {
            let page: Value = app.get(path, Some(token)).await.json().await.unwrap();
            page["total"].as_u64().unwrap()
        }
    };

    let project = json!({"name": "Apollo"});
    let first = post_with_key(&app, "/api/v1/projects", Some(token), "project-1", &project).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let id = first.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let again = post_with_key(&app, "/api/v1/projects", Some(token), "project-1", &project).await;
    assert_eq!(again.status(), StatusCode::CREATED, "a replay, not a 409 for the taken name");
    assert_eq!(header(&again, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(count("/api/v1/projects").await, 1);

    let viewer = app.member().await;
    let members = format!("/api/v1/projects/{id}/members");
    let member = json!({"user_id": viewer.id, "role": "viewer"});
    for _ in 0..2 {
        let added = post_with_key(&app, &members, Some(token), "member-1", &member).await;
        assert_eq!(added.status(), StatusCode::CREATED, "the second is a replay, not a 409");
    }

    let key = json!({"name": "nightly"});
    let first = post_with_key(&app, "/api/v1/api-keys", Some(token), "key-1", &key).await;
    let again = post_with_key(&app, "/api/v1/api-keys", Some(token), "key-1", &key).await;
    assert_eq!((first.status(), again.status()), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(header(&again, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(count("/api/v1/api-keys").await, 1, "one key, however often the request was sent");
}
