use chrono::Duration;
use forge_domain::{
    projects::{
        Membership, MembershipParts, NewProject, Project, ProjectDescription, ProjectName, ProjectRole, ProjectStatus,
    },
    users::{User, UserId},
};

use super::{commit, t0, user_at};
use crate::{
    PageRequest, SortOrder,
    common::{Changes, CommitError},
    projects::{
        ProjectChange, ProjectConstraint,
        ports::{MemberQuery, MemberSort, ProjectFilter, ProjectQuery, ProjectRepository, ProjectSort},
    },
    testing::InMemoryStore,
    users::UserChange,
};

/// `n` stored members, `user0` to `user{n-1}`, created a second apart.
fn users(store: &InMemoryStore, n: i64) -> Vec<User> {
    let all: Vec<User> =
        (0..n).map(|i| user_at(&format!("u{i}@example.com"), &format!("user{i}"), Duration::seconds(i))).collect();
    commit(store, all.iter().cloned().map(UserChange::Insert).collect::<Changes>()).unwrap();
    all
}

/// Starts a project of `owner` at `t0() + offset` and stores it with its owner's membership.
fn start(store: &InMemoryStore, owner: &User, name: &str, offset: Duration) -> (Project, Membership) {
    let new = NewProject { name: ProjectName::parse(name).unwrap(), description: None };
    let (project, membership) = Project::create(owner.id(), new, t0() + offset);
    commit(
        store,
        Changes::new().with(ProjectChange::Insert(project.clone())).with(ProjectChange::AddMember(membership.clone())),
    )
    .unwrap();
    (project, membership)
}

fn add(store: &InMemoryStore, project: &Project, user: &User, role: ProjectRole, offset: Duration) -> Membership {
    let membership = project.add_member(user.id(), role, None, t0() + offset).unwrap();
    commit(store, ProjectChange::AddMember(membership.clone())).unwrap();
    membership
}

fn delete(store: &InMemoryStore, project: &Project) {
    let mut deleted = project.clone();
    deleted.soft_delete(t0() + Duration::hours(1)).unwrap();
    commit(store, ProjectChange::Update { project: deleted, expected_version: project.version() }).unwrap();
}

/// A membership with any role, as no use case would make one.
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

fn query(filter: ProjectFilter, sort: ProjectSort, order: SortOrder) -> ProjectQuery {
    ProjectQuery { filter, sort, order, page: PageRequest::new(1, 100).unwrap() }
}

async fn names(store: &InMemoryStore, query: ProjectQuery, viewer: UserId) -> Vec<String> {
    store.list(&query, viewer).await.unwrap().items.iter().map(|v| v.project.name().to_string()).collect()
}

#[tokio::test]
async fn a_name_is_unique_per_owner_among_live_projects_ignoring_case() {
    let store = InMemoryStore::new();
    let [ada, bob] = <[User; 2]>::try_from(users(&store, 2)).unwrap();
    let (first, _) = start(&store, &ada, "Apollo", Duration::zero());

    for spelling in ["Apollo", "APOLLO", "apollo"] {
        let new = NewProject { name: ProjectName::parse(spelling).unwrap(), description: None };
        let (again, owner) = Project::create(ada.id(), new, t0());
        let err =
            commit(&store, Changes::new().with(ProjectChange::Insert(again)).with(ProjectChange::AddMember(owner)))
                .unwrap_err();
        assert_eq!(err.constraint(), Some(&ProjectConstraint::NameTaken), "{spelling}: {err:?}");
    }
    start(&store, &bob, "apollo", Duration::zero());
    delete(&store, &first);
    start(&store, &ada, "APOLLO", Duration::zero());
    let lookup = store.owned_with_name(ada.id(), &ProjectName::parse("apollo").unwrap()).await.unwrap();
    assert_eq!(lookup.map(|p| p.name().to_string()).as_deref(), Some("APOLLO"), "the deleted one is not found");
}

