//! Tests of creating, listing, reading, changing and deleting projects.

use super::*;

// ---------------------------------------------------------------------------------------------
// create

fn a_creation(name: &str, description: Option<&str>) -> CreateProjectCommand {
    CreateProjectCommand { name: name.to_owned(), description: description.map(str::to_owned) }
}

#[tokio::test]
async fn create_stores_the_project_its_owner_membership_and_an_audit_entry_in_one_commit() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    let owner = ada.id();
    m.projects
        .expect_owned_with_name()
        .withf(move |o, name| *o == owner && name.as_ref() == "Apollo")
        .times(1)
        .returning(|_, _| Ok(None));
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let view = m.service().create(&acting_as(&ada), a_creation("  Apollo ", Some(" To the moon "))).await.unwrap();

    assert_eq!((view.member_count, view.viewer_role), (1, Some(ProjectRole::Owner)));
    let project = &view.project;
    assert_eq!((project.owner_id(), project.name().as_ref(), project.version()), (ada.id(), "Apollo", 1));
    assert_eq!(project.description().map(AsRef::as_ref), Some("To the moon"));
    assert_eq!((project.status(), project.created_at()), (ProjectStatus::Active, now()));
    let changes = commits.single();
    let [Written::Project(ProjectChange::Insert(stored)), Written::Project(ProjectChange::AddMember(owner))] =
        changes.as_slice()
    else {
        panic!("{changes:#?}");
    };
    assert_eq!(stored, project);
    assert_eq!((owner.project_id(), owner.user_id(), owner.role()), (project.id(), ada.id(), ProjectRole::Owner));
    let [audit] = commits.audits().try_into().unwrap();
    assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectCreated, AuditEntity::Project));
    assert_eq!((audit.entity_id, audit.actor_id), (project.id().to_string(), Some(ada.id())));
    assert_eq!(audit.project_id, Some(project.id()), "the entry is in its project's trail");
    let after = audit.after.unwrap();
    assert_eq!(after.get("name"), Some(&text("Apollo")));
    assert_eq!(after.get("owner_id"), Some(&text(&ada.id().to_string())));
    assert_eq!(after.get("status"), Some(&text("active")));
    assert_eq!(audit.before, None);
}

#[tokio::test]
async fn create_without_or_with_a_blank_description_stores_none() {
    for description in [None, Some("  \n ")] {
        let ada = a_user(Role::Member).build();
        let mut m = Mocks::new();
        m.names_free();
        record_commits(&mut m.unit_of_work, |_| Ok(()));

        let view = m.service().create(&acting_as(&ada), a_creation("Apollo", description)).await.unwrap();

        assert_eq!(view.project.description(), None, "{description:?}");
    }
}

#[tokio::test]
async fn create_lists_every_invalid_field_at_once_without_looking_anything_up() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.projects.expect_owned_with_name().never();
    m.nothing_stored();

    let result = m.service().create(&acting_as(&ada), a_creation(&"x".repeat(101), Some("bell\u{7}"))).await;

    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    assert_eq!(fields_and_codes(&errors), [("name", "TOO_LONG"), ("description", "INVALID_CHARACTER")]);
}

#[tokio::test]
async fn create_refuses_a_name_the_caller_already_owns_in_any_case() {
    let ada = a_user(Role::Member).build();
    let existing = a_project(&ada);
    let mut m = Mocks::new();
    m.projects.expect_owned_with_name().times(1).returning(move |_, _| Ok(Some(existing.clone())));
    m.nothing_stored();

    let result = m.service().create(&acting_as(&ada), a_creation("APOLLO", None)).await;

    assert_err(result, "Conflict(NameTaken");
}

#[tokio::test]
async fn create_reports_a_name_taken_by_a_concurrent_write() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.names_free();
    record_commits(&mut m.unit_of_work, |_| Err(refused(ProjectConstraint::NameTaken)));

    let result = m.service().create(&acting_as(&ada), a_creation("Apollo", None)).await;

    assert_err(result, "Conflict(NameTaken");
}

// ---------------------------------------------------------------------------------------------
// list, list_of_user

fn a_page(query: &ProjectQuery, items: Vec<ProjectView>) -> Page<ProjectView> {
    let total = items.len() as u64;
    Page { items, total, request: query.page }
}

