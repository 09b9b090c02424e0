//! Exports as an operator runs them: `forge serve` answering the API without job workers, and
//! `forge worker` processes writing the files. A 100,000-user export completes with every row,
//! its progress rising, and the worker's memory staying flat; an export whose worker is killed
//! with SIGKILL half-way is finished by another worker, every row once. The database is a fresh
//! PostgreSQL database when `TEST_DATABASE_URL` is set, a SQLite file otherwise.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "helpers panic on purpose: a failed test")]

mod support;

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use forge_migration::testing::TestDatabase;
use reqwest::{Client, StatusCode};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value as SqlValue};
use serde_json::{Value, json};
use support::{ADMIN_EMAIL, PASSWORD, Process};

/// The API only: exports are written by `forge worker` processes.
const API_ONLY: [(&str, &str); 1] = [("FORGE_JOBS__RUN_IN_SERVE", "false")];

/// Adds `count` members straight into the database (hashing 100,000 passwords through the API
/// would take hours), each with the bootstrap admin's password hash.
async fn add_users(database: &TestDatabase, count: usize) {
    let db = database.connection();
    let backend = db.get_database_backend();
    let p = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { format!("?{n}") };
    let hash_sql = format!("SELECT password_hash FROM users WHERE email = {}", p(1));
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, hash_sql, [ADMIN_EMAIL.into()]))
        .await
        .unwrap()
        .expect("the bootstrap admin");
    let hash: String = row.try_get("", "password_hash").unwrap();
    let now = Utc::now();
    for start in (0..count).step_by(500) {
        let end = (start + 500).min(count);
        let mut values: Vec<SqlValue> = Vec::new();
        let mut rows = Vec::new();
        for i in start..end {
            let n = values.len();
            rows.push(format!(
                "({}, {}, {}, {}, 'member', {}, true, false, {}, {}, 1)",
                p(n + 1),
                p(n + 2),
                p(n + 3),
                p(n + 4),
                p(n + 5),
                p(n + 6),
                p(n + 7)
            ));
            values.extend([
                uuid::Uuid::now_v7().into(),
                format!("user{i}@example.com").into(),
                format!("user{i}").into(),
                format!("user{i}").into(),
                hash.clone().into(),
                now.into(),
                now.into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO users (id, email, username, username_lower, role, password_hash, is_active, is_verified, \
             created_at, updated_at, version) VALUES {}",
            rows.join(", ")
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
    }
}

struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    async fn admin(server: &Process) -> Self {
        let client = Client::new();
        let response = client
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&json!({"email": ADMIN_EMAIL, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        Self { client, base: server.base.clone(), token: body["access_token"].as_str().unwrap().to_owned() }
    }

    async fn export_users(&self) -> String {
        let response = self
            .client
            .post(format!("{}/api/v1/exports", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"resource": "users", "format": "csv"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.unwrap();
        body["_links"]["self"]["href"].as_str().unwrap().to_owned()
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.client.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Follows the export until it completes, returning every percentage seen.
    async fn until_completed(&self, path: &str, within: Duration, mut on_progress: impl FnMut(&Value)) -> Value {
        let started = Instant::now();
        loop {
            let export = self.get(path).await;
            on_progress(&export);
            assert_ne!(export["status"], "failed", "{export}");
            if export["status"] == "completed" {
                return export;
            }
            assert!(started.elapsed() < within, "the export did not complete: {export}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The file's lines.
    async fn download(&self, export: &Value) -> Vec<String> {
        let href = export["_links"]["download"]["href"].as_str().unwrap();
        let response = self.client.get(format!("{}{href}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        assert_eq!(u64::try_from(text.len()).unwrap(), export["bytes"].as_u64().unwrap());
        text.split("\r\n").filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }
}

/// Asserts a header and then each of `users` plus the admin exactly once.
fn assert_every_row_once(lines: &[String], users: usize) {
    assert!(lines[0].starts_with("id,email,"), "{}", lines[0]);
    assert_eq!(lines.iter().filter(|l| l.starts_with("id,email,")).count(), 1, "one header");
    let ids: HashSet<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(lines.len() - 1, users + 1, "every user and the admin");
    assert_eq!(ids.len(), users + 1, "no row twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_100000_users_completes_with_every_row_while_the_workers_memory_stays_flat() {
    const USERS: usize = 100_000;
    let database = TestDatabase::new().await;
    let server = support::serve(database.url(), &API_ONLY).await;
    let api = Api::admin(&server).await;
    add_users(&database, USERS).await;

    let worker = support::worker(database.url(), &[("FORGE_JOBS__POLL_INTERVAL_MS", "50")]);
    // Settled and idle: the baseline.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = worker.rss_kib();
    assert!(baseline > 0, "the worker runs");
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (peak.clone(), sampling.clone(), worker.child.id());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(support::rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    let path = api.export_users().await;
    let mut percentages: Vec<u64> = Vec::new();
    let export = api
        .until_completed(&path, Duration::from_secs(600), |export| {
            percentages.push(export["progress"]["percentage"].as_u64().unwrap());
        })
        .await;
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();

    let total = u64::try_from(USERS + 1).unwrap();
    assert_eq!(export["progress"], json!({"current": total, "total": total, "percentage": 100}));
    assert!(percentages.windows(2).all(|w| w[0] <= w[1]), "progress never goes back: {percentages:?}");
    assert!(percentages.iter().any(|p| (1..100).contains(p)), "progress was seen on its way: {percentages:?}");
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    eprintln!("worker RSS: {baseline} KiB idle, {} KiB at the peak of the export (+{growth} KiB)", baseline + growth);
    assert!(growth < 32 * 1024, "the worker grew by {growth} KiB writing the export");

    assert_every_row_once(&api.download(&export).await, USERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_whose_worker_is_killed_half_way_is_finished_by_another_with_every_row_once() {
    const USERS: usize = 20_000;
    let database = TestDatabase::new().await;
    let mut settings = API_ONLY.to_vec();
    settings.push(("FORGE_JOBS__EXPORT_BATCH_SIZE", "100"));
    let server = support::serve(database.url(), &settings).await;
    let api = Api::admin(&server).await;
    add_users(&database, USERS).await;

    let worker_settings = [
        ("FORGE_JOBS__POLL_INTERVAL_MS", "50"),
        ("FORGE_JOBS__HEARTBEAT_SECS", "1"),
        ("FORGE_JOBS__EXPORT_BATCH_SIZE", "100"),
    ];
    let mut first = support::worker(database.url(), &worker_settings);
    let path = api.export_users().await;
    let started = Instant::now();
    let at_kill = loop {
        let export = api.get(&path).await;
        let current = export["progress"]["current"].as_u64().unwrap();
        if export["status"] == "running" && current >= 2_000 {
            break current;
        }
        assert_ne!(export["status"], "completed", "the export finished before the kill: raise USERS");
        assert!(started.elapsed() < Duration::from_secs(120), "the export did not start: {export}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.sigkill();
    let after_kill = api.get(&path).await;
    let stopped_at = after_kill["progress"]["current"].as_u64().unwrap();
    assert!(stopped_at < u64::try_from(USERS).unwrap(), "killed half-way: {after_kill}");
    assert!(stopped_at >= at_kill);

    // Another worker takes the job over once the first one's heartbeat has stopped.
    let _second = support::worker(database.url(), &worker_settings);
    let export = api.until_completed(&path, Duration::from_secs(300), |_| {}).await;
    let total = u64::try_from(USERS + 1).unwrap();
    assert_eq!(export["progress"]["current"], total, "{export}");
    assert_every_row_once(&api.download(&export).await, USERS);
}