#[tokio::test]
async fn a_transfer_onto_a_taken_name_is_refused_and_rolled_back_whole() {
    let store = InMemoryStore::new();
    let [ada, bob] = <[User; 2]>::try_from(users(&store, 2)).unwrap();
    start(&store, &bob, "Mercury", Duration::zero());
    let (mercury, mut ada_owner) = start(&store, &ada, "MERCURY", Duration::zero());
    let mut bob_member = add(&store, &mercury, &bob, ProjectRole::Viewer, Duration::minutes(1));
    let mut transferred = mercury.clone();
    transferred.transfer(&mut ada_owner, &mut bob_member, t0() + Duration::hours(1)).unwrap();

    let err = commit(
        &store,
        Changes::new()
            .with(ProjectChange::UpdateMember { membership: ada_owner, expected_version: 1 })
            .with(ProjectChange::UpdateMember { membership: bob_member, expected_version: 1 })
            .with(ProjectChange::Update { project: transferred, expected_version: 1 }),
    )
    .unwrap_err();

    assert_eq!(err.constraint(), Some(&ProjectConstraint::NameTaken), "{err:?}");
    assert_eq!(store.by_id(mercury.id()).await.unwrap().unwrap().owner_id(), ada.id());
    let bob_now = store.member(mercury.id(), bob.id()).await.unwrap().unwrap().membership;
    assert_eq!(bob_now.role(), ProjectRole::Viewer);
}

#[tokio::test]
async fn a_transfer_demoting_before_promoting_is_stored() {
    let store = InMemoryStore::new();
    let [ada, bob] = <[User; 2]>::try_from(users(&store, 2)).unwrap();
    let (project, mut ada_owner) = start(&store, &ada, "Apollo", Duration::zero());
    let mut bob_member = add(&store, &project, &bob, ProjectRole::Viewer, Duration::minutes(1));
    let mut transferred = project.clone();
    transferred.transfer(&mut ada_owner, &mut bob_member, t0() + Duration::hours(1)).unwrap();

    commit(
        &store,
        Changes::new()
            .with(ProjectChange::UpdateMember { membership: ada_owner.clone(), expected_version: 1 })
            .with(ProjectChange::UpdateMember { membership: bob_member.clone(), expected_version: 1 })
            .with(ProjectChange::Update { project: transferred.clone(), expected_version: 1 }),
    )
    .unwrap();

    assert_eq!(store.by_id(project.id()).await.unwrap(), Some(transferred));
    assert_eq!(store.member(project.id(), ada.id()).await.unwrap().unwrap().membership, ada_owner);
    assert_eq!(store.member(project.id(), bob.id()).await.unwrap().unwrap().membership, bob_member);
}

#[tokio::test]
async fn a_second_owner_is_stale_however_it_is_written() {
    let store = InMemoryStore::new();
    let [ada, bob, cy] = <[User; 3]>::try_from(users(&store, 3)).unwrap();
    let (project, _) = start(&store, &ada, "Apollo", Duration::zero());
    add(&store, &project, &bob, ProjectRole::Maintainer, Duration::minutes(1));

    let err = commit(&store, ProjectChange::AddMember(forged(&project, &cy, ProjectRole::Owner, 1))).unwrap_err();
    assert!(matches!(err, CommitError::Stale), "a second owner inserted: {err:?}");
    let promoted = forged(&project, &bob, ProjectRole::Owner, 2);
    let err = commit(&store, ProjectChange::UpdateMember { membership: promoted, expected_version: 1 }).unwrap_err();
    assert!(matches!(err, CommitError::Stale), "a member promoted beside the owner: {err:?}");

    assert_eq!(store.member(project.id(), bob.id()).await.unwrap().unwrap().membership.role(), ProjectRole::Maintainer);
    assert_eq!(store.member(project.id(), cy.id()).await.unwrap(), None);
}

#[tokio::test]
async fn adding_a_member_twice_is_already_member() {
    let store = InMemoryStore::new();
    let [ada, bob] = <[User; 2]>::try_from(users(&store, 2)).unwrap();
    let (project, _) = start(&store, &ada, "Apollo", Duration::zero());
    add(&store, &project, &bob, ProjectRole::Viewer, Duration::minutes(1));

    let again = project.add_member(bob.id(), ProjectRole::Maintainer, None, t0()).unwrap();
    let err = commit(&store, ProjectChange::AddMember(again)).unwrap_err();

    assert_eq!(err.constraint(), Some(&ProjectConstraint::AlreadyMember), "{err:?}");
    assert_eq!(store.member(project.id(), bob.id()).await.unwrap().unwrap().membership.role(), ProjectRole::Viewer);
}

