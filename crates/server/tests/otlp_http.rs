//! Traces exported over OTLP/HTTP with protobuf bodies reach a real receiver: the request's span
//! is named by its route template and continues the caller's `traceparent`, and the job that
//! delivers the mail the request caused continues the same trace.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod otlp_support;

use forge_server::telemetry::{self, Export};
use otlp_support::{Received, caller_trace, http_receiver, serve, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_span_reaches_the_collector_as_a_child_of_the_callers_span() {
    let received = Received::default();
    let receiver = http_receiver(received.clone());
    let data_dir = tempfile::tempdir().unwrap();
    let settings = settings(data_dir.path());
    let telemetry = telemetry::init_with(&settings, Export::HttpProtobuf, Some(format!("http://{receiver}/v1/traces")));
    assert!(telemetry.exports());
    let address = serve(settings).await;

    let (traceparent, trace_id, parent_span_id) = caller_trace();
    let client = reqwest::Client::new();
    let user = format!("{address}/api/v1/users/{}", uuid_like());
    let response = client.get(&user).header("traceparent", &traceparent).send().await.unwrap();
    assert_eq!(response.status(), 401, "the request itself is answered");
    let registration = client
        .post(format!("{address}/api/v1/auth/register"))
        .header("traceparent", &traceparent)
        .json(&serde_json::json!({"email": "ada@example.com", "username": "ada", "password": "Vq7#mLp2!xZr-Tide"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registration.status(), 201);
    // The verification mail is a job: wait until a worker has delivered it.
    let started = std::time::Instant::now();
    while std::fs::read_dir(data_dir.path().join("mail")).map_or(0, Iterator::count) == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the mail was not delivered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let register = received.span_named("POST /api/v1/auth/register").await;
    assert_eq!(register.trace_id, trace_id);
    let children: Vec<_> =
        received.spans().into_iter().filter(|s| s.parent_span_id == register.span_id).map(|s| s.name).collect();
    assert!(!children.is_empty(), "the repository calls are children of the request's span");

    // Each SQL statement is a span of the request's trace, with the semantic conventions' attributes.
    let statements: Vec<_> = received
        .spans()
        .into_iter()
        .filter(|s| s.trace_id == trace_id && s.attributes.iter().any(|a| a.key == "db.system"))
        .collect();
    assert!(!statements.is_empty(), "no statement span in the request's trace");
    assert!(
        statements.iter().any(|s| s
            .attributes
            .iter()
            .any(|a| a.key == "db.operation" && format!("{:?}", a.value).contains("INSERT"))),
        "the registration's INSERT is a span: {:?}",
        statements.iter().map(|s| &s.name).collect::<Vec<_>>()
    );

    // The job that delivered the verification mail continues the request's trace.
    let job = received.span_named("job send_mail").await;
    assert_eq!(job.trace_id, trace_id, "the mail job is in the caller's trace");
    let request_spans: Vec<_> =
        received.spans().into_iter().filter(|s| s.trace_id == trace_id).map(|s| s.span_id).collect();
    assert!(request_spans.contains(&job.parent_span_id), "the job's parent is a span of the request");

    // Through the outbox: adding a member stores an event in the request's transaction; the relay
    // hands it to the project mail in a span of the request's trace, and the notice's mail job
    // continues it.
    let member = outbox_notice(&client, &address, data_dir.path()).await;
    tokio::task::spawn_blocking(move || telemetry.flush()).await.unwrap();
    let request = received.span_named("POST /api/v1/projects/{id}/members").await;
    let event = received.span_named("event project.member_added project-mail").await;
    assert_eq!(event.trace_id, request.trace_id, "the relayed event continues the request's trace");
    // The job's span ends after the mail was written: it may reach the receiver a moment later.
    let mut notice = None;
    for _ in 0..200 {
        notice = received.spans().into_iter().find(|s| s.name == "job send_mail" && s.parent_span_id == event.span_id);
        if notice.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let notice = notice.unwrap_or_else(|| panic!("no mail job under the event's span (member {member})"));
    assert_eq!(notice.trace_id, request.trace_id, "the notice's mail job is in the request's trace");

    let span = received.span_named("GET /api/v1/users/{id}").await;
    assert_eq!(span.trace_id, trace_id, "the caller's trace continues");
    assert_eq!(span.parent_span_id, parent_span_id, "the caller's span is the parent");
    assert!(
        span.attributes
            .iter()
            .any(|a| a.key == "http.route" && format!("{:?}", a.value).contains("/api/v1/users/{id}")),
        "{:?}",
        span.attributes
    );
}

/// Registers Ada's project and adds Grace to it, then waits for the three mails (two
/// verifications and the notice); returns Grace's id.
async fn outbox_notice(client: &reqwest::Client, address: &str, data_dir: &std::path::Path) -> String {
    let login: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "ada@example.com", "password": "Vq7#mLp2!xZr-Tide"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let grace: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": "grace@example.com", "username": "grace", "password": "Vq7#mLp2!xZr-Tide"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let project: serde_json::Value = client
        .post(format!("{address}/api/v1/projects"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Apollo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let added = client
        .post(format!("{address}/api/v1/projects/{}/members", project["id"].as_str().unwrap()))
        .bearer_auth(&token)
        .json(&serde_json::json!({"user_id": grace["id"], "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let started = std::time::Instant::now();
    while std::fs::read_dir(data_dir.join("mail")).map_or(0, Iterator::count) < 3 {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "the notice was not delivered");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    grace["id"].as_str().unwrap().to_owned()
}

fn uuid_like() -> &'static str {
    "0195e3a4-7b7c-7cc0-8d7e-1f2a3b4c5d6e"
}