#[tokio::test]
async fn list_shows_the_callers_own_projects_whatever_the_query_said() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    let me = ada.id();
    m.projects
        .expect_list()
        .withf(move |query, viewer| {
            query.filter.member == Some(me) && *viewer == me && query.filter.search.as_deref() == Some("apo")
        })
        .times(1)
        .returning(|query, _| Ok(a_page(query, vec![])));
    let query = ProjectQuery {
        filter: ProjectFilter {
            search: Some("apo".into()),
            member: Some(UserId::generate()),
            ..ProjectFilter::default()
        },
        ..ProjectQuery::default()
    };

    let page = m.service().list(&acting_as(&ada), ProjectScope::Member, query).await.unwrap();

    assert_eq!(page.total, 0);
}

#[tokio::test]
async fn list_of_every_project_is_for_admins_only() {
    for role in [Role::Member, Role::Manager] {
        let mut m = Mocks::new();
        m.projects.expect_list().never();
        let actor = acting_as(&a_user(role).build());
        let service = m.service();
        assert_err(service.authorize_list(&actor, ProjectScope::All), "Forbidden");
        assert_err(service.list(&actor, ProjectScope::All, ProjectQuery::default()).await, "Forbidden");
    }
    let admin = a_user(Role::Admin).build();
    let mut m = Mocks::new();
    let me = admin.id();
    m.projects
        .expect_list()
        .withf(move |query, viewer| query.filter.member.is_none() && *viewer == me)
        .times(1)
        .returning(|query, _| Ok(a_page(query, vec![])));
    m.service().list(&acting_as(&admin), ProjectScope::All, ProjectQuery::default()).await.unwrap();
}

#[tokio::test]
async fn list_of_user_forbids_members_listing_someone_else_without_touching_storage() {
    let mut m = Mocks::new();
    m.users.expect_by_id().never();
    m.projects.expect_list().never();
    let actor = acting_as(&a_user(Role::Member).build());

    let result = m.service().list_of_user(&actor, UserId::generate(), ProjectQuery::default()).await;

    assert_err(result, "Forbidden");
}

#[tokio::test]
async fn list_of_user_lets_the_user_itself_managers_and_admins_list_its_projects() {
    let target = a_user(Role::Member).build();
    for actor in [target.clone(), a_user(Role::Manager).build(), a_user(Role::Admin).build()] {
        let mut m = Mocks::new();
        let found = target.clone();
        m.users.expect_by_id().times(1).returning(move |_| Ok(Some(found.clone())));
        let (wanted, viewer) = (target.id(), actor.id());
        m.projects
            .expect_list()
            .withf(move |query, v| query.filter.member == Some(wanted) && *v == viewer)
            .times(1)
            .returning(|query, _| Ok(a_page(query, vec![])));

        m.service().list_of_user(&acting_as(&actor), target.id(), ProjectQuery::default()).await.unwrap();
    }
}

#[tokio::test]
async fn list_of_user_reports_an_unknown_or_deleted_user_as_not_found() {
    for stored in [None, Some(a_user(Role::Member).deleted().build())] {
        let mut m = Mocks::new();
        m.users.expect_by_id().times(1).returning(move |_| Ok(stored.clone()));
        m.projects.expect_list().never();
        let admin = acting_as(&a_user(Role::Admin).build());

        let result = m.service().list_of_user(&admin, UserId::generate(), ProjectQuery::default()).await;

        assert_err(result, "UserNotFound");
    }
}

// ---------------------------------------------------------------------------------------------
// get

#[tokio::test]
async fn get_shows_a_member_the_project_with_its_member_count_and_the_callers_role() {
    for (who, role) in
        [("owner", ProjectRole::Owner), ("maintainer", ProjectRole::Maintainer), ("viewer", ProjectRole::Viewer)]
    {
        let (c, project, mut m, _) = scene();
        m.counts(3);
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.viewer,
        };

        let view = m.service().get(&acting_as(actor), project.id()).await.unwrap();

        assert_eq!(view, ProjectView { project: project.clone(), member_count: 3, viewer_role: Some(role) });
    }
}

#[tokio::test]
async fn get_hides_the_project_from_outsiders_and_managers() {
    for who in ["outsider", "manager"] {
        let (c, project, mut m, _) = scene();
        m.projects.expect_member_count().never();
        let actor = if who == "outsider" { &c.outsider } else { &c.manager };

        let result = m.service().get(&acting_as(actor), project.id()).await;

        assert_err(result, "NotFound");
    }
}

#[tokio::test]
async fn get_lets_an_admin_read_any_project() {
    let (c, project, mut m, _) = scene();
    m.counts(3);

    let view = m.service().get(&acting_as(&c.admin), project.id()).await.unwrap();

    assert_eq!((view.project.id(), view.viewer_role), (project.id(), None));
}

