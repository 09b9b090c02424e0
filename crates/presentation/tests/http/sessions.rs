//! The sessions endpoints and the refresh-token cookie mode.

use actix_web::{
    cookie::Cookie,
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use chrono::Duration;
use forge_application::auth::{SessionChange, ports::IssuedAccessToken};
use forge_domain::{
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::Role,
};
use forge_presentation::{HttpSettings, build_app};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::support::{Mocks, json_of, problem_of, user_with_role, utc};

fn set_cookies(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>) -> Vec<String> {
    res.headers().get_all(header::SET_COOKIE).filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
}

fn cookie_mode() -> HttpSettings {
    HttpSettings { refresh_cookie: true, ..HttpSettings::default() }
}

#[actix_web::test]
async fn the_session_list_marks_the_current_session() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default().authenticates("t", &ada);
    // The test token's session is the nil id.
    let mut current = Session::open(ada.id(), utc() - Duration::hours(1), Duration::days(30), None, None);
    current.id = SessionId::from(Uuid::nil());
    let other =
        Session::open(ada.id(), utc() - Duration::hours(2), Duration::days(30), Some("198.51.100.1".into()), None);
    let sessions = vec![current, other.clone()];
    mocks.sessions.expect_active_for_user().returning(move |_, _| Ok(sessions.clone()));
    let app = test::init_service(build_app(mocks.state())).await;
    let req =
        TestRequest::get().uri("/api/v1/auth/sessions").insert_header((header::AUTHORIZATION, "Bearer t")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    assert_eq!(body["total"], 2);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], Uuid::nil().to_string());
    assert_eq!(items[0]["current"], true);
    assert_eq!(items[1]["id"], other.id.to_string());
    assert_eq!(items[1]["current"], false);
    assert_eq!(items[1]["ip"], "198.51.100.1");
    let mut keys: Vec<&str> = items[1].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["created_at", "current", "expires_at", "id", "ip", "last_used_at", "user_agent"]);
}

#[actix_web::test]
async fn ending_an_unknown_session_is_a_404_and_logout_all_a_204() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default().authenticates("t", &ada);
    mocks.sessions.expect_by_id().returning(|_| Ok(None));
    mocks.sessions.expect_active_for_user().returning(|_, _| Ok(Vec::new()));
    mocks.unit_of_work.expect_commit().never();
    let app = test::init_service(build_app(mocks.state())).await;
    let bearer = ("authorization", "Bearer t");
    let req = TestRequest::delete()
        .uri(&format!("/api/v1/auth/sessions/{}", Uuid::now_v7()))
        .insert_header(bearer)
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem_of(res).await.detail, "no such session");
    let req = TestRequest::post().uri("/api/v1/auth/logout-all").insert_header(bearer).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(set_cookies(&res).is_empty(), "no cookie outside cookie mode");
}

