//! Members: adding by id or e-mail, the rule of exactly one owner under removal, demotion,
//! transfer and leaving, and conditional requests on memberships.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Cast, add_member, conditional, etag_of, member_path, project_path, role_of, someone};
use crate::harness::{TestUser, assert_problem, error_fields};

#[tokio::test]
async fn a_member_is_added_by_email_and_answered_with_its_etag_and_location() {
    let cast = Cast::new().await;
    let grace = TestUser::generate();
    let grace_id = cast.app.register(&grace).await["id"].as_str().unwrap().to_owned();

    let response = cast
        .app
        .post(
            &format!("{}/members", project_path(&cast.project)),
            Some(&cast.maintainer.access_token),
            &json!({"email": grace.email.to_uppercase(), "role": "maintainer"}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["location"].to_str().unwrap(), member_path(&cast.project, &grace_id));
    assert!(response.headers().contains_key("etag"));
    let body: Value = response.json().await.unwrap();
    assert_eq!((body["user_id"].as_str(), body["role"].as_str()), (Some(grace_id.as_str()), Some("maintainer")));
    assert_eq!(body["username"], grace.username);
    let project: Value =
        cast.app.get(&project_path(&cast.project), Some(&cast.owner.access_token)).await.json().await.unwrap();
    assert_eq!(project["member_count"], 4);
}

#[tokio::test]
async fn an_unknown_or_deleted_user_is_a_422_naming_the_field_that_named_it() {
    let cast = Cast::new().await;
    let path = format!("{}/members", project_path(&cast.project));
    let token = Some(cast.owner.access_token.as_str());

    let by_id = cast.app.post(&path, token, &json!({"user_id": uuid::Uuid::now_v7(), "role": "viewer"})).await;
    let problem = assert_problem(by_id, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["user_id"]);
    assert_eq!(problem["errors"][0]["code"], "UNKNOWN_USER");

    let by_email = cast.app.post(&path, token, &json!({"email": "nobody@example.com", "role": "viewer"})).await;
    let problem = assert_problem(by_email, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["email"]);

    let gone = someone(&cast.app).await;
    let deleted = cast.app.delete(&format!("/api/v1/users/{gone}"), Some(&cast.admin.access_token)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let response = add_member(&cast.app, &cast.owner, &cast.project, &gone, "viewer").await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["user_id"]);

    let both = cast.app.post(&path, token, &json!({"user_id": gone, "email": "x@example.com", "role": "viewer"})).await;
    let problem = assert_problem(both, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["user_id", "email"]);
    let listed: Value = cast.app.get(&format!("{path}?limit=100"), token).await.json().await.unwrap();
    assert_eq!(listed["total"], 3, "nothing was added");
}

#[tokio::test]
async fn adding_someone_who_already_is_a_member_is_a_409() {
    let cast = Cast::new().await;
    for member in [&cast.viewer.id, &cast.owner.id] {
        let response = add_member(&cast.app, &cast.owner, &cast.project, member, "maintainer").await;
        assert_problem(response, StatusCode::CONFLICT, "ALREADY_MEMBER").await;
    }
    assert_eq!(role_of(&cast.app, &cast.owner, &cast.project, &cast.viewer.id).await.as_deref(), Some("viewer"));
}

#[tokio::test]
async fn no_one_becomes_owner_by_being_added_or_by_a_role_change() {
    let cast = Cast::new().await;
    let newcomer = someone(&cast.app).await;
    let response = add_member(&cast.app, &cast.admin, &cast.project, &newcomer, "owner").await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(
        (problem["errors"][0]["field"].as_str(), problem["errors"][0]["code"].as_str()),
        (Some("role"), Some("NOT_ALLOWED"))
    );

    let response = cast
        .app
        .patch(
            &member_path(&cast.project, &cast.maintainer.id),
            Some(&cast.owner.access_token),
            &json!({"role": "owner"}),
        )
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(
        role_of(&cast.app, &cast.owner, &cast.project, &cast.maintainer.id).await.as_deref(),
        Some("maintainer")
    );
    assert_eq!(role_of(&cast.app, &cast.owner, &cast.project, &newcomer).await, None);
}

#[tokio::test]
async fn the_owner_cannot_be_removed_by_anyone_nor_leave() {
    let cast = Cast::new().await;
    let path = member_path(&cast.project, &cast.owner.id);
    for session in [&cast.owner, &cast.maintainer, &cast.admin] {
        let response = cast.app.delete(&path, Some(&session.access_token)).await;
        assert_problem(response, StatusCode::CONFLICT, "OWNER_CANNOT_LEAVE").await;
    }
    assert_problem(cast.app.delete(&path, Some(&cast.viewer.access_token)).await, StatusCode::FORBIDDEN, "FORBIDDEN")
        .await;
    assert_eq!(role_of(&cast.app, &cast.owner, &cast.project, &cast.owner.id).await.as_deref(), Some("owner"));
}

#[tokio::test]
async fn the_owner_cannot_be_demoted_even_by_itself_or_an_admin() {
    let cast = Cast::new().await;
    let path = member_path(&cast.project, &cast.owner.id);
    for session in [&cast.owner, &cast.admin] {
        for role in ["maintainer", "viewer"] {
            let response = cast.app.patch(&path, Some(&session.access_token), &json!({"role": role})).await;
            let problem = assert_problem(response, StatusCode::CONFLICT, "OWNER_CANNOT_BE_DEMOTED").await;
            assert!(problem["detail"].as_str().unwrap().contains("transfer"), "{problem}");
        }
    }
    let project: Value =
        cast.app.get(&project_path(&cast.project), Some(&cast.owner.access_token)).await.json().await.unwrap();
    assert_eq!(project["owner_id"], cast.owner.id.as_str());
}

/// The user ids of the project's owners, as the member list filtered by role shows them.
async fn owners(cast: &Cast) -> Vec<String> {
    let path = format!("{}/members?role=owner", project_path(&cast.project));
    let body: Value = cast.app.get(&path, Some(&cast.admin.access_token)).await.json().await.unwrap();
    body["items"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_transfer_makes_the_member_owner_and_the_old_owner_a_maintainer_who_may_then_leave() {
    let cast = Cast::new().await;
    let path = format!("{}/transfer", project_path(&cast.project));

    let response = cast.app.post(&path, Some(&cast.owner.access_token), &json!({"user_id": cast.viewer.id})).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("etag"));
    let project: Value = response.json().await.unwrap();
    assert_eq!(project["owner_id"], cast.viewer.id.as_str());
    assert!(project["_links"].get("transfer").is_none(), "the old owner may no longer transfer");
    assert!(project["_links"].get("update").is_some(), "but as a maintainer it still edits");
    assert_eq!(owners(&cast).await, [cast.viewer.id.as_str()], "exactly one owner");
    assert_eq!(role_of(&cast.app, &cast.admin, &cast.project, &cast.owner.id).await.as_deref(), Some("maintainer"));

    // The old owner, now a maintainer, may leave; the new owner may not.
    let new_owner_leaves =
        cast.app.delete(&member_path(&cast.project, &cast.viewer.id), Some(&cast.viewer.access_token)).await;
    assert_problem(new_owner_leaves, StatusCode::CONFLICT, "OWNER_CANNOT_LEAVE").await;
    let old_owner_leaves =
        cast.app.delete(&member_path(&cast.project, &cast.owner.id), Some(&cast.owner.access_token)).await;
    assert_eq!(old_owner_leaves.status(), StatusCode::NO_CONTENT);
    assert_problem(
        cast.app.get(&project_path(&cast.project), Some(&cast.owner.access_token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(owners(&cast).await, [cast.viewer.id.as_str()]);
}

#[tokio::test]
async fn a_transfer_needs_a_member_who_is_not_already_the_owner() {
    let cast = Cast::new().await;
    let path = format!("{}/transfer", project_path(&cast.project));
    let token = Some(cast.owner.access_token.as_str());

    let response = cast.app.post(&path, token, &json!({"user_id": cast.outsider.id})).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(problem["errors"][0]["code"], "NOT_A_MEMBER");

    let response = cast.app.post(&path, token, &json!({"user_id": cast.owner.id})).await;
    assert_problem(response, StatusCode::CONFLICT, "ALREADY_OWNER").await;

    let response = cast.app.post(&path, token, &json!({})).await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["user_id"]);
}

#[tokio::test]
async fn a_transfer_to_a_member_who_owns_a_project_of_that_name_is_a_409() {
    let cast = Cast::new().await;
    super::create_project(&cast.app, &cast.maintainer, "APOLLO").await;

    let response = cast
        .app
        .post(
            &format!("{}/transfer", project_path(&cast.project)),
            Some(&cast.owner.access_token),
            &json!({"user_id": cast.maintainer.id}),
        )
        .await;

    assert_problem(response, StatusCode::CONFLICT, "PROJECT_NAME_TAKEN").await;
    assert_eq!(role_of(&cast.app, &cast.owner, &cast.project, &cast.owner.id).await.as_deref(), Some("owner"));
}

#[tokio::test]
async fn a_membership_change_with_a_stale_if_match_is_a_412_and_changes_nothing() {
    let cast = Cast::new().await;
    let path = member_path(&cast.project, &cast.viewer.id);

    let first = cast.app.patch(&path, Some(&cast.owner.access_token), &json!({"role": "maintainer"})).await;
    assert_eq!(first.status(), StatusCode::OK);
    let current = etag_of(&first);
    let second =
        conditional(&cast.app, Method::PATCH, &path, &cast.owner, &current, Some(json!({"role": "viewer"}))).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_ne!(etag_of(&second), current);

    // `current` is now one change behind.
    let stale =
        conditional(&cast.app, Method::PATCH, &path, &cast.owner, &current, Some(json!({"role": "maintainer"}))).await;
    assert_problem(stale, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    let stale_delete = conditional(&cast.app, Method::DELETE, &path, &cast.owner, &current, None).await;
    assert_problem(stale_delete, StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED").await;
    assert_eq!(role_of(&cast.app, &cast.owner, &cast.project, &cast.viewer.id).await.as_deref(), Some("viewer"));

    let fresh = etag_of(&second);
    let removed = conditional(&cast.app, Method::DELETE, &path, &cast.owner, &fresh, None).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(role_of(&cast.app, &cast.owner, &cast.project, &cast.viewer.id).await, None);
}

#[tokio::test]
async fn members_of_an_unknown_or_removed_membership_are_404() {
    let cast = Cast::new().await;
    let stranger = member_path(&cast.project, &cast.outsider.id);
    let token = Some(cast.owner.access_token.as_str());
    assert_problem(
        cast.app.patch(&stranger, token, &json!({"role": "viewer"})).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_problem(cast.app.delete(&stranger, token).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_removed_member_loses_access_at_once() {
    let cast = Cast::new().await;
    assert_eq!(
        cast.app.get(&project_path(&cast.project), Some(&cast.viewer.access_token)).await.status(),
        StatusCode::OK
    );

    let removed =
        cast.app.delete(&member_path(&cast.project, &cast.viewer.id), Some(&cast.maintainer.access_token)).await;

    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_problem(
        cast.app.get(&project_path(&cast.project), Some(&cast.viewer.access_token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let listed: Value = cast.app.get("/api/v1/projects", Some(&cast.viewer.access_token)).await.json().await.unwrap();
    assert_eq!(listed["total"], 0);
}

#[tokio::test]
async fn the_member_list_is_ordered_filtered_and_carries_the_callers_actions() {
    let cast = Cast::new().await;
    let path = format!("{}/members", project_path(&cast.project));

    let body: Value = cast.app.get(&path, Some(&cast.owner.access_token)).await.json().await.unwrap();
    let users: Vec<&str> = body["items"].as_array().unwrap().iter().map(|m| m["user_id"].as_str().unwrap()).collect();
    assert_eq!(
        users,
        [cast.owner.id.as_str(), cast.maintainer.id.as_str(), cast.viewer.id.as_str()],
        "first come first"
    );
    assert!(body["items"][0]["_links"].get("remove").is_none(), "the owner is never offered for removal");
    assert_eq!(body["items"][2]["_links"]["update"]["method"], "PATCH");

    let as_viewer: Value = cast.app.get(&path, Some(&cast.viewer.access_token)).await.json().await.unwrap();
    let own = as_viewer["items"].as_array().unwrap().iter().find(|m| m["user_id"] == cast.viewer.id.as_str()).unwrap();
    assert_eq!(own["_links"]["remove"]["method"], "DELETE", "a viewer may leave");
    assert!(own["_links"].get("update").is_none());
    let maintainer =
        as_viewer["items"].as_array().unwrap().iter().find(|m| m["user_id"] == cast.maintainer.id.as_str()).unwrap();
    assert!(maintainer["_links"].get("remove").is_none());

    let viewers: Value =
        cast.app.get(&format!("{path}?role=viewer"), Some(&cast.owner.access_token)).await.json().await.unwrap();
    assert_eq!(viewers["total"], 1);
    let bad = cast.app.get(&format!("{path}?role=admin&sort=role"), Some(&cast.owner.access_token)).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED").await;
    assert_eq!(error_fields(&problem), ["sort", "role"]);
}
