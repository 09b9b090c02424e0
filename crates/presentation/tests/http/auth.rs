//! The authentication endpoints and the bearer-token extractor.

use actix_web::{
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use forge_application::{
    audit::AuditRecord,
    auth::SessionChange,
    auth::ports::{AccessTokenError, IssuedAccessToken},
};
use forge_domain::{
    sessions::TokenDigest,
    users::{PasswordHash, Role},
};
use forge_presentation::{HttpSettings, build_app};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{Mocks, error_codes, json_of, problem_of, user_with_role};

fn header_of(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Mocks under which `ada@example.com` logs in with any password, from a recorded session.
fn login_mocks() -> Mocks {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    let by_name = ada.clone();
    mocks.users.expect_by_email().returning(move |_| Ok(Some(ada.clone())));
    mocks.users.expect_by_username().returning(move |_| Ok(Some(by_name.clone())));
    mocks.hasher.expect_verify().returning(|_, _| Ok(true));
    mocks
        .opaque_tokens
        .expect_generate()
        .returning(|| (SecretString::from("refresh-1"), TokenDigest::new("d1".into())));
    mocks
        .access_tokens
        .expect_issue()
        .returning(|_, _, _| Ok(IssuedAccessToken { token: SecretString::from("access-1"), expires_in: 900 }));
    mocks
}

#[actix_web::test]
async fn register_answers_201_with_the_user_and_its_location() {
    let mut mocks = Mocks::default();
    mocks.users.expect_by_email().returning(|_| Ok(None));
    mocks.users.expect_by_username().returning(|_| Ok(None));
    mocks.hasher.expect_hash().returning(|_| Ok(PasswordHash::new("$argon2id$hash".into())));
    mocks.unit_of_work.expect_commit().times(1).returning(|_| Ok(()));
    mocks.accept_mail();
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/register")
        .set_json(
            json!({"email": "Ada@Example.com", "username": "ada", "password": "Tr1cky-Lovelace!", "full_name": "Ada"}),
        )
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = header_of(&res, "location").unwrap();
    let body = json_of(res).await;
    assert_eq!(location, format!("/api/v1/users/{}", body["id"].as_str().unwrap()));
    assert_eq!(body["email"], "ada@example.com");
    assert_eq!(body["role"], "member");
    assert_eq!(body["is_verified"], false);
    assert_eq!(body["_links"]["self"]["href"], location);
    assert!(body.get("password").is_none() && !body.to_string().contains("argon2"));
}

#[actix_web::test]
async fn register_reports_every_invalid_value_from_the_use_case() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/register")
        .set_json(json!({"email": "not-an-address", "username": "a", "password": "short"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = problem_of(res).await;
    assert_eq!(problem.detail, "3 fields are invalid");
    assert_eq!(error_codes(&problem), ["email:INVALID_FORMAT", "username:TOO_SHORT", "password:TOO_SHORT"]);
}

#[actix_web::test]
async fn register_with_a_taken_email_is_a_409() {
    let mut mocks = Mocks::default();
    let existing = user_with_role("ada", Role::Member);
    mocks.users.expect_by_email().returning(move |_| Ok(Some(existing.clone())));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/register")
        .set_json(json!({"email": "ada@example.com", "username": "ada2", "password": "Tr1cky-Lovelace!"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem_of(res).await.code, "EMAIL_TAKEN");
}

#[actix_web::test]
async fn login_answers_the_token_pair_and_the_user() {
    let mut mocks = login_mocks();
    mocks.unit_of_work.expect_commit().times(1).returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/login")
        .set_json(json!({"email": "ada@example.com", "password": "whatever"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header_of(&res, "pragma").as_deref(), Some("no-cache"));
    let body = json_of(res).await;
    assert_eq!(body["access_token"], "access-1");
    assert_eq!(body["refresh_token"], "refresh-1");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["username"], "ada");
    assert_eq!(body["user"]["last_login_at"], "2023-11-14T22:13:20Z");
    assert_eq!(body["user"]["_links"]["update"]["method"], "PATCH");
}

#[actix_web::test]
async fn login_records_the_client_address_through_trusted_proxies_and_the_user_agent() {
    let mut mocks = login_mocks();
    mocks.unit_of_work.expect_commit().times(1).withf(|changes| {
        changes.of::<SessionChange>().any(|change| {
            matches!(change, SessionChange::Open(session)
                if session.ip.as_deref() == Some("203.0.113.7") && session.user_agent.as_deref() == Some("forge-test/1.0"))
        })
    }).returning(|_| Ok(()));
    mocks.http = HttpSettings { trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()], ..HttpSettings::default() };
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/login")
        .peer_addr("10.0.0.2:5000".parse().unwrap())
        .insert_header(("X-Forwarded-For", "1.2.3.4, 203.0.113.7"))
        .insert_header((header::USER_AGENT, "forge-test/1.0"))
        .set_json(json!({"username": "ada", "password": "whatever"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[actix_web::test]
async fn login_with_wrong_credentials_is_a_401_with_a_bearer_challenge() {
    let mut mocks = Mocks::default();
    mocks.users.expect_by_email().returning(|_| Ok(None));
    mocks.hasher.expect_verify().returning(|_, _| Ok(false));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/login")
        .set_json(json!({"email": "nobody@example.com", "password": "x"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, "www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(problem_of(res).await.code, "INVALID_CREDENTIALS");
}

#[actix_web::test]
async fn login_without_identifier_or_password_lists_both() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::post().uri("/api/v1/auth/login").set_json(json!({})).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_codes(&problem_of(res).await), ["email:REQUIRED", "password:REQUIRED"]);
}

#[actix_web::test]
async fn the_password_grant_form_logs_in_like_login() {
    let mut mocks = login_mocks();
    mocks.unit_of_work.expect_commit().times(1).returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/token")
        .set_form([("grant_type", "password"), ("username", "ada@example.com"), ("password", "pw"), ("scope", "")])
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["access_token"], "access-1");
}

#[actix_web::test]
async fn the_token_endpoint_refuses_other_grants_missing_fields_and_json() {
    let app = test::init_service(build_app(Mocks::default().state())).await;

    let other_grant = TestRequest::post()
        .uri("/api/v1/auth/token")
        .set_form([("grant_type", "client_credentials"), ("username", "ada"), ("password", "pw")])
        .to_request();
    let res = test::call_service(&app, other_grant).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem_of(res).await.code, "MALFORMED_REQUEST");

    let missing = TestRequest::post().uri("/api/v1/auth/token").set_form([("grant_type", "password")]).to_request();
    let res = test::call_service(&app, missing).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_codes(&problem_of(res).await), ["username:REQUIRED", "password:REQUIRED"]);

    let json = TestRequest::post().uri("/api/v1/auth/token").set_json(json!({"grant_type": "password"})).to_request();
    let res = test::call_service(&app, json).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[actix_web::test]
async fn an_unknown_refresh_token_is_a_401_invalid_token() {
    let mut mocks = Mocks::default();
    mocks.opaque_tokens.expect_digest().returning(|_| TokenDigest::new("unknown".into()));
    mocks.sessions.expect_refresh_token().returning(|_| Ok(None));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post().uri("/api/v1/auth/refresh").set_json(json!({"refresh_token": "nope"})).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, "www-authenticate").as_deref(), Some(r#"Bearer error="invalid_token""#));
    assert_eq!(problem_of(res).await.code, "UNAUTHENTICATED");
}

#[actix_web::test]
async fn logout_ends_the_session_and_answers_204() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    mocks
        .unit_of_work
        .expect_commit()
        .times(1)
        .withf(|changes| {
            changes.len() == 2
                && matches!(changes.of::<SessionChange>().next(), Some(SessionChange::Revoke { .. }))
                && changes.of::<AuditRecord>().count() == 1
        })
        .returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let req =
        TestRequest::post().uri("/api/v1/auth/logout").insert_header((header::AUTHORIZATION, "Bearer t")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn a_request_without_credentials_is_a_401_with_a_bearer_challenge() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for req in [
        TestRequest::get().uri("/api/v1/users/me"),
        TestRequest::get().uri("/api/v1/users/me").insert_header((header::AUTHORIZATION, "Basic YWRhOnB3")),
    ] {
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header_of(&res, "www-authenticate").as_deref(), Some("Bearer"));
        assert_eq!(problem_of(res).await.code, "UNAUTHENTICATED");
    }
}

#[actix_web::test]
async fn refused_tokens_say_why_with_an_invalid_token_challenge() {
    let mocks = Mocks::default().refuses("old", AccessTokenError::Expired).refuses("forged", AccessTokenError::Invalid);
    let app = test::init_service(build_app(mocks.state())).await;
    for (token, code) in [("old", "TOKEN_EXPIRED"), ("forged", "UNAUTHENTICATED")] {
        let req = TestRequest::get()
            .uri("/api/v1/users/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header_of(&res, "www-authenticate").as_deref(), Some(r#"Bearer error="invalid_token""#));
        assert_eq!(problem_of(res).await.code, code);
    }
}

#[actix_web::test]
async fn a_token_of_a_revoked_session_is_a_401_token_revoked() {
    let ada = user_with_role("ada", Role::Member);
    let mocks = Mocks { revoked: true, ..Mocks::default() };
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let req =
        TestRequest::get().uri("/api/v1/users/me").insert_header((header::AUTHORIZATION, "Bearer t")).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_of(res).await.code, "TOKEN_REVOKED");
}

#[actix_web::test]
async fn an_unavailable_dependency_is_a_503_with_retry_after_and_no_cause() {
    let mut mocks = Mocks::default();
    mocks.users.expect_by_email().returning(|_| {
        Err(forge_application::common::UnexpectedError::unavailable("connection refused to 10.1.1.1:5432"))
    });
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/login")
        .set_json(json!({"email": "a@b.co", "password": "x"}))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header_of(&res, "retry-after").as_deref(), Some("5"));
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "SERVICE_UNAVAILABLE");
    assert!(!problem.detail.contains("5432"));
}
