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
    use forge_domain::{projects::ProjectId, users::UserId};
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

    /// Writes, a minute apart: project `a` created, a member added to it, project `b` created,
    /// and a user updated (no project).
    async fn two_projects(h: &Harness, a: ProjectId, b: ProjectId, member: UserId) -> Vec<AuditRecord> {
        let at = |minutes| t0() + Duration::minutes(minutes);
        let actor = Some(member);
        let records = vec![
            AuditRecord::new(AuditAction::ProjectCreated, AuditEntity::Project, a, actor, &context(), at(0))
                .in_project(a),
            AuditRecord::new(
                AuditAction::ProjectMemberAdded,
                AuditEntity::Membership,
                format!("{a}:{member}"),
                actor,
                &context(),
                at(1),
            )
            .in_project(a),
            AuditRecord::new(AuditAction::ProjectCreated, AuditEntity::Project, b, actor, &context(), at(2))
                .in_project(b),
            AuditRecord::new(AuditAction::UserUpdated, AuditEntity::User, member, actor, &context(), at(3)),
        ];
        h.uow.commit(records.iter().cloned().collect()).await.unwrap();
        records
    }

    #[tokio::test]
    async fn the_trail_of_a_project_holds_its_own_entries_and_its_memberships_and_nothing_else() {
        let h = Harness::new().await;
        let repository = SeaAuditLogRepository::new(&h.database);
        let (a, b, member) = (ProjectId::generate(), ProjectId::generate(), UserId::generate());
        let records = two_projects(&h, a, b, member).await;

        let of_a = repository.list(&query(AuditLogFilter { project_id: Some(a), ..Default::default() })).await.unwrap();

        assert_eq!(of_a.total, 2);
        let ids: Vec<_> = of_a.items.iter().map(|e| e.id).collect();
        assert_eq!(ids, [records[1].id, records[0].id], "newest first");
        assert!(of_a.items.iter().all(|e| e.project_id == Some(a)), "{:?}", of_a.items);
        let all = repository.list(&AuditLogQuery::default()).await.unwrap();
        let user_entry = all.items.iter().find(|e| e.entity_type == AuditEntity::User).unwrap();
        assert_eq!(user_entry.project_id, None);
        let of_nothing = AuditLogFilter { project_id: Some(ProjectId::generate()), ..Default::default() };
        assert_eq!(repository.list(&query(of_nothing)).await.unwrap().total, 0);
    }

    #[tokio::test]
    async fn the_project_filter_combines_with_the_others_and_pages() {
        let h = Harness::new().await;
        let repository = SeaAuditLogRepository::new(&h.database);
        let (a, b, member) = (ProjectId::generate(), ProjectId::generate(), UserId::generate());
        let records = two_projects(&h, a, b, member).await;

        let memberships_of_a =
            AuditLogFilter { project_id: Some(a), entity_type: Some(AuditEntity::Membership), ..Default::default() };
        let page = repository.list(&query(memberships_of_a)).await.unwrap();
        assert_eq!(page.items.iter().map(|e| e.id).collect::<Vec<_>>(), [records[1].id]);
        let created_in_b =
            AuditLogFilter { project_id: Some(b), action: Some(AuditAction::ProjectCreated), ..Default::default() };
        assert_eq!(repository.list(&query(created_in_b)).await.unwrap().items[0].id, records[2].id);
        let second_page = AuditLogQuery {
            filter: AuditLogFilter { project_id: Some(a), ..Default::default() },
            page: PageRequest::new(2, 1).unwrap(),
            ..AuditLogQuery::default()
        };
        let page = repository.list(&second_page).await.unwrap();
        assert_eq!((page.total, page.items.len(), page.items[0].id), (2, 1, records[0].id));
    }
}

// ---------------------------------------------------------------------------------------------
// The migration that gave entries their project

mod project_backfill {
    use forge_application::audit::{
        AuditEntity,
        ports::{AuditLogFilter, AuditLogQuery, AuditLogRepository},
    };
    use forge_domain::{projects::ProjectId, users::UserId};
    use forge_infrastructure::SeaAuditLogRepository;
    use forge_migration::{Migrator, MigratorTrait};
    use sea_orm::{
        ConnectionTrait, Statement,
        sea_query::{Alias, Query},
    };
    use serde_json::json;
    use uuid::Uuid;

    use crate::common::{Harness, t0};

    /// Whether `audit_logs` has a `project_id` column.
    async fn has_project_column(h: &Harness) -> bool {
        let backend = h.conn.get_database_backend();
        let probe = Statement::from_string(backend, "SELECT project_id FROM audit_logs WHERE 1 = 0");
        h.conn.query_all_raw(probe).await.is_ok()
    }

    /// Stores an entry the way versions before the column did.
    async fn old_entry(h: &Harness, action: &str, entity_type: &str, entity_id: &str) -> Uuid {
        let id = Uuid::now_v7();
        let insert = Query::insert()
            .into_table(Alias::new("audit_logs"))
            .columns(["id", "action", "entity_type", "entity_id", "changes", "created_at"].map(Alias::new))
            .values_panic([
                id.into(),
                action.into(),
                entity_type.into(),
                entity_id.into(),
                json!({"before": null, "after": null}).into(),
                t0().into(),
            ])
            .to_owned();
        let backend = h.conn.get_database_backend();
        h.conn.execute_raw(backend.build(&insert)).await.unwrap();
        id
    }

    #[tokio::test]
    async fn entries_written_before_the_column_get_their_project_and_down_takes_it_away() {
        let h = Harness::new().await;
        // Back to the schema before the column, however many migrations came after it.
        while has_project_column(&h).await {
            Migrator::down(&h.conn, Some(1)).await.unwrap();
        }
        let (project, other, user) = (ProjectId::generate(), ProjectId::generate(), UserId::generate());
        let created = old_entry(&h, "project.created", "project", &project.to_string()).await;
        let joined = old_entry(&h, "project.member_added", "membership", &format!("{project}:{user}")).await;
        let elsewhere = old_entry(&h, "project.created", "project", &other.to_string()).await;
        let about_user = old_entry(&h, "user.updated", "user", &user.to_string()).await;
        let malformed = old_entry(&h, "project.updated", "project", "not-a-project-id").await;

        Migrator::up(&h.conn, None).await.unwrap();

        let repository = SeaAuditLogRepository::new(&h.database);
        let project_of = |entries: &[forge_application::audit::AuditEntry], id: Uuid| {
            entries.iter().find(|e| e.id == id).map(|e| e.project_id)
        };
        let everything = repository.list(&AuditLogQuery::default()).await.unwrap().items;
        assert_eq!(everything.len(), 5);
        assert_eq!(project_of(&everything, created), Some(Some(project)));
        assert_eq!(project_of(&everything, joined), Some(Some(project)));
        assert_eq!(project_of(&everything, elsewhere), Some(Some(other)));
        assert_eq!(project_of(&everything, about_user), Some(None));
        assert_eq!(project_of(&everything, malformed), Some(None), "left alone, not a failed migration");
        let filter = AuditLogFilter { project_id: Some(project), ..Default::default() };
        let of_project = repository.list(&AuditLogQuery { filter, ..Default::default() }).await.unwrap();
        let mut kinds: Vec<_> = of_project.items.iter().map(|e| e.entity_type).collect();
        kinds.sort_by_key(|k| k.as_str());
        assert_eq!(kinds, [AuditEntity::Membership, AuditEntity::Project]);
    }
}
