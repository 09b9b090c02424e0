//! `POST /users/bulk`: up to 1000 accounts in one transaction, or none of them.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestApp, TestUser, assert_problem, error_fields, spawn_app, spawn_app_with};

/// `n` creation bodies with names unique to this call.
fn batch(n: usize) -> Vec<Value> {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    (0..n)
        .map(|i| json!({"email": format!("bulk-{tag}-{i}@example.com"), "username": format!("bulk_{tag}_{i}"), "password": PASSWORD}))
        .collect()
}

/// How many live users there are, as an admin sees the list.
async fn user_count(app: &TestApp, token: &str) -> u64 {
    let page: Value = app.get("/api/v1/users?limit=1", Some(token)).await.json().await.unwrap();
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_thousand_users_are_created_in_one_request() {
    // Hashing 1000 passwords at the OWASP argon2id cost keeps both cores busy for a while; the
    // time limit is raised so a loaded test machine cannot turn that into a 504.
    let app = spawn_app_with(|s| s.server.bulk_request_timeout_secs = 600).await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let before = user_count(&app, token).await;
    let items = batch(1000);

    let started = Instant::now();
    let response = app.post("/api/v1/users/bulk", Some(token), &json!(items)).await;
    let elapsed = started.elapsed();

    assert_eq!(response.status(), StatusCode::CREATED);
    eprintln!("POST /users/bulk with 1000 users took {elapsed:.2?}");
    let body: Value = response.json().await.unwrap();
    let created = body["items"].as_array().unwrap();
    assert_eq!(created.len(), 1000);
    assert_eq!(created[0]["email"], items[0]["email"], "in the order given");
    assert_eq!(created[999]["username"], items[999]["username"]);
    assert!(created.iter().all(|u| u["role"] == "member" && u["is_active"] == true));
    assert!(!body.to_string().contains("argon2"));
    assert_eq!(user_count(&app, token).await, before + 1000);
    let audit: Value =
        app.get("/api/v1/audit-logs?action=user.created&limit=1", Some(token)).await.json().await.unwrap();
    assert_eq!(audit["items"][0]["actor_id"], admin.id.as_str());
    assert!(audit["total"].as_u64().unwrap() >= 1000, "one entry per account: {audit}");
    let last = TestUser {
        email: items[999]["email"].as_str().unwrap().to_owned(),
        username: items[999]["username"].as_str().unwrap().to_owned(),
        password: PASSWORD.to_owned(),
    };
    app.login(&last).await;
}

#[tokio::test]
async fn a_bad_item_500_leaves_nothing_behind() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let before = user_count(&app, token).await;
    let mut items = batch(600);
    items[500]["email"] = json!("not-an-address");

    let response = app.post("/api/v1/users/bulk", Some(token), &json!(items)).await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["[500].email"]);
    assert_eq!(user_count(&app, token).await, before, "nothing was created");
    let first = app.post("/api/v1/users", Some(token), &items[0]).await;
    assert_eq!(first.status(), StatusCode::CREATED, "the first item's address is still free");
}

#[tokio::test]
async fn repeats_within_the_list_and_taken_identities_are_named_by_index() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let existing = app.member().await;
    let mut items = batch(4);
    items[2]["email"] = json!(items[0]["email"].as_str().unwrap().to_uppercase());
    items[3]["username"] = json!(existing.user.username.to_uppercase());
    items[1]["role"] = json!("owner");
    items[1]["colour"] = json!("red");

    let structural = app.post("/api/v1/users/bulk", Some(token), &json!(items)).await;
    let problem = assert_problem(structural, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["[1].colour"], "unknown fields first, as for one account");

    items[1].as_object_mut().unwrap().remove("colour");
    let before = user_count(&app, token).await;
    let response = app.post("/api/v1/users/bulk", Some(token), &json!(items)).await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let errors: Vec<String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}:{}", e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, ["[1].role:INVALID_CHOICE", "[2].email:DUPLICATE", "[3].username:TAKEN"]);
    assert_eq!(user_count(&app, token).await, before);
}

#[tokio::test]
async fn the_list_holds_one_to_a_thousand_items() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let before = user_count(&app, token).await;

    for (body, code) in [(json!([]), "TOO_SHORT"), (json!(batch(1001)), "TOO_LONG")] {
        let response = app.post("/api/v1/users/bulk", Some(token), &body).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
        assert_eq!(problem["errors"][0]["field"], ".");
        assert_eq!(problem["errors"][0]["code"], code);
    }
    let not_a_list = app.post("/api/v1/users/bulk", Some(token), &batch(1)[0]).await;
    assert_problem(not_a_list, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
    assert_eq!(user_count(&app, token).await, before);
}

#[tokio::test]
async fn a_bulk_body_over_its_limit_is_a_413_and_the_limit_is_above_the_ordinary_one() {
    let app = spawn_app_with(|s| s.server.bulk_body_limit_bytes = 2 * 1024 * 1024).await;
    let admin = app.admin().await;
    let token = admin.access_token.as_str();
    let items = batch(1000);
    let size = serde_json::to_vec(&items).unwrap().len();
    let mut padded = batch(1000);
    for item in &mut padded {
        item["full_name"] = json!("x".repeat(2100));
    }

    let over = app.post("/api/v1/users/bulk", Some(token), &json!(padded)).await;

    assert_problem(over, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    assert!(size < 1024 * 1024, "1000 ordinary accounts fit in the ordinary limit too: {size} bytes");
    // A list just over the ordinary 1 MiB limit is read and judged on its values (a 422 for the
    // overlong names, not a 413).
    let mut large = batch(1000);
    for item in &mut large {
        item["full_name"] = json!("y".repeat(1000));
    }
    let response = app.post("/api/v1/users/bulk", Some(token), &json!(large)).await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
}

#[tokio::test]
async fn only_admins_create_in_bulk_and_only_with_post() {
    let app = spawn_app().await;
    let manager = app.user_with_role("manager").await;
    let member = app.member().await;
    for token in [&manager.access_token, &member.access_token] {
        let response = app.post("/api/v1/users/bulk", Some(token), &json!(batch(2))).await;
        assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    let admin = app.admin().await;
    let response = app.get("/api/v1/users/bulk", Some(&admin.access_token)).await;
    assert_eq!(response.headers().get("allow").unwrap(), "POST, OPTIONS");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}
