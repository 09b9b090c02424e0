//! The password-hashing pool seen from outside: a full queue answers 503 `SERVER_BUSY` with
//! `Retry-After` and changes nothing; every hash, bulk creation included, runs on the pool, never
//! more at once than it has threads.

use futures::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestApp, TestUser, assert_problem, spawn_app_with};

/// A server whose pool has one thread and room for one waiting hash.
async fn tiny_pool() -> TestApp {
    spawn_app_with(|s| {
        s.hashing.threads = Some(1);
        s.hashing.queue_capacity = Some(1);
    })
    .await
}

/// Checks a refusal: 503 `SERVER_BUSY` with a `Retry-After` of whole seconds, at least one.
async fn assert_busy(response: Response) {
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let seconds: u64 = retry_after.expect("Retry-After on a busy refusal").parse().unwrap();
    assert!(seconds >= 1);
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY").await;
}

/// Whether an admin finds an account with `username`.
async fn exists(app: &TestApp, admin_token: &str, username: &str) -> bool {
    let page: Value =
        app.get(&format!("/api/v1/users?search={username}"), Some(admin_token)).await.json().await.unwrap();
    page["total"].as_u64().unwrap() > 0
}

#[tokio::test]
async fn registrations_past_a_full_hashing_queue_get_503_server_busy_and_create_nothing() {
    let app = tiny_pool().await;
    let users: Vec<TestUser> = (0..12).map(|_| TestUser::generate()).collect();

    // Twelve at once, for one thread and one place in the queue.
    let bodies: Vec<Value> = users.iter().map(TestUser::body).collect();
    let responses = join_all(bodies.iter().map(|body| app.post("/api/v1/auth/register", None, body))).await;

    let mut refused = Vec::new();
    for (user, response) in users.iter().zip(responses) {
        match response.status() {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_busy(response).await;
                refused.push(user.clone());
            }
            other => panic!("registration of {user:?} answered {other}"),
        }
    }
    assert!(!refused.is_empty(), "twelve registrations at once cannot all fit in a pool of one plus one");
    let admin = app.admin().await;
    for user in &refused {
        assert!(!exists(&app, &admin.access_token, &user.username).await, "{user:?} was created");
        // Nothing half-made blocks the same registration later.
        app.register(user).await;
    }
    let stats = app.services.hashing_stats();
    assert!(stats.rejected >= refused.len() as u64, "{stats:?}");
}

#[tokio::test]
async fn logins_past_a_full_hashing_queue_get_503_server_busy_and_open_no_session() {
    let app = tiny_pool().await;
    let user = TestUser::generate();
    app.register(&user).await;
    let credentials = json!({"email": user.email, "password": user.password});

    let responses = join_all((0..12).map(|_| app.post("/api/v1/auth/login", None, &credentials))).await;

    let mut tokens = Vec::new();
    let mut refused = 0;
    for response in responses {
        match response.status() {
            StatusCode::OK => {
                let body: Value = response.json().await.unwrap();
                tokens.push(body["access_token"].as_str().unwrap().to_owned());
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_busy(response).await;
                refused += 1;
            }
            other => panic!("login answered {other}"),
        }
    }
    assert!(refused >= 1, "twelve logins at once cannot all fit in a pool of one plus one");
    assert!(!tokens.is_empty());
    let sessions: Value = app.get("/api/v1/auth/sessions", Some(&tokens[0])).await.json().await.unwrap();
    let listed = sessions["items"].as_array().unwrap().len();
    assert_eq!(listed, tokens.len(), "one session per successful login, none for a refused one");
    // A refusal is not a failed login: the account is neither slowed nor locked.
    app.login(&user).await;
}

#[tokio::test]
async fn unknown_accounts_are_verified_on_the_pool_too() {
    let app = tiny_pool().await;
    let before = app.services.hashing_stats().completed;

    let response =
        app.post("/api/v1/auth/login", None, &json!({"email": "nobody-here@example.com", "password": PASSWORD})).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    assert_eq!(app.services.hashing_stats().completed, before + 1, "the dummy verification ran on the pool");
}

#[tokio::test]
async fn bulk_creation_hashes_on_the_pool_never_more_at_once_than_its_threads() {
    let app = spawn_app_with(|s| s.hashing.threads = Some(2)).await;
    let admin = app.admin().await;
    let before = app.services.hashing_stats().completed;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let items: Vec<Value> = (0..6)
        .map(|i| json!({"email": format!("pool-{tag}-{i}@example.com"), "username": format!("pool_{tag}_{i}"), "password": PASSWORD}))
        .collect();

    let response = app.post("/api/v1/users/bulk", Some(&admin.access_token), &json!(items)).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let stats = app.services.hashing_stats();
    assert_eq!(stats.completed, before + 6, "one hash per account, each on the pool: {stats:?}");
    assert!(stats.peak_in_flight <= 2, "{stats:?}");
}

#[tokio::test]
async fn concurrent_logins_never_run_more_hashes_at_once_than_the_pool_has_threads() {
    let app = spawn_app_with(|s| s.hashing.threads = Some(2)).await;
    let user = TestUser::generate();
    app.register(&user).await;

    let logins = join_all((0..10).map(|_| app.login(&user))).await;

    assert_eq!(logins.len(), 10, "the default queue holds them all");
    let stats = app.services.hashing_stats();
    assert!(stats.peak_in_flight <= 2, "{stats:?}");
    assert_eq!(stats.rejected, 0, "{stats:?}");
}
