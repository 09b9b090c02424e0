//! Audit entries and outbox events: the mapping between the application's records and rows.

use chrono::SecondsFormat;
use forge_application::audit::{AuditRecord, AuditValue, OutboxEvent, Snapshot};
use sea_orm::ActiveValue::Set;
use serde_json::{Map, Value};

use super::{
    entities::{audit_logs, outbox_events},
    stored,
};

/// The JSON form of a snapshot: an object of its fields.
pub(crate) fn snapshot_json(snapshot: &Snapshot) -> Value {
    Value::Object(snapshot.fields().map(|(name, value)| (name.to_owned(), value_json(value))).collect::<Map<_, _>>())
}

fn value_json(value: &AuditValue) -> Value {
    match value {
        AuditValue::Null => Value::Null,
        AuditValue::Bool(b) => Value::Bool(*b),
        AuditValue::Int(i) => Value::from(*i),
        AuditValue::Text(s) => Value::String(s.clone()),
        AuditValue::Time(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        AuditValue::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
    }
}

pub(crate) fn audit_to_active_model(record: &AuditRecord) -> audit_logs::ActiveModel {
    let side = |s: Option<&Snapshot>| s.map_or(Value::Null, snapshot_json);
    let mut changes = Map::new();
    changes.insert("before".to_owned(), side(record.before.as_ref()));
    changes.insert("after".to_owned(), side(record.after.as_ref()));
    audit_logs::ActiveModel {
        id: Set(record.id),
        actor_id: Set(record.actor_id.map(|id| id.as_uuid())),
        action: Set(record.action.as_str().to_owned()),
        entity_type: Set(record.entity_type.as_str().to_owned()),
        entity_id: Set(record.entity_id.clone()),
        changes: Set(Value::Object(changes)),
        ip: Set(record.context.ip.clone()),
        user_agent: Set(record.context.user_agent.clone()),
        request_id: Set(record.context.request_id.clone()),
        created_at: Set(stored(record.created_at)),
    }
}

pub(crate) fn event_to_active_model(event: &OutboxEvent) -> outbox_events::ActiveModel {
    outbox_events::ActiveModel {
        id: Set(event.id),
        event_type: Set(event.event_type.as_str().to_owned()),
        recipient_id: Set(event.recipient.as_uuid()),
        data: Set(snapshot_json(&event.data)),
        occurred_at: Set(stored(event.occurred_at)),
        published_at: Set(None),
    }
}
