//! Traces across the queue: the trace context of the span that queues a job is stored with it,
//! and the span of each attempt continues it, so one trace runs from a request to the mail it
//! caused. Without a configured propagator (traces off) nothing is stored and nothing is read.

use std::collections::HashMap;

use opentelemetry::global;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The W3C `traceparent` of the current span, when traces are on.
pub(crate) fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    let mut carrier: HashMap<String, String> = HashMap::new();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut carrier));
    carrier.remove("traceparent")
}

/// The span of one attempt of a job of `kind` on `queue`, a child of the span that queued it.
pub(crate) fn attempt_span(kind: &str, queue: &str, traceparent: Option<&str>) -> tracing::Span {
    let span = tracing::info_span!("job", otel.name = %format!("job {kind}"), job.kind = %kind, job.queue = %queue);
    if let Some(traceparent) = traceparent {
        let carrier: HashMap<String, String> = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
        let parent = global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
        let _ = span.set_parent(parent);
    }
    span
}
