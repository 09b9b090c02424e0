//! Unit tests of the projects use cases, every port mocked.

use crate::projects::ProjectChange;
use crate::projects::ProjectConstraint;
use crate::test_support::Written;
use crate::test_support::refused;
use std::sync::Arc;

use chrono::Duration;
use forge_domain::{
    projects::{
        Membership, MembershipParts, Project, ProjectDescription, ProjectId, ProjectName, ProjectParts, ProjectRole,
        ProjectStatus,
    },
    users::{Role, User, UserId},
};

use super::{
    AddMemberCommand, ChangeRoleCommand, CreateProjectCommand, MemberRef, ProjectError, ProjectPorts, ProjectScope,
    ProjectService, ProjectUpdate, TransferCommand,
    ports::{Member, MemberQuery, MockProjectRepository, ProjectFilter, ProjectQuery, ProjectView},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditValue, EventType, OutboxEvent},
    common::{CommitError, MockUnitOfWork, Page, UnexpectedError},
    test_support::{Commits, a_user, acting_as, fields_and_codes, fixed_clock, now, record_commits},
    users::ports::MockUserRepository,
};

/// Every port of [`ProjectService`], as mocks; the clock is stopped at [`now`].
struct Mocks {
    projects: MockProjectRepository,
    users: MockUserRepository,
    unit_of_work: MockUnitOfWork,
}

impl Mocks {
    fn new() -> Self {
        Self {
            projects: MockProjectRepository::new(),
            users: MockUserRepository::new(),
            unit_of_work: MockUnitOfWork::new(),
        }
    }

    fn service(self) -> ProjectService {
        ProjectService::new(ProjectPorts {
            projects: Arc::new(self.projects),
            users: Arc::new(self.users),
            unit_of_work: Arc::new(self.unit_of_work),
            clock: Arc::new(fixed_clock()),
        })
    }

    /// Storage holds `project` (deleted or not) under its id.
    fn stored(&mut self, project: &Project) {
        let (id, found) = (project.id(), project.clone());
        self.projects.expect_by_id().withf(move |i| *i == id).returning(move |_| Ok(Some(found.clone())));
    }

    /// Storage holds exactly these memberships.
    fn memberships(&mut self, members: &[Member]) {
        let members = members.to_vec();
        self.projects.expect_member().returning(move |project, user| {
            Ok(members.iter().find(|m| m.membership.project_id() == project && m.membership.user_id() == user).cloned())
        });
    }

    /// Every project has `n` members.
    fn counts(&mut self, n: u64) {
        self.projects.expect_member_count().returning(move |_| Ok(n));
    }

    /// No live project of anyone has a clashing name.
    fn names_free(&mut self) {
        self.projects.expect_owned_with_name().returning(|_, _| Ok(None));
    }

    /// Nothing is to be written.
    fn nothing_stored(&mut self) {
        self.unit_of_work.expect_commit().never();
    }
}

/// The people around one project.
struct Cast {
    owner: User,
    maintainer: User,
    viewer: User,
    outsider: User,
    manager: User,
    admin: User,
}

fn cast() -> Cast {
    Cast {
        owner: a_user(Role::Member).build(),
        maintainer: a_user(Role::Member).build(),
        viewer: a_user(Role::Member).build(),
        outsider: a_user(Role::Member).build(),
        manager: a_user(Role::Manager).build(),
        admin: a_user(Role::Admin).build(),
    }
}

/// An active project of `owner` named Apollo, at version 4.
fn a_project(owner: &User) -> Project {
    Project::from_parts(ProjectParts {
        id: ProjectId::generate(),
        owner_id: owner.id(),
        name: ProjectName::parse("Apollo").unwrap(),
        description: Some(ProjectDescription::parse("To the moon").unwrap()),
        status: ProjectStatus::Active,
        created_at: now() - Duration::days(30),
        updated_at: now() - Duration::days(3),
        deleted_at: None,
        version: 4,
    })
}

fn deleted(project: &Project) -> Project {
    let mut p = project.clone();
    p.soft_delete(now() - Duration::days(1)).unwrap();
    p
}

/// `user`'s membership of `project` with `role`, at version 2.
fn member(project: &Project, user: &User, role: ProjectRole) -> Member {
    Member {
        membership: Membership::from_parts(MembershipParts {
            project_id: project.id(),
            user_id: user.id(),
            role,
            added_at: now() - Duration::days(20),
            updated_at: now() - Duration::days(20),
            version: 2,
        }),
        username: user.username().clone(),
    }
}

