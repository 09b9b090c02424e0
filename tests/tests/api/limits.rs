//! Request limits per client address and per account, and the lockout after repeated failed
//! logins: 429s with `RateLimit-*` and `Retry-After`, windows that end as the test clock moves,
//! `X-Forwarded-For` believed only from a trusted proxy, locks an admin lifts, and unknown
//! accounts that answer exactly like known ones.

use chrono::Duration;
use forge_server::Settings;
use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::harness::{TestApp, TestUser, assert_problem, spawn_app_with};

const WRONG: &str = "Wrong-Password-42!";

/// Request limits on, every limit roomy unless the test narrows one.
fn limits_on(settings: &mut Settings) {
    settings.rate_limit.enabled = true;
    for limit in [
        &mut settings.rate_limit.login_per_ip,
        &mut settings.rate_limit.login_per_account,
        &mut settings.rate_limit.refresh_per_ip,
        &mut settings.rate_limit.register_per_ip,
        &mut settings.rate_limit.password_forgot_per_ip,
    ] {
        *limit = "1000/60s".into();
    }
}

/// A lockout quick to reach: waits after 2 failures, locks after 4.
fn quick_lockout(settings: &mut Settings) {
    settings.rate_limit.lockout_delay_after = 2;
    settings.rate_limit.lockout_after = 4;
    settings.rate_limit.lockout_base_delay_secs = 1;
    settings.rate_limit.lockout_max_delay_secs = 60;
    settings.rate_limit.lockout_duration_secs = 900;
}

async fn login_from(app: &TestApp, forwarded_for: Option<&str>, email: &str, password: &str) -> Response {
    let mut request =
        app.client.post(app.url("/api/v1/auth/login")).json(&json!({"email": email, "password": password}));
    if let Some(address) = forwarded_for {
        request = request.header("X-Forwarded-For", address);
    }
    request.send().await.expect("request sent")
}

async fn login(app: &TestApp, email: &str, password: &str) -> Response {
    login_from(app, None, email, password).await
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// `RateLimit-Limit`, `-Remaining` and `-Reset`, as numbers.
fn rate_limit(response: &Response) -> (u64, u64, u64) {
    let number = |name: &str| header(response, name).unwrap_or_else(|| panic!("no {name}")).parse().unwrap();
    (number("ratelimit-limit"), number("ratelimit-remaining"), number("ratelimit-reset"))
}

fn retry_after(response: &Response) -> u64 {
    header(response, "retry-after").expect("Retry-After").parse().unwrap()
}

/// The actions of the audit entries about `entity_id`, oldest first, read from the database.
async fn audit_actions(app: &TestApp, entity_id: &str) -> Vec<String> {
    let db = sea_orm::Database::connect(app.settings.database.url.as_deref().unwrap()).await.unwrap();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!("SELECT action FROM audit_logs WHERE entity_id = '{entity_id}' ORDER BY id"),
        ))
        .await
        .unwrap();
    rows.into_iter().map(|r| r.try_get::<String>("", "action").unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// request limits

#[tokio::test]
async fn logins_past_the_address_limit_are_429_with_rate_limit_headers_and_retry_after() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.login_per_ip = "3/60s".into();
    })
    .await;

    for remaining in [2, 1, 0] {
        let response = login(&app, &format!("nobody-{remaining}@example.com"), WRONG).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let (limit, left, reset) = rate_limit(&response);
        assert_eq!((limit, left), (3, remaining));
        assert!((59..=60).contains(&reset), "{reset}");
        assert_eq!(header(&response, "retry-after"), None);
    }
    let refused = login(&app, "someone-else@example.com", WRONG).await;

    let (limit, left, reset) = rate_limit(&refused);
    assert_eq!((limit, left), (3, 0));
    assert!((59..=60).contains(&reset), "{reset}");
    assert_eq!(retry_after(&refused), reset);
    let problem = assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert_eq!(problem["instance"], "/api/v1/auth/login");
}