#[tokio::test]
async fn get_of_a_deleted_or_unknown_project_is_not_found_even_for_its_owner_or_an_admin() {
    let c = cast();
    let gone = deleted(&a_project(&c.owner));
    for actor in [&c.owner, &c.admin] {
        let mut m = Mocks::new();
        m.stored(&gone);
        m.projects.expect_member().never();
        assert_err(m.service().get(&acting_as(actor), gone.id()).await, "NotFound");
    }
    let mut m = Mocks::new();
    m.projects.expect_by_id().times(1).returning(|_| Ok(None));
    assert_err(m.service().get(&acting_as(&c.admin), ProjectId::generate()).await, "NotFound");
}

#[tokio::test]
async fn get_propagates_a_storage_failure() {
    let mut m = Mocks::new();
    m.projects.expect_by_id().returning(|_| Err(UnexpectedError::unavailable("down")));
    let result = m.service().get(&acting_as(&a_user(Role::Admin).build()), ProjectId::generate()).await;
    assert_err(result, "Unexpected");
}

// ---------------------------------------------------------------------------------------------
// update

fn renaming(name: &str) -> ProjectUpdate {
    ProjectUpdate { name: Some(name.to_owned()), ..ProjectUpdate::default() }
}

#[tokio::test]
async fn update_by_an_owner_maintainer_or_admin_stores_the_change_and_audits_the_changed_fields() {
    for who in ["owner", "maintainer", "admin"] {
        let (c, project, mut m, _) = scene();
        m.names_free();
        m.counts(3);
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.admin,
        };
        let update = ProjectUpdate {
            name: Some("Artemis".into()),
            description: Some(None),
            status: Some("archived".into()),
            expected_version: Some(4),
        };

        let view = m.service().update(&acting_as(actor), project.id(), update).await.unwrap();

        let (stored, expected_version) = single_update_project(&commits);
        assert_eq!(expected_version, 4, "{who}");
        assert_eq!(stored, view.project);
        assert_eq!(
            (stored.name().as_ref(), stored.description(), stored.status()),
            ("Artemis", None, ProjectStatus::Archived)
        );
        // Each changed field moves the version on, as for users.
        assert_eq!((stored.version(), stored.updated_at()), (7, now()));
        assert_eq!(view.member_count, 3);
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.actor_id), (AuditAction::ProjectUpdated, Some(actor.id())));
        assert_eq!(audit.project_id, Some(project.id()));
        let before = audit.before.unwrap();
        let after = audit.after.unwrap();
        let changed: Vec<&str> = after.fields().map(|(name, _)| name).collect();
        assert_eq!(changed, ["description", "name", "status", "version"]);
        assert_eq!(before.get("name"), Some(&text("Apollo")));
        assert_eq!(after.get("name"), Some(&text("Artemis")));
        assert_eq!(after.get("description"), Some(&AuditValue::Null));
    }
}

#[tokio::test]
async fn update_is_forbidden_to_a_viewer_and_hidden_from_outsiders_and_managers() {
    for (who, expected) in [("viewer", "Forbidden"), ("outsider", "NotFound"), ("manager", "NotFound")] {
        let (c, project, mut m, _) = scene();
        m.projects.expect_owned_with_name().never();
        m.nothing_stored();
        let actor = match who {
            "viewer" => &c.viewer,
            "outsider" => &c.outsider,
            _ => &c.manager,
        };

        let result = m.service().update(&acting_as(actor), project.id(), renaming("Artemis")).await;

        assert_err(result, expected);
    }
}

#[tokio::test]
async fn update_refuses_a_change_based_on_an_older_version() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let update = ProjectUpdate { expected_version: Some(3), ..renaming("Artemis") };

    let result = m.service().update(&acting_as(&c.owner), project.id(), update).await;

    assert_err(result, "Stale(Precondition");
}