/// A project of the cast's owner, with the owner, the maintainer and the viewer as members, stored.
fn scene() -> (Cast, Project, Mocks, Vec<Member>) {
    let c = cast();
    let project = a_project(&c.owner);
    let members = vec![
        member(&project, &c.owner, ProjectRole::Owner),
        member(&project, &c.maintainer, ProjectRole::Maintainer),
        member(&project, &c.viewer, ProjectRole::Viewer),
    ];
    let mut m = Mocks::new();
    m.stored(&project);
    m.memberships(&members);
    (c, project, m, members)
}

fn assert_err(result: Result<impl std::fmt::Debug, ProjectError>, expected: &str) {
    let text = format!("{result:?}");
    assert!(text.starts_with(&format!("Err({expected}")), "expected {expected}, got {text}");
}

fn single_update_project(commits: &Commits) -> (Project, i64) {
    let changes = commits.single();
    let [Written::Project(ProjectChange::Update { project, expected_version })] = changes.as_slice() else {
        panic!("expected a single UpdateProject, got {changes:#?}");
    };
    (project.clone(), *expected_version)
}

fn events(commits: &Commits) -> Vec<OutboxEvent> {
    commits
        .everything()
        .into_iter()
        .flatten()
        .filter_map(|c| match c {
            Written::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn text(value: &str) -> AuditValue {
    AuditValue::Text(value.to_owned())
}

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

// ---------------------------------------------------------------------------------------------
// members

#[tokio::test]
async fn members_are_listed_for_members_and_admins_with_the_callers_role() {
    for (who, role) in [("viewer", Some(ProjectRole::Viewer)), ("admin", None)] {
        let (c, project, mut m, members) = scene();
        let id = project.id();
        m.projects
            .expect_members()
            .withf(move |p, query| *p == id && *query == MemberQuery::default())
            .times(1)
            .returning(move |_, query| Ok(Page { items: members.clone(), total: 3, request: query.page }));
        let actor = if who == "viewer" { &c.viewer } else { &c.admin };

        let list = m.service().members(&acting_as(actor), project.id(), &MemberQuery::default()).await.unwrap();

        assert_eq!((list.members.total, list.viewer_role, list.project.id()), (3, role, project.id()));
    }
}

#[tokio::test]
async fn members_are_hidden_from_outsiders_and_managers() {
    for who in ["outsider", "manager"] {
        let (c, project, mut m, _) = scene();
        m.projects.expect_members().never();
        let actor = if who == "outsider" { &c.outsider } else { &c.manager };
        assert_err(m.service().members(&acting_as(actor), project.id(), &MemberQuery::default()).await, "NotFound");
    }
}

// ---------------------------------------------------------------------------------------------
// add_member

fn adding(member: MemberRef, role: &str) -> AddMemberCommand {
    AddMemberCommand { member, role: role.to_owned() }
}

#[tokio::test]
async fn add_member_stores_the_membership_its_audit_entry_and_the_notification_in_one_commit() {
    for who in ["owner", "maintainer", "admin"] {
        let (c, project, mut m, _) = scene();
        let newcomer = a_user(Role::Member).build();
        let found = newcomer.clone();
        let id = newcomer.id();
        m.users.expect_by_id().withf(move |u| *u == id).times(1).returning(move |_| Ok(Some(found.clone())));
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.admin,
        };

        let view = m
            .service()
            .add_member(&acting_as(actor), project.id(), adding(MemberRef::Id(newcomer.id()), "maintainer"))
            .await
            .unwrap();

        let membership = &view.member.membership;
        assert_eq!(
            (membership.user_id(), membership.role(), membership.version()),
            (newcomer.id(), ProjectRole::Maintainer, 1)
        );
        assert_eq!((membership.added_at(), &view.member.username), (now(), newcomer.username()));
        let changes = commits.all().concat();
        let [Written::Project(ProjectChange::AddMember(stored)), Written::Event(event)] = changes.as_slice() else {
            panic!("{changes:#?}");
        };
        assert_eq!(stored, membership);
        assert_eq!(
            (event.event_type, event.recipient, event.occurred_at),
            (EventType::ProjectMemberAdded, newcomer.id(), now())
        );
        assert_eq!(event.data.get("project_id"), Some(&text(&project.id().to_string())));
        assert_eq!(event.data.get("project_name"), Some(&text("Apollo")));
        assert_eq!(event.data.get("role"), Some(&text("maintainer")));
        assert_eq!(event.data.get("added_by"), Some(&text(&actor.id().to_string())));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectMemberAdded, AuditEntity::Membership));
        assert_eq!(audit.entity_id, format!("{}:{}", project.id(), newcomer.id()));
        assert_eq!(audit.after.unwrap().get("role"), Some(&text("maintainer")));
        assert_eq!(commits.everything().len(), 1, "one commit");
    }
}

