//! Users: one's own profile and administration, with the role checks of API.md.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestUser, assert_problem, error_fields, spawn_app};

#[tokio::test]
async fn me_returns_the_callers_profile_without_secrets() {
    let app = spawn_app().await;
    let session = app.member().await;
    let response = app.get("/api/v1/users/me", Some(&session.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], session.id.as_str());
    assert_eq!(me["email"], session.user.email);
    assert_eq!(me["_links"]["self"]["href"], format!("/api/v1/users/{}", session.id));
    for key in [
        "id",
        "email",
        "username",
        "full_name",
        "role",
        "is_active",
        "is_verified",
        "created_at",
        "updated_at",
        "last_login_at",
    ] {
        assert!(me.get(key).is_some(), "{key}");
    }
    assert!(!me.to_string().contains("argon2"));
}

#[tokio::test]
async fn an_authenticated_me_makes_one_database_round_trip_and_none_from_the_cache() {
    let app = spawn_app().await;
    let session = app.member().await;
    assert_eq!(app.get("/api/v1/users/me", Some(&session.access_token)).await.status(), StatusCode::OK);
    let before = app.query_stats.statements();

    let response = app.get("/api/v1/users/me", Some(&session.access_token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    // With Redis the principal comes from the read cache; without, from one joined statement.
    let expected = if app.settings.redis.url.is_some() { 0 } else { 1 };
    assert_eq!(app.query_stats.statements() - before, expected);
}

#[tokio::test]
async fn patching_me_changes_profile_fields_and_a_new_email_is_unverified() {
    let app = spawn_app().await;
    let session = app.member().await;
    let token = Some(session.access_token.as_str());
    let response = app
        .patch(
            "/api/v1/users/me",
            token,
            &json!({"full_name": "Grace Hopper", "email": "Grace.New@Example.com", "current_password": session.user.password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["full_name"], "Grace Hopper");
    assert_eq!(me["email"], "grace.new@example.com");
    assert_eq!(me["is_verified"], false);

    let cleared: Value = app.patch("/api/v1/users/me", token, &json!({"full_name": null})).await.json().await.unwrap();
    assert!(cleared["full_name"].is_null());
    assert_eq!(cleared["email"], "grace.new@example.com", "absent fields are left as they are");
}

#[tokio::test]
async fn patching_me_with_role_or_flags_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let session = app.member().await;
    let token = Some(session.access_token.as_str());

    let response = app
        .patch(
            "/api/v1/users/me",
            token,
            &json!({"full_name": "Changed", "role": "admin", "is_active": true, "is_verified": true}),
        )
        .await;

    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["is_active", "is_verified", "role"]);
    let me: Value = app.get("/api/v1/users/me", token).await.json().await.unwrap();
    assert_eq!(me["role"], "member");
    assert!(me["full_name"].is_null());
}

#[tokio::test]
async fn patching_me_to_a_taken_username_is_a_409() {
    let app = spawn_app().await;
    let first = app.member().await;
    let second = app.member().await;
    let response = app
        .patch("/api/v1/users/me", Some(&second.access_token), &json!({"username": first.user.username.to_uppercase()}))
        .await;
    assert_problem(response, StatusCode::CONFLICT, "USERNAME_TAKEN").await;
}

#[tokio::test]
async fn members_cannot_list_users_but_managers_and_admins_can() {
    let app = spawn_app().await;
    let member = app.member().await;
    let manager = app.user_with_role("manager").await;
    assert_problem(app.get("/api/v1/users", Some(&member.access_token)).await, StatusCode::FORBIDDEN, "FORBIDDEN")
        .await;
    assert_eq!(app.get("/api/v1/users", Some(&manager.access_token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_user_list_is_paginated_with_links_in_body_and_header() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    for _ in 0..4 {
        app.register(&TestUser::generate()).await;
    }

    let response = app.get("/api/v1/users?limit=2&page=2&sort=username&order=asc", Some(&admin.access_token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let link = response.headers()["link"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["total"], 5);
    assert_eq!(body["page"], 2);
    assert_eq!(body["limit"], 2);
    assert_eq!(body["pages"], 3);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    for rel in ["self", "first", "prev", "next", "last"] {
        assert!(body["_links"].get(rel).is_some(), "{rel}");
        assert!(link.contains(&format!("rel=\"{rel}\"")), "{link}");
    }
    assert!(link.contains("page=3"), "{link}");
    let names: Vec<String> =
        body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_lowercase()).collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]), "{names:?}");
}

#[tokio::test]
async fn the_user_list_filters_by_search_role_and_state() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let mut ada = TestUser::generate();
    ada.username = format!("Ada_{}", &ada.username[5..]);
    app.register(&ada).await;
    app.register(&TestUser::generate()).await;
    let token = Some(admin.access_token.as_str());

    let found: Value = app.get("/api/v1/users?search=ADA_", token).await.json().await.unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["username"], ada.username);

    let admins: Value = app.get("/api/v1/users?role=admin", token).await.json().await.unwrap();
    assert_eq!(admins["total"], 1);
    let members: Value = app.get("/api/v1/users?role=member&is_active=true", token).await.json().await.unwrap();
    assert_eq!(members["total"], 2);
    let literal: Value = app.get("/api/v1/users?search=%25", token).await.json().await.unwrap();
    assert_eq!(literal["total"], 0, "% is matched literally");
}

#[tokio::test]
async fn bad_list_parameters_are_listed_in_one_422() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let response = app
        .get(
            "/api/v1/users?limit=0&page=0&sort=password_hash&order=sideways&role=owner&is_active=maybe",
            Some(&admin.access_token),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["is_active", "limit", "order", "page", "role", "sort"]);
}

