//! The service endpoints, and the agreement between the OpenAPI document and the routes.

use std::sync::Arc;

use actix_web::{
    http::{Method, StatusCode},
    test::{self, TestRequest},
};
use forge_application::{
    common::UnexpectedError,
    health::{HealthService, MockProbe},
};
use forge_presentation::{HttpSettings, build_app, openapi};

use crate::support::{Mocks, json_of};

fn header_of(res: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, name: &str) -> Option<String> {
    res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn probe(result: fn() -> Result<(), UnexpectedError>) -> Arc<MockProbe> {
    required_or_not(result, true)
}

fn required_or_not(result: fn() -> Result<(), UnexpectedError>, required: bool) -> Arc<MockProbe> {
    let mut probe = MockProbe::new();
    probe.expect_check().returning(result);
    probe.expect_required().return_const(required);
    Arc::new(probe)
}

#[actix_web::test]
async fn the_root_says_what_this_is() {
    let settings = HttpSettings { version: "9.9.9".to_owned(), ..HttpSettings::default() };
    let app = test::init_service(build_app(Mocks { http: settings, ..Mocks::default() }.state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        json_of(res).await,
        serde_json::json!({"name": "forge", "version": "9.9.9", "status": "ok", "docs": "/docs"})
    );
}

#[actix_web::test]
async fn liveness_answers_while_the_process_runs() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/health/live").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_of(res).await, serde_json::json!({"status": "live"}));
}

#[actix_web::test]
async fn readiness_reports_each_check_with_its_latency() {
    let health = HealthService::new().with_probe("database", probe(|| Ok(())));
    let app = test::init_service(build_app(Mocks { health, ..Mocks::default() }.state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert!(body["checks"]["database"]["latency_ms"].is_u64());
}

#[actix_web::test]
async fn readiness_is_a_503_naming_the_failing_check() {
    let health = HealthService::new()
        .with_probe("database", probe(|| Ok(())))
        .with_probe("cache", probe(|| Err(UnexpectedError::unavailable("connection refused"))));
    let app = test::init_service(build_app(Mocks { health, ..Mocks::default() }.state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header_of(&res, "retry-after").as_deref(), Some("5"));
    assert_eq!(header_of(&res, "content-type").as_deref(), Some("application/json"));
    let body = json_of(res).await;
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["status"], "up");
    assert_eq!(body["checks"]["cache"]["status"], "down");
    assert_eq!(body["checks"]["cache"]["error"], "unreachable");
    assert!(!body.to_string().contains("connection refused"), "no adapter text in the public report");
}

#[actix_web::test]
async fn a_failing_dependency_the_service_can_do_without_is_degraded_and_readiness_holds() {
    let health = HealthService::new()
        .with_probe("database", probe(|| Ok(())))
        .with_probe("cache", required_or_not(|| Err(UnexpectedError::unavailable("connection refused")), false));
    let app = test::init_service(build_app(Mocks { health, ..Mocks::default() }.state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/health/ready").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["cache"]["status"], "degraded");
    assert_eq!(body["checks"]["cache"]["error"], "unreachable");
}

#[actix_web::test]
async fn the_openapi_document_is_served() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/openapi.json").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = json_of(res).await;
    assert_eq!(body["openapi"], "3.1.0");
    assert!(body["paths"]["/api/v1/users/{id}"]["patch"].is_object());
    // The served document states the lengths of the password policy in force (the default here).
    let password = &body["components"]["schemas"]["RegisterRequest"]["properties"]["password"];
    assert_eq!((password["minLength"].as_u64(), password["maxLength"].as_u64()), (Some(8), Some(128)));
}

#[actix_web::test]
async fn the_docs_page_is_served_from_the_binary_and_reads_the_document() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/docs").to_request()).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header_of(&res, "location").as_deref(), Some("/docs/"));

    let res = test::call_service(&app, TestRequest::get().uri("/docs/").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, "content-type").unwrap().starts_with("text/html"));
    assert!(header_of(&res, "content-security-policy").unwrap().contains("script-src 'self'"));

    let res = test::call_service(&app, TestRequest::get().uri("/docs/swagger-initializer.js").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let script = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(script.contains("/openapi.json"), "{script}");
}

#[actix_web::test]
async fn a_missing_docs_file_is_a_problem_document() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/docs/no-such-file.js").to_request()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&res, "content-type").as_deref(), Some(forge_presentation::problem::PROBLEM_JSON));
}

#[actix_web::test]
async fn every_documented_operation_is_routed() {
    let app = test::init_service(build_app(Mocks::default().state())).await;
    let doc = serde_json::to_value(openapi()).unwrap();
    let some_id = "0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d";
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let uri = path.replace("{id}", some_id);
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // No credentials and no body: a routed operation answers 401, 415, or succeeds;
            // it never falls through to 404 or 405.
            let res =
                test::call_service(&app, TestRequest::default().method(method.clone()).uri(&uri).to_request()).await;
            assert!(
                ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&res.status()),
                "{method} {uri} answered {}",
                res.status()
            );
        }
    }
}

#[test]
fn the_problem_document_schema_lists_every_code_and_the_conflict_response_every_409() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let codes: Vec<&str> = doc["components"]["schemas"]["ProblemDocument"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    let all: Vec<&str> = forge_presentation::ProblemCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(codes, all);
    let conflict = doc["components"]["responses"]["Conflict"]["description"].as_str().unwrap();
    for code in ["ALREADY_MEMBER", "OWNER_CANNOT_LEAVE", "SELF_DELETION", "CONCURRENT_UPDATE", "PROJECT_NAME_TAKEN"] {
        assert!(conflict.contains(&format!("`{code}`")), "{code} missing from {conflict}");
    }
    assert!(!conflict.contains("`NOT_FOUND`"));
}
