//! A real OTLP receiver for the trace tests (HTTP/protobuf on `/v1/traces`, or gRPC), and a
//! server to send requests to. Each test binary installs the global subscriber once, so each
//! export protocol has a binary of its own.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::field_reassign_with_default,
    dead_code,
    reason = "test support: a failure is a failed test; settings are adjusted field by field"
)]

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, web};
use forge_server::{Application, Overrides, Settings};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    trace::v1::Span,
};
use prost::Message as _;
use secrecy::SecretString;

/// The spans a receiver got, in arrival order.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<Span>>>);

impl Received {
    fn add(&self, request: ExportTraceServiceRequest) {
        let spans = request.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans);
        self.0.lock().unwrap().extend(spans);
    }

    /// The spans so far.
    pub fn spans(&self) -> Vec<Span> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (up to 20 s) for a span named `name` and returns it.
    pub async fn span_named(&self, name: &str) -> Span {
        for _ in 0..200 {
            if let Some(span) = self.spans().into_iter().find(|s| s.name == name) {
                return span;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no span named {name:?} arrived; got {:?}", self.spans().iter().map(|s| &s.name).collect::<Vec<_>>());
    }
}

/// An OTLP/HTTP receiver: `POST /v1/traces` with a protobuf body. Returns its address.
pub fn http_receiver(received: Received) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        let received = received.clone();
        App::new().route(
            "/v1/traces",
            web::post().to(move |body: web::Bytes| {
                let received = received.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body.as_ref()).expect("an OTLP protobuf body");
                    received.add(request);
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .body(ExportTraceServiceResponse::default().encode_to_vec())
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    address
}

struct Collector(Received);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.add(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/gRPC receiver. Returns its address.
pub async fn grpc_receiver(received: Received) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(received)))
            .serve_with_incoming(incoming),
    );
    address
}

/// Settings of a server on SQLite in `data_dir`, on a free port.
pub fn settings(data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.data_dir = data_dir.to_path_buf();
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.workers = Some(1);
    settings.auth.jwt_secret = Some(SecretString::from("test-signing-key-0123456789abcdefghijklmnop"));
    // Log lines are filtered apart from spans: traces are exported at any log level.
    settings.log.level = "warn".into();
    settings
}

/// Starts a server; returns its base address.
pub async fn serve(settings: Settings) -> String {
    let application = Application::build(settings, Overrides::default()).await.expect("the server builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

/// A `traceparent` of a sampled caller span, and its trace and span ids as bytes.
pub fn caller_trace() -> (String, Vec<u8>, Vec<u8>) {
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span_id = "00f067aa0ba902b7";
    let bytes =
        |hex: &str| (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    (format!("00-{trace_id}-{span_id}-01"), bytes(trace_id), bytes(span_id))
}
