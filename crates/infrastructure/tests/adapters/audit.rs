//! Audit entries and outbox events: stored with the change they describe, or not at all.

use forge_application::{
    ClientContext,
    audit::{AuditAction, AuditEntity, AuditRecord, EventType, OutboxEvent, Snapshot},
    common::{Change, CommitError, UnitOfWork},
};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::common::{Harness, t0, user};

fn context() -> ClientContext {
    ClientContext {
        ip: Some("198.51.100.7".into()),
        user_agent: Some("forge-tests/1.0".into()),
        request_id: Some("req-1".into()),
    }
}

/// Every stored audit entry as `(action, entity_type, entity_id, actor_id, changes, ip, request_id)`,
/// read back as text so the check does not depend on how the column type is mapped.
async fn stored_audits(
    h: &Harness,
) -> Vec<(String, String, String, Option<String>, Value, Option<String>, Option<String>)> {
    let backend = h.conn.get_database_backend();
    let sql = if backend == sea_orm::DatabaseBackend::Postgres {
        "SELECT action, entity_type, entity_id, CAST(actor_id AS TEXT) AS actor_id, CAST(changes AS TEXT) AS changes, ip, request_id FROM audit_logs ORDER BY id"
    } else {
        "SELECT action, entity_type, entity_id, actor_id, CAST(changes AS TEXT) AS changes, ip, request_id FROM audit_logs ORDER BY id"
    };
    let rows = h.conn.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
    rows.into_iter()
        .map(|r| {
            let changes: String = r.try_get("", "changes").unwrap();
            let actor: Option<String> = if backend == sea_orm::DatabaseBackend::Postgres {
                r.try_get("", "actor_id").unwrap()
            } else {
                r.try_get::<Option<uuid::Uuid>>("", "actor_id").unwrap().map(|u| u.to_string())
            };
            (
                r.try_get("", "action").unwrap(),
                r.try_get("", "entity_type").unwrap(),
                r.try_get("", "entity_id").unwrap(),
                actor,
                serde_json::from_str(&changes).unwrap(),
                r.try_get("", "ip").unwrap(),
                r.try_get("", "request_id").unwrap(),
            )
        })
        .collect()
}

async fn count(h: &Harness, table: &str) -> i64 {
    let backend = h.conn.get_database_backend();
    let row = h
        .conn
        .query_one_raw(Statement::from_string(backend, format!("SELECT COUNT(*) AS n FROM {table}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn an_audit_entry_is_stored_with_its_change_and_its_snapshots_as_json() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    let record = AuditRecord::new(AuditAction::UserCreated, AuditEntity::User, ada.id(), None, &context(), t0())
        .after(Snapshot::of_user(&ada));

    h.uow.commit(vec![Change::InsertUser(ada.clone()), Change::Audit(record)]).await.unwrap();

    let [(action, entity_type, entity_id, actor, changes, ip, request_id)] =
        <[_; 1]>::try_from(stored_audits(&h).await).unwrap();
    assert_eq!((action.as_str(), entity_type.as_str()), ("user.created", "user"));
    assert_eq!(entity_id, ada.id().to_string());
    assert_eq!(actor, None);
    assert_eq!(changes["before"], Value::Null);
    assert_eq!(changes["after"]["email"], json!("ada@example.com"));
    assert_eq!(changes["after"]["is_active"], json!(true));
    assert_eq!(changes["after"]["version"], json!(1));
    assert!(!changes.to_string().contains("argon2"), "no hash in the trail: {changes}");
    assert_eq!(ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(request_id.as_deref(), Some("req-1"));
}

#[tokio::test]
async fn a_refused_change_leaves_neither_its_audit_entry_nor_its_event() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    h.uow.commit(vec![Change::InsertUser(ada.clone())]).await.unwrap();
    let audit = AuditRecord::new(AuditAction::UserCreated, AuditEntity::User, "x", Some(ada.id()), &context(), t0());
    let event = OutboxEvent::new(EventType::ProjectMemberAdded, ada.id(), Snapshot::new().with("n", 1), t0());

    let err = h
        .uow
        .commit(vec![
            Change::Audit(audit),
            Change::Publish(event),
            Change::InsertUser(user("ada@example.com", "ada_again")),
        ])
        .await
        .unwrap_err();

    assert!(matches!(err, CommitError::EmailTaken), "{err:?}");
    assert_eq!(count(&h, "audit_logs").await, 0);
    assert_eq!(count(&h, "outbox_events").await, 0);
}

#[tokio::test]
async fn an_event_is_stored_in_the_outbox_unpublished() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    h.uow.commit(vec![Change::InsertUser(ada.clone())]).await.unwrap();
    let event =
        OutboxEvent::new(EventType::ProjectMemberAdded, ada.id(), Snapshot::new().with("project_name", "Apollo"), t0());

    h.uow.commit(vec![Change::Publish(event)]).await.unwrap();

    let backend = h.conn.get_database_backend();
    let row = h
        .conn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT event_type, CAST(data AS TEXT) AS data, published_at IS NULL AS pending FROM outbox_events",
        ))
        .await
        .unwrap()
        .unwrap();
    let data: String = row.try_get("", "data").unwrap();
    assert_eq!(row.try_get::<String>("", "event_type").unwrap(), "project.member_added");
    assert_eq!(serde_json::from_str::<Value>(&data).unwrap(), json!({"project_name": "Apollo"}));
    assert!(row.try_get::<bool>("", "pending").unwrap());
}
