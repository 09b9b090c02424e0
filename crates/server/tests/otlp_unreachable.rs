//! With the collector unreachable, requests are answered as usual: spans are exported from a
//! thread of their own, and a failed export only loses them.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

mod otlp_support;

use forge_server::telemetry::{self, Export};
use otlp_support::{serve, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_while_no_collector_answers() {
    // A port that was free a moment ago and has no listener now.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let settings = settings(data_dir.path());
    let telemetry = telemetry::init_with(&settings, Export::HttpProtobuf, Some(format!("http://{closed}/v1/traces")));
    assert!(telemetry.exports());
    let address = serve(settings).await;
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let response = client.get(format!("{address}/health/live")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    // The export of what is buffered fails, and is reported, without panicking.
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await.unwrap();
    let response = client.get(format!("{address}/health/live")).send().await.unwrap();
    assert_eq!(response.status(), 200, "the server still answers after the pipeline stopped");
}
