//! The service endpoints: root, health, OpenAPI and the offline docs page.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::spawn_app;

#[tokio::test]
async fn the_root_describes_the_service() {
    let app = spawn_app().await;
    let body: Value = app.get("/", None).await.json().await.unwrap();
    assert_eq!(body["name"], "forge");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["status"], "ok");
    assert_eq!(body["docs"], "/docs");
}

#[tokio::test]
async fn liveness_and_readiness_report_ok_with_a_database_check() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/live", None).await.status(), StatusCode::OK);
    let response = app.get("/health/ready", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"]["status"], "up");
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_with_a_bearer_scheme() {
    let app = spawn_app().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/",
        "/health/live",
        "/health/ready",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/token",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/users/me",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/users/{id}/restore",
        "/api/v1/users/bulk",
        "/api/v1/audit-logs",
        "/api/v1/dashboard/stats",
        "/api/v1/metrics/database",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is missing from the OpenAPI document");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert!(schemes.as_object().unwrap().values().any(|s| s["scheme"] == "bearer"), "{schemes}");
    assert!(doc["paths"]["/api/v1/users/me"]["get"]["security"].is_array());
    assert!(doc["paths"]["/api/v1/auth/register"]["post"]["requestBody"].is_object());
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_by_the_binary() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    let mut served = 0;
    for asset in html.split(['"', '\'']).filter(|s| s.ends_with(".js") || s.ends_with(".css")) {
        assert!(!asset.starts_with("http"), "the docs page loads {asset} from the network");
        let url = if asset.starts_with('/') {
            app.url(asset)
        } else {
            app.url(&format!("/docs/{}", asset.trim_start_matches("./")))
        };
        let response = app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        served += 1;
    }
    assert!(served >= 2, "the page references its scripts and styles");
}