#[tokio::test]
async fn admins_create_users_with_a_role_and_others_cannot() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    let user = TestUser::generate();
    let mut body = user.body();
    body["role"] = json!("manager");
    body["is_active"] = json!(true);

    assert_problem(
        app.post("/api/v1/users", Some(&member.access_token), &body).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    let response = app.post("/api/v1/users", Some(&admin.access_token), &body).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().contains_key("location"));
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["role"], "manager");
    let session = app.login(&user).await;
    assert_eq!(app.get("/api/v1/users", Some(&session.access_token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn reading_a_user_is_for_itself_admins_and_managers() {
    let app = spawn_app().await;
    let target = app.member().await;
    let other = app.member().await;
    let manager = app.user_with_role("manager").await;
    let path = format!("/api/v1/users/{}", target.id);

    assert_eq!(app.get(&path, Some(&target.access_token)).await.status(), StatusCode::OK);
    assert_eq!(app.get(&path, Some(&manager.access_token)).await.status(), StatusCode::OK);
    assert_problem(app.get(&path, Some(&other.access_token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let unknown = format!("/api/v1/users/{}", uuid::Uuid::now_v7());
    assert_problem(app.get(&unknown, Some(&manager.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.get(&unknown, Some(&other.access_token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

#[tokio::test]
async fn a_user_edits_its_own_profile_but_not_its_role() {
    let app = spawn_app().await;
    let session = app.member().await;
    let path = format!("/api/v1/users/{}", session.id);
    let token = Some(session.access_token.as_str());

    let response = app.patch(&path, token, &json!({"role": "admin"})).await;
    assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let unchanged_role = app.patch(&path, token, &json!({"role": "member", "full_name": "Same Role"})).await;
    assert_eq!(unchanged_role.status(), StatusCode::OK, "sending back the current role is fine");

    let replaced = app
        .put(
            &path,
            token,
            &json!({"email": session.user.email, "username": session.user.username, "full_name": "Put Name"}),
        )
        .await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let body: Value = replaced.json().await.unwrap();
    assert_eq!(body["full_name"], "Put Name");
    assert_eq!(body["role"], "member");

    let other = app.member().await;
    let response = app.patch(&format!("/api/v1/users/{}", other.id), token, &json!({"full_name": "Hijack"})).await;
    assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

#[tokio::test]
async fn put_replaces_every_editable_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let target = app.member().await;
    let path = format!("/api/v1/users/{}", target.id);
    app.patch(&path, Some(&admin.access_token), &json!({"full_name": "Old Name"})).await;

    let response = app
        .put(&path, Some(&admin.access_token), &json!({"email": "replaced@example.com", "username": "replaced_name"}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "replaced@example.com");
    assert_eq!(body["username"], "replaced_name");
    assert!(body["full_name"].is_null(), "an absent full_name is cleared by PUT");
    let missing = app.put(&path, Some(&admin.access_token), &json!({"full_name": "x"})).await;
    let problem = assert_problem(missing, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["email", "username"]);
}

#[tokio::test]
async fn a_role_change_applies_to_the_very_next_request() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    assert_eq!(app.get("/api/v1/users", Some(&member.access_token)).await.status(), StatusCode::FORBIDDEN);

    let response = app
        .patch(&format!("/api/v1/users/{}", member.id), Some(&admin.access_token), &json!({"role": "manager"}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/users", Some(&member.access_token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_cannot_demote_or_deactivate_itself() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let path = format!("/api/v1/users/{}", admin.id);
    assert_problem(
        app.patch(&path, Some(&admin.access_token), &json!({"role": "member"})).await,
        StatusCode::CONFLICT,
        "SELF_DEMOTION",
    )
    .await;
    assert_problem(
        app.patch(&path, Some(&admin.access_token), &json!({"is_active": false})).await,
        StatusCode::CONFLICT,
        "SELF_DEMOTION",
    )
    .await;
    assert_problem(app.delete(&path, Some(&admin.access_token)).await, StatusCode::CONFLICT, "SELF_DELETION").await;
}

#[tokio::test]
async fn deactivating_a_user_ends_its_sessions_and_blocks_login() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;

    let response = app
        .patch(&format!("/api/v1/users/{}", member.id), Some(&admin.access_token), &json!({"is_active": false}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_problem(
        app.get("/api/v1/users/me", Some(&member.access_token)).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_REVOKED",
    )
    .await;
    let refresh = app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": member.refresh_token})).await;
    assert_eq!(refresh.status(), StatusCode::UNAUTHORIZED);
    let login = app
        .post("/api/v1/auth/login", None, &json!({"email": member.user.email, "password": member.user.password}))
        .await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;

    app.patch(&format!("/api/v1/users/{}", member.id), Some(&admin.access_token), &json!({"is_active": true})).await;
    app.login(&member.user).await;
}

#[tokio::test]
async fn deleting_a_user_hides_it_ends_its_sessions_and_restore_brings_it_back() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    let path = format!("/api/v1/users/{}", member.id);
    let token = Some(admin.access_token.as_str());
    assert_problem(app.delete(&path, Some(&member.access_token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    assert_eq!(app.delete(&path, token).await.status(), StatusCode::NO_CONTENT);

    assert_problem(app.get(&path, token).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.delete(&path, token).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(app.get("/api/v1/users/me", Some(&member.access_token)).await.status(), StatusCode::UNAUTHORIZED);
    let listed: Value = app.get("/api/v1/users", token).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().iter().all(|u| u["id"] != member.id.as_str()));
    let login = app
        .post("/api/v1/auth/login", None, &json!({"email": member.user.email, "password": member.user.password}))
        .await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;

    let restored = app.post(&format!("{path}/restore"), token, &json!({})).await;
    assert_eq!(restored.status(), StatusCode::OK);
    assert_eq!(app.get(&path, token).await.status(), StatusCode::OK);
    app.login(&member.user).await;
    let again = app.post(&format!("{path}/restore"), token, &json!({})).await;
    assert_problem(again, StatusCode::CONFLICT, "NOT_DELETED").await;
}
