//! The JSON text messages of a real-time connection.

use bytestring::ByteString;
use chrono::SecondsFormat;
use forge_application::realtime::LiveEvent;
use serde_json::{Value, json};

use crate::audit::responses::snapshot_json;

/// An event: `{"id", "type", "data", "occurred_at"}`.
pub(crate) fn event(event: &LiveEvent) -> ByteString {
    json!({
        "id": event.id,
        "type": event.event_type.as_str(),
        "data": Value::Object(snapshot_json(&event.data)),
        "occurred_at": event.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    })
    .to_string()
    .into()
}

/// `{"type": "ready"}`: the connection receives every event from now on (and what it missed,
/// when it resumed, came before this).
pub(crate) fn ready(connection_id: &str, resumed: bool) -> ByteString {
    json!({"type": "ready", "data": {"connection_id": connection_id, "resumed": resumed}}).to_string().into()
}

/// `{"type": "resync"}`: the events after the client's `last_event_id` cannot all be replayed
/// (unknown, too old, or too many); it should reload what it shows.
pub(crate) fn resync() -> ByteString {
    json!({"type": "resync", "data": {"reason": "the events since last_event_id cannot be replayed; reload your state"}})
        .to_string()
        .into()
}

/// `{"type": "pong"}`, the answer to `{"type": "ping"}`.
pub(crate) fn pong() -> ByteString {
    ByteString::from_static(r#"{"type":"pong"}"#)
}

/// `{"type": "error"}`: a client message that was not understood (the connection stays open).
pub(crate) fn error(detail: &str) -> ByteString {
    json!({"type": "error", "data": {"code": "unknown_message", "detail": detail}}).to_string().into()
}

/// Whether a client's text is `{"type": "ping"}` (other fields are ignored).
pub(crate) fn is_ping(text: &str) -> Option<bool> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(value.get("type")?.as_str()? == "ping")
}
