//! Several `forge serve` processes over one database, with and without Redis, as a load balancer
//! would spread a client's requests over them. The database is a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set, a SQLite file otherwise; Redis is a `redis-server` of each test's
//! own, so that a test can stop it.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "helpers panic on purpose: a failed test")]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use forge_infrastructure::redis::testing::PrivateRedis;
use forge_migration::testing::TestDatabase;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

mod support;

use support::{ADMIN_EMAIL, PASSWORD, Process as Server};

/// Starts `forge serve` over `database`, with Redis at `redis` if any, and waits until it is ready.
async fn serve(database: &TestDatabase, redis: Option<&str>, prefix: &str, extra: &[(&str, &str)]) -> Server {
    let mut settings = vec![("FORGE_REDIS__PREFIX", prefix)];
    if let Some(url) = redis {
        settings.push(("REDIS_URL", url));
    }
    settings.extend_from_slice(extra);
    support::serve(database.url(), &settings).await
}

/// Two instances over one database, sharing a Redis when `redis` is given.
async fn two(database: &TestDatabase, redis: Option<&str>, extra: &[(&str, &str)]) -> (Server, Server) {
    let prefix = format!("it{}", uuid::Uuid::new_v4().simple());
    let a = serve(database, redis, &prefix, extra).await;
    let b = serve(database, redis, &prefix, extra).await;
    (a, b)
}

struct Api {
    client: Client,
}

impl Api {
    fn new() -> Self {
        Self { client: Client::new() }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let (status, body, _) = self.send_versioned(request).await;
        (status, body)
    }

