//! Projects and memberships: the repository, the guarded writes of the unit of work, and the rules
//! the database keeps by itself (one owner per project, one live name per owner).

use chrono::Duration;
use forge_application::projects::ProjectChange;
use forge_application::projects::ProjectConstraint;
use forge_application::users::UserChange;
use forge_application::{
    Actor, ClientContext, PageRequest, SortOrder,
    common::{CommitError, UnexpectedKind, UnitOfWork},
    projects::{
        AddMemberCommand, MemberRef, ProjectPorts, ProjectService,
        ports::{MemberQuery, MemberSort, ProjectFilter, ProjectQuery, ProjectRepository, ProjectSort},
    },
};
use forge_domain::{
    projects::{
        Membership, MembershipParts, NewProject, Project, ProjectDescription, ProjectName, ProjectParts, ProjectRole,
        ProjectStatus,
    },
    users::{User, UserId},
};
use forge_infrastructure::{SeaProjectRepository, SeaUnitOfWork, SeaUserRepository, SystemClock};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::task::JoinSet;

use crate::common::{Harness, t0, user_at};

async fn users(h: &Harness, n: usize) -> Vec<User> {
    let all: Vec<User> = (0..n)
        .map(|i| user_at(&format!("u{i}@example.com"), &format!("user{i}"), Duration::seconds(i as i64)))
        .collect();
    h.uow.commit(all.iter().cloned().map(UserChange::Insert).collect()).await.unwrap();
    all
}

fn new_project(name: &str) -> NewProject {
    NewProject { name: ProjectName::parse(name).unwrap(), description: None }
}

/// Starts a project of `owner` at `t0() + offset` and stores it with its owner's membership.
async fn start(h: &Harness, owner: &User, name: &str, offset: Duration) -> (Project, Membership) {
    let (project, membership) = Project::create(owner.id(), new_project(name), t0() + offset);
    h.uow
        .commit(changes![ProjectChange::Insert(project.clone()), ProjectChange::AddMember(membership.clone())])
        .await
        .unwrap();
    (project, membership)
}

async fn add(h: &Harness, project: &Project, user: &User, role: ProjectRole) -> Membership {
    let membership = project.add_member(user.id(), role, None, t0() + Duration::minutes(1)).unwrap();
    h.uow.commit(changes![ProjectChange::AddMember(membership.clone())]).await.unwrap();
    membership
}

