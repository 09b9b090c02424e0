//! Audit entries and outbox events: the mapping between the application's records and rows, and
//! reading the trail back.

use async_trait::async_trait;
use chrono::SecondsFormat;
use forge_application::{
    ClientContext, Page, SortOrder, UnexpectedError,
    audit::{
        AuditAction, AuditEntity, AuditEntry, AuditRecord, AuditValue, OutboxEvent, Snapshot, StoredSnapshot,
        ports::{AuditLogFilter, AuditLogQuery, AuditLogRepository, AuditLogSort},
    },
    common::CommitError,
};
use forge_domain::{projects::ProjectId, users::UserId};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Map, Value};

use super::{
    BATCH_ROWS, Database,
    entities::{
        audit_logs::{self, Column},
        outbox_events,
    },
    errors::{CorruptRow, unexpected, write_error},
    stored,
    unit_of_work::Store,
};

/// The JSON form of a snapshot: an object of its fields.
pub(crate) fn snapshot_json(snapshot: &Snapshot) -> Value {
    Value::Object(snapshot.fields().map(|(name, value)| (name.to_owned(), value_json(value))).collect::<Map<_, _>>())
}

pub(crate) fn value_json(value: &AuditValue) -> Value {
    match value {
        AuditValue::Null => Value::Null,
        AuditValue::Bool(b) => Value::Bool(*b),
        AuditValue::Int(i) => Value::from(*i),
        AuditValue::Text(s) => Value::String(s.clone()),
        AuditValue::Time(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        AuditValue::List(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
    }
}

fn audit_to_active_model(record: &AuditRecord) -> audit_logs::ActiveModel {
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
        project_id: Set(record.project_id.map(|id| id.as_uuid())),
        changes: Set(Value::Object(changes)),
        ip: Set(record.context.ip.clone()),
        user_agent: Set(record.context.user_agent.clone()),
        request_id: Set(record.context.request_id.clone()),
        created_at: Set(stored(record.created_at)),
    }
}

fn event_to_active_model(event: &OutboxEvent) -> outbox_events::ActiveModel {
    outbox_events::ActiveModel {
        id: Set(event.id),
        event_type: Set(event.event_type.as_str().to_owned()),
        recipient_id: Set(event.recipient.as_uuid()),
        data: Set(snapshot_json(&event.data)),
        occurred_at: Set(stored(event.occurred_at)),
        published_at: Set(None),
        lease_owner: Set(None),
        lease_until: Set(None),
        attempts: Set(0),
        last_error: Set(None),
        // The request's trace, which the event's consumers continue.
        traceparent: Set(crate::jobs::trace::current_traceparent()),
    }
}

/// [`AuditLogRepository`] over SeaORM. It only reads: entries are appended by the unit of work
/// and never changed or deleted.
#[derive(Debug, Clone)]
pub struct SeaAuditLogRepository {
    db: DatabaseConnection,
}

impl SeaAuditLogRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl AuditLogRepository for SeaAuditLogRepository {
    #[tracing::instrument(skip_all, fields(page = query.page.page(), limit = query.page.limit(), order = ?query.order))]
    async fn list(&self, query: &AuditLogQuery) -> Result<Page<AuditEntry>, UnexpectedError> {
        let select = audit_logs::Entity::find().filter(matching(&query.filter));
        let total = select.clone().count(&self.db).await.map_err(unexpected)?;
        let order = match query.order {
            SortOrder::Asc => Order::Asc,
            SortOrder::Desc => Order::Desc,
        };
        let select = match query.sort {
            AuditLogSort::CreatedAt => select.order_by(Column::CreatedAt, order.clone()),
        };
        let rows = select
            .order_by(Column::Id, order)
            .limit(u64::from(query.page.limit()))
            .offset(query.page.offset())
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let items = rows.into_iter().map(entry_from_row).collect::<Result<_, _>>()?;
        Ok(Page { items, total, request: query.page })
    }
}

/// The `WHERE` clause of a query: each filter that is set.
pub(crate) fn matching(filter: &AuditLogFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(actor_id) = filter.actor_id {
        condition = condition.add(Column::ActorId.eq(actor_id.as_uuid()));
    }
    if let Some(entity_type) = filter.entity_type {
        condition = condition.add(Column::EntityType.eq(entity_type.as_str()));
    }
    if let Some(entity_id) = &filter.entity_id {
        condition = condition.add(Column::EntityId.eq(entity_id.as_str()));
    }
    if let Some(project_id) = filter.project_id {
        condition = condition.add(Column::ProjectId.eq(project_id.as_uuid()));
    }
    if let Some(action) = filter.action {
        condition = condition.add(Column::Action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        condition = condition.add(Column::CreatedAt.gte(stored(from)));
    }
    if let Some(to) = filter.to {
        condition = condition.add(Column::CreatedAt.lte(stored(to)));
    }
    condition
}

/// Rebuilds an entry from its row. The action and entity type must be names the application
/// knows and `changes` must be `{"before", "after"}` of flat objects, as the unit of work writes
/// them; anything else is a [`CorruptRow`].
pub(crate) fn entry_from_row(row: audit_logs::Model) -> Result<AuditEntry, UnexpectedError> {
    let corrupt = |column, reason: &dyn std::fmt::Display| CorruptRow::error("audit_logs", row.id, column, reason);
    let action = AuditAction::parse(&row.action).ok_or_else(|| corrupt("action", &"an unknown action"))?;
    let entity_type =
        AuditEntity::parse(&row.entity_type).ok_or_else(|| corrupt("entity_type", &"an unknown entity type"))?;
    let Value::Object(changes) = &row.changes else {
        return Err(corrupt("changes", &"not a JSON object"));
    };
    let side = |name: &str| match changes.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(fields)) => fields
            .iter()
            .map(|(field, value)| value_from_json(value).map(|v| (field.clone(), v)))
            .collect::<Option<Vec<_>>>()
            .map(|fields| Some(StoredSnapshot::from_fields(fields)))
            .ok_or_else(|| corrupt("changes", &format!("`{name}` holds a value of an unknown form"))),
        Some(_) => Err(corrupt("changes", &format!("`{name}` is not an object"))),
    };
    Ok(AuditEntry {
        id: row.id,
        actor_id: row.actor_id.map(UserId::from_uuid),
        action,
        entity_type,
        before: side("before")?,
        after: side("after")?,
        entity_id: row.entity_id,
        project_id: row.project_id.map(ProjectId::from_uuid),
        context: ClientContext { ip: row.ip, user_agent: row.user_agent, request_id: row.request_id },
        created_at: row.created_at,
    })
}

