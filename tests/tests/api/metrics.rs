//! `GET /metrics`: not served unless configured, refused without the token, Prometheus text
//! that parses, counters that move with the requests made, and a dashboard and alert rules that
//! name only metrics the server exports.

use std::collections::{BTreeMap, BTreeSet};

use forge_infrastructure::redis::testing::PrivateRedis;
use forge_migration::testing::TestDatabase;
use forge_server::{Application, Overrides};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::harness::{TestApp, TestUser, spawn_app, spawn_app_with};

const TOKEN: &str = "scrape-token-0123456789";

/// One sample: its name and labels, and its value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// What a scrape declared and gave.
struct Scrape {
    /// Names with a `# TYPE` line, and their type.
    types: BTreeMap<String, String>,
    samples: Samples,
}

impl Scrape {
    /// The value of the sample `name` whose labels include `labels`, summed over the others.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, l), _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, v)| v)
            .sum()
    }

    /// Every sample name the server can give: each declared name, with a histogram's series.
    fn exported_names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.samples.keys().map(|(n, _)| n.clone()).collect();
        for (name, kind) in &self.types {
            names.insert(name.clone());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
        names
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the Prometheus text format (0.0.4), failing the test on any line that is not in it.
fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape { types: BTreeMap::new(), samples: BTreeMap::new() };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
            assert!(is_name(name), "bad metric name in {line:?}");
            assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "bad type in {line:?}");
            scrape.types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(rest.split(' ').next().is_some_and(is_name), "bad HELP line {line:?}");
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                let mut labels = BTreeMap::new();
                let mut rest = body;
                while !rest.is_empty() {
                    let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line:?}"));
                    assert!(is_name(key), "bad label name in {line:?}");
                    let mut value = String::new();
                    let mut chars = after.char_indices();
                    let end = loop {
                        match chars.next() {
                            Some((_, '\\')) => value.push(chars.next().map(|(_, c)| c).unwrap_or_default()),
                            Some((i, '"')) => break i,
                            Some((_, c)) => value.push(c),
                            None => panic!("unterminated label value in {line:?}"),
                        }
                    };
                    labels.insert(key.to_owned(), value);
                    rest = after[end + 1..].strip_prefix(',').unwrap_or(&after[end + 1..]);
                }
                (name, labels)
            }
        };
        assert!(is_name(name), "bad metric name in {line:?}");
        assert!(scrape.samples.insert((name.to_owned(), labels), value).is_none(), "duplicate series {line:?}");
    }
    scrape
}

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.get("/metrics", Some(TOKEN)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    parse(&response.text().await.unwrap())
}

async fn with_token() -> TestApp {
    spawn_app_with(|s| s.metrics.token = Some(SecretString::from(TOKEN))).await
}

