//! Mail on the durable job queue: accepted by one process, delivered by another.

use forge_server::{Application, Overrides};
use serde_json::json;

use crate::harness::{TestUser, spawn_app_with};

const VERIFY: &str = "Confirm your e-mail address";

#[tokio::test]
async fn a_mail_accepted_by_an_api_instance_without_workers_is_delivered_by_a_worker_started_later() {
    // The API runs no workers, as in production next to `forge worker`, or as a process that died
    // right after answering: the mail must be waiting in the database, not in its memory.
    let app = spawn_app_with(|s| s.jobs.run_in_serve = false).await;
    let user = TestUser::generate();
    app.register(&user).await;
    assert_eq!(app.services.mail_in_flight().await.unwrap(), 1, "the verification mail waits as a job");
    assert!(app.mails_to(&user.email).is_empty());

    // A process with workers over the same database (a restarted server, or a worker).
    let mut settings = app.settings.clone();
    settings.jobs.run_in_serve = true;
    let worker = Application::build(settings, Overrides { clock: Some(app.clock.clone()) }).await.unwrap();
    tokio::spawn(worker.run_until_stopped());

    let mail = app.wait_for_mail(&user.email, VERIFY).await;
    let token = mail.token(&app.settings.public_url, "verify-email");
    let response = app.post("/api/v1/auth/email/verify", None, &json!({"token": token})).await;
    assert_eq!(response.status(), reqwest::StatusCode::NO_CONTENT);
    app.wait_until_mail_delivered().await;
}
