//! The permission table of API.md for projects, row by row, for every kind of caller: outsider (a
//! member of the installation, not of the project), viewer, maintainer, owner, manager (not a
//! member) and admin. Whoever may not see a project gets 404, so ids reveal nothing; a member
//! without the right gets 403.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Cast, add_member, member_path, project_path, role_of, someone};
use crate::harness::{assert_problem, spawn_app};

/// The status each actor of [`Cast::actors`] got, by name.
type Outcomes = Vec<(&'static str, StatusCode)>;

fn expected(statuses: [u16; 6]) -> Outcomes {
    let names = ["outsider", "viewer", "maintainer", "owner", "manager", "admin"];
    names.into_iter().zip(statuses.map(|s| StatusCode::from_u16(s).unwrap())).collect()
}

#[tokio::test]
async fn reading_a_project_is_for_its_members_and_admins() {
    let cast = Cast::new().await;
    let path = project_path(&cast.project);
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        let response = cast.app.get(&path, Some(&session.access_token)).await;
        seen.push((name, response.status()));
        if response.status() == StatusCode::NOT_FOUND {
            assert_problem(response, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        }
    }
    assert_eq!(seen, expected([404, 200, 200, 200, 404, 200]));
}

#[tokio::test]
async fn patching_a_project_is_for_the_owner_maintainers_and_admins() {
    let cast = Cast::new().await;
    let path = project_path(&cast.project);
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        let body = json!({"description": format!("edited by the {name}")});
        let response = cast.app.patch(&path, Some(&session.access_token), &body).await;
        seen.push((name, response.status()));
        if response.status() == StatusCode::FORBIDDEN {
            assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        }
    }
    assert_eq!(seen, expected([404, 403, 200, 200, 404, 200]));
    let stored: Value = cast.app.get(&path, Some(&cast.owner.access_token)).await.json().await.unwrap();
    assert_eq!(stored["description"], "edited by the admin", "the refused callers changed nothing after the admin");
}

#[tokio::test]
async fn putting_a_project_is_for_the_owner_maintainers_and_admins() {
    let cast = Cast::new().await;
    let path = project_path(&cast.project);
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        let body = json!({"name": format!("Apollo by the {name}"), "status": "active"});
        seen.push((name, cast.app.put(&path, Some(&session.access_token), &body).await.status()));
    }
    assert_eq!(seen, expected([404, 403, 200, 200, 404, 200]));
}

#[tokio::test]
async fn deleting_a_project_is_for_the_owner_and_admins() {
    let cast = Cast::new().await;
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        // A project of its own for each caller, since a successful delete ends it.
        let project = cast.staffed_project(&format!("Doomed by the {name}")).await;
        let response = cast.app.delete(&project_path(&project), Some(&session.access_token)).await;
        seen.push((name, response.status()));
        let after = cast.app.get(&project_path(&project), Some(&cast.owner.access_token)).await.status();
        let gone = response.status() == StatusCode::NO_CONTENT;
        assert_eq!(after, if gone { StatusCode::NOT_FOUND } else { StatusCode::OK }, "{name}");
    }
    assert_eq!(seen, expected([404, 403, 403, 204, 404, 204]));
}

#[tokio::test]
async fn listing_the_members_is_for_members_and_admins() {
    let cast = Cast::new().await;
    let path = format!("{}/members", project_path(&cast.project));
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        let response = cast.app.get(&path, Some(&session.access_token)).await;
        let status = response.status();
        seen.push((name, status));
        if status == StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["total"], 3, "{name}");
            let item = &body["items"][0];
            for key in ["user_id", "username", "role", "added_at"] {
                assert!(item.get(key).is_some(), "{key}");
            }
        }
    }
    assert_eq!(seen, expected([404, 200, 200, 200, 404, 200]));
}

#[tokio::test]
async fn adding_a_member_is_for_the_owner_maintainers_and_admins() {
    let cast = Cast::new().await;
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        let newcomer = someone(&cast.app).await;
        let response = add_member(&cast.app, session, &cast.project, &newcomer, "viewer").await;
        seen.push((name, response.status()));
        let added = role_of(&cast.app, &cast.owner, &cast.project, &newcomer).await;
        assert_eq!(added.is_some(), seen.last().unwrap().1 == StatusCode::CREATED, "{name}");
    }
    assert_eq!(seen, expected([404, 403, 201, 201, 404, 201]));
}