#[tokio::test]
async fn member_writes_are_guarded_by_version_and_the_owner_is_never_removed() {
    let store = InMemoryStore::new();
    let [ada, bob] = <[User; 2]>::try_from(users(&store, 2)).unwrap();
    let (project, owner) = start(&store, &ada, "Apollo", Duration::zero());
    let member = add(&store, &project, &bob, ProjectRole::Viewer, Duration::minutes(1));

    let mut renamed = project.clone();
    renamed.rename(ProjectName::parse("Artemis").unwrap(), t0()).unwrap();
    let err = commit(&store, ProjectChange::Update { project: renamed, expected_version: 7 }).unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");
    let mut promoted = member.clone();
    project.change_member_role(&mut promoted, ProjectRole::Maintainer, t0()).unwrap();
    let err =
        commit(&store, ProjectChange::UpdateMember { membership: promoted.clone(), expected_version: 5 }).unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");
    let remove =
        |user_id, expected_version| ProjectChange::RemoveMember { project_id: project.id(), user_id, expected_version };
    assert!(matches!(commit(&store, remove(bob.id(), 5)), Err(CommitError::Stale)));
    assert!(matches!(commit(&store, remove(ada.id(), 1)), Err(CommitError::Stale)), "the owner stays");
    assert_eq!(store.member(project.id(), ada.id()).await.unwrap().unwrap().membership, owner);

    commit(&store, ProjectChange::UpdateMember { membership: promoted.clone(), expected_version: 1 }).unwrap();
    assert_eq!(store.member(project.id(), bob.id()).await.unwrap().unwrap().membership, promoted);
    commit(&store, remove(bob.id(), 2)).unwrap();
    assert_eq!(store.member(project.id(), bob.id()).await.unwrap(), None);
    assert_eq!(store.member_count(project.id()).await.unwrap(), 1);
}

#[tokio::test]
async fn list_shows_live_projects_with_member_counts_and_the_viewers_role() {
    let store = InMemoryStore::new();
    let [ada, bob, cy] = <[User; 3]>::try_from(users(&store, 3)).unwrap();
    let (apollo, _) = start(&store, &ada, "Apollo", Duration::minutes(1));
    let (gemini, _) = start(&store, &bob, "Gemini", Duration::minutes(2));
    let (mercury, _) = start(&store, &bob, "Mercury", Duration::minutes(3));
    add(&store, &apollo, &bob, ProjectRole::Maintainer, Duration::minutes(4));
    add(&store, &apollo, &cy, ProjectRole::Viewer, Duration::minutes(5));
    delete(&store, &mercury);

    let mine = ProjectFilter { member: Some(bob.id()), ..ProjectFilter::default() };
    let page = store.list(&query(mine, ProjectSort::CreatedAt, SortOrder::Desc), bob.id()).await.unwrap();

    assert_eq!(page.total, 2, "the deleted project counts for nothing");
    let seen: Vec<_> = page.items.iter().map(|v| (v.project.id(), v.member_count, v.viewer_role)).collect();
    assert_eq!(seen, [(gemini.id(), 1, Some(ProjectRole::Owner)), (apollo.id(), 3, Some(ProjectRole::Maintainer))]);
    let everything =
        store.list(&query(ProjectFilter::default(), ProjectSort::Name, SortOrder::Asc), cy.id()).await.unwrap();
    let seen: Vec<_> = everything.items.iter().map(|v| (v.project.name().to_string(), v.viewer_role)).collect();
    assert_eq!(seen, [("Apollo".to_owned(), Some(ProjectRole::Viewer)), ("Gemini".to_owned(), None)]);
}

