//! Request limits and the unlock endpoint, over the limiter and throttle mocks.

use actix_web::{
    http::{StatusCode, header},
    test::{self, TestRequest},
};
use chrono::Duration;
use forge_application::{
    UnexpectedError,
    limits::{Decision, Limit, RateLimitSettings},
};
use forge_domain::users::Role;
use forge_presentation::{build_app, openapi};
use serde_json::json;

use crate::support::{Mocks, problem_of, user_with_role};

fn header_of(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn rate_limit_headers(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>) -> [Option<String>; 3] {
    ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"].map(|name| header_of(res, name))
}

/// The decision of the `count`th hit of a window of `max` that ends in `reset` seconds.
fn decision(max: u32, count: u64, reset: i64) -> Decision {
    let limit = Limit::new(max, Duration::seconds(60)).unwrap();
    Decision::from_count(&limit, count, Duration::seconds(reset))
}

fn with_limits() -> Mocks {
    Mocks { rate_limits: Some(RateLimitSettings::default()), ..Mocks::default() }
}

fn a_login() -> TestRequest {
    TestRequest::post()
        .uri("/api/v1/auth/login")
        .peer_addr("203.0.113.7:5000".parse().unwrap())
        .set_json(json!({"email": "ada@example.com", "password": "whatever"}))
}

#[actix_web::test]
async fn a_request_over_the_address_limit_is_refused_before_its_handler() {
    let mut mocks = with_limits();
    mocks
        .limiter
        .expect_hit()
        .withf(|key, _, _| key.as_str() == "login:ip:203.0.113.7")
        .times(1)
        .returning(|_, _, _| Ok(decision(20, 21, 42)));
    mocks.users.expect_by_email().never();
    let app = test::init_service(build_app(mocks.state())).await;

    let res = test::call_service(&app, a_login().to_request()).await;

    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header_of(&res, "retry-after").as_deref(), Some("42"));
    assert_eq!(rate_limit_headers(&res), [Some("20".into()), Some("0".into()), Some("42".into())]);
    assert!(header_of(&res, "x-request-id").is_some());
    let problem = problem_of(res).await;
    assert_eq!(problem.code, "RATE_LIMITED");
    assert_eq!(problem.instance.as_deref(), Some("/api/v1/auth/login"));
}

#[actix_web::test]
async fn a_login_over_the_account_limit_is_refused_before_the_password_is_checked() {
    let mut mocks = with_limits();
    mocks
        .limiter
        .expect_hit()
        .withf(|key, _, _| key.as_str().starts_with("login:ip:"))
        .returning(|_, _, _| Ok(decision(20, 1, 60)));
    mocks
        .limiter
        .expect_hit()
        .withf(|key, _, _| key.as_str() == "login:account:ada@example.com")
        .returning(|_, _, _| Ok(decision(10, 11, 30)));
    mocks.users.expect_by_email().never();
    mocks.hasher.expect_verify().never();
    let app = test::init_service(build_app(mocks.state())).await;

    let res = test::call_service(&app, a_login().to_request()).await;

    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header_of(&res, "retry-after").as_deref(), Some("30"));
    assert_eq!(rate_limit_headers(&res), [Some("10".into()), Some("0".into()), Some("30".into())]);
    assert_eq!(problem_of(res).await.code, "RATE_LIMITED");
}

#[actix_web::test]
async fn a_limited_response_reports_the_decision_closer_to_refusing() {
    let mut mocks = with_limits();
    mocks
        .limiter
        .expect_hit()
        .withf(|key, _, _| key.as_str().starts_with("login:ip:"))
        .returning(|_, _, _| Ok(decision(20, 18, 50)));
    mocks
        .limiter
        .expect_hit()
        .withf(|key, _, _| key.as_str().starts_with("login:account:"))
        .returning(|_, _, _| Ok(decision(10, 3, 55)));
    mocks.users.expect_by_email().returning(|_| Ok(None));
    mocks.hasher.expect_verify().returning(|_, _| Ok(false));
    let app = test::init_service(build_app(mocks.state())).await;

    let res = test::call_service(&app, a_login().to_request()).await;

    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rate_limit_headers(&res), [Some("20".into()), Some("2".into()), Some("50".into())]);
    assert_eq!(header_of(&res, "retry-after"), None);
}