#[tokio::test]
async fn changing_a_members_role_is_for_the_owner_and_admins() {
    let cast = Cast::new().await;
    let path = member_path(&cast.project, &cast.viewer.id);
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        // Each allowed caller moves the viewer to the other role, so every success is a change.
        let role = if role_of(&cast.app, &cast.owner, &cast.project, &cast.viewer.id).await.as_deref() == Some("viewer")
        {
            "maintainer"
        } else {
            "viewer"
        };
        let response = cast.app.patch(&path, Some(&session.access_token), &json!({"role": role})).await;
        let status = response.status();
        seen.push((name, status));
        if status == StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["role"], role, "{name}");
        }
    }
    assert_eq!(seen, expected([404, 403, 403, 200, 404, 200]));
}

#[tokio::test]
async fn removing_a_member_is_for_the_owner_maintainers_admins_and_the_member_itself() {
    let cast = Cast::new().await;
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        // Someone else to remove each time: a fresh viewer.
        let target = someone(&cast.app).await;
        add_member(&cast.app, &cast.owner, &cast.project, &target, "viewer").await;
        let response = cast.app.delete(&member_path(&cast.project, &target), Some(&session.access_token)).await;
        seen.push((name, response.status()));
        let left = role_of(&cast.app, &cast.owner, &cast.project, &target).await.is_none();
        assert_eq!(left, response.status() == StatusCode::NO_CONTENT, "{name}");
    }
    assert_eq!(seen, expected([404, 403, 204, 204, 404, 204]));

    // The member itself may leave, whatever its role.
    for member in [&cast.viewer, &cast.maintainer] {
        let response = cast.app.delete(&member_path(&cast.project, &member.id), Some(&member.access_token)).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(role_of(&cast.app, &cast.owner, &cast.project, &member.id).await, None);
    }
}