#[tokio::test]
async fn update_that_loses_a_race_is_stale_with_if_match_and_a_conflict_without() {
    for (expected_version, outcome) in [(Some(4), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        m.names_free();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        let update = ProjectUpdate { expected_version, ..renaming("Artemis") };

        let result = m.service().update(&acting_as(&c.owner), project.id(), update).await;

        assert_err(result, outcome);
    }
}

#[tokio::test]
async fn update_refuses_a_name_of_another_live_project_of_the_owner() {
    let (c, project, mut m, _) = scene();
    let other = a_project(&c.owner);
    let owner = c.owner.id();
    m.projects
        .expect_owned_with_name()
        .withf(move |o, name| *o == owner && name.as_ref() == "Gemini")
        .times(1)
        .returning(move |_, _| Ok(Some(other.clone())));
    m.nothing_stored();

    let result = m.service().update(&acting_as(&c.maintainer), project.id(), renaming("Gemini")).await;

    assert_err(result, "Conflict(NameTaken");
}

#[tokio::test]
async fn update_to_another_spelling_of_the_same_name_needs_no_uniqueness_check() {
    let (c, project, mut m, _) = scene();
    m.projects.expect_owned_with_name().never();
    m.counts(3);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let view = m.service().update(&acting_as(&c.owner), project.id(), renaming("APOLLO")).await.unwrap();

    assert_eq!(view.project.name().as_ref(), "APOLLO");
    assert_eq!(single_update_project(&commits).0.name().as_ref(), "APOLLO");
}

#[tokio::test]
async fn update_reports_a_name_taken_by_a_concurrent_write() {
    let (c, project, mut m, _) = scene();
    m.names_free();
    record_commits(&mut m.unit_of_work, |_| Err(refused(ProjectConstraint::NameTaken)));

    let result = m.service().update(&acting_as(&c.owner), project.id(), renaming("Gemini")).await;

    assert_err(result, "Conflict(NameTaken");
}

#[tokio::test]
async fn update_with_the_values_already_stored_stores_nothing() {
    let (c, project, mut m, _) = scene();
    m.counts(3);
    m.nothing_stored();
    let update = ProjectUpdate {
        name: Some("Apollo".into()),
        description: Some(Some("To the moon".into())),
        status: Some("active".into()),
        expected_version: Some(4),
    };

    let view = m.service().update(&acting_as(&c.owner), project.id(), update).await.unwrap();

    assert_eq!(view.project, project);
}

#[tokio::test]
async fn update_lists_every_invalid_field_at_once_and_stores_nothing() {
    let (c, project, mut m, _) = scene();
    m.projects.expect_owned_with_name().never();
    m.nothing_stored();
    let update = ProjectUpdate {
        name: Some("  ".into()),
        description: Some(Some("x".repeat(2001))),
        status: Some("deleted".into()),
        expected_version: None,
    };

    let result = m.service().update(&acting_as(&c.owner), project.id(), update).await;

    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    assert_eq!(
        fields_and_codes(&errors),
        [("name", "REQUIRED"), ("description", "TOO_LONG"), ("status", "INVALID_CHOICE")]
    );
}

#[tokio::test]
async fn update_with_a_blank_description_clears_it() {
    let (c, project, mut m, _) = scene();
    m.counts(3);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = ProjectUpdate { description: Some(Some("   ".into())), ..ProjectUpdate::default() };

    m.service().update(&acting_as(&c.owner), project.id(), update).await.unwrap();

    assert_eq!(single_update_project(&commits).0.description(), None);
}

// ---------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_by_the_owner_or_an_admin_soft_deletes_the_project_with_an_audit_entry() {
    for who in ["owner", "admin"] {
        let (c, project, mut m, _) = scene();
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = if who == "owner" { &c.owner } else { &c.admin };

        m.service().delete(&acting_as(actor), project.id(), Some(4)).await.unwrap();

        let (stored, expected_version) = single_update_project(&commits);
        assert_eq!((stored.deleted_at(), stored.version(), expected_version), (Some(now()), 5, 4));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectDeleted, AuditEntity::Project));
        assert_eq!(audit.project_id, Some(project.id()));
        assert_eq!(audit.after.unwrap().get("deleted_at"), Some(&AuditValue::Time(now())));
    }
}

#[tokio::test]
async fn delete_is_forbidden_to_maintainers_and_viewers_and_hidden_from_outsiders_and_managers() {
    for (who, expected) in
        [("maintainer", "Forbidden"), ("viewer", "Forbidden"), ("outsider", "NotFound"), ("manager", "NotFound")]
    {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = match who {
            "maintainer" => &c.maintainer,
            "viewer" => &c.viewer,
            "outsider" => &c.outsider,
            _ => &c.manager,
        };
        assert_err(m.service().delete(&acting_as(actor), project.id(), None).await, expected);
    }
}

#[tokio::test]
async fn delete_refuses_an_older_version_and_reports_a_lost_race() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    assert_err(m.service().delete(&acting_as(&c.owner), project.id(), Some(1)).await, "Stale(Precondition");

    for (expected_version, outcome) in [(Some(4), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        assert_err(m.service().delete(&acting_as(&c.owner), project.id(), expected_version).await, outcome);
    }
}
