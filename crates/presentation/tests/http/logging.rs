//! Every log line written while serving a request carries the request's id.

use std::{
    io,
    sync::{Arc, Mutex},
};

use actix_web::test::{self, TestRequest};
use forge_application::common::UnexpectedError;
use forge_presentation::build_app;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::support::Mocks;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default()).into_owned()
    }

    fn clear(&self) {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.clear();
        }
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Everything logged at DEBUG and above on this thread until the guard drops, as plain text.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[actix_web::test]
async fn every_log_line_of_a_request_carries_its_request_id() {
    let (captured, _guard) = capture();

    let mut mocks = Mocks::default();
    mocks.users.expect_by_email().returning(|_| Err(UnexpectedError::unavailable("connection refused")));
    let app = test::init_service(build_app(mocks.state())).await;
    let login = |id: &str| {
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .insert_header(("X-Request-ID", id))
            .set_json(json!({"email": "ada@example.com", "password": "x"}))
            .to_request()
    };
    // Tests run in parallel without a subscriber, and tracing caches per call site whether
    // anyone listens; a call site first reached by another test at the moment this subscriber
    // was installed can keep a stale "nobody". Reach every call site once, then recompute.
    test::call_service(&app, login("warm-up")).await;
    tracing::callsite::rebuild_interest_cache();
    captured.clear();

    test::call_service(&app, login("log-test-1")).await;

    let output = captured.text();
    assert!(output.contains("request failed unexpectedly"), "{output}");
    assert!(output.contains("connection refused"), "the cause is logged: {output}");
    assert!(output.contains("request completed"), "{output}");
    for line in output.lines().filter(|line| !line.trim().is_empty()) {
        assert!(line.contains("request_id=log-test-1"), "a line without the request id: {line}");
    }
}

#[actix_web::test]
async fn a_client_error_is_logged_once_at_info_and_never_as_a_warning() {
    let (captured, _guard) = capture();

    let app = test::init_service(build_app(Mocks::default().state())).await;
    // Refused before any port is reached: the mocks expect nothing.
    let refused = |id: &str| {
        TestRequest::post()
            .uri("/api/v1/auth/login")
            .insert_header(("X-Request-ID", id))
            .set_json(json!({"email": "ada@example.com", "unknown_field": true}))
            .to_request()
    };
    let warm_up = test::call_service(&app, refused("warm-up")).await;
    assert!(warm_up.status().is_client_error(), "{}", warm_up.status());
    tracing::callsite::rebuild_interest_cache();
    captured.clear();

    let response = test::call_service(&app, refused("log-test-4xx")).await;
    let status = response.status().as_u16();

    let output = captured.text();
    let completed: Vec<_> = output.lines().filter(|line| line.contains("request completed")).collect();
    assert_eq!(completed.len(), 1, "{output}");
    assert!(completed[0].contains(" INFO ") && completed[0].contains(&format!("status={status}")), "{output}");
    assert!(!output.lines().any(|line| line.contains(" WARN ") || line.contains(" ERROR ")), "{output}");
}
