//! The account endpoints, and admission of accounts whose address is not verified.

use actix_web::{
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use forge_application::auth::AuthSettings;
use forge_domain::{
    sessions::TokenDigest,
    users::{Role, User, UserParts},
};
use forge_presentation::build_app;
use serde_json::json;

use crate::support::{Mocks, error_codes, problem_of, user_with_role};

fn bearer(req: TestRequest, token: &str) -> TestRequest {
    req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
}

fn unverified(user: &User) -> User {
    User::from_parts(UserParts {
        id: user.id(),
        email: user.email().clone(),
        username: user.username().clone(),
        full_name: None,
        role: user.role(),
        password_hash: user.password_hash().clone(),
        is_active: true,
        is_verified: false,
        created_at: user.created_at(),
        updated_at: user.updated_at(),
        last_login_at: None,
        deleted_at: None,
        version: user.version(),
    })
}

#[actix_web::test]
async fn forgot_password_for_an_unknown_address_answers_202_with_an_empty_body_and_stores_nothing() {
    let mut mocks = Mocks::default();
    mocks.users.expect_by_email().times(1).returning(|_| Ok(None));
    mocks.opaque_tokens.expect_generate().returning(|| ("t".into(), TokenDigest::new("d".into())));
    mocks.mail_templates.expect_render().returning(|to, notice| {
        Ok(forge_application::mail::MailMessage {
            to: to.clone(),
            subject: notice.name().into(),
            text: String::new(),
            html: String::new(),
        })
    });
    mocks.unit_of_work.expect_commit().never();
    mocks.mail_queue.expect_enqueue().never();
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post().uri("/api/v1/auth/password/forgot").set_json(json!({"email": "nobody@example.com"}));

    let res = test::call_service(&app, req.to_request()).await;

    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert!(test::read_body(res).await.is_empty());
}

#[actix_web::test]
async fn an_unknown_verification_token_is_a_422_naming_the_token() {
    let mut mocks = Mocks::default();
    mocks.opaque_tokens.expect_digest().return_const(TokenDigest::new("d".into()));
    mocks.account_tokens.expect_by_digest().returning(|_| Ok(None));
    mocks.unit_of_work.expect_commit().never();
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post().uri("/api/v1/auth/email/verify").set_json(json!({"token": "nope"}));

    let res = test::call_service(&app, req.to_request()).await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_codes(&problem_of(res).await), ["token:INVALID_TOKEN"]);
}

#[actix_web::test]
async fn a_reset_without_its_fields_is_a_422_listing_them_before_any_lookup() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let req = TestRequest::post().uri("/api/v1/auth/password/reset").set_json(json!({}));

    let res = test::call_service(&app, req.to_request()).await;

    assert_eq!(error_codes(&problem_of(res).await), ["token:REQUIRED", "new_password:REQUIRED"]);
}

#[actix_web::test]
async fn resend_and_password_change_need_a_bearer_token() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    for (uri, body) in [
        ("/api/v1/auth/email/resend", json!({})),
        ("/api/v1/users/me/password", json!({"current_password": "a", "new_password": "b"})),
    ] {
        let res = test::call_service(&app, TestRequest::post().uri(uri).set_json(body).to_request()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[actix_web::test]
async fn resend_to_a_verified_address_answers_202_and_mails_nothing() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    mocks.unit_of_work.expect_commit().never();
    mocks.mail_queue.expect_enqueue().never();
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;

    let res =
        test::call_service(&app, bearer(TestRequest::post().uri("/api/v1/auth/email/resend"), "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[actix_web::test]
async fn with_verification_required_an_unverified_account_only_reaches_its_own_page_and_resend() {
    let ada = unverified(&user_with_role("ada", Role::Member));
    let mut mocks = Mocks {
        settings: AuthSettings { require_verified_email: true, ..AuthSettings::default() },
        ..Mocks::default()
    };
    mocks.accept_mail();
    mocks.unit_of_work.expect_commit().returning(|_| Ok(()));
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;

    let me = test::call_service(&app, bearer(TestRequest::get().uri("/api/v1/users/me"), "t").to_request()).await;
    assert_eq!(me.status(), StatusCode::OK);
    let resend =
        test::call_service(&app, bearer(TestRequest::post().uri("/api/v1/auth/email/resend"), "t").to_request()).await;
    assert_eq!(resend.status(), StatusCode::ACCEPTED);
    for req in [
        TestRequest::patch().uri("/api/v1/users/me").set_json(json!({"full_name": "Ada"})),
        TestRequest::get().uri(&format!("/api/v1/users/{}", ada.id())),
        TestRequest::post()
            .uri("/api/v1/users/me/password")
            .set_json(json!({"current_password": "a", "new_password": "b"})),
    ] {
        let res = test::call_service(&app, bearer(req, "t").to_request()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(problem_of(res).await.code, "EMAIL_NOT_VERIFIED");
    }
}

#[actix_web::test]
async fn changing_ones_own_email_without_the_current_password_is_a_422_naming_it() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = Mocks::default();
    mocks.unit_of_work.expect_commit().never();
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;
    let req = TestRequest::patch().uri("/api/v1/users/me").set_json(json!({"email": "ada@new.example.com"}));

    let res = test::call_service(&app, bearer(req, "t").to_request()).await;

    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_codes(&problem_of(res).await), ["current_password:REQUIRED"]);
}
