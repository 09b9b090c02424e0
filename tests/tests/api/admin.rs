//! Dashboard statistics and database figures: who may see them, and that they tell the truth.

use chrono::{Duration, Timelike as _, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestApp, TestUser, assert_problem, spawn_app};

/// Moves the test clock to the next noon UTC, so "today" cannot roll over during a test.
fn to_noon(app: &TestApp) {
    let now = Utc::now();
    let noon = now.date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let noon = if noon > now { noon } else { noon + Duration::days(1) };
    app.clock.advance(noon - now);
    assert_eq!(noon.hour(), 12);
}

async fn stats(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/v1/dashboard/stats", Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn counts(stats: &Value) -> Vec<u64> {
    [
        "total_users",
        "active_users",
        "inactive_users",
        "admins",
        "new_users_today",
        "new_users_week",
        "total_projects",
        "active_projects",
    ]
    .iter()
    .map(|key| stats[key].as_u64().unwrap_or_else(|| panic!("{key} in {stats}")))
    .collect()
}

#[tokio::test]
async fn the_statistics_count_users_and_refresh_after_a_minute() {
    let app = spawn_app().await;
    to_noon(&app);
    let admin = app.admin().await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(app.register(&TestUser::generate()).await);
    }

    let first = stats(&app, &admin.access_token).await;
    assert_eq!(counts(&first), [4, 4, 0, 1, 4, 4, 0, 0]);

    let token = Some(admin.access_token.as_str());
    let first_member = format!("/api/v1/users/{}", members[0]["id"].as_str().unwrap());
    let deactivated = app.patch(&first_member, token, &json!({"is_active": false})).await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    let delete = app.delete(&format!("/api/v1/users/{}", members[1]["id"].as_str().unwrap()), token).await;
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    app.register(&TestUser::generate()).await;

    let cached = stats(&app, &admin.access_token).await;
    assert_eq!(cached, first, "within a minute the cached figures are served");

    app.clock.advance(Duration::seconds(61));
    let refreshed = stats(&app, &admin.access_token).await;
    assert_eq!(counts(&refreshed), [4, 3, 1, 1, 4, 4, 0, 0], "the deleted user is gone, the new one counted");
    assert_ne!(refreshed["generated_at"], first["generated_at"]);

    app.clock.advance(Duration::days(8));
    let admin = app.login(&admin.user).await;
    let later = stats(&app, &admin.access_token).await;
    assert_eq!(counts(&later), [4, 3, 1, 1, 0, 0, 0, 0], "nobody is new a week later");
}

#[tokio::test]
async fn admins_and_managers_see_the_statistics_members_do_not() {
    let app = spawn_app().await;
    let manager = app.user_with_role("manager").await;
    let member = app.member().await;

    let seen = stats(&app, &manager.access_token).await;
    assert!(seen["generated_at"].is_string(), "{seen}");
    let refused = app.get("/api/v1/dashboard/stats", Some(&member.access_token)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let anonymous = app.get("/api/v1/dashboard/stats", None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn admins_see_the_database_pool_and_statement_counts() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let expected = if app.settings.uses_sqlite() { "sqlite" } else { "postgres" };

    let first: Value = app.get("/api/v1/metrics/database", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(app.get("/api/v1/users", Some(&admin.access_token)).await.status(), StatusCode::OK);
    let second: Value = app.get("/api/v1/metrics/database", Some(&admin.access_token)).await.json().await.unwrap();

    assert_eq!(first["backend"], expected);
    let pool = &first["pool"];
    assert_eq!(pool["max"], 5, "the harness's database.max_connections");
    let (size, idle, in_use) =
        (pool["size"].as_u64().unwrap(), pool["idle"].as_u64().unwrap(), pool["in_use"].as_u64().unwrap());
    assert!((1..=5).contains(&size), "{first}");
    assert_eq!(idle + in_use, size);
    assert!(first["failed_statements"].is_u64());
    let statements = |v: &Value| v["statements"].as_u64().unwrap();
    assert!(statements(&first) > 0);
    assert!(statements(&second) > statements(&first), "listing the users in between ran statements");
}

#[tokio::test]
async fn only_admins_see_the_database_figures() {
    let app = spawn_app().await;
    let manager = app.user_with_role("manager").await;
    let member = app.member().await;
    for token in [&manager.access_token, &member.access_token] {
        let response = app.get("/api/v1/metrics/database", Some(token)).await;
        assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    let admin = app.admin().await;
    let post = app.post("/api/v1/metrics/database", Some(&admin.access_token), &json!({})).await;
    assert_problem(post, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}
