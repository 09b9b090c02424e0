//! Audit entries and outbox events: stored with the change they describe, or not at all.

use forge_application::users::UserChange;
use forge_application::users::UserConstraint;
use forge_application::{
    ClientContext,
    audit::{AuditAction, AuditEntity, AuditRecord, EventType, OutboxEvent, Snapshot},
    common::UnitOfWork,
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

    h.uow.commit(changes![UserChange::Insert(ada.clone()), record]).await.unwrap();

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
    h.uow.commit(changes![UserChange::Insert(ada.clone())]).await.unwrap();
    let audit = AuditRecord::new(AuditAction::UserCreated, AuditEntity::User, "x", Some(ada.id()), &context(), t0());
    let event = OutboxEvent::new(EventType::ProjectMemberAdded, ada.id(), Snapshot::new().with("n", 1), t0());

    let err = h
        .uow
        .commit(changes![audit, event, UserChange::Insert(user("ada@example.com", "ada_again")),])
        .await
        .unwrap_err();

    assert!(err.constraint() == Some(&UserConstraint::EmailTaken), "{err:?}");
    assert_eq!(count(&h, "audit_logs").await, 0);
    assert_eq!(count(&h, "outbox_events").await, 0);
}

#[tokio::test]
async fn an_event_is_stored_in_the_outbox_unpublished() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    h.uow.commit(changes![UserChange::Insert(ada.clone())]).await.unwrap();
    let event =
        OutboxEvent::new(EventType::ProjectMemberAdded, ada.id(), Snapshot::new().with("project_name", "Apollo"), t0());

    h.uow.commit(changes![event]).await.unwrap();

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

// ---------------------------------------------------------------------------------------------
// Reading the trail back

mod reading {
    use chrono::Duration;
    use forge_application::{
        PageRequest, SortOrder,
        audit::{
            AuditAction, AuditEntity, AuditRecord, AuditValue, Snapshot,
            ports::{AuditLogFilter, AuditLogQuery, AuditLogRepository},
        },
        common::UnitOfWork,
    };
    use forge_domain::users::UserId;
    use forge_infrastructure::SeaAuditLogRepository;
    use sea_orm::{ConnectionTrait, Statement};

    use super::context;
    use crate::common::{Harness, t0};

    /// Writes three entries a minute apart: a creation by `actor`, an update by `actor`, and a
    /// session opened by nobody.
    async fn three_entries(h: &Harness, actor: UserId, subject: UserId) -> Vec<AuditRecord> {
        let records = vec![
            AuditRecord::new(AuditAction::UserCreated, AuditEntity::User, subject, Some(actor), &context(), t0())
                .after(Snapshot::new().with("email", "ada@example.com").with("version", 1).with("at", t0())),
            AuditRecord::new(
                AuditAction::UserUpdated,
                AuditEntity::User,
                subject,
                Some(actor),
                &context(),
                t0() + Duration::minutes(1),
            )
            .changed(
                &Snapshot::new().with("full_name", None::<String>).with("role", "member"),
                &Snapshot::new().with("full_name", "Ada").with("role", "member"),
            ),
            AuditRecord::new(
                AuditAction::SessionCreated,
                AuditEntity::Session,
                "s-1",
                None,
                &context(),
                t0() + Duration::minutes(2),
            )
            .after(Snapshot::new().with("scopes", vec!["a".to_owned(), "b".to_owned()])),
        ];
        h.uow.commit(records.iter().cloned().collect()).await.unwrap();
        records
    }

    fn query(filter: AuditLogFilter) -> AuditLogQuery {
        AuditLogQuery { filter, ..AuditLogQuery::default() }
    }

