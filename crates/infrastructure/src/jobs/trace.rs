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
    continue_trace(&span, traceparent);
    span
}

/// Makes `span` a child of the span `traceparent` names, if any.
fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent {
        let carrier: HashMap<String, String> = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
        let parent = global::get_text_map_propagator(|propagator| propagator.extract(&carrier));
        let _ = span.set_parent(parent);
    }
}

/// An outbox consumer whose work on each event runs in a span continuing the trace of the
/// request that stored the event, so that the jobs it queues (a mail) continue it too.
pub struct TracedConsumer {
    inner: std::sync::Arc<dyn forge_application::relay::OutboxConsumer>,
}

impl TracedConsumer {
    /// `inner`, traced.
    #[must_use]
    pub fn new(inner: std::sync::Arc<dyn forge_application::relay::OutboxConsumer>) -> Self {
        Self { inner }
    }
}

impl std::fmt::Debug for TracedConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedConsumer").field("inner", &self.inner.name()).finish()
    }
}

#[async_trait::async_trait]
impl forge_application::relay::OutboxConsumer for TracedConsumer {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn consume(
        &self,
        event: &forge_application::relay::RelayedEvent,
    ) -> Result<(), forge_application::UnexpectedError> {
        use tracing::Instrument as _;
        let kind = event.event_type.as_str();
        let span = tracing::info_span!(
            "outbox event",
            otel.name = %format!("event {kind} {}", self.inner.name()),
            event.kind = %kind,
            event.id = %event.id,
            consumer = self.inner.name(),
        );
        continue_trace(&span, event.traceparent.as_deref());
        self.inner.consume(event).instrument(span).await
    }
}
