//! How an audit entry looks in responses: its `changes` are `{"before", "after"}`, each an
//! object of the fields recorded (never a secret: entries never hold one), or `null`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use forge_application::audit::{AuditAction, AuditEntity, AuditEntry, AuditValue, StoredSnapshot};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{ObjectBuilder, Schema, Type},
    },
};
use uuid::Uuid;

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditLogResponse {
    /// The entry's id (UUID v7).
    pub id: Uuid,
    /// Who did it; `null` for the system or an anonymous request (a registration).
    #[schema(required = true)]
    pub actor_id: Option<Uuid>,
    /// What was done.
    pub action: AuditActionName,
    /// The kind of thing it was done to.
    pub entity_type: AuditEntityName,
    /// Which one: a UUID, or for memberships `project_id:user_id`.
    pub entity_id: String,
    /// The project the entry concerns: the project itself, or the project of a membership;
    /// `null` for entries about anything else. `project_id` filters on it.
    #[schema(required = true)]
    pub project_id: Option<Uuid>,
    /// The recorded state before and after.
    pub changes: AuditChanges,
    /// The client's address, as resolved through trusted proxies.
    #[schema(required = true)]
    pub ip: Option<String>,
    /// The client's `User-Agent`.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// The id of the request that made the change (as in `X-Request-ID` and the logs).
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

/// The state of the entity before and after the change. For an update, only the fields that
/// changed are listed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditChanges {
    /// The fields before the change; `null` when the entity did not exist yet.
    #[schema(required = true, value_type = Option<Object>, example = json!({"full_name": null}))]
    pub before: Option<Map<String, Value>>,
    /// The fields after the change; `null` when nothing is left to show.
    #[schema(required = true, value_type = Option<Object>, example = json!({"full_name": "Ada Lovelace"}))]
    pub after: Option<Map<String, Value>>,
}

impl From<&AuditEntry> for AuditLogResponse {
    fn from(entry: &AuditEntry) -> Self {
        Self {
            id: entry.id,
            actor_id: entry.actor_id.map(|id| id.as_uuid()),
            action: AuditActionName(entry.action.as_str().to_owned()),
            entity_type: AuditEntityName(entry.entity_type.as_str().to_owned()),
            entity_id: entry.entity_id.clone(),
            project_id: entry.project_id.map(|id| id.as_uuid()),
            changes: AuditChanges {
                before: entry.before.as_ref().map(snapshot_json),
                after: entry.after.as_ref().map(snapshot_json),
            },
            ip: entry.context.ip.clone(),
            user_agent: entry.context.user_agent.clone(),
            request_id: entry.context.request_id.clone(),
            created_at: entry.created_at,
        }
    }
}

pub(crate) fn snapshot_json(snapshot: &StoredSnapshot) -> Map<String, Value> {
    snapshot.fields().map(|(name, value)| (name.to_owned(), value_json(value))).collect()
}

fn value_json(value: &AuditValue) -> Value {
    match value {
        AuditValue::Null => Value::Null,
        AuditValue::Bool(b) => Value::Bool(*b),
        AuditValue::Int(i) => Value::from(*i),
        AuditValue::Text(s) => Value::String(s.clone()),
        AuditValue::Time(t) => Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        AuditValue::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
    }
}

/// A string whose documented values are `names`.
fn names_schema(description: &str, names: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description)).enum_values(Some(names)).into()
}

/// An audit action name, e.g. `user.created` (the list is the application's, so the document
/// cannot fall behind it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuditActionName(pub String);

impl PartialSchema for AuditActionName {
    fn schema() -> RefOr<Schema> {
        names_schema("What was done", AuditAction::ALL.map(AuditAction::as_str))
    }
}

impl ToSchema for AuditActionName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AuditAction")
    }
}

/// An audited entity type, e.g. `user`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuditEntityName(pub String);

impl PartialSchema for AuditEntityName {
    fn schema() -> RefOr<Schema> {
        names_schema("The kind of thing an entry is about", AuditEntity::ALL.map(AuditEntity::as_str))
    }
}

impl ToSchema for AuditEntityName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AuditEntityType")
    }
}