    #[tokio::test]
    async fn entries_come_back_newest_first_with_their_changes() {
        let h = Harness::new().await;
        let repository = SeaAuditLogRepository::new(&h.database);
        let (actor, subject) = (UserId::generate(), UserId::generate());
        let records = three_entries(&h, actor, subject).await;

        let page = repository.list(&AuditLogQuery::default()).await.unwrap();

        assert_eq!(page.total, 3);
        let ids: Vec<_> = page.items.iter().map(|e| e.id).collect();
        assert_eq!(ids, [records[2].id, records[1].id, records[0].id]);
        let created = &page.items[2];
        assert_eq!((created.action, created.entity_type), (AuditAction::UserCreated, AuditEntity::User));
        assert_eq!(created.entity_id, subject.to_string());
        assert_eq!(created.actor_id, Some(actor));
        assert_eq!(created.created_at, t0());
        assert_eq!(created.context, context());
        assert_eq!(created.before, None);
        let after = created.after.as_ref().unwrap();
        assert_eq!(after.get("email"), Some(&AuditValue::from("ada@example.com")));
        assert_eq!(after.get("version"), Some(&AuditValue::Int(1)));
        assert_eq!(after.get("at"), Some(&AuditValue::from("2026-09-21T14:13:20.123456Z")));
        let updated = &page.items[1];
        assert_eq!(updated.before.as_ref().unwrap().get("full_name"), Some(&AuditValue::Null));
        assert_eq!(updated.after.as_ref().unwrap().get("full_name"), Some(&AuditValue::from("Ada")));
        assert_eq!(updated.after.as_ref().unwrap().get("role"), None, "unchanged fields are left out");
        assert_eq!(
            page.items[0].after.as_ref().unwrap().get("scopes"),
            Some(&AuditValue::List(vec!["a".into(), "b".into()]))
        );
    }

    #[tokio::test]
    async fn every_filter_narrows_the_trail() {
        let h = Harness::new().await;
        let repository = SeaAuditLogRepository::new(&h.database);
        let (actor, subject) = (UserId::generate(), UserId::generate());
        let records = three_entries(&h, actor, subject).await;
        let ids = |page: forge_application::Page<forge_application::audit::AuditEntry>| {
            page.items.into_iter().map(|e| e.id).collect::<Vec<_>>()
        };

        let by_actor = repository.list(&query(AuditLogFilter { actor_id: Some(actor), ..Default::default() })).await;
        assert_eq!(ids(by_actor.unwrap()), [records[1].id, records[0].id]);
        let by_type = AuditLogFilter { entity_type: Some(AuditEntity::Session), ..Default::default() };
        assert_eq!(ids(repository.list(&query(by_type)).await.unwrap()), [records[2].id]);
        let by_entity = AuditLogFilter { entity_id: Some(subject.to_string()), ..Default::default() };
        assert_eq!(repository.list(&query(by_entity)).await.unwrap().total, 2);
        let by_action = AuditLogFilter { action: Some(AuditAction::UserUpdated), ..Default::default() };
        assert_eq!(ids(repository.list(&query(by_action)).await.unwrap()), [records[1].id]);
        // Both ends are inclusive.
        let window = AuditLogFilter {
            from: Some(t0() + Duration::minutes(1)),
            to: Some(t0() + Duration::minutes(2)),
            ..Default::default()
        };
        assert_eq!(ids(repository.list(&query(window)).await.unwrap()), [records[2].id, records[1].id]);
        let nobody = AuditLogFilter { actor_id: Some(UserId::generate()), ..Default::default() };
        assert_eq!(repository.list(&query(nobody)).await.unwrap().total, 0);
    }

    #[tokio::test]
    async fn pages_do_not_overlap_in_either_order() {
        let h = Harness::new().await;
        let repository = SeaAuditLogRepository::new(&h.database);
        let records = three_entries(&h, UserId::generate(), UserId::generate()).await;

        let page =
            |n, order| AuditLogQuery { page: PageRequest::new(n, 2).unwrap(), order, ..AuditLogQuery::default() };
        let first = repository.list(&page(1, SortOrder::Asc)).await.unwrap();
        let second = repository.list(&page(2, SortOrder::Asc)).await.unwrap();

        assert_eq!(first.total, 3);
        let ids: Vec<_> = first.items.iter().chain(&second.items).map(|e| e.id).collect();
        assert_eq!(ids, [records[0].id, records[1].id, records[2].id]);
    }

    #[tokio::test]
    async fn an_entry_of_an_unknown_form_is_an_error_not_a_guess() {
        let h = Harness::new().await;
        let repository = SeaAuditLogRepository::new(&h.database);
        three_entries(&h, UserId::generate(), UserId::generate()).await;
        let backend = h.conn.get_database_backend();
        h.conn
            .execute_raw(Statement::from_string(backend, "UPDATE audit_logs SET action = 'user.exploded'"))
            .await
            .unwrap();

        let error = repository.list(&AuditLogQuery::default()).await.unwrap_err();

        assert!(format!("{error:?}").contains("audit_logs"), "{error:?}");
    }
}