#[tokio::test]
async fn add_member_finds_the_user_by_email() {
    let (c, project, mut m, _) = scene();
    let newcomer = a_user(Role::Member).email("grace@example.com").build();
    let found = newcomer.clone();
    m.users
        .expect_by_email()
        .withf(|e| e.as_ref() == "grace@example.com")
        .times(1)
        .returning(move |_| Ok(Some(found.clone())));
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let view = m
        .service()
        .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Email("Grace@Example.com".into()), "viewer"))
        .await
        .unwrap();

    assert_eq!((view.member.membership.user_id(), view.viewer_role), (newcomer.id(), Some(ProjectRole::Owner)));
    assert_eq!(events(&commits)[0].recipient, newcomer.id());
}

#[tokio::test]
async fn add_member_names_the_field_of_an_unknown_or_deleted_user() {
    let gone = a_user(Role::Member).deleted().build();
    for (member, field) in
        [(MemberRef::Id(UserId::generate()), "user_id"), (MemberRef::Email("nobody@example.com".into()), "email")]
    {
        for stored in [None, Some(gone.clone())] {
            let (c, project, mut m, _) = scene();
            let (by_id, by_email) = (stored.clone(), stored);
            m.users.expect_by_id().returning(move |_| Ok(by_id.clone()));
            m.users.expect_by_email().returning(move |_| Ok(by_email.clone()));
            m.nothing_stored();

            let result =
                m.service().add_member(&acting_as(&c.owner), project.id(), adding(member.clone(), "viewer")).await;

            let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
            assert_eq!(fields_and_codes(&errors), [(field, "UNKNOWN_USER")]);
        }
    }
}

#[tokio::test]
async fn add_member_refuses_the_owner_role_and_unknown_roles_without_looking_the_user_up() {
    for (role, code) in [("owner", "NOT_ALLOWED"), ("admin", "INVALID_CHOICE"), ("", "INVALID_CHOICE")] {
        let (c, project, mut m, _) = scene();
        m.users.expect_by_id().never();
        m.nothing_stored();

        let result = m
            .service()
            .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Id(c.outsider.id()), role))
            .await;

        let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
        assert_eq!(fields_and_codes(&errors), [("role", code)], "{role}");
    }
}

#[tokio::test]
async fn add_member_lists_a_bad_email_and_a_bad_role_together() {
    let (c, project, mut m, _) = scene();
    m.users.expect_by_email().never();
    m.nothing_stored();

    let result = m
        .service()
        .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Email("not-an-address".into()), "boss"))
        .await;

    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    let fields: Vec<&str> = fields_and_codes(&errors).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["role", "email"]);
}

#[tokio::test]
async fn adding_someone_who_already_is_a_member_is_a_conflict() {
    for who in ["viewer", "owner"] {
        let (c, project, mut m, _) = scene();
        let existing = if who == "viewer" { c.viewer.clone() } else { c.owner.clone() };
        m.users.expect_by_id().returning(move |_| Ok(Some(existing.clone())));
        m.nothing_stored();
        let target = if who == "viewer" { c.viewer.id() } else { c.owner.id() };

        let result = m
            .service()
            .add_member(&acting_as(&c.maintainer), project.id(), adding(MemberRef::Id(target), "viewer"))
            .await;

        assert_err(result, "Conflict(AlreadyMember");
    }
}

#[tokio::test]
async fn add_member_reports_the_same_user_added_concurrently_as_a_conflict() {
    let (c, project, mut m, _) = scene();
    let newcomer = c.outsider.clone();
    m.users.expect_by_id().returning(move |_| Ok(Some(newcomer.clone())));
    record_commits(&mut m.unit_of_work, |_| Err(refused(ProjectConstraint::AlreadyMember)));

    let result = m
        .service()
        .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Id(c.outsider.id()), "viewer"))
        .await;

    assert_err(result, "Conflict(AlreadyMember");
}

