//! `spawn_app()` and typed helpers, so each test reads as the behaviour it checks.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use forge::Forge as Services;
use forge_application::common::Clock;
use forge_migration::testing::TestDatabase;
use forge_server::{Application, Overrides, Settings};
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use tempfile::TempDir;

/// A strong password that contains no generated username.
pub const PASSWORD: &str = "Vq7#mLp2!xZr-Tide";

/// A clock tests move forward instead of sleeping.
#[derive(Default)]
pub struct TestClock {
    offset: Mutex<Duration>,
}

impl TestClock {
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        // Microseconds, as the system clock gives and both databases store.
        (Utc::now() + *self.offset.lock().unwrap()).trunc_subsecs(6)
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<TestClock>,
    pub services: Services,
    _data_dir: TempDir,
    pub settings: Settings,
    pub query_stats: Arc<forge_infrastructure::QueryStats>,
    _database: TestDatabase,
}

/// A user the test registers; names are unique per call.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub email: String,
    pub username: String,
    pub password: String,
}

impl TestUser {
    pub fn generate() -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Self {
            email: format!("user-{}@example.com", &tag[..12]),
            username: format!("user_{}", &tag[..12]),
            password: PASSWORD.into(),
        }
    }

    pub fn body(&self) -> Value {
        json!({"email": self.email, "username": self.username, "password": self.password})
    }
}

/// A logged-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: TestUser,
    pub id: String,
    pub access_token: String,
    pub refresh_token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let database = TestDatabase::new().await;
    let data_dir = tempfile::tempdir().expect("a temporary data directory");
    let mut settings = Settings::default();
    settings.data_dir = data_dir.path().to_path_buf();
    settings.database.url = Some(database.url().to_owned());
    settings.database.max_connections = Some(5);
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = Some(2);
    settings.auth.jwt_secret = Some(SecretString::from("test-signing-key-0123456789abcdefghijklmnop"));
    // Tests register and log in far more often from 127.0.0.1 than a person would; request limits
    // are switched on where they are the subject (limits.rs). The lockout stays on everywhere.
    settings.rate_limit.enabled = false;
    // With TEST_REDIS_URL the whole suite runs on the Redis adapters (shared limits, the two-level
    // cache), each test under a prefix of its own.
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        settings.redis.url = Some(url);
        settings.redis.prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    }
    configure(&mut settings);

    let clock = Arc::new(TestClock::default());
    let application = Application::build(settings.clone(), Overrides { clock: Some(clock.clone()) })
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let services = application.services().clone();
    let query_stats = application.query_stats();
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestApp { address, client, clock, services, _data_dir: data_dir, settings, query_stats, _database: database }
}

impl TestApp {
    /// Another instance of the service over the same database, as after a restart or behind a
    /// load balancer. Returns its base address.
    pub async fn another_instance(&self) -> String {
        let application = Application::build(self.settings.clone(), Overrides { clock: Some(self.clock.clone()) })
            .await
            .expect("the second instance builds");
        let address = format!("http://127.0.0.1:{}", application.port());
        tokio::spawn(application.run_until_stopped());
        address
    }

    /// The server's data directory (embedded database, development key, mail files).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.settings.data_dir
    }

    /// Where the embedded mailer writes each message as an `.eml` file.
    pub fn mail_dir(&self) -> std::path::PathBuf {
        self.data_dir().join("mail")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn send_json(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send_json(reqwest::Method::POST, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send_json(reqwest::Method::PATCH, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.send_json(reqwest::Method::PUT, path, token, body).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn register(&self, user: &TestUser) -> Value {
        let response = self.post("/api/v1/auth/register", None, &user.body()).await;
        assert_eq!(response.status(), StatusCode::CREATED, "registration of {user:?}");
        response.json().await.unwrap()
    }

    pub async fn login(&self, user: &TestUser) -> Session {
        let response =
            self.post("/api/v1/auth/login", None, &json!({"email": user.email, "password": user.password})).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {user:?}");
        let body: Value = response.json().await.unwrap();
        session_from(user.clone(), &body)
    }

    /// A registered, logged-in member.
    pub async fn member(&self) -> Session {
        let user = TestUser::generate();
        self.register(&user).await;
        self.login(&user).await
    }

    /// A logged-in admin, created through the use cases as an operator would (`forge create-admin`).
    pub async fn admin(&self) -> Session {
        let user = TestUser::generate();
        self.services
            .users
            .create_admin(forge_application::users::NewAdminCommand {
                email: user.email.clone(),
                username: user.username.clone(),
                password: SecretString::from(user.password.clone()),
            })
            .await
            .expect("operator-created admin");
        self.login(&user).await
    }

    /// A logged-in user with `role`, created by an admin through the API.
    pub async fn user_with_role(&self, role: &str) -> Session {
        if role == "admin" {
            return self.admin().await;
        }
        let admin = self.admin().await;
        let user = TestUser::generate();
        let mut body = user.body();
        body["role"] = json!(role);
        let response = self.post("/api/v1/users", Some(&admin.access_token), &body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "admin creates a {role}");
        self.login(&user).await
    }
}

pub fn session_from(user: TestUser, body: &Value) -> Session {
    Session {
        user,
        id: body["user"]["id"].as_str().expect("user id").to_owned(),
        access_token: body["access_token"].as_str().expect("access token").to_owned(),
        refresh_token: body["refresh_token"].as_str().expect("refresh token").to_owned(),
    }
}

/// Asserts a problem document with `status` and `code`, and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let request_id = response.headers().get("x-request-id").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "problem code in {body}");
    assert_eq!(body["status"], status.as_u16());
    assert_eq!(body["request_id"].as_str(), request_id.as_deref(), "request id in body and header");
    body
}

/// The `field` names listed in a 422 problem.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}
