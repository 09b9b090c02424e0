//! Starting, reading, changing and deleting projects: validation, per-owner name uniqueness,
//! conditional requests (304, 412, and a race of conditional writes) and soft deletion.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{conditional, create_project, etag_of, project_path};
use crate::harness::{assert_problem, error_fields, spawn_app};

#[tokio::test]
async fn a_new_project_is_owned_by_its_creator_and_answered_with_location_and_etag() {
    let app = spawn_app().await;
    let ada = app.member().await;

    let response = app
        .post(
            "/api/v1/projects",
            Some(&ada.access_token),
            &json!({"name": "  Apollo ", "description": "Land on the moon\nand return"}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(etag_of(&response).starts_with("\"1-"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(location, project_path(body["id"].as_str().unwrap()));
    assert_eq!(body["name"], "Apollo");
    assert_eq!(body["description"], "Land on the moon\nand return");
    assert_eq!((body["status"].as_str(), body["owner_id"].as_str()), (Some("active"), Some(ada.id.as_str())));
    assert_eq!(body["member_count"], 1);
    for key in ["id", "created_at", "updated_at", "_links"] {
        assert!(body.get(key).is_some(), "{key}");
    }
    let members: Value = app.get(&format!("{location}/members"), Some(&ada.access_token)).await.json().await.unwrap();
    assert_eq!(members["items"][0]["role"], "owner");
}

#[tokio::test]
async fn invalid_fields_are_listed_in_one_422_and_nothing_is_created() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let token = Some(ada.access_token.as_str());

    let response = app
        .post(
            "/api/v1/projects",
            token,
            &json!({"name": "a\u{7}b", "description": "x".repeat(2001), "owner_id": ada.id}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["owner_id"], "a field that may not be set is refused first");

    let response =
        app.post("/api/v1/projects", token, &json!({"name": "a\u{7}b", "description": "x".repeat(2001)})).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["name", "description"]);
    let response = app.post("/api/v1/projects", token, &json!({"name": "   "})).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["code"], "REQUIRED");

    let listed: Value = app.get("/api/v1/projects", token).await.json().await.unwrap();
    assert_eq!(listed["total"], 0);
}

#[tokio::test]
async fn a_name_is_unique_per_owner_ignoring_case_and_free_again_once_deleted() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let bob = app.member().await;
    let first = create_project(&app, &ada, "Apollo").await;

    for spelling in ["Apollo", "APOLLO", " apollo "] {
        let response = app.post("/api/v1/projects", Some(&ada.access_token), &json!({"name": spelling})).await;
        assert_problem(response, StatusCode::CONFLICT, "PROJECT_NAME_TAKEN").await;
    }
    create_project(&app, &bob, "apollo").await;

    let gemini = create_project(&app, &ada, "Gemini").await;
    let rename = app
        .patch(&project_path(gemini["id"].as_str().unwrap()), Some(&ada.access_token), &json!({"name": "APOLLO"}))
        .await;
    assert_problem(rename, StatusCode::CONFLICT, "PROJECT_NAME_TAKEN").await;

    let deleted = app.delete(&project_path(first["id"].as_str().unwrap()), Some(&ada.access_token)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    create_project(&app, &ada, "APOLLO").await;
}

#[tokio::test]
async fn a_deleted_project_reads_as_404_and_leaves_every_list() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let admin = app.admin().await;
    let id = create_project(&app, &ada, "Apollo").await["id"].as_str().unwrap().to_owned();
    create_project(&app, &ada, "Gemini").await;
    let path = project_path(&id);
    let token = Some(ada.access_token.as_str());

    assert_eq!(app.delete(&path, token).await.status(), StatusCode::NO_CONTENT);

    assert_problem(app.get(&path, token).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.get(&path, Some(&admin.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.patch(&path, token, &json!({"name": "Back"})).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.delete(&path, token).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.get(&format!("{path}/members"), token).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    for list in [
        app.get("/api/v1/projects", token).await,
        app.get("/api/v1/projects?scope=all", Some(&admin.access_token)).await,
        app.get(&format!("/api/v1/users/{}/projects", ada.id), token).await,
    ] {
        let body: Value = list.json().await.unwrap();
        assert_eq!(body["total"], 1, "{body}");
        assert_eq!(body["items"][0]["name"], "Gemini");
    }
}

#[tokio::test]
async fn a_get_naming_the_current_etag_is_304_and_a_change_moves_the_etag() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let id = create_project(&app, &ada, "Apollo").await["id"].as_str().unwrap().to_owned();
    let path = project_path(&id);

    let first = app.get(&path, Some(&ada.access_token)).await;
    let etag = etag_of(&first);
    let not_modified = conditional(&app, Method::GET, &path, &ada, &etag, None).await;
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(etag_of(&not_modified), etag);
    assert!(not_modified.bytes().await.unwrap().is_empty());

    app.patch(&path, Some(&ada.access_token), &json!({"status": "archived"})).await;
    let changed = conditional(&app, Method::GET, &path, &ada, &etag, None).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(etag_of(&changed), etag);
    assert_eq!(changed.json::<Value>().await.unwrap()["status"], "archived");
}

#[tokio::test]
async fn a_patch_or_delete_with_a_stale_if_match_is_a_412_and_changes_nothing() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let id = create_project(&app, &ada, "Apollo").await["id"].as_str().unwrap().to_owned();
    let path = project_path(&id);
    let stale = etag_of(&app.get(&path, Some(&ada.access_token)).await);
    app.patch(&path, Some(&ada.access_token), &json!({"description": "moved on"})).await;

    let patch = conditional(&app, Method::PATCH, &path, &ada, &stale, Some(json!({"name": "Artemis"}))).await;
    assert_problem(patch, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    let put = conditional(&app, Method::PUT, &path, &ada, &stale, Some(json!({"name": "Artemis"}))).await;
    assert_problem(put, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    let delete = conditional(&app, Method::DELETE, &path, &ada, &stale, None).await;
    assert_problem(delete, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    let transfer =
        conditional(&app, Method::POST, &format!("{path}/transfer"), &ada, &stale, Some(json!({"user_id": ada.id})))
            .await;
    assert_problem(transfer, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;

    let current = app.get(&path, Some(&ada.access_token)).await;
    let etag = etag_of(&current);
    let body: Value = current.json().await.unwrap();
    assert_eq!((body["name"].as_str(), body["description"].as_str()), (Some("Apollo"), Some("moved on")));
    let patched = conditional(&app, Method::PATCH, &path, &ada, &etag, Some(json!({"name": "Artemis"}))).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let deleted = conditional(&app, Method::DELETE, &path, &ada, &etag_of(&patched), None).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn of_twenty_concurrent_patches_with_one_etag_exactly_one_wins_and_its_change_is_stored() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let id = create_project(&app, &ada, "Apollo").await["id"].as_str().unwrap().to_owned();
    let path = project_path(&id);
    let etag = etag_of(&app.get(&path, Some(&ada.access_token)).await);

    let attempts = (0..20).map(|i| {
        let (app, ada, path, etag) = (&app, &ada, &path, &etag);
        async move {
            let body = json!({"description": format!("writer {i}")});
            (i, conditional(app, Method::PATCH, path, ada, etag, Some(body)).await.status())
        }
    });
    let outcomes = join_all(attempts).await;

    let winners: Vec<usize> = outcomes.iter().filter(|(_, s)| *s == StatusCode::OK).map(|(i, _)| *i).collect();
    let refused = outcomes.iter().filter(|(_, s)| *s == StatusCode::PRECONDITION_FAILED).count();
    assert_eq!((winners.len(), refused), (1, 19), "{outcomes:?}");
    let stored: Value = app.get(&path, Some(&ada.access_token)).await.json().await.unwrap();
    assert_eq!(stored["description"], format!("writer {}", winners[0]));
}

#[tokio::test]
async fn put_replaces_the_editable_fields_and_patch_changes_only_those_given() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let created = app
        .post("/api/v1/projects", Some(&ada.access_token), &json!({"name": "Apollo", "description": "To the moon"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let path = project_path(created["id"].as_str().unwrap());
    let token = Some(ada.access_token.as_str());

    let patched: Value = app.patch(&path, token, &json!({"status": "archived"})).await.json().await.unwrap();
    assert_eq!((patched["name"].as_str(), patched["description"].as_str()), (Some("Apollo"), Some("To the moon")));
    assert_eq!(patched["status"], "archived");

    let replaced: Value = app.put(&path, token, &json!({"name": "Artemis"})).await.json().await.unwrap();
    assert_eq!(replaced["name"], "Artemis");
    assert!(replaced["description"].is_null(), "an absent description is cleared by PUT");
    assert_eq!(replaced["status"], "archived", "an absent status stays");

    let missing = app.put(&path, token, &json!({"description": "no name"})).await;
    let problem = assert_problem(missing, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["name"]);
    let bad = app.patch(&path, token, &json!({"status": "deleted", "owner_id": ada.id})).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["owner_id"]);
    let bad = app.patch(&path, token, &json!({"status": "deleted", "name": ""})).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["name", "status"]);
}

#[tokio::test]
async fn the_project_list_filters_sorts_and_pages() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let bob = app.member().await;
    for name in ["bravo", "Alpha 100%", "charlie"] {
        create_project(&app, &ada, name).await;
    }
    let bobs = create_project(&app, &bob, "Delta").await;
    let added = super::add_member(&app, &bob, bobs["id"].as_str().unwrap(), &ada.id, "viewer").await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let archived = create_project(&app, &ada, "Echo").await;
    app.patch(&project_path(archived["id"].as_str().unwrap()), Some(&ada.access_token), &json!({"status": "archived"}))
        .await;
    let token = Some(ada.access_token.as_str());
    let names = |body: &Value| -> Vec<String> {
        body["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
    };

    let all: Value = app.get("/api/v1/projects?sort=name&order=asc", token).await.json().await.unwrap();
    assert_eq!(names(&all), ["Alpha 100%", "bravo", "charlie", "Delta", "Echo"]);
    let newest: Value = app.get("/api/v1/projects", token).await.json().await.unwrap();
    assert_eq!(names(&newest)[0], "Echo", "newest first by default");
    let updated: Value =
        app.get("/api/v1/projects?sort=updated_at&order=desc&limit=1", token).await.json().await.unwrap();
    assert_eq!(names(&updated), ["Echo"]);

    let search: Value = app.get("/api/v1/projects?search=ALPHA", token).await.json().await.unwrap();
    assert_eq!(names(&search), ["Alpha 100%"]);
    let literal: Value = app.get("/api/v1/projects?search=0%25", token).await.json().await.unwrap();
    assert_eq!(names(&literal), ["Alpha 100%"], "% is matched literally");
    let active: Value = app.get("/api/v1/projects?status=archived", token).await.json().await.unwrap();
    assert_eq!(names(&active), ["Echo"]);
    let owned_by_bob: Value =
        app.get(&format!("/api/v1/projects?owner_id={}", bob.id), token).await.json().await.unwrap();
    assert_eq!(names(&owned_by_bob), ["Delta"]);
    assert_eq!(owned_by_bob["items"][0]["member_count"], 2);

    let page = app.get("/api/v1/projects?sort=name&order=asc&limit=2&page=2", token).await;
    let link = page.headers()["link"].to_str().unwrap().to_owned();
    let page: Value = page.json().await.unwrap();
    assert_eq!((page["total"].as_u64(), page["pages"].as_u64()), (Some(5), Some(3)));
    assert_eq!(names(&page), ["charlie", "Delta"]);
    assert!(link.contains("rel=\"next\"") && link.contains("page=3"), "{link}");

    let bad = app.get("/api/v1/projects?sort=owner&status=gone&owner_id=7&scope=some", token).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["scope", "sort", "status", "owner_id"]);
}