/// The inverse of [`value_json`]; instants, stored as RFC 3339 strings, come back as text.
pub(crate) fn value_from_json(value: &Value) -> Option<AuditValue> {
    Some(match value {
        Value::Null => AuditValue::Null,
        Value::Bool(b) => AuditValue::Bool(*b),
        Value::Number(n) => AuditValue::Int(n.as_i64()?),
        Value::String(s) => AuditValue::Text(s.clone()),
        Value::Array(items) => {
            AuditValue::List(items.iter().map(|item| item.as_str().map(str::to_owned)).collect::<Option<_>>()?)
        }
        Value::Object(_) => return None,
    })
}

/// Entries of one commit in a row (a bulk creation's) go in as multi-row `INSERT`s.
#[async_trait]
impl Store for AuditRecord {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        tracing::debug!(count = run.len(), "audit");
        for chunk in run.chunks(BATCH_ROWS) {
            audit_logs::Entity::insert_many(chunk.iter().map(audit_to_active_model))
                .exec_without_returning(tx)
                .await
                .map_err(write_error)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Store for OutboxEvent {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        for event in run {
            tracing::debug!(event_type = event.event_type.as_str(), recipient = %event.recipient, "publish");
            outbox_events::Entity::insert(event_to_active_model(&event))
                .exec_without_returning(tx)
                .await
                .map_err(write_error)?;
        }
        Ok(())
    }
}