#[tokio::test]
async fn a_maintainer_removes_viewers_and_other_maintainers_but_a_viewer_removes_no_one_else() {
    let cast = Cast::new().await;
    let other_maintainer = someone(&cast.app).await;
    add_member(&cast.app, &cast.owner, &cast.project, &other_maintainer, "maintainer").await;

    let response =
        cast.app.delete(&member_path(&cast.project, &cast.maintainer.id), Some(&cast.viewer.access_token)).await;
    assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    let response =
        cast.app.delete(&member_path(&cast.project, &other_maintainer), Some(&cast.maintainer.access_token)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response =
        cast.app.delete(&member_path(&cast.project, &cast.viewer.id), Some(&cast.maintainer.access_token)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn transferring_a_project_is_for_the_owner_and_admins() {
    let cast = Cast::new().await;
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        let project = cast.staffed_project(&format!("Handed over by the {name}")).await;
        let response = cast
            .app
            .post(
                &format!("{}/transfer", project_path(&project)),
                Some(&session.access_token),
                &json!({"user_id": cast.maintainer.id}),
            )
            .await;
        let status = response.status();
        seen.push((name, status));
        let owner = role_of(&cast.app, &cast.admin, &project, &cast.maintainer.id).await;
        assert_eq!(owner.as_deref() == Some("owner"), status == StatusCode::OK, "{name}");
    }
    assert_eq!(seen, expected([404, 403, 403, 200, 404, 200]));
}

#[tokio::test]
async fn the_project_list_shows_the_callers_projects_and_every_project_only_to_admins() {
    let cast = Cast::new().await;
    let outsiders = super::create_project(&cast.app, &cast.outsider, "Outsider's own").await;

    let mine: Value = cast.app.get("/api/v1/projects", Some(&cast.viewer.access_token)).await.json().await.unwrap();
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], cast.project.as_str());
    let theirs: Value = cast.app.get("/api/v1/projects", Some(&cast.outsider.access_token)).await.json().await.unwrap();
    assert_eq!(theirs["total"], 1);
    assert_eq!(theirs["items"][0]["id"], outsiders["id"]);
    let managers: Value =
        cast.app.get("/api/v1/projects", Some(&cast.manager.access_token)).await.json().await.unwrap();
    assert_eq!(managers["total"], 0, "a manager is in no project");

    for session in [&cast.viewer, &cast.owner, &cast.manager] {
        let response = cast.app.get("/api/v1/projects?scope=all", Some(&session.access_token)).await;
        assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    let admins_own: Value =
        cast.app.get("/api/v1/projects", Some(&cast.admin.access_token)).await.json().await.unwrap();
    assert_eq!(admins_own["total"], 0, "without scope=all an admin sees its own projects");
    let all: Value =
        cast.app.get("/api/v1/projects?scope=all", Some(&cast.admin.access_token)).await.json().await.unwrap();
    assert_eq!(all["total"], 2);
    assert_eq!(all["items"][0]["_links"]["delete"]["method"], "DELETE", "admins may act on every project");
}

#[tokio::test]
async fn the_projects_of_a_user_are_for_itself_admins_and_managers() {
    let cast = Cast::new().await;
    let path = format!("/api/v1/users/{}/projects", cast.viewer.id);
    let mut seen = Outcomes::new();
    for (name, session) in cast.actors() {
        let response = cast.app.get(&path, Some(&session.access_token)).await;
        let status = response.status();
        seen.push((name, status));
        if status == StatusCode::OK {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["total"], 1, "{name}");
            assert_eq!(body["items"][0]["id"], cast.project.as_str(), "{name}");
        } else {
            assert_problem(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
        }
    }
    // The viewer itself, managers and admins; everyone else (the other members included) 403.
    assert_eq!(seen, expected([403, 200, 403, 403, 200, 200]));

    let unknown = format!("/api/v1/users/{}/projects", uuid::Uuid::now_v7());
    assert_problem(cast.app.get(&unknown, Some(&cast.admin.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND")
        .await;
    assert_problem(cast.app.get(&unknown, Some(&cast.viewer.access_token)).await, StatusCode::FORBIDDEN, "FORBIDDEN")
        .await;
}

#[tokio::test]
async fn the_links_of_a_project_offer_each_caller_only_what_it_may_do() {
    let cast = Cast::new().await;
    let path = project_path(&cast.project);
    let actions = ["update", "replace", "delete", "members", "add_member", "transfer"];
    let mut seen = Vec::new();
    for (name, session) in cast.actors() {
        let response = cast.app.get(&path, Some(&session.access_token)).await;
        if response.status() != StatusCode::OK {
            continue;
        }
        let body: Value = response.json().await.unwrap();
        let offered: Vec<&str> = actions.into_iter().filter(|a| body["_links"].get(*a).is_some()).collect();
        seen.push((name, offered));
    }
    assert_eq!(
        seen,
        [
            ("viewer", vec!["members"]),
            ("maintainer", vec!["update", "replace", "members", "add_member"]),
            ("owner", vec!["update", "replace", "delete", "members", "add_member", "transfer"]),
            ("admin", vec!["update", "replace", "delete", "members", "add_member", "transfer"]),
        ]
    );
}

#[tokio::test]
async fn every_project_endpoint_needs_authentication() {
    let app = spawn_app().await;
    let id = uuid::Uuid::now_v7();
    for (method, path) in [
        (Method::GET, "/api/v1/projects".to_owned()),
        (Method::POST, "/api/v1/projects".to_owned()),
        (Method::GET, project_path(&id.to_string())),
        (Method::PATCH, project_path(&id.to_string())),
        (Method::PUT, project_path(&id.to_string())),
        (Method::DELETE, project_path(&id.to_string())),
        (Method::GET, format!("/api/v1/projects/{id}/members")),
        (Method::POST, format!("/api/v1/projects/{id}/members")),
        (Method::PATCH, member_path(&id.to_string(), &id.to_string())),
        (Method::DELETE, member_path(&id.to_string(), &id.to_string())),
        (Method::POST, format!("/api/v1/projects/{id}/transfer")),
        (Method::GET, format!("/api/v1/users/{id}/projects")),
    ] {
        let response = app.client.request(method.clone(), app.url(&path)).json(&json!({})).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}
