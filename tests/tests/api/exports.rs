//! Exports end to end: asked for over HTTP, written by the server's own job workers in batches,
//! followed, and downloaded; who may export and see what; and job administration.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Session, TestApp, TestUser, assert_problem, error_fields, spawn_app_with};

/// Small batches, so that even a few rows make several chunks of the file.
async fn app() -> TestApp {
    spawn_app_with(|s| s.jobs.export_batch_size = 2).await
}

/// Waits until the export at `path` is no longer queued or running, recording each progress seen.
async fn finished(app: &TestApp, session: &Session, path: &str) -> (Value, Vec<u64>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let response = app.get(path, Some(&session.access_token)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        seen.push(body["progress"]["percentage"].as_u64().unwrap());
        if body["status"] == "completed" || body["status"] == "failed" {
            return (body, seen);
        }
        assert!(Instant::now() < deadline, "the export did not finish: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn request(app: &TestApp, session: &Session, body: &Value) -> (StatusCode, Value, Option<String>) {
    let response = app.post("/api/v1/exports", Some(&session.access_token), body).await;
    let status = response.status();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), location)
}

#[tokio::test]
async fn an_admin_exports_users_as_csv_from_request_to_download() {
    let app = app().await;
    let admin = app.admin().await;
    let mut emails = vec![admin.user.email.clone()];
    for _ in 0..4 {
        let user = TestUser::generate();
        app.register(&user).await;
        emails.push(user.email.clone());
    }
    // A name a spreadsheet would run as a formula.
    let response =
        app.patch("/api/v1/users/me", Some(&admin.access_token), &json!({"full_name": "=HYPERLINK(1)"})).await;
    assert_eq!(response.status(), StatusCode::OK);

    let (status, queued, location) = request(&app, &admin, &json!({"resource": "users", "format": "csv"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["progress"], json!({"current": 0, "total": 0, "percentage": 0}));
    let path = queued["_links"]["self"]["href"].as_str().unwrap().to_owned();
    assert_eq!(location.as_deref(), Some(path.as_str()));

    let (done, seen) = finished(&app, &admin, &path).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], json!({"current": 5, "total": 5, "percentage": 100}));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "progress never goes back: {seen:?}");
    let download = done["_links"]["download"]["href"].as_str().unwrap();

    let response = app.get(download, Some(&admin.access_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert_eq!(disposition, format!("attachment; filename=\"users-{}.csv\"", queued["id"].as_str().unwrap()));
    let text = response.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "id,email,username,full_name,role,is_active,is_verified,created_at,updated_at,last_login_at");
    assert_eq!(lines.len(), 6, "a header and one line per user: {text}");
    for email in &emails {
        assert_eq!(lines.iter().filter(|l| l.contains(email.as_str())).count(), 1, "{email} once in {text}");
    }
    assert!(text.contains(",'=HYPERLINK(1),"), "the formula is neutralised: {text}");
}

#[tokio::test]
async fn ndjson_exports_follow_the_list_filters() {
    let app = app().await;
    let admin = app.admin().await;
    for _ in 0..3 {
        app.register(&TestUser::generate()).await;
    }
    let body = json!({"resource": "users", "format": "ndjson", "filters": {"role": "admin"}});
    let (status, queued, _) = request(&app, &admin, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (done, _) = finished(&app, &admin, queued["_links"]["self"]["href"].as_str().unwrap()).await;
    let response = app.get(done["_links"]["download"]["href"].as_str().unwrap(), Some(&admin.access_token)).await;
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "only the admin: {text}");
    assert_eq!(rows[0]["email"], admin.user.email.as_str());
    assert_eq!(rows[0]["role"], "admin");
    assert_eq!(rows[0]["is_active"], true);
}