#[tokio::test]
async fn add_member_is_forbidden_to_viewers_and_hidden_from_outsiders_and_managers() {
    for (who, expected) in [("viewer", "Forbidden"), ("outsider", "NotFound"), ("manager", "NotFound")] {
        let (c, project, mut m, _) = scene();
        m.users.expect_by_id().never();
        m.nothing_stored();
        let actor = match who {
            "viewer" => &c.viewer,
            "outsider" => &c.outsider,
            _ => &c.manager,
        };
        let result = m
            .service()
            .add_member(&acting_as(actor), project.id(), adding(MemberRef::Id(UserId::generate()), "viewer"))
            .await;
        assert_err(result, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// change_member_role

fn to_role(role: &str, expected_version: Option<i64>) -> ChangeRoleCommand {
    ChangeRoleCommand { role: role.to_owned(), expected_version }
}

#[tokio::test]
async fn change_member_role_by_the_owner_or_an_admin_stores_it_audits_it_and_tells_the_member() {
    for who in ["owner", "admin"] {
        let (c, project, mut m, _) = scene();
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = if who == "owner" { &c.owner } else { &c.admin };

        let view = m
            .service()
            .change_member_role(&acting_as(actor), project.id(), c.viewer.id(), to_role("maintainer", Some(2)))
            .await
            .unwrap();

        assert_eq!((view.member.membership.role(), view.member.membership.version()), (ProjectRole::Maintainer, 3));
        let changes = commits.all().concat();
        let [Written::Project(ProjectChange::UpdateMember { membership, expected_version }), Written::Event(event)] =
            changes.as_slice()
        else {
            panic!("{changes:#?}");
        };
        assert_eq!((membership, *expected_version), (&view.member.membership, 2));
        assert_eq!((event.event_type, event.recipient), (EventType::ProjectMemberRoleChanged, c.viewer.id()));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectMemberRoleChanged, AuditEntity::Membership));
        assert_eq!(audit.entity_id, format!("{}:{}", project.id(), c.viewer.id()));
        assert_eq!(audit.before.unwrap().get("role"), Some(&text("viewer")));
        assert_eq!(audit.after.unwrap().get("role"), Some(&text("maintainer")));
    }
}

#[tokio::test]
async fn change_member_role_is_forbidden_to_maintainers_and_viewers_and_hidden_from_others() {
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
        let result = m
            .service()
            .change_member_role(&acting_as(actor), project.id(), c.viewer.id(), to_role("maintainer", None))
            .await;
        assert_err(result, expected);
    }
}

#[tokio::test]
async fn the_owners_role_cannot_be_changed_by_itself_or_an_admin() {
    for who in ["owner", "admin"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = if who == "owner" { &c.owner } else { &c.admin };
        let result = m
            .service()
            .change_member_role(&acting_as(actor), project.id(), c.owner.id(), to_role("maintainer", None))
            .await;
        assert_err(result, "Conflict(OwnerCannotBeDemoted");
    }
}

#[tokio::test]
async fn no_role_change_makes_an_owner() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result =
        m.service().change_member_role(&acting_as(&c.owner), project.id(), c.viewer.id(), to_role("owner", None)).await;
    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    assert_eq!(fields_and_codes(&errors), [("role", "NOT_ALLOWED")]);
}

#[tokio::test]
async fn change_member_role_of_a_non_member_is_member_not_found() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m
        .service()
        .change_member_role(&acting_as(&c.owner), project.id(), c.outsider.id(), to_role("viewer", None))
        .await;
    assert_err(result, "MemberNotFound");
}

#[tokio::test]
async fn change_member_role_checks_the_memberships_version() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m
        .service()
        .change_member_role(&acting_as(&c.owner), project.id(), c.viewer.id(), to_role("maintainer", Some(1)))
        .await;
    assert_err(result, "Stale(Precondition");

    for (expected_version, outcome) in [(Some(2), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        let result = m
            .service()
            .change_member_role(
                &acting_as(&c.owner),
                project.id(),
                c.viewer.id(),
                to_role("maintainer", expected_version),
            )
            .await;
        assert_err(result, outcome);
    }
}