async fn count(h: &Harness, sql: &str) -> i64 {
    let backend = h.conn.get_database_backend();
    let row = h.conn.query_one_raw(Statement::from_string(backend, sql.to_owned())).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

fn query(filter: ProjectFilter, sort: ProjectSort, order: SortOrder) -> ProjectQuery {
    ProjectQuery { filter, sort, order, page: PageRequest::new(1, 100).unwrap() }
}

async fn names(h: &Harness, query: ProjectQuery, viewer: UserId) -> Vec<String> {
    h.projects.list(&query, viewer).await.unwrap().items.iter().map(|v| v.project.name().to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Reading back

#[tokio::test]
async fn a_project_and_its_memberships_round_trip_with_every_field() {
    let h = Harness::new().await;
    let [owner, grace] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let project = Project::from_parts(ProjectParts {
        id: forge_domain::projects::ProjectId::generate(),
        owner_id: owner.id(),
        name: ProjectName::parse("Zoë's Apollo").unwrap(),
        description: Some(ProjectDescription::parse("Line one\n\tline two").unwrap()),
        status: ProjectStatus::Archived,
        created_at: t0(),
        updated_at: t0() + Duration::minutes(1),
        deleted_at: None,
        version: 7,
    });
    let owner_membership = Membership::from_parts(MembershipParts {
        project_id: project.id(),
        user_id: owner.id(),
        role: ProjectRole::Owner,
        added_at: t0(),
        updated_at: t0() + Duration::seconds(5),
        version: 3,
    });
    h.uow
        .commit(changes![ProjectChange::Insert(project.clone()), ProjectChange::AddMember(owner_membership.clone())])
        .await
        .unwrap();
    let viewer = add(&h, &project, &grace, ProjectRole::Viewer).await;

    assert_eq!(h.projects.by_id(project.id()).await.unwrap(), Some(project.clone()));
    assert_eq!(h.projects.by_id(forge_domain::projects::ProjectId::generate()).await.unwrap(), None);
    let found = h.projects.member(project.id(), owner.id()).await.unwrap().unwrap();
    assert_eq!((found.membership, found.username), (owner_membership, owner.username().clone()));
    assert_eq!(h.projects.member(project.id(), grace.id()).await.unwrap().unwrap().membership, viewer);
    assert_eq!(h.projects.member(project.id(), UserId::generate()).await.unwrap(), None);
    assert_eq!(h.projects.member_count(project.id()).await.unwrap(), 2);
}

#[tokio::test]
async fn owned_with_name_ignores_case_and_deleted_projects() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (apollo, _) = start(&h, &ada, "Éclair Apollo", Duration::zero()).await;
    let (gemini, _) = start(&h, &ada, "Gemini", Duration::zero()).await;
    let mut gone = gemini.clone();
    gone.soft_delete(t0() + Duration::hours(1)).unwrap();
    h.uow.commit(changes![ProjectChange::Update { project: gone, expected_version: 1 }]).await.unwrap();

    let lookup = |owner: UserId, name: &str| {
        let name = ProjectName::parse(name).unwrap();
        let projects = h.projects.clone();
        async move { projects.owned_with_name(owner, &name).await.unwrap().map(|p| p.id()) }
    };
    assert_eq!(lookup(ada.id(), "ÉCLAIR apollo").await, Some(apollo.id()));
    assert_eq!(lookup(bob.id(), "Éclair Apollo").await, None, "another owner's");
    assert_eq!(lookup(ada.id(), "Gemini").await, None, "a deleted project's name is free");
}

// ---------------------------------------------------------------------------------------------
// What the database keeps by itself

#[tokio::test]
async fn a_name_is_unique_per_owner_among_live_projects_ignoring_case() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (first, _) = start(&h, &ada, "Apollo", Duration::zero()).await;

    for spelling in ["Apollo", "APOLLO", "apollo"] {
        let (again, owner) = Project::create(ada.id(), new_project(spelling), t0());
        let err =
            h.uow.commit(changes![ProjectChange::Insert(again), ProjectChange::AddMember(owner)]).await.unwrap_err();
        assert!(err.constraint() == Some(&ProjectConstraint::NameTaken), "{spelling}: {err:?}");
    }
    start(&h, &bob, "apollo", Duration::zero()).await;

    let mut deleted = first.clone();
    deleted.soft_delete(t0() + Duration::hours(1)).unwrap();
    h.uow.commit(changes![ProjectChange::Update { project: deleted, expected_version: 1 }]).await.unwrap();
    start(&h, &ada, "APOLLO", Duration::zero()).await;
    assert_eq!(count(&h, "SELECT COUNT(*) AS n FROM projects").await, 3);
}

#[tokio::test]
async fn renaming_or_transferring_onto_a_taken_name_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    start(&h, &ada, "Apollo", Duration::zero()).await;
    let (gemini, _) = start(&h, &ada, "Gemini", Duration::zero()).await;
    start(&h, &bob, "Mercury", Duration::zero()).await;

    let mut renamed = gemini.clone();
    renamed.rename(ProjectName::parse("apollo").unwrap(), t0()).unwrap();
    let err =
        h.uow.commit(changes![ProjectChange::Update { project: renamed, expected_version: 1 }]).await.unwrap_err();
    assert!(err.constraint() == Some(&ProjectConstraint::NameTaken), "{err:?}");

    let (mercury, mut ada_owner) = start(&h, &ada, "MERCURY", Duration::zero()).await;
    let mut bob_member = add(&h, &mercury, &bob, ProjectRole::Viewer).await;
    let mut transferred = mercury.clone();
    let (from_version, to_version) = (ada_owner.version(), bob_member.version());
    transferred.transfer(&mut ada_owner, &mut bob_member, t0() + Duration::hours(1)).unwrap();
    let err = h
        .uow
        .commit(changes![
            ProjectChange::UpdateMember { membership: ada_owner, expected_version: from_version },
            ProjectChange::UpdateMember { membership: bob_member, expected_version: to_version },
            ProjectChange::Update { project: transferred, expected_version: 1 },
        ])
        .await
        .unwrap_err();
    assert!(err.constraint() == Some(&ProjectConstraint::NameTaken), "{err:?}");

    assert_eq!(h.projects.by_id(gemini.id()).await.unwrap(), Some(gemini));
    assert_eq!(h.projects.by_id(mercury.id()).await.unwrap().unwrap().owner_id(), ada.id());
    let bob_now = h.projects.member(mercury.id(), bob.id()).await.unwrap().unwrap().membership;
    assert_eq!(bob_now.role(), ProjectRole::Viewer, "the whole transfer was rolled back");
}

