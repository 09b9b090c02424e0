//! The users endpoints.

use actix_web::{
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use forge_application::{audit::AuditRecord, common::Page, users::UserChange};
use forge_domain::users::{FullName, Role, User, UserParts};
use forge_presentation::build_app;
use serde_json::json;

use crate::support::{Mocks, error_codes, json_of, problem_of, user_with_role, utc};

fn header_of(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
}

/// `user` with a display name, or soft-deleted.
fn altered(user: &User, full_name: Option<&str>, deleted: bool) -> User {
    User::from_parts(UserParts {
        id: user.id(),
        email: user.email().clone(),
        username: user.username().clone(),
        full_name: full_name.map(|n| FullName::parse(n).unwrap()),
        role: user.role(),
        password_hash: user.password_hash().clone(),
        is_active: user.is_active(),
        is_verified: user.is_verified(),
        created_at: user.created_at(),
        updated_at: user.updated_at(),
        last_login_at: user.last_login_at(),
        deleted_at: deleted.then(utc),
        version: user.version(),
    })
}

#[actix_web::test]
async fn me_answers_the_callers_account_with_its_own_links() {
    let ada = user_with_role("ada", Role::Member);
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &ada).state())).await;
    let res = test::call_service(&app, bearer(TestRequest::get().uri("/api/v1/users/me"), "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    assert_eq!(body["id"], ada.id().to_string());
    assert_eq!(body["_links"]["self"], json!({"href": format!("/api/v1/users/{}", ada.id()), "method": "GET"}));
    assert_eq!(body["_links"]["update"]["method"], "PATCH");
    assert!(body["_links"].get("delete").is_none());
}

#[actix_web::test]
async fn patching_me_with_role_or_state_fields_changes_nothing() {
    let ada = user_with_role("ada", Role::Member);
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &ada).state())).await;
    let req = TestRequest::patch()
        .uri("/api/v1/users/me")
        .set_json(json!({"full_name": "Ada", "role": "admin", "is_active": true}));
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem_of(res).await;
    assert_eq!(error_codes(&problem), ["is_active:NOT_ALLOWED", "role:NOT_ALLOWED"]);
    assert!(problem.errors.iter().all(|e| e.message == "cannot be set here"));
}

#[actix_web::test]
async fn patching_me_with_a_null_full_name_clears_it() {
    let ada = altered(&user_with_role("ada", Role::Member), Some("Ada Lovelace"), false);
    let mut mocks = Mocks::default();
    mocks
        .unit_of_work
        .expect_commit()
        .times(1)
        .withf(|changes| {
            changes.len() == 2
                && changes.of::<AuditRecord>().count() == 1
                && matches!(changes.of::<UserChange>().next(), Some(UserChange::Update { user, .. }) if user.full_name().is_none())
        })
        .returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let req = TestRequest::patch().uri("/api/v1/users/me").set_json(json!({"full_name": null}));
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_of(res).await["full_name"], serde_json::Value::Null);
}

#[actix_web::test]
async fn patching_me_without_full_name_leaves_it_alone() {
    let ada = altered(&user_with_role("ada", Role::Member), Some("Ada Lovelace"), false);
    // Nothing changes, so nothing is stored: the mocks expect no commit.
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &ada).state())).await;
    let req = TestRequest::patch().uri("/api/v1/users/me").set_json(json!({}));
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_of(res).await["full_name"], "Ada Lovelace");
}