#[tokio::test]
async fn list_filters_by_search_status_and_owner() {
    let store = InMemoryStore::new();
    let [ada, bob] = <[User; 2]>::try_from(users(&store, 2)).unwrap();
    let (apollo, _) = start(&store, &ada, "Apollo Guidance", Duration::zero());
    start(&store, &ada, "Éclair 100%", Duration::zero());
    start(&store, &bob, "apollo_soyuz", Duration::zero());
    let mut archived = apollo.clone();
    archived.set_status(ProjectStatus::Archived, t0()).unwrap();
    commit(&store, ProjectChange::Update { project: archived, expected_version: 1 }).unwrap();
    let by = |filter: ProjectFilter| query(filter, ProjectSort::Name, SortOrder::Asc);
    let search = |s: &str| ProjectFilter { search: Some(s.to_owned()), ..ProjectFilter::default() };

    assert_eq!(names(&store, by(search("APOLLO")), ada.id()).await, ["Apollo Guidance", "apollo_soyuz"]);
    assert_eq!(names(&store, by(search("éCLAIR")), ada.id()).await, ["Éclair 100%"]);
    assert_eq!(names(&store, by(search("o_s")), ada.id()).await, ["apollo_soyuz"], "_ is literal");
    assert_eq!(names(&store, by(search("%")), ada.id()).await, ["Éclair 100%"], "% is literal");
    let archived = ProjectFilter { status: Some(ProjectStatus::Archived), ..ProjectFilter::default() };
    assert_eq!(names(&store, by(archived), ada.id()).await, ["Apollo Guidance"]);
    let bobs = ProjectFilter { owner_id: Some(bob.id()), ..ProjectFilter::default() };
    assert_eq!(names(&store, by(bobs), ada.id()).await, ["apollo_soyuz"]);
}

#[tokio::test]
async fn list_sorts_by_each_field_in_both_orders_and_pages_through() {
    let store = InMemoryStore::new();
    let [ada] = <[User; 1]>::try_from(users(&store, 1)).unwrap();
    let (b, _) = start(&store, &ada, "bravo", Duration::minutes(1));
    start(&store, &ada, "Charlie", Duration::minutes(2));
    start(&store, &ada, "alpha", Duration::minutes(3));
    let mut touched = b.clone();
    touched.rename(ProjectName::parse("Bravo").unwrap(), t0() + Duration::hours(5)).unwrap();
    touched.set_description(Some(ProjectDescription::parse("renamed").unwrap()), t0() + Duration::hours(5)).unwrap();
    commit(&store, ProjectChange::Update { project: touched, expected_version: 1 }).unwrap();
    let all = ProjectFilter::default;
    let viewer = ada.id();

    assert_eq!(
        names(&store, query(all(), ProjectSort::Name, SortOrder::Asc), viewer).await,
        ["alpha", "Bravo", "Charlie"]
    );
    assert_eq!(
        names(&store, query(all(), ProjectSort::Name, SortOrder::Desc), viewer).await,
        ["Charlie", "Bravo", "alpha"]
    );
    assert_eq!(
        names(&store, query(all(), ProjectSort::CreatedAt, SortOrder::Asc), viewer).await,
        ["Bravo", "Charlie", "alpha"]
    );
    assert_eq!(
        names(&store, query(all(), ProjectSort::UpdatedAt, SortOrder::Desc), viewer).await,
        ["Bravo", "alpha", "Charlie"]
    );
    let second = ProjectQuery {
        filter: all(),
        sort: ProjectSort::Name,
        order: SortOrder::Asc,
        page: PageRequest::new(2, 2).unwrap(),
    };
    let page = store.list(&second, viewer).await.unwrap();
    assert_eq!((page.total, page.pages()), (3, 2));
    assert_eq!(page.items.iter().map(|v| v.project.name().to_string()).collect::<Vec<_>>(), ["Charlie"]);
}

#[tokio::test]
async fn members_are_listed_with_usernames_filtered_sorted_and_paged() {
    let store = InMemoryStore::new();
    let all = users(&store, 4);
    let (project, _) = start(&store, &all[3], "Apollo", Duration::zero());
    add(&store, &project, &all[1], ProjectRole::Viewer, Duration::minutes(1));
    add(&store, &project, &all[0], ProjectRole::Maintainer, Duration::minutes(2));
    add(&store, &project, &all[2], ProjectRole::Viewer, Duration::minutes(3));
    let listed = |query: MemberQuery| {
        let store = &store;
        let id = project.id();
        async move {
            let page = store.members(id, &query).await.unwrap();
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