/// A membership of `user` in `project` with any role, as a use case could never make one.
fn forged(project: &Project, user: &User, role: ProjectRole, version: i64) -> Membership {
    Membership::from_parts(MembershipParts {
        project_id: project.id(),
        user_id: user.id(),
        role,
        added_at: t0(),
        updated_at: t0(),
        version,
    })
}

#[tokio::test]
async fn the_database_refuses_a_second_owner_however_it_is_written() {
    let h = Harness::new().await;
    let [ada, bob, cy] = <[User; 3]>::try_from(users(&h, 3).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    add(&h, &project, &bob, ProjectRole::Maintainer).await;

    let err = h
        .uow
        .commit(changes![ProjectChange::AddMember(forged(&project, &cy, ProjectRole::Owner, 1))])
        .await
        .unwrap_err();
    assert!(matches!(err, CommitError::Stale), "a second owner inserted: {err:?}");

    let promoted = forged(&project, &bob, ProjectRole::Owner, 2);
    let err = h
        .uow
        .commit(changes![ProjectChange::UpdateMember { membership: promoted, expected_version: 1 }])
        .await
        .unwrap_err();
    assert!(matches!(err, CommitError::Stale), "a member promoted without the owner stepping down: {err:?}");

    assert_eq!(count(&h, "SELECT COUNT(*) AS n FROM project_members WHERE role = 'owner'").await, 1);
    assert_eq!(
        h.projects.member(project.id(), bob.id()).await.unwrap().unwrap().membership.role(),
        ProjectRole::Maintainer
    );
    assert_eq!(h.projects.member(project.id(), cy.id()).await.unwrap(), None);
}

#[tokio::test]
async fn a_transfer_demoting_before_promoting_keeps_one_owner_in_step_with_owner_id() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (project, mut ada_owner) = start(&h, &ada, "Apollo", Duration::zero()).await;
    let mut bob_member = add(&h, &project, &bob, ProjectRole::Viewer).await;
    let mut transferred = project.clone();
    transferred.transfer(&mut ada_owner, &mut bob_member, t0() + Duration::hours(1)).unwrap();

    h.uow
        .commit(changes![
            ProjectChange::UpdateMember { membership: ada_owner.clone(), expected_version: 1 },
            ProjectChange::UpdateMember { membership: bob_member.clone(), expected_version: 1 },
            ProjectChange::Update { project: transferred.clone(), expected_version: 1 },
        ])
        .await
        .unwrap();

    assert_eq!(h.projects.by_id(project.id()).await.unwrap(), Some(transferred));
    assert_eq!(h.projects.member(project.id(), ada.id()).await.unwrap().unwrap().membership, ada_owner);
    assert_eq!(h.projects.member(project.id(), bob.id()).await.unwrap().unwrap().membership, bob_member);
    assert_eq!(count(&h, "SELECT COUNT(*) AS n FROM project_members WHERE role = 'owner'").await, 1);
}

#[tokio::test]
async fn adding_a_member_twice_is_already_member() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    add(&h, &project, &bob, ProjectRole::Viewer).await;

    let again = project.add_member(bob.id(), ProjectRole::Maintainer, None, t0()).unwrap();
    let err = h.uow.commit(changes![ProjectChange::AddMember(again)]).await.unwrap_err();

    assert!(err.constraint() == Some(&ProjectConstraint::AlreadyMember), "{err:?}");
    assert_eq!(
        h.projects.member(project.id(), bob.id()).await.unwrap().unwrap().membership.role(),
        ProjectRole::Viewer
    );
}

#[tokio::test]
async fn memberships_go_with_their_project() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    add(&h, &project, &bob, ProjectRole::Viewer).await;

    // Only an administrative purge deletes rows; the application soft-deletes.
    h.conn.execute_unprepared("DELETE FROM projects").await.unwrap();

    assert_eq!(h.projects.by_id(project.id()).await.unwrap(), None);
    assert_eq!(count(&h, "SELECT COUNT(*) AS n FROM project_members").await, 0);
}

// ---------------------------------------------------------------------------------------------
// Guarded writes