#[actix_web::test]
async fn a_member_may_not_list_users() {
    let ada = user_with_role("ada", Role::Member);
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &ada).state())).await;
    let res = test::call_service(&app, bearer(TestRequest::get().uri("/api/v1/users"), "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_of(res).await.code, "FORBIDDEN");
}

#[actix_web::test]
async fn the_list_carries_paging_fields_links_and_a_link_header() {
    let admin = user_with_role("root", Role::Admin);
    let listed = vec![user_with_role("ada", Role::Member), user_with_role("bob", Role::Manager)];
    let mut mocks = Mocks::default();
    mocks.users.expect_list().times(1).returning(move |query| {
        assert_eq!(query.filter.role, Some(Role::Member));
        Ok(Page { items: listed.clone(), total: 45, request: query.page })
    });
    let app = test::init_service(build_app(mocks.authenticates("t", &admin).state())).await;
    let res = test::call_service(
        &app,
        bearer(TestRequest::get().uri("/api/v1/users?role=member&page=2&limit=20"), "t").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let link = header_of(&res, "link").unwrap();
    assert!(link.contains(r#"</api/v1/users?role=member&page=3&limit=20>; rel="next""#), "{link}");
    let body = json_of(res).await;
    assert_eq!(
        (body["total"].as_u64(), body["page"].as_u64(), body["limit"].as_u64(), body["pages"].as_u64()),
        (Some(45), Some(2), Some(20), Some(3))
    );
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_eq!(body["items"][0]["_links"]["delete"]["method"], "DELETE");
    assert_eq!(body["_links"]["prev"]["href"], "/api/v1/users?role=member&page=1&limit=20");
    assert_eq!(body["_links"]["last"]["href"], "/api/v1/users?role=member&page=3&limit=20");
}

#[actix_web::test]
async fn a_list_query_outside_the_documented_sets_is_a_422_listing_every_parameter() {
    let admin = user_with_role("root", Role::Admin);
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &admin).state())).await;
    let uri = "/api/v1/users?limit=0&sort=password_hash&order=random&role=root&is_verified=yes";
    let res = test::call_service(&app, bearer(TestRequest::get().uri(uri), "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem_of(res).await;
    assert_eq!(
        error_codes(&problem),
        [
            "limit:OUT_OF_RANGE",
            "sort:INVALID_CHOICE",
            "order:INVALID_CHOICE",
            "role:INVALID_CHOICE",
            "is_verified:INVALID_CHOICE"
        ]
    );
}

#[actix_web::test]
async fn an_admin_creates_a_user_and_gets_its_location() {
    let admin = user_with_role("root", Role::Admin);
    let mut mocks = Mocks::default();
    mocks.users.expect_by_email().returning(|_| Ok(None));
    mocks.users.expect_by_username().returning(|_| Ok(None));
    mocks.hasher.expect_hash().returning(|_| Ok(forge_domain::users::PasswordHash::new("h".into())));
    mocks.unit_of_work.expect_commit().times(1).returning(|_| Ok(()));
    mocks.accept_mail();
    let app = test::init_service(build_app(mocks.authenticates("t", &admin).state())).await;
    let req = TestRequest::post().uri("/api/v1/users").set_json(
        json!({"email": "mia@example.com", "username": "mia", "password": "Tr1cky-Lovelace!", "role": "manager"}),
    );
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = header_of(&res, "location").unwrap();
    let body = json_of(res).await;
    assert_eq!(body["role"], "manager");
    assert_eq!(location, format!("/api/v1/users/{}", body["id"].as_str().unwrap()));
}

#[actix_web::test]
async fn an_unknown_user_is_a_404() {
    let admin = user_with_role("root", Role::Admin);
    let mut mocks = Mocks::default().authenticates("t", &admin);
    mocks.users.expect_by_id().returning(|_| Ok(None));
    let app = test::init_service(build_app(mocks.state())).await;
    let uri = format!("/api/v1/users/{}", uuid::Uuid::now_v7());
    let res = test::call_service(&app, bearer(TestRequest::get().uri(&uri), "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem_of(res).await.instance.as_deref(), Some(uri.as_str()));
}

#[actix_web::test]
async fn a_replacement_must_name_email_and_username() {
    let ada = user_with_role("ada", Role::Member);
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &ada).state())).await;
    let req = TestRequest::put().uri(&format!("/api/v1/users/{}", ada.id())).set_json(json!({"full_name": "Ada"}));
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_codes(&problem_of(res).await), ["email:REQUIRED", "username:REQUIRED"]);
}

#[actix_web::test]
async fn deleting_a_user_answers_204() {
    let admin = user_with_role("root", Role::Admin);
    let target = user_with_role("bob", Role::Member);
    let mut mocks = Mocks::default().authenticates("t", &admin).authenticates("unused", &target);
    mocks.sessions.expect_active_for_user().returning(|_, _| Ok(Vec::new()));
    mocks
        .unit_of_work
        .expect_commit()
        .times(1)
        .withf(|changes| {
            changes.len() == 2
                && changes.of::<AuditRecord>().count() == 1
                && matches!(changes.of::<UserChange>().next(), Some(UserChange::Update { user, .. }) if user.is_deleted())
        })
        .returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::delete().uri(&format!("/api/v1/users/{}", target.id()));
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn an_admin_deleting_itself_is_a_409_with_the_reason() {
    let admin = user_with_role("root", Role::Admin);
    let app = test::init_service(build_app(Mocks::default().authenticates("t", &admin).state())).await;
    let req = TestRequest::delete().uri(&format!("/api/v1/users/{}", admin.id()));
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "SELF_DELETION");
    assert_eq!(problem.detail, "admins cannot delete themselves");
}

#[actix_web::test]
async fn restoring_a_deleted_user_answers_it() {
    let admin = user_with_role("root", Role::Admin);
    let deleted = altered(&user_with_role("bob", Role::Member), None, true);
    let mut mocks = Mocks::default().authenticates("t", &admin);
    let found = deleted.clone();
    let id = deleted.id();
    mocks.users.expect_by_id().withf(move |asked| *asked == id).returning(move |_| Ok(Some(found.clone())));
    mocks.unit_of_work.expect_commit().times(1).returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post().uri(&format!("/api/v1/users/{}/restore", deleted.id()));
    let res = test::call_service(&app, bearer(req, "t").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    assert_eq!(body["id"], deleted.id().to_string());
    assert_eq!(body["_links"]["delete"]["method"], "DELETE");
}