    /// The status, the body, and the version the `ETag` ("<version>-<digest>") names.
    async fn send_versioned(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value, Option<i64>) {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let version = response
            .headers()
            .get("etag")
            .and_then(|tag| tag.to_str().ok())
            .and_then(|tag| tag.trim_matches('"').split_once('-'))
            .and_then(|(version, _)| version.parse().ok());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, version)
    }

    async fn login(&self, server: &Server, email: &str) -> (String, String) {
        let (status, body) = self
            .send(
                self.client
                    .post(format!("{}/api/v1/auth/login", server.base))
                    .json(&json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login of {email}: {body}");
        (body["access_token"].as_str().unwrap().to_owned(), body["user"]["id"].as_str().unwrap().to_owned())
    }

    /// A new member, registered through `server`, logged in: (token, user id).
    async fn member(&self, server: &Server) -> (String, String) {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let email = format!("m{}@example.com", &tag[..12]);
        let (status, body) = self
            .send(self.client.post(format!("{}/api/v1/auth/register", server.base)).json(&json!({
                "email": email, "username": format!("m_{}", &tag[..12]), "password": PASSWORD
            })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.login(server, &email).await
    }

    async fn get(&self, server: &Server, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(self.client.get(format!("{}{path}", server.base)).bearer_auth(token)).await
    }

    async fn patch(&self, server: &Server, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.client.patch(format!("{}{path}", server.base)).bearer_auth(token).json(body)).await
    }

    async fn post(&self, server: &Server, path: &str, token: &str) -> StatusCode {
        self.client.post(format!("{}{path}", server.base)).bearer_auth(token).send().await.unwrap().status()
    }
}

/// What every deployment must do, whether Redis is there or not.
async fn sessions_roles_and_deactivation_apply_on_the_other_instance_at_once(a: &Server, b: &Server) {
    let api = Api::new();
    let (admin, _) = api.login(a, ADMIN_EMAIL).await;
    let (token, id) = api.member(a).await;
    for _ in 0..3 {
        let (status, me) = api.get(b, "/api/v1/users/me", &token).await;
        assert_eq!((status, me["role"].as_str()), (StatusCode::OK, Some("member")));
    }

    let (status, _) = api.patch(a, &format!("/api/v1/users/{id}"), &admin, &json!({"role": "manager"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.get(b, "/api/v1/users/me", &token).await.1["role"], "manager", "the role change is seen on B");

    let (status, _) = api.patch(b, &format!("/api/v1/users/{id}"), &admin, &json!({"is_active": false})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        api.get(a, "/api/v1/users/me", &token).await.0,
        StatusCode::UNAUTHORIZED,
        "deactivated on B, refused on A"
    );
    let (status, _) = api.patch(a, &format!("/api/v1/users/{id}"), &admin, &json!({"is_active": true})).await;
    assert_eq!(status, StatusCode::OK);

    let (other, _) = api.member(b).await;
    assert_eq!(api.get(a, "/api/v1/users/me", &other).await.0, StatusCode::OK);
    assert_eq!(api.post(a, "/api/v1/auth/logout", &other).await, StatusCode::NO_CONTENT);
    assert_eq!(api.get(b, "/api/v1/users/me", &other).await.0, StatusCode::UNAUTHORIZED, "ended on A, refused on B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_every_write_applies_on_the_other_instance_at_once() {
    let redis = PrivateRedis::start();
    let database = TestDatabase::new().await;
    let (a, b) = two(&database, Some(&redis.url()), &[]).await;
    sessions_roles_and_deactivation_apply_on_the_other_instance_at_once(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_an_ended_session_and_a_role_change_still_apply_on_the_other_instance_at_once() {
    let database = TestDatabase::new().await;
    let (a, b) = two(&database, None, &[]).await;
    sessions_roles_and_deactivation_apply_on_the_other_instance_at_once(&a, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_updates_over_both_instances_read_back_as_the_last_one_from_both() {
    let redis = PrivateRedis::start();
    let database = TestDatabase::new().await;
    let (a, b) = two(&database, Some(&redis.url()), &[]).await;
    let api = Arc::new(Api::new());
    let (token, _) = api.member(&a).await;
    // Both instances cache the account first.
    assert_eq!(api.get(&a, "/api/v1/users/me", &token).await.0, StatusCode::OK);
    assert_eq!(api.get(&b, "/api/v1/users/me", &token).await.0, StatusCode::OK);

    let servers = Arc::new([a, b]);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..20 {
        let (api, servers, token) = (api.clone(), servers.clone(), token.clone());
        tasks.spawn(async move {
            loop {
                let request = api
                    .client
                    .patch(format!("{}/api/v1/users/me", servers[n % 2].base))
                    .bearer_auth(&token)
                    .json(&json!({"full_name": format!("Name {n}")}));
                let (status, body, version) = api.send_versioned(request).await;
                match status {
                    StatusCode::OK => return (version.unwrap(), body["full_name"].clone()),
                    // A lost race is answered, not hidden: the client tries again.
                    StatusCode::CONFLICT => continue,
                    other => panic!("update {n}: {other} {body}"),
                }
            }
        });
    }
    let mut written = tasks.join_all().await;
    written.sort_by_key(|(version, _)| *version);
    let versions: Vec<i64> = written.iter().map(|(version, _)| *version).collect();
    assert_eq!(versions.windows(2).filter(|w| w[1] == w[0] + 1).count(), 19, "twenty updates, twenty versions");
    let (last_version, last_name) = written.last().cloned().unwrap();
    for server in servers.iter() {
        let request = api.client.get(format!("{}/api/v1/users/me", server.base)).bearer_auth(&token);
        let (status, read, version) = api.send_versioned(request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (version, &read["full_name"]),
            (Some(last_version), &last_name),
            "the last write, on {}",
            server.base
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limit_counts_the_requests_to_both_instances() {
    let redis = PrivateRedis::start();
    let database = TestDatabase::new().await;
    let limits = [("FORGE_RATE_LIMIT__ENABLED", "true"), ("FORGE_RATE_LIMIT__REFRESH_PER_IP", "6/60s")];
    let (a, b) = two(&database, Some(&redis.url()), &limits).await;
    let client = Client::new();
    let mut statuses = Vec::new();
    for n in 0..10 {
        let server = if n % 2 == 0 { &a } else { &b };
        let response = client
            .post(format!("{}/api/v1/auth/refresh", server.base))
            .json(&json!({"refresh_token": "not-a-token"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(limited, 4, "six requests over both instances, then refused: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stopped_under_read_load_fails_no_read_and_the_caches_are_coherent_once_it_is_back() {
    let mut redis = PrivateRedis::start();
    let database = TestDatabase::new().await;
    let (a, b) = two(&database, Some(&redis.url()), &[]).await;
    let api = Arc::new(Api::new());
    let (admin, _) = api.login(&a, ADMIN_EMAIL).await;
    let (token, id) = api.member(&a).await;
    let servers = Arc::new([a, b]);

    let stop = Arc::new(AtomicBool::new(false));
    let (done, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut readers = tokio::task::JoinSet::new();
    for reader in 0..4 {
        let (api, servers, token, stop, done, failed) =
            (api.clone(), servers.clone(), token.clone(), stop.clone(), done.clone(), failed.clone());
        readers.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = api.get(&servers[reader % 2], "/api/v1/users/me", &token).await;
                done.fetch_add(1, Ordering::Relaxed);
                if status != StatusCode::OK {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // A write while Redis is down: both instances read it.
    let (status, _) = api.patch(&servers[0], &format!("/api/v1/users/{id}"), &admin, &json!({"role": "manager"})).await;
    assert_eq!(status, StatusCode::OK);
    for server in servers.iter() {
        assert_eq!(api.get(server, "/api/v1/users/me", &token).await.1["role"], "manager");
    }
    let (status, ready) = api.send(api.client.get(format!("{}/health/ready", servers[1].base))).await;
    assert_eq!((status, ready["checks"]["cache"]["status"].as_str()), (StatusCode::OK, Some("degraded")));
    redis.start_again();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    readers.join_all().await;
    assert!(done.load(Ordering::Relaxed) > 100, "the readers kept reading");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no authenticated read failed while Redis was away");

    // Back on Redis: a write through B is read by A at once.
    let (status, _) = api.patch(&servers[1], &format!("/api/v1/users/{id}"), &admin, &json!({"role": "admin"})).await;
    assert_eq!(status, StatusCode::OK);
    for server in servers.iter() {
        assert_eq!(api.get(server, "/api/v1/users/me", &token).await.1["role"], "admin");
    }
    let (status, ready) = api.send(api.client.get(format!("{}/health/ready", servers[0].base))).await;
    assert_eq!((status, ready["checks"]["cache"]["status"].as_str()), (StatusCode::OK, Some("up")));
}
