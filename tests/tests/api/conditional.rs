//! Conditional requests on users: strong ETags, `If-None-Match` (304) on reads, `If-Match` (412)
//! on writes, and a conditional write that loses a race never overwriting the winner.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::{TestApp, assert_problem, spawn_app};

fn etag_of(response: &Response) -> String {
    let tag = response.headers().get("etag").expect("an ETag").to_str().unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "a strong, quoted tag: {tag}");
    tag
}

async fn get_with(app: &TestApp, path: &str, token: &str, if_none_match: &str) -> Response {
    app.client.get(app.url(path)).bearer_auth(token).header("if-none-match", if_none_match).send().await.unwrap()
}

async fn write_with(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    if_match: &str,
    body: Option<&Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token).header("if-match", if_match);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_user_and_me_carry_a_strong_etag_and_an_unchanged_one_is_a_304_without_body() {
    let app = spawn_app().await;
    let member = app.member().await;
    let token = member.access_token.as_str();
    for path in ["/api/v1/users/me".to_owned(), format!("/api/v1/users/{}", member.id)] {
        let response = app.get(&path, Some(token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let tag = etag_of(&response);
        assert!(!tag.starts_with("W/"), "{tag}");
        assert_eq!(etag_of(&app.get(&path, Some(token)).await), tag, "the same representation, the same tag");

        let not_modified = get_with(&app, &path, token, &tag).await;

        assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(etag_of(&not_modified), tag);
        assert!(not_modified.bytes().await.unwrap().is_empty(), "a 304 has no body");
    }
}

#[tokio::test]
async fn after_a_change_the_old_tag_gets_a_200_with_a_new_etag() {
    let app = spawn_app().await;
    let member = app.member().await;
    let token = member.access_token.as_str();
    let old = etag_of(&app.get("/api/v1/users/me", Some(token)).await);
    let patched = app.patch("/api/v1/users/me", Some(token), &json!({"full_name": "Ada Lovelace"})).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let returned = etag_of(&patched);

    let response = get_with(&app, "/api/v1/users/me", token, &old).await;

    assert_eq!(response.status(), StatusCode::OK);
    let new = etag_of(&response);
    assert_ne!(new, old);
    assert_eq!(new, returned, "a write answers with the tag a read then gives");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["full_name"], "Ada Lovelace");
}

#[tokio::test]
async fn writes_with_a_stale_if_match_are_412_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    let (token, path) = (admin.access_token.as_str(), format!("/api/v1/users/{}", member.id));
    let stale = etag_of(&app.get(&path, Some(token)).await);
    assert_eq!(app.patch(&path, Some(token), &json!({"full_name": "Moved On"})).await.status(), StatusCode::OK);
    let current: Value = app.get(&path, Some(token)).await.json().await.unwrap();

    let attempts = [
        (Method::PATCH, path.clone(), Some(json!({"full_name": "Lost Update"}))),
        (Method::PUT, path.clone(), Some(json!({"email": "lost@example.com", "username": "lost_update"}))),
        (Method::DELETE, path.clone(), None),
    ];
    for (method, path, body) in attempts {
        let response = write_with(&app, method.clone(), &path, token, &stale, body.as_ref()).await;
        assert_problem(response, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    }
    let own = write_with(
        &app,
        Method::PATCH,
        "/api/v1/users/me",
        &member.access_token,
        &stale,
        Some(&json!({"full_name": "Mine"})),
    )
    .await;
    assert_problem(own, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;

    let after: Value = app.get(&path, Some(token)).await.json().await.unwrap();
    assert_eq!(after, current, "nothing changed, nothing was deleted");
}

#[tokio::test]
async fn writes_with_the_current_if_match_succeed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    let (token, path) = (admin.access_token.as_str(), format!("/api/v1/users/{}", member.id));

    let tag = etag_of(&app.get(&path, Some(token)).await);
    let patched = write_with(&app, Method::PATCH, &path, token, &tag, Some(&json!({"full_name": "One"}))).await;
    assert_eq!(patched.status(), StatusCode::OK);

    let tag = etag_of(&patched);
    let body = json!({"email": member.user.email, "username": member.user.username, "full_name": "Two"});
    let replaced = write_with(&app, Method::PUT, &path, token, &tag, Some(&body)).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced_tag = etag_of(&replaced);
    assert_eq!(replaced.json::<Value>().await.unwrap()["full_name"], "Two");

    let own_tag = etag_of(&app.get("/api/v1/users/me", Some(&member.access_token)).await);
    let own = write_with(
        &app,
        Method::PATCH,
        "/api/v1/users/me",
        &member.access_token,
        &own_tag,
        Some(&json!({"full_name": "Three"})),
    )
    .await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_ne!(etag_of(&own), replaced_tag);

    let tag = etag_of(&app.get(&path, Some(token)).await);
    let deleted = write_with(&app, Method::DELETE, &path, token, &tag, None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, Some(token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn of_twenty_concurrent_patches_with_one_if_match_exactly_one_wins() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    let (token, path) = (admin.access_token.as_str(), format!("/api/v1/users/{}", member.id));
    let tag = etag_of(&app.get(&path, Some(token)).await);

    let attempts = (0..20).map(|i| {
        let (app, path, tag) = (&app, &path, &tag);
        async move {
            let body = json!({"full_name": format!("Writer {i}")});
            let response = write_with(app, Method::PATCH, path, token, tag, Some(&body)).await;
            (i, response.status())
        }
    });
    let outcomes = futures::future::join_all(attempts).await;

    let winners: Vec<usize> =
        outcomes.iter().filter(|(_, status)| *status == StatusCode::OK).map(|(i, _)| *i).collect();
    let refused = outcomes.iter().filter(|(_, status)| *status == StatusCode::PRECONDITION_FAILED).count();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert_eq!(refused, 19, "{outcomes:?}");
    let stored: Value = app.get(&path, Some(token)).await.json().await.unwrap();
    assert_eq!(stored["full_name"], format!("Writer {}", winners[0]), "the winner's change is the one stored");
}
