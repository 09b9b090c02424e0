//! Traces exported over OTLP/gRPC reach a real (tonic) receiver: the request's span is named by
//! its route template and continues the caller's `traceparent`.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod otlp_support;

use forge_server::telemetry::{self, Export};
use otlp_support::{Received, caller_trace, grpc_receiver, serve, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_span_reaches_the_collector_as_a_child_of_the_callers_span() {
    let received = Received::default();
    let receiver = grpc_receiver(received.clone()).await;
    let data_dir = tempfile::tempdir().unwrap();
    let settings = settings(data_dir.path());
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
    tokio::task::spawn_blocking(move || telemetry.flush()).await.unwrap();

    let span = received.span_named("GET /health/live").await;
    assert_eq!(span.trace_id, trace_id, "the caller's trace continues");
    assert_eq!(span.parent_span_id, parent_span_id, "the caller's span is the parent");
}
