//! Unit tests of reading the audit trail, the repository mocked.

use std::sync::Arc;

use chrono::Duration;
use forge_domain::{projects::ProjectId, users::Role};

use super::{
    AuditAction, AuditEntity, AuditEntry, AuditLogError, AuditLogService, AuditRecord, AuditValue, Snapshot,
    ports::{AuditLogFilter, AuditLogQuery, MockAuditLogRepository},
};
use crate::{
    common::{ClientContext, Page, PageRequest},
    test_support::{a_user, acting_as, fields_and_codes, now},
};

fn service(repository: MockAuditLogRepository) -> AuditLogService {
    AuditLogService::new(Arc::new(repository))
}

#[tokio::test]
async fn admins_read_the_trail_with_their_query_passed_on() {
    let admin = a_user(Role::Admin).build();
    let record = AuditRecord::new(
        AuditAction::UserCreated,
        AuditEntity::User,
        admin.id(),
        Some(admin.id()),
        &ClientContext::default(),
        now(),
    )
    .after(Snapshot::new().with("email", "a@example.com"));
    let entry = AuditEntry::from(&record);
    let query = AuditLogQuery {
        filter: AuditLogFilter {
            action: Some(AuditAction::UserCreated),
            from: Some(now() - Duration::hours(1)),
            to: Some(now()),
            ..AuditLogFilter::default()
        },
        ..AuditLogQuery::default()
    };
    let mut repository = MockAuditLogRepository::new();
    let (expected, page) =
        (query.clone(), Page { items: vec![entry.clone()], total: 1, request: PageRequest::default() });
    repository.expect_list().withf(move |q| *q == expected).times(1).returning(move |_| Ok(page.clone()));

    let found = service(repository).list(&acting_as(&admin), &query).await.unwrap();

    assert_eq!(found.items, [entry]);
    assert_eq!(found.items[0].after.as_ref().and_then(|s| s.get("email")), Some(&AuditValue::from("a@example.com")));
}

#[tokio::test]
async fn the_trail_of_one_project_is_asked_of_storage_with_the_other_filters() {
    let admin = a_user(Role::Admin).build();
    let project = ProjectId::generate();
    let record = AuditRecord::new(
        AuditAction::ProjectMemberAdded,
        AuditEntity::Membership,
        format!("{project}:{}", admin.id()),
        Some(admin.id()),
        &ClientContext::default(),
        now(),
    )
    .in_project(project);
    let entry = AuditEntry::from(&record);
    let query = AuditLogQuery {
        filter: AuditLogFilter {
            project_id: Some(project),
            entity_type: Some(AuditEntity::Membership),
            ..AuditLogFilter::default()
        },
        ..AuditLogQuery::default()
    };
    let mut repository = MockAuditLogRepository::new();
    let (expected, page) =
        (query.clone(), Page { items: vec![entry.clone()], total: 1, request: PageRequest::default() });
    repository.expect_list().withf(move |q| *q == expected).times(1).returning(move |_| Ok(page.clone()));

    let found = service(repository).list(&acting_as(&admin), &query).await.unwrap();

    assert_eq!(found.items, [entry]);
    assert_eq!(found.items[0].project_id, Some(project), "the entry keeps the project it concerns");
}

#[tokio::test]
async fn managers_and_members_may_not_read_the_trail_and_storage_is_not_touched() {
    for role in [Role::Manager, Role::Member] {
        let mut repository = MockAuditLogRepository::new();
        repository.expect_list().never();

        let result = service(repository).list(&acting_as(&a_user(role).build()), &AuditLogQuery::default()).await;

        assert!(matches!(result, Err(AuditLogError::Forbidden)), "{role}: {result:?}");
    }
}

#[tokio::test]
async fn a_range_that_ends_before_it_starts_is_refused_naming_from() {
    let mut repository = MockAuditLogRepository::new();
    repository.expect_list().never();
    let query = AuditLogQuery {
        filter: AuditLogFilter {
            from: Some(now()),
            to: Some(now() - Duration::seconds(1)),
            ..AuditLogFilter::default()
        },
        ..AuditLogQuery::default()
    };

    let result = service(repository).list(&acting_as(&a_user(Role::Admin).build()), &query).await;

    let Err(AuditLogError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("from", "OUT_OF_RANGE")]);
}

#[tokio::test]
async fn a_range_of_one_instant_is_allowed() {
    let mut repository = MockAuditLogRepository::new();
    repository
        .expect_list()
        .times(1)
        .returning(|_| Ok(Page { items: vec![], total: 0, request: PageRequest::default() }));
    let query = AuditLogQuery {
        filter: AuditLogFilter { from: Some(now()), to: Some(now()), ..AuditLogFilter::default() },
        ..AuditLogQuery::default()
    };

    let page = service(repository).list(&acting_as(&a_user(Role::Admin).build()), &query).await.unwrap();

    assert_eq!(page.total, 0);
}