#[tokio::test]
async fn change_member_role_to_the_role_held_stores_nothing() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let view = m
        .service()
        .change_member_role(&acting_as(&c.owner), project.id(), c.viewer.id(), to_role("viewer", Some(2)))
        .await
        .unwrap();
    assert_eq!(view.member.membership.version(), 2);
}

// ---------------------------------------------------------------------------------------------
// remove_member

#[tokio::test]
async fn remove_member_by_the_owner_a_maintainer_or_an_admin_deletes_it_audits_it_and_tells_the_member() {
    for who in ["owner", "maintainer", "admin"] {
        let (c, project, mut m, _) = scene();
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.admin,
        };

        m.service().remove_member(&acting_as(actor), project.id(), c.viewer.id(), Some(2)).await.unwrap();

        let changes = commits.all().concat();
        let [
            Written::Project(ProjectChange::RemoveMember { project_id, user_id, expected_version }),
            Written::Event(event),
        ] = changes.as_slice()
        else {
            panic!("{changes:#?}");
        };
        assert_eq!((*project_id, *user_id, *expected_version), (project.id(), c.viewer.id(), 2));
        assert_eq!((event.event_type, event.recipient), (EventType::ProjectMemberRemoved, c.viewer.id()));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectMemberRemoved, AuditEntity::Membership));
        assert_eq!(audit.before.unwrap().get("role"), Some(&text("viewer")));
        assert_eq!(audit.after, None);
    }
}

#[tokio::test]
async fn a_maintainer_may_remove_another_maintainer() {
    let c = cast();
    let project = a_project(&c.owner);
    let second = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&project);
    m.memberships(&[
        member(&project, &c.owner, ProjectRole::Owner),
        member(&project, &c.maintainer, ProjectRole::Maintainer),
        member(&project, &second, ProjectRole::Maintainer),
    ]);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().remove_member(&acting_as(&c.maintainer), project.id(), second.id(), None).await.unwrap();

    assert!(matches!(commits.single()[0], Written::Project(ProjectChange::RemoveMember { .. })));
}

#[tokio::test]
async fn any_member_but_the_owner_may_leave_and_is_not_notified_of_it() {
    for who in ["viewer", "maintainer"] {
        let (c, project, mut m, _) = scene();
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = if who == "viewer" { &c.viewer } else { &c.maintainer };

        m.service().remove_member(&acting_as(actor), project.id(), actor.id(), None).await.unwrap();

        assert!(events(&commits).is_empty());
        assert_eq!(commits.audit_actions(), [AuditAction::ProjectMemberRemoved]);
    }
}

#[tokio::test]
async fn a_viewer_may_not_remove_anyone_else() {
    for target in ["maintainer", "owner", "stranger"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let target = match target {
            "maintainer" => c.maintainer.id(),
            "owner" => c.owner.id(),
            _ => UserId::generate(),
        };
        let result = m.service().remove_member(&acting_as(&c.viewer), project.id(), target, None).await;
        assert_err(result, "Forbidden");
    }
}

#[tokio::test]
async fn the_owner_can_neither_leave_nor_be_removed_by_anyone() {
    for who in ["owner", "maintainer", "admin"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.admin,
        };
        let result = m.service().remove_member(&acting_as(actor), project.id(), c.owner.id(), None).await;
        assert_err(result, "Conflict(OwnerCannotLeave");
    }
}

#[tokio::test]
async fn removing_from_a_project_one_cannot_see_is_not_found() {
    for who in ["outsider", "manager"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = if who == "outsider" { &c.outsider } else { &c.manager };
        assert_err(m.service().remove_member(&acting_as(actor), project.id(), c.viewer.id(), None).await, "NotFound");
    }
}

#[tokio::test]
async fn removing_a_non_member_is_member_not_found() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m.service().remove_member(&acting_as(&c.owner), project.id(), c.outsider.id(), None).await;
    assert_err(result, "MemberNotFound");
}

#[tokio::test]
async fn remove_member_checks_the_memberships_version() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    assert_err(
        m.service().remove_member(&acting_as(&c.owner), project.id(), c.viewer.id(), Some(9)).await,
        "Stale(Precondition",
    );

    for (expected_version, outcome) in [(Some(2), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        let result =
            m.service().remove_member(&acting_as(&c.owner), project.id(), c.viewer.id(), expected_version).await;
        assert_err(result, outcome);
    }
}

