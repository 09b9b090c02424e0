//! Projects and their members over HTTP: the permission table of API.md row by row, the owner
//! rules, conditional requests, name uniqueness, soft deletion and lists.

mod crud;
mod members;
mod permissions;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Session, TestApp, TestUser, spawn_app};

/// Every kind of caller the permission table distinguishes, around one project of `owner` in
/// which `maintainer` and `viewer` are members. `outsider` is a member of the installation but not
/// of the project; `manager` is not a member either.
pub struct Cast {
    pub app: TestApp,
    pub owner: Session,
    pub maintainer: Session,
    pub viewer: Session,
    pub outsider: Session,
    pub manager: Session,
    pub admin: Session,
    pub project: String,
}

impl Cast {
    pub async fn new() -> Self {
        let app = spawn_app().await;
        let owner = app.member().await;
        let maintainer = app.member().await;
        let viewer = app.member().await;
        let outsider = app.member().await;
        let manager = app.user_with_role("manager").await;
        let admin = app.admin().await;
        let mut cast = Self { app, owner, maintainer, viewer, outsider, manager, admin, project: String::new() };
        cast.project = cast.staffed_project("Apollo").await;
        cast
    }

    /// A new project of the owner with the maintainer and the viewer as members; its id.
    pub async fn staffed_project(&self, name: &str) -> String {
        let id = create_project(&self.app, &self.owner, name).await["id"].as_str().unwrap().to_owned();
        for (member, role) in [(&self.maintainer, "maintainer"), (&self.viewer, "viewer")] {
            let response = add_member(&self.app, &self.owner, &id, &member.id, role).await;
            assert_eq!(response.status(), StatusCode::CREATED, "adding the {role}");
        }
        id
    }

    /// The actors by name, in the order of the permission table's columns.
    pub fn actors(&self) -> [(&'static str, &Session); 6] {
        [
            ("outsider", &self.outsider),
            ("viewer", &self.viewer),
            ("maintainer", &self.maintainer),
            ("owner", &self.owner),
            ("manager", &self.manager),
            ("admin", &self.admin),
        ]
    }
}

pub fn project_path(id: &str) -> String {
    format!("/api/v1/projects/{id}")
}

pub fn member_path(project: &str, user: &str) -> String {
    format!("/api/v1/projects/{project}/members/{user}")
}

/// `session` starts a project called `name`; its body.
pub async fn create_project(app: &TestApp, session: &Session, name: &str) -> Value {
    let response = app.post("/api/v1/projects", Some(&session.access_token), &json!({"name": name})).await;
    assert_eq!(response.status(), StatusCode::CREATED, "creating {name}");
    response.json().await.unwrap()
}

pub async fn add_member(app: &TestApp, session: &Session, project: &str, user: &str, role: &str) -> Response {
    app.post(
        &format!("{}/members", project_path(project)),
        Some(&session.access_token),
        &json!({"user_id": user, "role": role}),
    )
    .await
}

/// A registered user who has not logged in; its id.
pub async fn someone(app: &TestApp) -> String {
    app.register(&TestUser::generate()).await["id"].as_str().unwrap().to_owned()
}

/// A request with `If-Match` (or `If-None-Match` for GET).
pub async fn conditional(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    session: &Session,
    etag: &str,
    body: Option<Value>,
) -> Response {
    let header = if method == reqwest::Method::GET { "if-none-match" } else { "if-match" };
    let mut request = app.client.request(method, app.url(path)).bearer_auth(&session.access_token).header(header, etag);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub fn etag_of(response: &Response) -> String {
    response.headers().get("etag").expect("an ETag").to_str().unwrap().to_owned()
}

/// The role of `user` in `project`, as the owner-visible member list shows it (`None`: not a
/// member).
pub async fn role_of(app: &TestApp, reader: &Session, project: &str, user: &str) -> Option<String> {
    let response = app.get(&format!("{}/members?limit=100", project_path(project)), Some(&reader.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == user)
        .map(|m| m["role"].as_str().unwrap().to_owned())
}