#[tokio::test]
async fn writes_based_on_a_stale_version_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    let member = add(&h, &project, &bob, ProjectRole::Viewer).await;

    let mut renamed = project.clone();
    renamed.rename(ProjectName::parse("Artemis").unwrap(), t0()).unwrap();
    let err =
        h.uow.commit(changes![ProjectChange::Update { project: renamed, expected_version: 7 }]).await.unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");

    let mut promoted = member.clone();
    project.change_member_role(&mut promoted, ProjectRole::Maintainer, t0()).unwrap();
    let err = h
        .uow
        .commit(changes![ProjectChange::UpdateMember { membership: promoted, expected_version: 5 }])
        .await
        .unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");

    let err = h
        .uow
        .commit(changes![ProjectChange::RemoveMember {
            project_id: project.id(),
            user_id: bob.id(),
            expected_version: 5
        }])
        .await
        .unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");

    assert_eq!(h.projects.by_id(project.id()).await.unwrap(), Some(project.clone()));
    assert_eq!(h.projects.member(project.id(), bob.id()).await.unwrap().unwrap().membership, member);
}

#[tokio::test]
async fn writes_based_on_the_current_version_are_stored() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    let member = add(&h, &project, &bob, ProjectRole::Viewer).await;

    let mut changed = project.clone();
    changed.set_status(ProjectStatus::Archived, t0() + Duration::hours(2)).unwrap();
    changed.set_description(Some(ProjectDescription::parse("Done").unwrap()), t0() + Duration::hours(2)).unwrap();
    let mut promoted = member.clone();
    project.change_member_role(&mut promoted, ProjectRole::Maintainer, t0() + Duration::hours(2)).unwrap();
    h.uow
        .commit(changes![
            ProjectChange::Update { project: changed.clone(), expected_version: 1 },
            ProjectChange::UpdateMember { membership: promoted.clone(), expected_version: 1 },
        ])
        .await
        .unwrap();
    assert_eq!(h.projects.by_id(project.id()).await.unwrap(), Some(changed));
    assert_eq!(h.projects.member(project.id(), bob.id()).await.unwrap().unwrap().membership, promoted);

    h.uow
        .commit(changes![ProjectChange::RemoveMember {
            project_id: project.id(),
            user_id: bob.id(),
            expected_version: 2
        }])
        .await
        .unwrap();
    assert_eq!(h.projects.member(project.id(), bob.id()).await.unwrap(), None);
    assert_eq!(h.projects.member_count(project.id()).await.unwrap(), 1);
}