// ---------------------------------------------------------------------------------------------
// transfer

fn transfer_to(user: &User, expected_version: Option<i64>) -> TransferCommand {
    TransferCommand { user_id: user.id(), expected_version }
}

#[tokio::test]
async fn transfer_makes_the_member_owner_and_the_old_owner_a_maintainer_in_one_commit() {
    for who in ["owner", "admin"] {
        let (c, project, mut m, _) = scene();
        m.names_free();
        m.counts(3);
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = if who == "owner" { &c.owner } else { &c.admin };

        let view =
            m.service().transfer(&acting_as(actor), project.id(), transfer_to(&c.viewer, Some(4))).await.unwrap();

        assert_eq!((view.project.owner_id(), view.project.version()), (c.viewer.id(), 5));
        let expected_role = if who == "owner" { Some(ProjectRole::Maintainer) } else { None };
        assert_eq!(view.viewer_role, expected_role);
        let changes = commits.all().concat();
        let [
            Written::Project(ProjectChange::UpdateMember { membership: from, expected_version: from_version }),
            Written::Project(ProjectChange::UpdateMember { membership: to, expected_version: to_version }),
            Written::Project(ProjectChange::Update { project: stored, expected_version: project_version }),
            Written::Event(event),
        ] = changes.as_slice()
        else {
            panic!("{changes:#?}");
        };
        assert_eq!((from.user_id(), from.role(), *from_version), (c.owner.id(), ProjectRole::Maintainer, 2));
        assert_eq!((to.user_id(), to.role(), *to_version), (c.viewer.id(), ProjectRole::Owner, 2));
        assert_eq!((stored, *project_version), (&view.project, 4));
        assert_eq!((event.event_type, event.recipient), (EventType::ProjectOwnershipTransferred, c.viewer.id()));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectTransferred, AuditEntity::Project));
        assert_eq!(audit.before.unwrap().get("owner_id"), Some(&text(&c.owner.id().to_string())));
        assert_eq!(audit.after.unwrap().get("owner_id"), Some(&text(&c.viewer.id().to_string())));
        assert_eq!(commits.everything().len(), 1);
    }
}

#[tokio::test]
async fn transfer_is_forbidden_to_maintainers_and_viewers_and_hidden_from_others() {
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
        assert_err(
            m.service().transfer(&acting_as(actor), project.id(), transfer_to(&c.maintainer, None)).await,
            expected,
        );
    }
}

#[tokio::test]
async fn transfer_to_a_non_member_names_user_id() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.outsider, None)).await;
    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    assert_eq!(fields_and_codes(&errors), [("user_id", "NOT_A_MEMBER")]);
}

#[tokio::test]
async fn transfer_to_the_owner_is_a_conflict() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    assert_err(
        m.service().transfer(&acting_as(&c.admin), project.id(), transfer_to(&c.owner, None)).await,
        "Conflict(AlreadyOwner",
    );
}

#[tokio::test]
async fn transfer_to_a_member_who_owns_a_project_of_that_name_is_refused() {
    let (c, project, mut m, _) = scene();
    let theirs = a_project(&c.maintainer);
    let target = c.maintainer.id();
    m.projects
        .expect_owned_with_name()
        .withf(move |owner, name| *owner == target && name.as_ref() == "Apollo")
        .returning(move |_, _| Ok(Some(theirs.clone())));
    m.nothing_stored();

    let result = m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.maintainer, None)).await;

    assert_err(result, "Conflict(NameTaken");
}

#[tokio::test]
async fn transfer_checks_the_projects_version() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    assert_err(
        m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.viewer, Some(3))).await,
        "Stale(Precondition",
    );

    for (expected_version, outcome) in [(Some(4), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        m.names_free();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        let result =
            m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.viewer, expected_version)).await;
        assert_err(result, outcome);
    }
}

#[tokio::test]
async fn transfer_of_a_project_whose_owner_has_no_membership_is_an_internal_error() {
    let c = cast();
    let project = a_project(&c.owner);
    let mut m = Mocks::new();
    m.stored(&project);
    m.memberships(&[member(&project, &c.viewer, ProjectRole::Viewer)]);
    m.nothing_stored();

    let result = m.service().transfer(&acting_as(&c.admin), project.id(), transfer_to(&c.viewer, None)).await;

    assert_err(result, "Unexpected");
}
