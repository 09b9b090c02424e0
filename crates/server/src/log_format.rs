//! The JSON log line: one object per event, with the event's fields at the top level, the fields
//! of the span the event happened in under `span`, and the request's `request_id`, `trace_id` and
//! `span_id` at the top level, taken from the nearest enclosing span that recorded them, so that
//! they are on every line of a request, however deep in the call the line was logged.

use std::fmt;

use serde_json::{Map, Value};
use tracing::{Event, Subscriber, field::Field};
use tracing_subscriber::{
    fmt::{
        FmtContext, FormatEvent, FormattedFields,
        format::{JsonFields, Writer},
    },
    registry::LookupSpan,
};

/// The fields copied from the enclosing spans to the top level of each line.
const CORRELATION_FIELDS: [&str; 3] = ["request_id", "trace_id", "span_id"];

/// The JSON event format (use with [`JsonFields`] as the span field formatter).
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLines;

/// Collects an event's fields into a JSON object.
struct Fields<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::from(metadata.level().as_str()));
        line.insert("target".into(), Value::from(metadata.target()));
        event.record(&mut Fields(&mut line));

        if let Some(scope) = ctx.event_scope() {
            let mut current = true;
            for span in scope {
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<JsonFields>>()
                    .and_then(|f| serde_json::from_str::<Map<String, Value>>(f).ok())
                    .unwrap_or_default();
                for name in CORRELATION_FIELDS {
                    if let Some(value) = fields.get(name)
                        && !line.contains_key(name)
                    {
                        line.insert(name.to_owned(), value.clone());
                    }
                }
                if current {
                    let mut described = fields;
                    described.insert("name".into(), Value::from(span.name()));
                    line.insert("span".into(), Value::Object(described));
                    current = false;
                }
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt as _};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[test]
    fn lines_deep_in_a_request_carry_its_ids() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().event_format(JsonLines).with_writer(captured.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("HTTP request", request_id = "req-1", trace_id = "abc", span_id = "def");
            let _request = request.enter();
            let query = tracing::info_span!("find_user", user_id = 7);
            let _query = query.enter();
            tracing::info!(rows = 1_u64, "found");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["message"], "found");
        assert_eq!(line["rows"], 1);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["trace_id"], "abc");
        assert_eq!(line["span_id"], "def");
        assert_eq!(line["span"]["name"], "find_user");
        assert_eq!(line["span"]["user_id"], 7);
    }
}