#[tokio::test]
async fn the_owners_membership_is_never_deleted() {
    let h = Harness::new().await;
    let [ada] = <[User; 1]>::try_from(users(&h, 1).await).unwrap();
    let (project, owner) = start(&h, &ada, "Apollo", Duration::zero()).await;

    let err = h
        .uow
        .commit(changes![ProjectChange::RemoveMember {
            project_id: project.id(),
            user_id: ada.id(),
            expected_version: 1
        }])
        .await
        .unwrap_err();

    assert!(matches!(err, CommitError::Stale), "{err:?}");
    assert_eq!(h.projects.member(project.id(), ada.id()).await.unwrap().unwrap().membership, owner);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_twenty_concurrent_updates_based_on_one_version_exactly_one_is_stored() {
    let h = Harness::new().await;
    let [ada] = <[User; 1]>::try_from(users(&h, 1).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let uow = h.uow.clone();
        let mut changed = project.clone();
        changed.set_description(Some(ProjectDescription::parse(&format!("writer {i}")).unwrap()), t0()).unwrap();
        tasks.spawn(async move {
            (i, uow.commit(changes![ProjectChange::Update { project: changed, expected_version: 1 }]).await)
        });
    }
    let (mut winners, mut stale) = (Vec::new(), 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            (i, Ok(())) => winners.push(i),
            (_, Err(CommitError::Stale)) => stale += 1,
            (_, Err(other)) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((winners.len(), stale), (1, 19));
    let stored = h.projects.by_id(project.id()).await.unwrap().unwrap();
    assert_eq!(stored.description().map(AsRef::as_ref), Some(format!("writer {}", winners[0]).as_str()));
    assert_eq!(stored.version(), 2);
}

// ---------------------------------------------------------------------------------------------
// Lists

#[tokio::test]
async fn list_shows_a_members_live_projects_with_counts_and_the_viewers_role() {
    let h = Harness::new().await;
    let [ada, bob, cy] = <[User; 3]>::try_from(users(&h, 3).await).unwrap();
    let (apollo, _) = start(&h, &ada, "Apollo", Duration::minutes(1)).await;
    let (gemini, _) = start(&h, &bob, "Gemini", Duration::minutes(2)).await;
    let (mercury, _) = start(&h, &bob, "Mercury", Duration::minutes(3)).await;
    add(&h, &apollo, &bob, ProjectRole::Maintainer).await;
    add(&h, &apollo, &cy, ProjectRole::Viewer).await;
    let mut deleted = mercury.clone();
    deleted.soft_delete(t0() + Duration::hours(1)).unwrap();
    h.uow.commit(changes![ProjectChange::Update { project: deleted, expected_version: 1 }]).await.unwrap();

    let mine = ProjectFilter { member: Some(bob.id()), ..ProjectFilter::default() };
    let page = h.projects.list(&query(mine, ProjectSort::CreatedAt, SortOrder::Desc), bob.id()).await.unwrap();

    assert_eq!(page.total, 2, "the deleted project counts for nothing");
    assert_eq!(
        count(&h, "SELECT COUNT(*) AS n FROM project_members").await,
        5,
        "a deleted project keeps its memberships"
    );
    assert_eq!(
        count(&h, "SELECT COUNT(*) AS n FROM project_members WHERE project_deleted = true").await,
        1,
        "Mercury's membership leaves the index of live memberships that members' lists read"
    );
    let seen: Vec<_> = page.items.iter().map(|v| (v.project.id(), v.member_count, v.viewer_role)).collect();
    assert_eq!(seen, [(gemini.id(), 1, Some(ProjectRole::Owner)), (apollo.id(), 3, Some(ProjectRole::Maintainer))]);

    let everything =
        h.projects.list(&query(ProjectFilter::default(), ProjectSort::Name, SortOrder::Asc), cy.id()).await.unwrap();
    let seen: Vec<_> = everything.items.iter().map(|v| (v.project.name().to_string(), v.viewer_role)).collect();
    assert_eq!(seen, [("Apollo".to_owned(), Some(ProjectRole::Viewer)), ("Gemini".to_owned(), None)]);
}

#[tokio::test]
async fn list_filters_by_search_status_and_owner() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (apollo, _) = start(&h, &ada, "Apollo Guidance", Duration::zero()).await;
    start(&h, &ada, "Éclair 100%", Duration::zero()).await;
    start(&h, &bob, "apollo_soyuz", Duration::zero()).await;
    let mut archived = apollo.clone();
    archived.set_status(ProjectStatus::Archived, t0()).unwrap();
    h.uow.commit(changes![ProjectChange::Update { project: archived, expected_version: 1 }]).await.unwrap();
    let viewer = ada.id();
    let by = |filter: ProjectFilter| query(filter, ProjectSort::Name, SortOrder::Asc);

    let search = |s: &str| ProjectFilter { search: Some(s.to_owned()), ..ProjectFilter::default() };
    assert_eq!(names(&h, by(search("APOLLO")), viewer).await, ["Apollo Guidance", "apollo_soyuz"]);
    assert_eq!(names(&h, by(search("éCLAIR")), viewer).await, ["Éclair 100%"]);
    assert_eq!(names(&h, by(search("0%")), viewer).await, ["Éclair 100%"]);
    assert!(names(&h, by(search("o_s")), viewer).await == ["apollo_soyuz"], "_ is literal");
    assert!(names(&h, by(search("%")), viewer).await == ["Éclair 100%"], "% is literal");

    let archived = ProjectFilter { status: Some(ProjectStatus::Archived), ..ProjectFilter::default() };
    assert_eq!(names(&h, by(archived), viewer).await, ["Apollo Guidance"]);
    let bobs = ProjectFilter { owner_id: Some(bob.id()), ..ProjectFilter::default() };
    assert_eq!(names(&h, by(bobs), viewer).await, ["apollo_soyuz"]);
}

#[tokio::test]
async fn list_sorts_by_each_field_in_both_orders_and_pages_through() {
    let h = Harness::new().await;
    let [ada] = <[User; 1]>::try_from(users(&h, 1).await).unwrap();
    let (b, _) = start(&h, &ada, "bravo", Duration::minutes(1)).await;
    start(&h, &ada, "Charlie", Duration::minutes(2)).await;
    start(&h, &ada, "alpha", Duration::minutes(3)).await;
    let mut touched = b.clone();
    touched.rename(ProjectName::parse("Bravo").unwrap(), t0() + Duration::hours(5)).unwrap();
    h.uow.commit(changes![ProjectChange::Update { project: touched, expected_version: 1 }]).await.unwrap();
    let all = ProjectFilter::default;
    let viewer = ada.id();

    assert_eq!(names(&h, query(all(), ProjectSort::Name, SortOrder::Asc), viewer).await, ["alpha", "Bravo", "Charlie"]);
    assert_eq!(
        names(&h, query(all(), ProjectSort::Name, SortOrder::Desc), viewer).await,
        ["Charlie", "Bravo", "alpha"]
    );
    assert_eq!(
        names(&h, query(all(), ProjectSort::CreatedAt, SortOrder::Desc), viewer).await,
        ["alpha", "Charlie", "Bravo"]
    );
    assert_eq!(
        names(&h, query(all(), ProjectSort::CreatedAt, SortOrder::Asc), viewer).await,
        ["Bravo", "Charlie", "alpha"]
    );
    assert_eq!(
        names(&h, query(all(), ProjectSort::UpdatedAt, SortOrder::Desc), viewer).await,
        ["Bravo", "alpha", "Charlie"]
    );

    let second = ProjectQuery {
        filter: all(),
        sort: ProjectSort::Name,
        order: SortOrder::Asc,
        page: PageRequest::new(2, 2).unwrap(),
    };
    let page = h.projects.list(&second, viewer).await.unwrap();
    assert_eq!((page.total, page.pages()), (3, 2));
    assert_eq!(page.items.iter().map(|v| v.project.name().to_string()).collect::<Vec<_>>(), ["Charlie"]);
}

#[tokio::test]
async fn members_are_listed_with_usernames_filtered_sorted_and_paged() {
    let h = Harness::new().await;
    let all = users(&h, 4).await;
    let (project, _) = start(&h, &all[3], "Apollo", Duration::zero()).await;
    for (user, role, minutes) in
        [(&all[1], ProjectRole::Viewer, 1), (&all[0], ProjectRole::Maintainer, 2), (&all[2], ProjectRole::Viewer, 3)]
    {
        let m = project.add_member(user.id(), role, None, t0() + Duration::minutes(minutes)).unwrap();
        h.uow.commit(changes![ProjectChange::AddMember(m)]).await.unwrap();
    }
    let listed = |query: MemberQuery| {
        let projects: SeaProjectRepository = h.projects.clone();
        let id = project.id();
        async move {
            let page = projects.members(id, &query).await.unwrap();
            (page.total, page.items.iter().map(|m| m.username.to_string()).collect::<Vec<_>>())
        }
    };

    assert_eq!(
        listed(MemberQuery::default()).await,
        (4, vec!["user3".into(), "user1".into(), "user0".into(), "user2".into()])
    );
    let by_name = MemberQuery { sort: MemberSort::Username, order: SortOrder::Desc, ..MemberQuery::default() };
    assert_eq!(listed(by_name).await.1, ["user3", "user2", "user1", "user0"]);
    let viewers = MemberQuery { role: Some(ProjectRole::Viewer), ..MemberQuery::default() };
    assert_eq!(listed(viewers).await, (2, vec!["user1".into(), "user2".into()]));
    let paged = MemberQuery { page: PageRequest::new(2, 3).unwrap(), ..MemberQuery::default() };
    assert_eq!(listed(paged).await, (4, vec!["user2".into()]));
}

#[tokio::test]
async fn a_stored_project_the_domain_refuses_is_an_internal_error() {
    let h = Harness::new().await;
    let [ada] = <[User; 1]>::try_from(users(&h, 1).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    h.conn.execute_unprepared("UPDATE projects SET name = '   '").await.unwrap();

    let err = h.projects.by_id(project.id()).await.unwrap_err();

    assert_eq!(err.kind(), UnexpectedKind::Internal);
    assert!(err.to_string().contains("name"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The use cases over these adapters: audit entries and the notification land with the change

#[tokio::test]
async fn adding_a_member_stores_the_membership_its_audit_entry_and_the_notification_together() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let service = ProjectService::new(ProjectPorts {
        projects: Arc::new(h.projects.clone()),
        users: Arc::new(SeaUserRepository::new(&h.database)),
        unit_of_work: Arc::new(SeaUnitOfWork::new(&h.database)),
        clock: Arc::new(SystemClock::new()),
    });
    let context = ClientContext { ip: Some("198.51.100.9".into()), user_agent: None, request_id: Some("req-7".into()) };
    let actor = Actor::new(ada.clone(), None, context);
    let view = service
        .create(&actor, forge_application::projects::CreateProjectCommand { name: "Apollo".into(), description: None })
        .await
        .unwrap();
    let project_id = view.project.id();

    service
        .add_member(&actor, project_id, AddMemberCommand { member: MemberRef::Id(bob.id()), role: "viewer".into() })
        .await
        .unwrap();

    let backend = h.conn.get_database_backend();
    let audits = h
        .conn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT action, entity_type, entity_id, request_id, CAST(changes AS TEXT) AS changes FROM audit_logs ORDER BY id",
        ))
        .await
        .unwrap();
    let audits: Vec<(String, String, String, Option<String>, Value)> = audits
        .iter()
        .map(|r| {
            let changes: String = r.try_get("", "changes").unwrap();
            (
                r.try_get("", "action").unwrap(),
                r.try_get("", "entity_type").unwrap(),
                r.try_get("", "entity_id").unwrap(),
                r.try_get("", "request_id").unwrap(),
                serde_json::from_str(&changes).unwrap(),
            )
        })
        .collect();
    assert_eq!(audits.len(), 2);
    assert_eq!((audits[0].0.as_str(), audits[0].1.as_str()), ("project.created", "project"));
    assert_eq!(audits[0].2, project_id.to_string());
    assert_eq!(audits[0].4["after"]["name"], json!("Apollo"));
    assert_eq!((audits[1].0.as_str(), audits[1].1.as_str()), ("project.member_added", "membership"));
    assert_eq!(audits[1].2, format!("{project_id}:{}", bob.id()));
    assert_eq!(audits[1].3.as_deref(), Some("req-7"));
    assert_eq!(audits[1].4["after"]["role"], json!("viewer"));

    let sql = if backend == sea_orm::DatabaseBackend::Postgres {
        "SELECT event_type, CAST(recipient_id AS TEXT) AS recipient, CAST(data AS TEXT) AS data, published_at IS NULL AS pending FROM outbox_events"
    } else {
        "SELECT event_type, recipient_id AS recipient, CAST(data AS TEXT) AS data, published_at IS NULL AS pending FROM outbox_events"
    };
    let rows = h.conn.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
    let [row] = rows.as_slice() else { panic!("expected one event, got {}", rows.len()) };
    let recipient = if backend == sea_orm::DatabaseBackend::Postgres {
        row.try_get::<String>("", "recipient").unwrap()
    } else {
        row.try_get::<uuid::Uuid>("", "recipient").unwrap().to_string()
    };
    let data: String = row.try_get("", "data").unwrap();
    assert_eq!(row.try_get::<String>("", "event_type").unwrap(), "project.member_added");
    assert_eq!(recipient, bob.id().to_string());
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"project_id": project_id.to_string(), "project_name": "Apollo", "role": "viewer", "added_by": ada.id().to_string()})
    );
    assert!(row.try_get::<bool>("", "pending").unwrap());
    assert_eq!(h.projects.member_count(project_id).await.unwrap(), 2);
}

#[tokio::test]
async fn a_refused_member_change_leaves_no_audit_entry_and_no_event() {
    let h = Harness::new().await;
    let [ada, bob] = <[User; 2]>::try_from(users(&h, 2).await).unwrap();
    let (project, _) = start(&h, &ada, "Apollo", Duration::zero()).await;
    add(&h, &project, &bob, ProjectRole::Viewer).await;
    let service = ProjectService::new(ProjectPorts {
        projects: Arc::new(h.projects.clone()),
        users: Arc::new(SeaUserRepository::new(&h.database)),
        unit_of_work: Arc::new(SeaUnitOfWork::new(&h.database)),
        clock: Arc::new(SystemClock::new()),
    });
    let actor = Actor::new(ada.clone(), None, ClientContext::default());

    let result = service
        .add_member(&actor, project.id(), AddMemberCommand { member: MemberRef::Id(bob.id()), role: "viewer".into() })
        .await;

    assert!(result.is_err());
    assert_eq!(count(&h, "SELECT COUNT(*) AS n FROM audit_logs").await, 0);
    assert_eq!(count(&h, "SELECT COUNT(*) AS n FROM outbox_events").await, 0);
}
