//! What real-time delivery reads and writes in the database: the log of recent events (replayed
//! to reconnecting clients), WebSocket tickets, and project membership at the moment of delivery.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_application::{
    UnexpectedError,
    audit::StoredSnapshot,
    realtime::{Audience, Audiences, EventLog, LiveEvent, LiveEventType, Ticket, TicketStore},
};
use forge_domain::{projects::ProjectId, sessions::SessionId, users::UserId};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Database,
    audit::{value_from_json, value_json},
    entities::{live_events, project_members, ws_tickets},
    errors::{CorruptRow, unexpected},
    stored,
};

/// [`EventLog`] over SeaORM: the `live_events` table, in the order of its sequence.
#[derive(Debug, Clone)]
pub struct SeaEventLog {
    db: DatabaseConnection,
}

impl SeaEventLog {
    /// The log of `database`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

fn data_json(data: &StoredSnapshot) -> Value {
    Value::Object(data.fields().map(|(name, value)| (name.to_owned(), value_json(value))).collect())
}

fn event_from_row(row: live_events::Model) -> Result<LiveEvent, UnexpectedError> {
    let corrupt = |column, reason: &str| CorruptRow::error("live_events", row.id, column, reason);
    let event_type = LiveEventType::parse(&row.event_type).ok_or_else(|| corrupt("event_type", "an unknown type"))?;
    let Value::Object(fields) = &row.data else { return Err(corrupt("data", "not a JSON object")) };
    let data = fields
        .iter()
        .map(|(name, value)| value_from_json(value).map(|v| (name.clone(), v)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| corrupt("data", "a value of an unknown form"))?;
    Ok(LiveEvent {
        id: row.id,
        event_type,
        audience: Audience {
            user: row.user_id.map(UserId::from_uuid),
            project: row.project_id.map(ProjectId::from_uuid),
        },
        data: StoredSnapshot::from_fields(data),
        occurred_at: row.occurred_at,
    })
}

#[async_trait]
impl EventLog for SeaEventLog {
    #[tracing::instrument(skip_all)]
    async fn append(&self, event: &LiveEvent) -> Result<(), UnexpectedError> {
        let row = live_events::ActiveModel {
            id: Set(event.id),
            event_type: Set(event.event_type.as_str().to_owned()),
            user_id: Set(event.audience.user.map(|u| u.as_uuid())),
            project_id: Set(event.audience.project.map(|p| p.as_uuid())),
            data: Set(data_json(&event.data)),
            occurred_at: Set(stored(event.occurred_at)),
            ..Default::default()
        };
        live_events::Entity::insert(row).exec_without_returning(&self.db).await.map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn after(
        &self,
        last: Uuid,
        user: UserId,
        projects: &[ProjectId],
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Option<Vec<LiveEvent>>, UnexpectedError> {
        let found: Option<(i64, DateTime<Utc>)> = live_events::Entity::find()
            .select_only()
            .column(live_events::Column::Seq)
            .column(live_events::Column::OccurredAt)
            .filter(live_events::Column::Id.eq(last))
            .into_tuple()
            .one(&self.db)
            .await
            .map_err(unexpected)?;
        // Unknown, or older than the window: the reader has to start afresh.
        let Some(seq) = found.filter(|(_, at)| *at >= since).map(|(seq, _)| seq) else { return Ok(None) };
        let mut audience = Condition::any().add(live_events::Column::UserId.eq(user.as_uuid()));
        if !projects.is_empty() {
            audience = audience.add(live_events::Column::ProjectId.is_in(projects.iter().map(ProjectId::as_uuid)));
        }
        let rows = live_events::Entity::find()
            .filter(live_events::Column::Seq.gt(seq))
            .filter(audience)
            .order_by_asc(live_events::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        rows.into_iter().map(event_from_row).collect::<Result<Vec<_>, _>>().map(Some)
    }
}

/// [`TicketStore`] over SeaORM: the `ws_tickets` table, shared by every instance.
#[derive(Debug, Clone)]
pub struct SeaTicketStore {
    db: DatabaseConnection,
}

impl SeaTicketStore {
    /// The tickets of `database`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl TicketStore for SeaTicketStore {
    #[tracing::instrument(skip_all)]
    async fn issue(&self, ticket: &Ticket) -> Result<(), UnexpectedError> {
        let row = ws_tickets::ActiveModel {
            digest: Set(ticket.digest.as_str().to_owned()),
            user_id: Set(ticket.user_id.as_uuid()),
            session_id: Set(ticket.session_id.as_uuid()),
            expires_at: Set(stored(ticket.expires_at)),
            used_at: Set(None),
        };
        ws_tickets::Entity::insert(row).exec_without_returning(&self.db).await.map_err(unexpected)?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn redeem(
        &self,
        digest: &forge_domain::sessions::TokenDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, SessionId)>, UnexpectedError> {
        // One conditional update: of two concurrent redemptions, one changes the row.
        let used = ws_tickets::Entity::update_many()
            .col_expr(ws_tickets::Column::UsedAt, Expr::value(stored(now)))
            .filter(ws_tickets::Column::Digest.eq(digest.as_str()))
            .filter(ws_tickets::Column::UsedAt.is_null())
            .filter(ws_tickets::Column::ExpiresAt.gt(stored(now)))
            .exec(&self.db)
            .await
            .map_err(unexpected)?;
        if used.rows_affected != 1 {
            return Ok(None);
        }
        let row = ws_tickets::Entity::find_by_id(digest.as_str().to_owned()).one(&self.db).await.map_err(unexpected)?;
        Ok(row.map(|row| (UserId::from_uuid(row.user_id), SessionId::from(row.session_id))))
    }
}

/// [`Audiences`] over SeaORM: memberships of live projects, read at the moment of delivery.
#[derive(Debug, Clone)]
pub struct SeaAudiences {
    db: DatabaseConnection,
}

impl SeaAudiences {
    /// The memberships of `database`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }
}

#[async_trait]
impl Audiences for SeaAudiences {
    #[tracing::instrument(skip_all)]
    async fn members_of(&self, project: ProjectId) -> Result<Vec<UserId>, UnexpectedError> {
        let users: Vec<Uuid> = project_members::Entity::find()
            .select_only()
            .column(project_members::Column::UserId)
            .filter(project_members::Column::ProjectId.eq(project.as_uuid()))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(users.into_iter().map(UserId::from_uuid).collect())
    }

    #[tracing::instrument(skip_all)]
    async fn projects_of(&self, user: UserId) -> Result<Vec<ProjectId>, UnexpectedError> {
        let ids: Vec<Uuid> = project_members::Entity::find()
            .select_only()
            .column(project_members::Column::ProjectId)
            .filter(project_members::Column::UserId.eq(user.as_uuid()))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(ids.into_iter().map(ProjectId::from_uuid).collect())
    }
}
