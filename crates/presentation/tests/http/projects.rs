//! The projects endpoints over mocked ports: routing, ETags, the order of checks and the shape of
//! answers. Every permission of the table is checked end to end in `tests/`.

use actix_web::{
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use forge_application::{
    audit::AuditRecord,
    common::Page,
    projects::ProjectChange,
    projects::ports::{Member, ProjectView},
};
use forge_domain::{
    projects::{NewProject, Project, ProjectName, ProjectRole},
    users::{Role, User},
};
use forge_presentation::build_app;
use serde_json::json;

use crate::support::{Mocks, error_codes, json_of, problem_of, user_with_role, utc};

fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
}

fn header_of(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A project of `owner` called Apollo, and the owner's membership.
fn apollo(owner: &User) -> (Project, Member) {
    let (project, membership) = Project::create(
        owner.id(),
        NewProject { name: ProjectName::parse("Apollo").unwrap(), description: None },
        utc(),
    );
    (project, Member { membership, username: owner.username().clone() })
}

/// Storage holds `project`, with `members`, and counts them.
fn stored(mocks: &mut Mocks, project: &Project, members: Vec<Member>) {
    let found = project.clone();
    let id = project.id();
    mocks.projects.expect_by_id().withf(move |asked| *asked == id).returning(move |_| Ok(Some(found.clone())));
    let count = members.len() as u64;
    mocks.projects.expect_member_count().returning(move |_| Ok(count));
    mocks.projects.expect_member().returning(move |p, u| {
        Ok(members.iter().find(|m| m.membership.project_id() == p && m.membership.user_id() == u).cloned())
    });
}

#[actix_web::test]
async fn a_project_answers_with_a_strong_etag_and_304_when_it_is_unchanged() {
    let ada = user_with_role("ada", Role::Member);
    let (project, owner) = apollo(&ada);
    let mut mocks = Mocks::default();
    stored(&mut mocks, &project, vec![owner]);
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let uri = format!("/api/v1/projects/{}", project.id());

    let res = test::call_service(&app, bearer(TestRequest::get().uri(&uri), "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let etag = header_of(&res, "etag").unwrap();
    assert!(etag.starts_with("\"1-"), "{etag}");
    let body = json_of(res).await;
    assert_eq!((body["name"].as_str(), body["member_count"].as_u64()), (Some("Apollo"), Some(1)));
    assert_eq!(body["_links"]["transfer"]["href"], format!("{uri}/transfer"));

    let again = bearer(TestRequest::get().uri(&uri), "t").insert_header((header::IF_NONE_MATCH, etag.clone()));
    let res = test::call_service(&app, again.to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header_of(&res, "etag").as_deref(), Some(etag.as_str()));
    assert!(test::read_body(res).await.is_empty());
}

#[actix_web::test]
async fn a_patch_with_an_outdated_if_match_is_a_412_and_stores_nothing() {
    let ada = user_with_role("ada", Role::Member);
    let (project, owner) = apollo(&ada);
    let mut mocks = Mocks::default();
    stored(&mut mocks, &project, vec![owner]);
    mocks.unit_of_work.expect_commit().never();
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let stale = forge_presentation::conditional::etag(0, b"{}").to_string();
    let req = TestRequest::patch()
        .uri(&format!("/api/v1/projects/{}", project.id()))
        .insert_header((header::IF_MATCH, stale))
        .set_json(json!({"name": "Artemis"}));

    let res = test::call_service(&app, bearer(req, "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(problem_of(res).await.code, "PRECONDITION_FAILED");
}

#[actix_web::test]
async fn a_patch_with_the_current_if_match_is_stored_and_answers_the_new_etag() {
    let ada = user_with_role("ada", Role::Member);
    let (project, owner) = apollo(&ada);
    let mut mocks = Mocks::default();
    stored(&mut mocks, &project, vec![owner]);
    mocks.projects.expect_owned_with_name().returning(|_, _| Ok(None));
    mocks
        .unit_of_work
        .expect_commit()
        .times(1)
        .withf(|changes| {
            changes.len() == 2
                && changes.of::<AuditRecord>().count() == 1
                && matches!(changes.of::<ProjectChange>().next(), Some(ProjectChange::Update { project, expected_version: 1 })
                    if project.name().as_ref() == "Artemis")
        })
        .returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let current = forge_presentation::conditional::etag(1, b"whatever the body was").to_string();
    let req = TestRequest::patch()
        .uri(&format!("/api/v1/projects/{}", project.id()))
        .insert_header((header::IF_MATCH, current))
        .set_json(json!({"name": "Artemis"}));

    let res = test::call_service(&app, bearer(req, "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, "etag").unwrap().starts_with("\"2-"));
    assert_eq!(json_of(res).await["name"], "Artemis");
}

#[actix_web::test]
async fn listing_every_project_is_refused_to_a_member_before_its_query_is_read() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    mocks.projects.expect_list().never();
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;

    let req = TestRequest::get().uri("/api/v1/projects?scope=all&limit=0&sort=nonsense");
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_of(res).await.code, "FORBIDDEN");
}

#[actix_web::test]
async fn the_project_list_carries_each_projects_links_for_the_caller() {
    let ada = user_with_role("ada", Role::Member);
    let (project, _) = apollo(&user_with_role("bob", Role::Member));
    let mut mocks = Mocks::default();
    let me = ada.id();
    mocks.projects.expect_list().times(1).returning(move |query, viewer| {
        assert_eq!((query.filter.member, viewer), (Some(me), me));
        let view = ProjectView { project: project.clone(), member_count: 4, viewer_role: Some(ProjectRole::Viewer) };
        Ok(Page { items: vec![view], total: 1, request: query.page })
    });
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;

    let res =
        test::call_service(&app, bearer(TestRequest::get().uri("/api/v1/projects?status=active"), "t").to_request())
            .await;

    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, "link").unwrap().contains("rel=\"self\""));
    let body = json_of(res).await;
    let links = &body["items"][0]["_links"];
    assert_eq!(links["members"]["method"], "GET");
    assert!(links.get("update").is_none() && links.get("delete").is_none(), "{links}");
}

#[actix_web::test]
async fn adding_a_member_needs_exactly_one_of_user_id_and_email_before_anything_is_read() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    mocks.projects.expect_by_id().never();
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let uri = format!("/api/v1/projects/{}/members", uuid::Uuid::now_v7());

    let res =
        test::call_service(&app, bearer(TestRequest::post().uri(&uri).set_json(json!({})), "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_codes(&problem_of(res).await), ["role:REQUIRED", "user_id:REQUIRED", "email:REQUIRED"]);
}

#[actix_web::test]
async fn a_new_member_is_answered_with_its_location_and_etag() {
    let ada = user_with_role("ada", Role::Member);
    let grace = user_with_role("grace", Role::Member);
    let (project, owner) = apollo(&ada);
    let mut mocks = Mocks::default();
    stored(&mut mocks, &project, vec![owner]);
    let found = grace.clone();
    mocks.users.expect_by_email().returning(move |_| Ok(Some(found.clone())));
    mocks.unit_of_work.expect_commit().times(1).returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let req = TestRequest::post()
        .uri(&format!("/api/v1/projects/{}/members", project.id()))
        .set_json(json!({"email": "grace@example.com", "role": "maintainer"}));

    let res = test::call_service(&app, bearer(req, "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::CREATED);
    let location = header_of(&res, "location").unwrap();
    assert_eq!(location, format!("/api/v1/projects/{}/members/{}", project.id(), grace.id()));
    assert!(header_of(&res, "etag").unwrap().starts_with("\"1-"));
    let body = json_of(res).await;
    assert_eq!((body["username"].as_str(), body["role"].as_str()), (Some("grace"), Some("maintainer")));
    assert_eq!(body["_links"]["update"]["href"], location);
    assert_eq!(body["_links"]["remove"]["method"], "DELETE");
}

#[actix_web::test]
async fn each_project_path_answers_an_unsupported_method_with_405_and_allow() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let id = uuid::Uuid::now_v7();
    for (method, uri, allow) in [
        (actix_web::http::Method::DELETE, "/api/v1/projects".to_owned(), "GET, HEAD, POST, OPTIONS"),
        (actix_web::http::Method::POST, format!("/api/v1/projects/{id}"), "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
        (actix_web::http::Method::PUT, format!("/api/v1/projects/{id}/members"), "GET, HEAD, POST, OPTIONS"),
        (actix_web::http::Method::GET, format!("/api/v1/projects/{id}/members/{id}"), "PATCH, DELETE, OPTIONS"),
        (actix_web::http::Method::GET, format!("/api/v1/projects/{id}/transfer"), "POST, OPTIONS"),
        (actix_web::http::Method::POST, format!("/api/v1/users/{id}/projects"), "GET, HEAD, OPTIONS"),
    ] {
        let res = test::call_service(&app, TestRequest::default().method(method.clone()).uri(&uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(header_of(&res, "allow").as_deref(), Some(allow), "{method} {uri}");
    }
}

#[actix_web::test]
async fn the_projects_of_another_user_are_refused_to_a_member_before_its_query_is_read() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    mocks.projects.expect_list().never();
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let uri = format!("/api/v1/users/{}/projects?limit=9000", uuid::Uuid::now_v7());

    let res = test::call_service(&app, bearer(TestRequest::get().uri(&uri), "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}