#[tokio::test]
async fn metrics_are_not_served_unless_configured() {
    let app = spawn_app().await;
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_refuse_a_caller_without_the_token() {
    let app = with_token().await;
    for token in [None, Some("wrong-token-0123456789")] {
        let response = app.get("/metrics", token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = response.text().await.unwrap();
        assert!(!body.contains("forge_"), "{body}");
    }
}

#[tokio::test]
async fn counters_move_with_the_requests_made() {
    let app = with_token().await;
    let live = [("route", "/health/live"), ("method", "GET"), ("status_class", "2xx")];
    let before = scrape(&app).await;
    for _ in 0..3 {
        assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
    }
    let user = TestUser::generate();
    app.register(&user).await;
    app.login(&user).await;
    let refused =
        app.post("/api/v1/auth/login", None, &json!({"email": user.email, "password": "not-the-password-1"})).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    app.get(&format!("/api/v1/users/{}", uuid::Uuid::new_v4()), None).await;

    let after = scrape(&app).await;
    assert_eq!(after.value("forge_http_requests_total", &live) - before.value("forge_http_requests_total", &live), 3.0);
    assert_eq!(
        after.value("forge_http_request_duration_seconds_count", &live)
            - before.value("forge_http_request_duration_seconds_count", &live),
        3.0
    );
    let users = [("route", "/api/v1/users/{id}"), ("status_class", "4xx")];
    assert_eq!(after.value("forge_http_requests_total", &users), 1.0, "counted by route template, not path");
    assert_eq!(after.value("forge_logins_total", &[("outcome", "success")]), 1.0);
    assert_eq!(after.value("forge_logins_total", &[("outcome", "invalid_credentials")]), 1.0);
    assert!(after.value("forge_db_statements_total", &[]) > before.value("forge_db_statements_total", &[]));
    assert!(after.value("forge_db_statement_duration_seconds_count", &[]) > 0.0);
    assert!(after.value("forge_password_hashing_completed_total", &[]) >= 2.0, "registration and logins hash");
    assert_eq!(after.value("forge_http_requests_in_flight", &[]), 1.0, "the scrape itself");
    assert_eq!(after.value("forge_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert!(after.value("forge_db_pool_max_connections", &[]) >= 1.0);
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let database = TestDatabase::new().await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = forge_server::Settings::default();
    settings.data_dir = data_dir.path().to_path_buf();
    settings.database.url = Some(database.url().to_owned());
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = Some(1);
    settings.auth.jwt_secret = Some(SecretString::from("test-signing-key-0123456789abcdefghijklmnop"));
    settings.metrics.bind = Some("127.0.0.1:0".into());
    let application = Application::build(settings, Overrides::default()).await.unwrap();
    let (api, metrics) = (application.port(), application.metrics_port().unwrap());
    assert_ne!(api, metrics);
    tokio::spawn(application.run_until_stopped());

    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("http://127.0.0.1:{api}/health/live")).send().await.unwrap().status(), 200);
    let on_api = client.get(format!("http://127.0.0.1:{api}/metrics")).send().await.unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND, "not on the API's listener");
    let own = client.get(format!("http://127.0.0.1:{metrics}/metrics")).send().await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    let scrape = parse(&own.text().await.unwrap());
    let live = [("route", "/health/live"), ("status_class", "2xx")];
    assert_eq!(scrape.value("forge_http_requests_total", &live), 1.0);
    let other = client.get(format!("http://127.0.0.1:{metrics}/health/live")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND, "the metrics listener serves /metrics only");
}

/// The `forge_*` names in a file of `deploy/`.
fn forge_names(path: &str) -> BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("forge_") {
        let preceded_by_name = rest[..start].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let tail = &rest[start..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        if !preceded_by_name && end > "forge_".len() {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn deploy_names_only_exported_metrics() {
    // With Redis, so that the cache's metrics are exported too (a Redis of the test's own when
    // the suite runs without one).
    let private = std::env::var("TEST_REDIS_URL").is_err().then(PrivateRedis::start);
    let app = spawn_app_with(|s| {
        if let Some(redis) = &private {
            s.redis.url = Some(redis.url());
        }
        s.metrics.token = Some(SecretString::from(TOKEN));
        s.rate_limit.enabled = true;
        s.rate_limit.login_per_ip = "3/60s".into();
    })
    .await;
    // A read through the cache, so that its families have series (one of the three logins).
    let ada = app.member().await;
    assert_eq!(app.get("/api/v1/users/me", Some(&ada.access_token)).await.status(), StatusCode::OK);
    // Traffic of every kind a labelled family counts, so that each family has a series.
    app.get("/health/live", None).await;
    let wrong = json!({"email": "nobody@example.com", "password": "not-the-password-1"});
    for expected in [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS] {
        assert_eq!(app.post("/api/v1/auth/login", None, &wrong).await.status(), expected);
    }
    scrape(&app).await;
    let exported = scrape(&app).await.exported_names();
    for file in ["deploy/prometheus/alerts.yml", "deploy/grafana/dashboards/forge.json"] {
        let named = forge_names(file);
        assert!(named.len() >= 8, "{file} names {named:?}");
        let unknown: Vec<_> = named.difference(&exported).collect();
        assert!(unknown.is_empty(), "{file} names metrics the server does not export: {unknown:?}");
    }
}

#[tokio::test]
async fn the_jobs_a_request_caused_show_in_the_job_metrics() {
    let app = with_token().await;
    app.register(&TestUser::generate()).await;
    app.wait_until_mail_delivered().await;
    // The job table is counted every few seconds; the durations as each attempt ends.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let scrape = loop {
        let scrape = scrape(&app).await;
        if scrape.value("forge_jobs", &[("queue", "mail"), ("state", "succeeded")]) >= 1.0 {
            break scrape;
        }
        assert!(std::time::Instant::now() < deadline, "the mail job was not counted");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(scrape.types.get("forge_job_duration_seconds").map(String::as_str), Some("histogram"));
    assert_eq!(
        scrape.value("forge_job_duration_seconds_count", &[("queue", "mail"), ("outcome", "succeeded")]),
        1.0,
        "one attempt, delivered"
    );
    assert_eq!(scrape.value("forge_jobs", &[("queue", "mail"), ("state", "dead")]), 0.0);
    assert!(scrape.value("forge_outbox_lag_seconds", &[]) >= 0.0);
    assert_eq!(scrape.types.get("forge_outbox_lag_seconds").map(String::as_str), Some("gauge"));
}
