//! Mail on the durable job queue: accepted by one process and delivered by another, retried
//! against a real SMTP server that fails, dead-lettered, and retried by an admin over the API.

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

/// A server whose mail goes to `sink` over SMTP, retried quickly.
async fn app_mailing_to(port: u16, max_attempts: u32) -> crate::harness::TestApp {
    spawn_app_with(move |s| {
        s.mail.transport = forge_server::config::MailTransport::Smtp;
        s.mail.smtp_host = Some("127.0.0.1".into());
        s.mail.smtp_port = Some(port);
        s.mail.smtp_tls = forge_server::config::SmtpTls::None;
        s.mail.max_attempts = max_attempts;
        s.mail.retry_initial_delay_ms = 100;
        s.jobs.poll_interval_ms = 50;
    })
    .await
}

/// Waits until `GET /jobs?queue=mail&state=<state>` lists a job, and returns it.
async fn mail_job_in(app: &crate::harness::TestApp, admin: &str, state: &str) -> serde_json::Value {
    // Generous: on a loaded machine (the whole suite in parallel on two cores) three attempts
    // with back-off can take a while; a passing run waits only as long as the attempts take.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let page: serde_json::Value =
            app.get(&format!("/api/v1/jobs?queue=mail&state={state}"), Some(admin)).await.json().await.unwrap();
        if let Some(job) = page["items"].as_array().and_then(|items| items.first()) {
            return job.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no {state} mail job: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_smtp_server_failing_twice_gets_the_mail_on_the_third_attempt() {
    let (sink, port) = crate::smtp::SmtpSink::start(2).await;
    let app = app_mailing_to(port, 5).await;
    let admin = app.admin().await;
    let user = TestUser::generate();
    app.register(&user).await;

    let job = mail_job_in(&app, &admin.access_token, "succeeded").await;
    assert_eq!(job["attempts"], 3, "two failures, then delivered: {job}");
    assert_eq!(sink.attempts.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(*sink.delivered.lock().unwrap(), std::slice::from_ref(&user.email));
}

#[tokio::test]
async fn a_mail_the_smtp_server_always_refuses_ends_dead_with_its_error_and_an_admin_retry_delivers_it() {
    let (sink, port) = crate::smtp::SmtpSink::start(-1).await;
    let app = app_mailing_to(port, 2).await;
    let admin = app.admin().await;
    let user = TestUser::generate();
    app.register(&user).await;

    let dead = mail_job_in(&app, &admin.access_token, "dead").await;
    assert_eq!(dead["attempts"], 2, "{dead}");
    let error = dead["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("451") || error.to_lowercase().contains("try again"), "the SMTP error is kept: {dead}");
    assert!(sink.delivered.lock().unwrap().is_empty());

    // The server is fixed; an admin retries the job from the API.
    sink.fix();
    let id = dead["id"].as_str().unwrap();
    let response = app.post(&format!("/api/v1/jobs/{id}/retry"), Some(&admin.access_token), &json!({})).await;
    assert_eq!(response.status(), reqwest::StatusCode::NO_CONTENT);
    let done = mail_job_in(&app, &admin.access_token, "succeeded").await;
    assert_eq!(done["id"], dead["id"]);
    assert_eq!(*sink.delivered.lock().unwrap(), std::slice::from_ref(&user.email));
    // Retrying it again: it is no longer dead.
    let again = app.post(&format!("/api/v1/jobs/{id}/retry"), Some(&admin.access_token), &json!({})).await;
    assert_eq!(again.status(), reqwest::StatusCode::NOT_FOUND);
}