#[actix_web::test]
async fn the_password_reset_request_is_limited_by_its_path_before_it_has_a_handler() {
    let mut mocks = with_limits();
    mocks
        .limiter
        .expect_hit()
        .withf(|key, _, _| key.as_str() == "password_forgot:ip:203.0.113.7")
        .times(1)
        .returning(|_, _, _| Ok(decision(5, 6, 600)));
    let app = test::init_service(build_app(mocks.state())).await;
    let req = TestRequest::post()
        .uri("/api/v1/auth/password/forgot")
        .peer_addr("203.0.113.7:5000".parse().unwrap())
        .set_json(json!({"email": "ada@example.com"}));

    let res = test::call_service(&app, req.to_request()).await;

    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header_of(&res, "retry-after").as_deref(), Some("600"));
}

#[actix_web::test]
async fn other_routes_are_not_counted_and_carry_no_rate_limit_headers() {
    let ada = user_with_role("ada", Role::Member);
    let mut mocks = with_limits();
    mocks.limiter.expect_hit().never();
    let app = test::init_service(build_app(mocks.authenticates("t", &ada).state())).await;

    let me = TestRequest::get().uri("/api/v1/users/me").insert_header((header::AUTHORIZATION, "Bearer t"));
    let res = test::call_service(&app, me.to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(rate_limit_headers(&res), [None, None, None]);

    let res = test::call_service(&app, TestRequest::get().uri("/api/v1/auth/login").to_request()).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn a_failing_limiter_refuses_with_503_rather_than_let_requests_through() {
    let mut mocks = with_limits();
    mocks.limiter.expect_hit().returning(|_, _, _| Err(UnexpectedError::unavailable("redis is down")));
    mocks.users.expect_by_email().never();
    let app = test::init_service(build_app(mocks.state())).await;

    let res = test::call_service(&app, a_login().to_request()).await;

    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem_of(res).await.code, "SERVICE_UNAVAILABLE");
}

#[actix_web::test]
async fn an_admin_unlocks_with_204_and_others_get_403() {
    let admin = user_with_role("root", Role::Admin);
    let member = user_with_role("ada", Role::Member);
    let target = member.id();
    let mut mocks = Mocks::default();
    mocks.throttles.expect_for_user().withf(move |id| *id == target).times(1).returning(|_| Ok(None));
    let app =
        test::init_service(build_app(mocks.authenticates("admin", &admin).authenticates("member", &member).state()))
            .await;
    let unlock = |token: &str| {
        TestRequest::post()
            .uri(&format!("/api/v1/users/{target}/unlock"))
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request()
    };

    let res = test::call_service(&app, unlock("member")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = test::call_service(&app, unlock("admin")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res =
        test::call_service(&app, TestRequest::post().uri(&format!("/api/v1/users/{target}/unlock")).to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// The routes declare which requests are limited, the handlers' documentation which ones
/// answer 429: with a limiter that refuses everything, both must name the same `POST`s.
#[actix_web::test]
async fn the_posts_documented_as_limited_are_exactly_those_counted() {
    let mut mocks = Mocks { rate_limits: Some(RateLimitSettings::default()), ..Mocks::default() };
    let limit = Limit::new(1, Duration::seconds(60)).unwrap();
    mocks.limiter.expect_hit().returning(move |_, _, _| Ok(Decision::from_count(&limit, 2, Duration::seconds(60))));
    let app = test::init_service(build_app(mocks.state())).await;
    let id = uuid::Uuid::nil().to_string();
    let mut limited = 0;
    for (path, item) in &openapi().paths.paths {
        let Some(operation) = &item.post else { continue };
        let documented = operation.responses.responses.contains_key("429");
        let uri: Vec<&str> =
            path.split('/').map(|segment| if segment.starts_with('{') { id.as_str() } else { segment }).collect();
        let req = TestRequest::post().uri(&uri.join("/")).peer_addr("203.0.113.7:5000".parse().unwrap());
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status() == StatusCode::TOO_MANY_REQUESTS, documented, "POST {path}: {}", res.status());
        limited += usize::from(documented);
    }
    assert_eq!(limited, 5, "login, token, refresh, register and the password reset request");
}
