//! Traces exported over OTLP/gRPC reach a real (tonic) receiver: the request's span is named by
//! its route template and continues the caller's `traceparent`, and the Redis calls a request
//! makes (with Redis configured) are client spans of its trace.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod otlp_support;

use forge_server::telemetry::{self, Export};
use otlp_support::{Received, caller_trace, grpc_receiver, serve, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_span_reaches_the_collector_as_a_child_of_the_callers_span() {
    let received = Received::default();
    let receiver = grpc_receiver(received.clone()).await;
    let data_dir = tempfile::tempdir().unwrap();
    let redis = forge_infrastructure::redis::testing::PrivateRedis::start();
    let mut settings = settings(data_dir.path());
    settings.redis.url = Some(redis.url());
    let telemetry = telemetry::init_with(&settings, Export::Grpc, Some(format!("http://{receiver}")));
    assert!(telemetry.exports());
    let address = serve(settings).await;

    let (traceparent, trace_id, parent_span_id) = caller_trace();
    let response = reqwest::Client::new()
        .get(format!("{address}/health/live"))
        .header("traceparent", &traceparent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A registration counts against the request limits, in Redis.
    let registration = reqwest::Client::new()
        .post(format!("{address}/api/v1/auth/register"))
        .header("traceparent", &traceparent)
        .json(&serde_json::json!({"email": "ada@example.com", "username": "ada", "password": "Vq7#mLp2!xZr-Tide"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registration.status(), 201);
    tokio::task::spawn_blocking(move || telemetry.flush()).await.unwrap();

    let span = received.span_named("GET /health/live").await;
    assert_eq!(span.trace_id, trace_id, "the caller's trace continues");
    assert_eq!(span.parent_span_id, parent_span_id, "the caller's span is the parent");

    received.span_named("POST /api/v1/auth/register").await;
    let redis_calls: Vec<_> = received
        .spans()
        .into_iter()
        .filter(|s| {
            s.trace_id == trace_id
                && s.attributes.iter().any(|a| a.key == "db.system" && format!("{:?}", a.value).contains("redis"))
        })
        .map(|s| s.name)
        .collect();
    assert!(redis_calls.iter().any(|name| name == "redis.limit.hit"), "the limit check is a span: {redis_calls:?}");
}