#[tokio::test]
async fn the_window_starts_again_once_the_clock_passes_its_end() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.login_per_ip = "2/60s".into();
    })
    .await;
    let user = TestUser::generate();
    app.register(&user).await;
    for _ in 0..2 {
        assert_eq!(login(&app, &user.email, &user.password).await.status(), StatusCode::OK);
    }
    let refused = login(&app, &user.email, &user.password).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);

    app.clock.advance(Duration::seconds(retry_after(&refused) as i64));

    let again = login(&app, &user.email, &user.password).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(rate_limit(&again).1, 1, "a fresh window");
}

#[tokio::test]
async fn the_token_form_shares_the_login_budget() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.login_per_ip = "2/60s".into();
    })
    .await;
    assert_eq!(login(&app, "nobody@example.com", WRONG).await.status(), StatusCode::UNAUTHORIZED);
    let form = [("grant_type", "password"), ("username", "somebody"), ("password", WRONG)];
    let response = app.client.post(app.url("/api/v1/auth/token")).form(&form).send().await.unwrap();
    assert_eq!(rate_limit(&response).1, 0);

    let refused = app.client.post(app.url("/api/v1/auth/token")).form(&form).send().await.unwrap();

    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_budget() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.login_per_ip = "2/60s".into();
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    for _ in 0..2 {
        login_from(&app, Some("203.0.113.1"), "nobody@example.com", WRONG).await;
    }
    let refused = login_from(&app, Some("203.0.113.1"), "nobody@example.com", WRONG).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);

    let other = login_from(&app, Some("203.0.113.2"), "nobody@example.com", WRONG).await;

    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rate_limit(&other), (2, 1, rate_limit(&other).2));
    // A forged entry to the left of the one our proxy appended changes nothing.
    let forged = login_from(&app, Some("198.51.100.99, 203.0.113.1"), "nobody@example.com", WRONG).await;
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_addresses_are_ignored() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.login_per_ip = "2/60s".into();
    })
    .await;
    for address in ["203.0.113.1", "203.0.113.2"] {
        let response = login_from(&app, Some(address), "nobody@example.com", WRONG).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    let refused = login_from(&app, Some("203.0.113.3"), "nobody@example.com", WRONG).await;

    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

#[tokio::test]
async fn logins_to_one_account_are_limited_from_every_address() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.login_per_account = "2/60s".into();
        s.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let user = TestUser::generate();
    app.register(&user).await;
    let first = login_from(&app, Some("203.0.113.1"), &user.email, &user.password).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(rate_limit(&first).1, 1, "the account's budget is the tighter one");
    let upper = user.email.to_uppercase();
    assert_eq!(login_from(&app, Some("203.0.113.2"), &upper, &user.password).await.status(), StatusCode::OK);

    let refused = login_from(&app, Some("203.0.113.3"), &user.email, &user.password).await;

    assert_eq!(rate_limit(&refused), (2, 0, rate_limit(&refused).2));
    assert!(retry_after(&refused) >= 1);
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    let other = TestUser::generate();
    app.register(&other).await;
    assert_eq!(login_from(&app, Some("203.0.113.3"), &other.email, &other.password).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn registrations_past_the_limit_create_nothing() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.register_per_ip = "2/1h".into();
    })
    .await;
    for _ in 0..2 {
        app.register(&TestUser::generate()).await;
    }
    let late = TestUser::generate();

    let refused = app.post("/api/v1/auth/register", None, &late.body()).await;

    let (limit, left, reset) = rate_limit(&refused);
    assert_eq!((limit, left), (2, 0));
    assert!((3599..=3600).contains(&reset), "{reset}");
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert_eq!(login(&app, &late.email, &late.password).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refreshes_past_the_limit_are_refused() {
    let app = spawn_app_with(|s| {
        limits_on(s);
        s.rate_limit.refresh_per_ip = "1/60s".into();
    })
    .await;
    let session = app.member().await;
    let first = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": session.refresh_token})).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(rate_limit(&first).1, 0);
    let next: Value = first.json().await.unwrap();

    let refused = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": next["refresh_token"]})).await;

    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    app.clock.advance(Duration::seconds(60));
    let later = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": next["refresh_token"]})).await;
    assert_eq!(later.status(), StatusCode::OK, "the refused refresh did not use the token up");
}

#[tokio::test]
async fn routes_that_are_not_limited_carry_no_rate_limit_headers() {
    let app = spawn_app_with(limits_on).await;
    let session = app.member().await;
    let response = app.get("/api/v1/users/me", Some(&session.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "ratelimit-limit"), None);
}

// ---------------------------------------------------------------------------------------------
// the lockout

#[tokio::test]
async fn repeated_failures_delay_then_lock_and_even_the_right_password_is_refused() {
    let app = spawn_app_with(quick_lockout).await;
    let user = TestUser::generate();
    let id = app.register(&user).await["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        assert_eq!(login(&app, &user.email, WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }

    let waiting = login(&app, &user.email, &user.password).await;
    assert_eq!(retry_after(&waiting), 1);
    assert_problem(waiting, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    app.clock.advance(Duration::seconds(1));
    assert_eq!(login(&app, &user.email, WRONG).await.status(), StatusCode::UNAUTHORIZED);
    let waiting = login(&app, &user.email, WRONG).await;
    assert_eq!(retry_after(&waiting), 2, "the delay doubles");
    app.clock.advance(Duration::seconds(2));
    assert_eq!(login(&app, &user.email, WRONG).await.status(), StatusCode::UNAUTHORIZED);

    let locked = login(&app, &user.email, &user.password).await;
    assert_eq!(retry_after(&locked), 900);
    let problem = assert_problem(locked, StatusCode::TOO_MANY_REQUESTS, "ACCOUNT_LOCKED").await;
    assert!(problem["detail"].as_str().unwrap().contains("locked"));
    let form = [("grant_type", "password"), ("username", user.username.as_str()), ("password", &user.password)];
    let by_form = app.client.post(app.url("/api/v1/auth/token")).form(&form).send().await.unwrap();
    assert_problem(by_form, StatusCode::TOO_MANY_REQUESTS, "ACCOUNT_LOCKED").await;
    assert_eq!(audit_actions(&app, &id).await, ["user.registered", "user.locked"]);

    app.clock.advance(Duration::seconds(900));
    assert_eq!(login(&app, &user.email, &user.password).await.status(), StatusCode::OK, "the lock ended");
}

#[tokio::test]
async fn a_successful_login_forgets_the_failures() {
    let app = spawn_app_with(quick_lockout).await;
    let user = TestUser::generate();
    app.register(&user).await;
    assert_eq!(login(&app, &user.email, WRONG).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, &user.email, &user.password).await.status(), StatusCode::OK);

    for _ in 0..2 {
        assert_eq!(login(&app, &user.email, WRONG).await.status(), StatusCode::UNAUTHORIZED);
    }

    assert_eq!(login(&app, &user.email, WRONG).await.status(), StatusCode::TOO_MANY_REQUESTS, "two, not three");
}

#[tokio::test]
async fn failed_logins_do_not_change_the_account() {
    let app = spawn_app_with(quick_lockout).await;
    let admin = app.admin().await;
    let user = TestUser::generate();
    let id = app.register(&user).await["id"].as_str().unwrap().to_owned();
    let before: Value = app.get(&format!("/api/v1/users/{id}"), Some(&admin.access_token)).await.json().await.unwrap();

    for _ in 0..2 {
        login(&app, &user.email, WRONG).await;
    }

    let after: Value = app.get(&format!("/api/v1/users/{id}"), Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_admin_unlocks_a_locked_account_and_its_owner_logs_in_at_once() {
    let app = spawn_app_with(quick_lockout).await;
    let admin = app.admin().await;
    let user = TestUser::generate();
    let id = app.register(&user).await["id"].as_str().unwrap().to_owned();
    lock(&app, &user.email).await;
    let path = format!("/api/v1/users/{id}/unlock");

    let unlocked = app.post(&path, Some(&admin.access_token), &json!(null)).await;

    assert_eq!(unlocked.status(), StatusCode::NO_CONTENT);
    assert_eq!(login(&app, &user.email, &user.password).await.status(), StatusCode::OK);
    assert_eq!(audit_actions(&app, &id).await, ["user.registered", "user.locked", "user.unlocked"]);
}

#[tokio::test]
async fn only_admins_unlock_and_unknown_users_are_404() {
    let app = spawn_app_with(quick_lockout).await;
    let user = TestUser::generate();
    let id = app.register(&user).await["id"].as_str().unwrap().to_owned();
    lock(&app, &user.email).await;
    let path = format!("/api/v1/users/{id}/unlock");
    for role in ["member", "manager"] {
        let caller = app.user_with_role(role).await;
        let refused = app.post(&path, Some(&caller.access_token), &json!(null)).await;
        assert_problem(refused, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    assert_problem(app.post(&path, None, &json!(null)).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let still = login(&app, &user.email, &user.password).await;
    assert_problem(still, StatusCode::TOO_MANY_REQUESTS, "ACCOUNT_LOCKED").await;

    let admin = app.admin().await;
    let unknown = format!("/api/v1/users/{}/unlock", uuid::Uuid::now_v7());
    assert_problem(
        app.post(&unknown, Some(&admin.access_token), &json!(null)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let not_locked =
        app.post(&format!("/api/v1/users/{}/unlock", admin.id), Some(&admin.access_token), &json!(null)).await;
    assert_eq!(not_locked.status(), StatusCode::NO_CONTENT);
    assert_eq!(audit_actions(&app, &admin.id).await, ["user.created"], "nothing to unlock, nothing recorded");
}

#[tokio::test]
async fn a_lock_holds_on_every_instance() {
    let app = spawn_app_with(quick_lockout).await;
    let user = TestUser::generate();
    app.register(&user).await;
    lock(&app, &user.email).await;
    let other = app.another_instance().await;

    let response = app
        .client
        .post(format!("{other}/api/v1/auth/login"))
        .json(&json!({"email": user.email, "password": user.password}))
        .send()
        .await
        .unwrap();

    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "ACCOUNT_LOCKED").await;
}

/// Fails logins of `email` until the account is locked (four with [`quick_lockout`]).
async fn lock(app: &TestApp, email: &str) {
    for _ in 0..4 {
        let response = login(app, email, WRONG).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            app.clock.advance(Duration::seconds(retry_after(&response) as i64));
            assert_eq!(login(app, email, WRONG).await.status(), StatusCode::UNAUTHORIZED);
        }
    }
    let locked = login(app, email, WRONG).await;
    assert_problem(locked, StatusCode::TOO_MANY_REQUESTS, "ACCOUNT_LOCKED").await;
}

#[tokio::test]
async fn an_unknown_account_gets_exactly_the_responses_of_a_known_one() {
    let mut runs = Vec::new();
    for known in [true, false] {
        let app = spawn_app_with(|s| {
            limits_on(s);
            quick_lockout(s);
        })
        .await;
        let user = TestUser::generate();
        if known {
            app.register(&user).await;
        }
        let mut seen = Vec::new();
        // Two failures; a wait of 1 s refused, then waited out; a failure; a wait of 2 s refused,
        // then waited out; the fourth failure locks; three attempts while locked.
        for advance in [0, 0, 1, 0, 2, 0, 0, 1, 1] {
            let response = login(&app, &user.email, WRONG).await;
            let status = response.status();
            let headers = ["retry-after", "ratelimit-limit", "ratelimit-remaining", "www-authenticate"]
                .map(|name| header(&response, name));
            let mut body: Value = response.json().await.unwrap();
            body.as_object_mut().unwrap().remove("request_id");
            seen.push((status, headers, body));
            app.clock.advance(Duration::seconds(advance));
        }
        runs.push(seen);
    }

    assert_eq!(runs[0], runs[1]);
    let codes: Vec<&str> = runs[1].iter().map(|(_, _, body)| body["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"RATE_LIMITED") && codes.contains(&"ACCOUNT_LOCKED"), "{codes:?}");
}