#[actix_web::test]
async fn in_cookie_mode_login_sets_the_cookie_and_leaves_the_token_out_of_the_body() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    mocks.users.expect_by_email().returning(move |_| Ok(Some(ada.clone())));
    mocks.hasher.expect_verify().returning(|_, _| Ok(true));
    mocks.opaque_tokens.expect_generate().returning(|| (SecretString::from("refresh-1"), TokenDigest::new("d".into())));
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_, _, _| Ok(IssuedAccessToken { token: SecretString::from("access-1"), expires_in: 900 }));
    mocks.unit_of_work.expect_commit().returning(|_| Ok(()));
    mocks.http = cookie_mode();
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/login")
        .set_json(json!({"email": "ada@example.com", "password": "pw"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Seven days: the idle timeout, shorter than the session's 30-day lifetime.
    assert_eq!(
        set_cookies(&res),
        ["__Host-forge_refresh=refresh-1; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=604800"]
    );
    let body = json_of(res).await;
    assert_eq!(body["access_token"], "access-1");
    assert!(body.get("refresh_token").is_none(), "{body}");
}

/// Mocks under which the refresh token `old` of a live session of ada's rotates to `refresh-2`.
fn refresh_mocks() -> Mocks {
    let ada = user_with_role("ada", Role::Member);
    let session = Session::open(ada.id(), utc() - Duration::hours(1), Duration::days(30), None, None);
    let token = RefreshToken {
        digest: TokenDigest::new("old-digest".into()),
        session_id: session.id,
        issued_at: utc() - Duration::hours(1),
        expires_at: utc() + Duration::days(6),
        used_at: None,
    };
    let mut mocks = Mocks::default();
    mocks.opaque_tokens.expect_digest().withf(|raw| raw == "old").returning(|_| TokenDigest::new("old-digest".into()));
    mocks.sessions.expect_refresh_token().returning(move |_| Ok(Some(token.clone())));
    mocks.sessions.expect_by_id().returning(move |_| Ok(Some(session.clone())));
    mocks.users.expect_by_id().returning(move |_| Ok(Some(ada.clone())));
    mocks
        .opaque_tokens
        .expect_generate()
        .returning(|| (SecretString::from("refresh-2"), TokenDigest::new("d2".into())));
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_, _, _| Ok(IssuedAccessToken { token: SecretString::from("access-2"), expires_in: 900 }));
    mocks
}

#[actix_web::test]
async fn in_cookie_mode_refresh_reads_the_cookie_and_needs_x_requested_with() {
    let mut mocks = refresh_mocks();
    mocks
        .unit_of_work
        .expect_commit()
        .times(1)
        .withf(|changes| {
            matches!(changes.of::<SessionChange>().next(), Some(SessionChange::ConsumeRefreshToken { .. }))
        })
        .returning(|_| Ok(()));
    mocks.http = cookie_mode();
    let app = test::init_service(build_app(mocks.state())).await;

    let without_header =
        TestRequest::post().uri("/api/v1/auth/refresh").cookie(Cookie::new("__Host-forge_refresh", "old")).to_request();
    let res = test::call_service(&app, without_header).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_of(res).await.code, "FORBIDDEN");

    // No body at all: in cookie mode the body is not read.
    let req = TestRequest::post()
        .uri("/api/v1/auth/refresh")
        .cookie(Cookie::new("__Host-forge_refresh", "old"))
        .insert_header(("X-Requested-With", "fetch"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    assert_eq!(cookies.len(), 1);
    assert!(
        cookies[0].starts_with("__Host-forge_refresh=refresh-2; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=")
    );
    let body = json_of(res).await;
    assert_eq!(body["access_token"], "access-2");
    assert!(body.get("refresh_token").is_none());
}

#[actix_web::test]
async fn in_cookie_mode_a_refused_refresh_clears_the_cookie() {
    let mut mocks = Mocks::default();
    mocks.opaque_tokens.expect_digest().returning(|_| TokenDigest::new("unknown".into()));
    mocks.sessions.expect_refresh_token().returning(|_| Ok(None));
    mocks.http = cookie_mode();
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/refresh")
        .cookie(Cookie::new("__Host-forge_refresh", "stale"))
        .insert_header(("X-Requested-With", "fetch"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(set_cookies(&res), ["__Host-forge_refresh=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0"]);
    assert_eq!(problem_of(res).await.code, "UNAUTHENTICATED");
}

#[actix_web::test]
async fn outside_cookie_mode_refresh_still_needs_the_body() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/refresh")
        .cookie(Cookie::new("__Host-forge_refresh", "old"))
        .insert_header(("X-Requested-With", "fetch"))
        .set_json(json!({}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn in_cookie_mode_logout_and_logout_all_clear_the_cookie() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default().authenticates("t", &ada);
    mocks.unit_of_work.expect_commit().returning(|_| Ok(()));
    mocks.sessions.expect_active_for_user().returning(|_, _| Ok(Vec::new()));
    mocks.http = cookie_mode();
    let app = test::init_service(build_app(mocks.state())).await;
    for path in ["/api/v1/auth/logout", "/api/v1/auth/logout-all"] {
        let req = TestRequest::post().uri(path).insert_header((header::AUTHORIZATION, "Bearer t")).to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            set_cookies(&res),
            ["__Host-forge_refresh=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0"],
            "{path}"
        );
    }
}
