//! The audit trail over HTTP: admins read it, filter it and page through it; nobody changes it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    harness::{TestUser, assert_problem, error_fields, spawn_app},
    projects::{add_member, create_project, member_path},
};

/// The entries of one page of `/audit-logs?{query}`, read as an admin.
async fn entries(app: &crate::harness::TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/audit-logs?{query}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_admin_reads_who_changed_what_with_before_after_and_request_context() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;

    let response = app
        .client
        .patch(app.url(&format!("/api/v1/users/{}", member.id)))
        .bearer_auth(&admin.access_token)
        .header("x-request-id", "audit-test-1")
        .header("user-agent", "forge-audit-test/1.0")
        .json(&json!({"full_name": "Grace Hopper"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let page = entries(&app, &admin.access_token, &format!("entity_id={}&action=user.updated", member.id)).await;
    assert_eq!(page["total"], 1);
    let entry = &page["items"][0];
    for key in [
        "id",
        "actor_id",
        "action",
        "entity_type",
        "entity_id",
        "project_id",
        "changes",
        "ip",
        "user_agent",
        "request_id",
        "created_at",
    ] {
        assert!(entry.get(key).is_some(), "{key} in {entry}");
    }
    assert_eq!(entry["actor_id"], admin.id.as_str());
    assert_eq!(entry["action"], "user.updated");
    assert_eq!(entry["entity_type"], "user");
    assert_eq!(entry["project_id"], Value::Null, "a user's entry concerns no project");
    assert_eq!(entry["changes"]["before"]["full_name"], Value::Null);
    assert_eq!(entry["changes"]["after"]["full_name"], "Grace Hopper");
    assert_eq!(entry["changes"]["after"]["version"], 2);
    assert!(entry["changes"]["after"].get("email").is_none(), "only what changed: {entry}");
    assert_eq!(entry["request_id"], "audit-test-1");
    assert_eq!(entry["user_agent"], "forge-audit-test/1.0");
    assert_eq!(entry["ip"], "127.0.0.1");
    assert!(!page.to_string().contains("argon2"), "no password hash in the trail");
}

#[tokio::test]
async fn a_registration_is_recorded_with_the_new_user_as_actor_and_no_before() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let user = TestUser::generate();
    let registered = app.register(&user).await;

    let page = entries(&app, &admin.access_token, "action=user.registered").await;

    let entry = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity_id"] == registered["id"])
        .expect("the registration's entry");
    assert_eq!(entry["actor_id"], registered["id"]);
    assert_eq!(entry["changes"]["before"], Value::Null);
    assert_eq!(entry["changes"]["after"]["email"], user.email);
    assert_eq!(entry["changes"]["after"]["role"], "member");
}

#[tokio::test]
async fn only_admins_read_the_trail() {
    let app = spawn_app().await;
    let member = app.member().await;
    let manager = app.user_with_role("manager").await;
    for token in [&member.access_token, &manager.access_token] {
        // Refused before the query is even read.
        let response = app.get("/api/v1/audit-logs?action=nonsense", Some(token)).await;
        assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    assert_problem(app.get("/api/v1/audit-logs", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn filters_narrow_the_trail_and_the_newest_entry_comes_first() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    for name in ["First", "Second"] {
        let path = format!("/api/v1/users/{}", member.id);
        assert_eq!(app.patch(&path, Some(&admin.access_token), &json!({"full_name": name})).await.status(), 200);
    }

    let by_admin = entries(&app, &admin.access_token, &format!("actor_id={}&action=user.updated", admin.id)).await;
    assert_eq!(by_admin["total"], 2);
    assert_eq!(by_admin["items"][0]["changes"]["after"]["full_name"], "Second", "newest first");
    let oldest_first =
        entries(&app, &admin.access_token, &format!("actor_id={}&action=user.updated&order=asc", admin.id)).await;
    assert_eq!(oldest_first["items"][0]["changes"]["after"]["full_name"], "First");

    let sessions = entries(&app, &admin.access_token, &format!("entity_type=session&actor_id={}", member.id)).await;
    assert_eq!(sessions["total"], 1, "the member's login opened one session");
    assert_eq!(sessions["items"][0]["action"], "session.created");

    let first = &by_admin["items"][1]["created_at"];
    let second = &by_admin["items"][0]["created_at"];
    let encoded = |v: &Value| v.as_str().unwrap().replace('+', "%2B");
    let window = entries(
        &app,
        &admin.access_token,
        &format!("action=user.updated&from={}&to={}", encoded(second), encoded(second)),
    )
    .await;
    assert_eq!(window["total"], 1, "from and to are inclusive");
    let up_to_first = entries(&app, &admin.access_token, &format!("action=user.updated&to={}", encoded(first))).await;
    assert_eq!(up_to_first["items"][0]["changes"]["after"]["full_name"], "First");
    assert_eq!(up_to_first["total"], 1);
}

#[tokio::test]
async fn the_trail_is_paginated_with_links() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for _ in 0..3 {
        app.register(&TestUser::generate()).await;
    }

    let response = app.get("/api/v1/audit-logs?action=user.registered&limit=2&page=2", Some(&admin.access_token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let link = response.headers().get("link").unwrap().to_str().unwrap().to_owned();
    let page: Value = response.json().await.unwrap();
    assert_eq!((page["total"].as_u64(), page["pages"].as_u64()), (Some(3), Some(2)));
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["_links"]["prev"]["href"], "/api/v1/audit-logs?action=user.registered&limit=2&page=1");
    assert!(link.contains(r#"rel="first""#), "{link}");
}

#[tokio::test]
async fn bad_filters_are_listed_in_one_422() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    let response = app
        .get(
            "/api/v1/audit-logs?entity_type=robot&action=user.exploded&actor_id=42&project_id=apollo&from=yesterday\
             &sort=ip",
            Some(&admin.access_token),
        )
        .await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["action", "actor_id", "entity_type", "from", "project_id", "sort"]);
}

#[tokio::test]
async fn the_trail_of_a_project_holds_its_own_entries_and_its_member_changes_and_no_other_projects() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let owner = app.member().await;
    let member = app.member().await;
    let id = |body: Value| body["id"].as_str().unwrap().to_owned();
    let apollo = id(create_project(&app, &owner, "Apollo").await);
    let gemini = id(create_project(&app, &owner, "Gemini").await);
    for project in [&apollo, &gemini] {
        assert_eq!(add_member(&app, &owner, project, &member.id, "viewer").await.status(), StatusCode::CREATED);
    }
    let membership = member_path(&apollo, &member.id);
    let promoted = app.patch(&membership, Some(&owner.access_token), &json!({"role": "maintainer"})).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(app.delete(&membership, Some(&owner.access_token)).await.status(), StatusCode::NO_CONTENT);

    let page = entries(&app, &admin.access_token, &format!("project_id={apollo}&order=asc")).await;

    let membership_id = format!("{apollo}:{}", member.id);
    let seen: Vec<(&str, &str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["entity_type"].as_str().unwrap(), e["entity_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("project.created", "project", apollo.as_str()),
            ("project.member_added", "membership", membership_id.as_str()),
            ("project.member_role_changed", "membership", membership_id.as_str()),
            ("project.member_removed", "membership", membership_id.as_str()),
        ]
    );
    assert_eq!(page["total"], 4);
    assert!(page["items"].as_array().unwrap().iter().all(|e| e["project_id"] == apollo.as_str()), "{page}");
    let other = entries(&app, &admin.access_token, &format!("project_id={gemini}")).await;
    assert_eq!(other["total"], 2, "Gemini's creation and its member: {other}");
    assert!(other["items"].as_array().unwrap().iter().all(|e| e["project_id"] == gemini.as_str()), "{other}");
}

#[tokio::test]
async fn the_project_filter_combines_with_the_others_and_pages() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let owner = app.member().await;
    let apollo = create_project(&app, &owner, "Apollo").await["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let newcomer = app.member().await;
        assert_eq!(add_member(&app, &owner, &apollo, &newcomer.id, "viewer").await.status(), StatusCode::CREATED);
    }

    let members = entries(&app, &admin.access_token, &format!("project_id={apollo}&entity_type=membership")).await;
    assert_eq!(members["total"], 3);
    let created = entries(&app, &admin.access_token, &format!("project_id={apollo}&action=project.created")).await;
    assert_eq!(
        (created["total"].as_u64(), created["items"][0]["entity_id"].as_str()),
        (Some(1), Some(apollo.as_str()))
    );
    let by_someone_else =
        entries(&app, &admin.access_token, &format!("project_id={apollo}&actor_id={}", admin.id)).await;
    assert_eq!(by_someone_else["total"], 0);

    let response =
        app.get(&format!("/api/v1/audit-logs?project_id={apollo}&limit=3&page=2"), Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    assert_eq!((page["total"].as_u64(), page["pages"].as_u64()), (Some(4), Some(2)));
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["action"], "project.created", "the oldest entry comes last");
    assert_eq!(
        page["_links"]["prev"]["href"],
        format!("/api/v1/audit-logs?project_id={apollo}&limit=3&page=1"),
        "the filter stays in the links"
    );
}

#[tokio::test]
async fn a_range_ending_before_it_starts_is_a_422_naming_from() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    let response = app
        .get("/api/v1/audit-logs?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", Some(&admin.access_token))
        .await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["from"]);
}

#[tokio::test]
async fn no_method_changes_or_deletes_the_trail() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let before = entries(&app, &admin.access_token, "").await["total"].clone();

    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = app.send_json(method.clone(), "/api/v1/audit-logs", Some(&admin.access_token), &json!({})).await;
        assert_eq!(response.headers().get("allow").unwrap(), "GET, HEAD, OPTIONS", "{method}");
        assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    }
    let id = uuid::Uuid::now_v7();
    let one = app.delete(&format!("/api/v1/audit-logs/{id}"), Some(&admin.access_token)).await;
    assert_problem(one, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    assert_eq!(entries(&app, &admin.access_token, "").await["total"], before, "nothing was added or removed");
}