#[tokio::test]
async fn members_export_only_their_projects_and_see_only_their_exports() {
    let app = app().await;
    let alice = app.member().await;
    let bob = app.member().await;
    for (session, name) in [(&alice, "Apollo"), (&alice, "Gemini"), (&bob, "Mercury")] {
        let response = app.post("/api/v1/projects", Some(&session.access_token), &json!({"name": name})).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    assert_problem(
        app.post("/api/v1/exports", Some(&alice.access_token), &json!({"resource": "users", "format": "csv"})).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;
    assert_problem(
        app.post("/api/v1/exports", Some(&alice.access_token), &json!({"resource": "audit_logs", "format": "csv"}))
            .await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    let (status, queued, _) = request(&app, &alice, &json!({"resource": "projects", "format": "ndjson"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let path = queued["_links"]["self"]["href"].as_str().unwrap().to_owned();
    let (done, _) = finished(&app, &alice, &path).await;
    let download = done["_links"]["download"]["href"].as_str().unwrap().to_owned();
    let text = app.get(&download, Some(&alice.access_token)).await.text().await.unwrap();
    let mut names: Vec<String> =
        text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    assert_eq!(names, ["Apollo", "Gemini"]);

    // Bob learns nothing of Alice's export; an admin sees it.
    assert_problem(app.get(&path, Some(&bob.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.get(&download, Some(&bob.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let admin = app.admin().await;
    assert_eq!(app.get(&path, Some(&admin.access_token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_export_requests_are_refused_field_by_field_and_store_nothing() {
    let app = app().await;
    let admin = app.admin().await;
    let body = json!({"resource": "users", "format": "xlsx", "filters": {}});
    assert_problem(
        app.post("/api/v1/exports", Some(&admin.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    let body = json!({"resource": "users", "format": "csv", "filters": {"role": "king", "page": 2, "colour": "red"}});
    let problem = assert_problem(
        app.post("/api/v1/exports", Some(&admin.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["filters.colour", "filters.page", "filters.role"]);
    let body = json!({"resource": "audit_logs", "format": "csv", "filters": {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"}});
    let problem = assert_problem(
        app.post("/api/v1/exports", Some(&admin.access_token), &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&problem), ["filters.from"]);
    // None of them made a job.
    let jobs: Value = app.get("/api/v1/jobs?queue=exports", Some(&admin.access_token)).await.json().await.unwrap();
    assert_eq!(jobs["total"], 0, "{jobs}");
}

#[tokio::test]
async fn a_running_export_cannot_be_downloaded_yet_and_an_unknown_one_is_404() {
    let app = app().await;
    let admin = app.admin().await;
    let unknown = format!("/api/v1/exports/{}", uuid::Uuid::now_v7());
    assert_problem(app.get(&unknown, Some(&admin.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(
        app.get(&format!("{unknown}/download"), Some(&admin.access_token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn only_admins_list_jobs_and_a_finished_export_job_is_listed_as_succeeded() {
    let app = app().await;
    let admin = app.admin().await;
    let member = app.member().await;
    assert_problem(app.get("/api/v1/jobs", Some(&member.access_token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_problem(
        app.post("/api/v1/jobs/01JEXAMPLE0000000000000000/retry", Some(&member.access_token), &json!({})).await,
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
    )
    .await;

    let (_, queued, _) = request(&app, &admin, &json!({"resource": "users", "format": "csv"})).await;
    finished(&app, &admin, queued["_links"]["self"]["href"].as_str().unwrap()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let jobs = loop {
        let jobs: Value = app
            .get("/api/v1/jobs?queue=exports&state=succeeded", Some(&admin.access_token))
            .await
            .json()
            .await
            .unwrap();
        if jobs["total"] == 1 || Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(jobs["total"], 1, "{jobs}");
    let job = &jobs["items"][0];
    assert_eq!(
        (job["queue"].as_str(), job["kind"].as_str(), job["state"].as_str()),
        (Some("exports"), Some("export"), Some("succeeded"))
    );

    // Only dead jobs are retried or discarded.
    let id = job["id"].as_str().unwrap();
    assert_problem(
        app.post(&format!("/api/v1/jobs/{id}/retry"), Some(&admin.access_token), &json!({})).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_problem(
        app.delete(&format!("/api/v1/jobs/{id}"), Some(&admin.access_token)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let problem = assert_problem(
        app.get("/api/v1/jobs?state=lost", Some(&admin.access_token)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_FAILED",
    )
    .await;
    assert_eq!(error_fields(&problem), ["state"]);
}

#[tokio::test]
async fn an_export_is_gone_for_everyone_once_expired_and_maintenance_deletes_it() {
    let app = app().await;
    let admin = app.admin().await;
    let (_, queued, _) = request(&app, &admin, &json!({"resource": "users", "format": "csv"})).await;
    let path = queued["_links"]["self"]["href"].as_str().unwrap().to_owned();
    let (done, _) = finished(&app, &admin, &path).await;
    let download = done["_links"]["download"]["href"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&download, Some(&admin.access_token)).await.status(), StatusCode::OK);

    // A day and a bit later (exports live 24 hours by default).
    app.clock.advance(chrono::Duration::hours(25));
    let admin = app.login(&admin.user).await;
    assert_problem(app.get(&path, Some(&admin.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_problem(app.get(&download, Some(&admin.access_token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let purged = app.services.job_services().unwrap().maintenance.run().await.unwrap();
    assert_eq!(purged.exports, 1, "{purged:?}");
}
