use chrono::Duration;
use forge_domain::users::{Email, FullName, Role, User, Username};

use super::{commit, t0, user, user_at};
use crate::{
    PageRequest, SortOrder,
    auth::SessionChange,
    common::{Changes, CommitError, UnexpectedKind},
    testing::{ActorBuilder, InMemoryStore},
    users::{
        UserChange, UserConstraint,
        ports::{UserFilter, UserQuery, UserRepository, UserSort},
    },
};

fn insert(store: &InMemoryStore, users: &[User]) {
    commit(store, users.iter().cloned().map(UserChange::Insert).collect::<Changes>()).unwrap();
}

fn query(filter: UserFilter, sort: UserSort, order: SortOrder) -> UserQuery {
    UserQuery { filter, sort, order, page: PageRequest::new(1, 100).unwrap() }
}

async fn usernames(store: &InMemoryStore, query: UserQuery) -> Vec<String> {
    store.list(&query).await.unwrap().items.iter().map(|u| u.username().to_string()).collect()
}

fn search(term: &str) -> UserFilter {
    UserFilter { search: Some(term.to_owned()), ..UserFilter::default() }
}

#[tokio::test]
async fn a_taken_email_is_refused_as_email_taken_and_a_taken_username_in_any_case_as_username_taken() {
    let store = InMemoryStore::new();
    insert(&store, &[user("ada@example.com", "Ada")]);

    let err = commit(&store, UserChange::Insert(user("ada@example.com", "someone"))).unwrap_err();
    assert_eq!(err.constraint(), Some(&UserConstraint::EmailTaken), "{err:?}");
    for taken in ["Ada", "ada", "ADA"] {
        let err = commit(&store, UserChange::Insert(user("other@example.com", taken))).unwrap_err();
        assert_eq!(err.constraint(), Some(&UserConstraint::UsernameTaken), "{taken}: {err:?}");
    }
    assert_eq!(store.list(&UserQuery::default()).await.unwrap().total, 1);
}

#[tokio::test]
async fn a_deleted_account_keeps_its_email_and_username_taken() {
    let store = InMemoryStore::new();
    let mut gone = user("gone@example.com", "gone");
    gone.soft_delete(t0()).unwrap();
    insert(&store, std::slice::from_ref(&gone));

    let err = commit(&store, UserChange::Insert(user("gone@example.com", "new"))).unwrap_err();
    assert_eq!(err.constraint(), Some(&UserConstraint::EmailTaken));
    assert_eq!(store.by_username(&Username::parse("GONE").unwrap()).await.unwrap(), Some(gone));
}

#[tokio::test]
async fn an_update_onto_a_taken_email_or_username_is_refused_and_changes_nothing() {
    let store = InMemoryStore::new();
    let (ada, grace) = (user("ada@example.com", "ada"), user("grace@example.com", "grace"));
    insert(&store, &[ada.clone(), grace]);

    let mut by_email = ada.clone();
    by_email.change_email(Email::parse("grace@example.com").unwrap(), t0()).unwrap();
    let err = commit(&store, UserChange::Update { user: by_email, expected_version: 1 }).unwrap_err();
    assert_eq!(err.constraint(), Some(&UserConstraint::EmailTaken));

    let mut by_name = ada.clone();
    by_name.rename(Username::parse("GRACE").unwrap(), t0()).unwrap();
    let err = commit(&store, UserChange::Update { user: by_name, expected_version: 1 }).unwrap_err();
    assert_eq!(err.constraint(), Some(&UserConstraint::UsernameTaken));

    assert_eq!(store.users().by_id(ada.id()).await.unwrap(), Some(ada));
}

#[tokio::test]
async fn an_update_based_on_a_stale_version_or_of_a_missing_user_is_stale() {
    let store = InMemoryStore::new();
    let ada = user("ada@example.com", "ada");
    insert(&store, std::slice::from_ref(&ada));
    let mut first = ada.clone();
    first.change_role(Role::Admin, t0() + Duration::minutes(1)).unwrap();
    commit(&store, UserChange::Update { user: first.clone(), expected_version: 1 }).unwrap();

    let mut second = ada.clone();
    second.set_full_name(Some(FullName::parse("Lost Update").unwrap()), t0() + Duration::minutes(2)).unwrap();
    let err = commit(&store, UserChange::Update { user: second, expected_version: 1 }).unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");
    assert_eq!(store.users().by_id(ada.id()).await.unwrap(), Some(first));

    let ghost = user("ghost@example.com", "ghost");
    let err = commit(&store, UserChange::Update { user: ghost, expected_version: 1 }).unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");
}

#[tokio::test]
async fn a_failed_commit_stores_none_of_its_changes() {
    let store = InMemoryStore::new();
    let ada = ActorBuilder::member().email("ada@example.com").store_in(&store).unwrap().user().clone();
    let session = forge_domain::sessions::Session::open(ada.id(), t0(), Duration::days(30), None, None);
    let newcomer = user("new@example.com", "newcomer");
    let mut renamed = ada.clone();
    renamed.set_full_name(Some(FullName::parse("Ada").unwrap()), t0()).unwrap();

    let err = commit(
        &store,
        Changes::new()
            .with(SessionChange::Open(session.clone()))
            .with(UserChange::Update { user: renamed, expected_version: ada.version() })
            .with(UserChange::Insert(newcomer.clone()))
            .with(UserChange::Insert(user("ada@example.com", "ada2"))),
    )
    .unwrap_err();

    assert_eq!(err.constraint(), Some(&UserConstraint::EmailTaken), "{err:?}");
    assert_eq!(store.sessions().by_id(session.id).await.unwrap(), None);
    assert_eq!(store.users().by_id(newcomer.id()).await.unwrap(), None);
    assert_eq!(store.users().by_id(ada.id()).await.unwrap(), Some(ada), "the update before the failure is undone too");
    assert!(store.audit_records().is_empty());
}

#[tokio::test]
async fn recording_a_login_sets_last_login_at_without_touching_the_version() {
    let store = InMemoryStore::new();
    let ada = user("ada@example.com", "ada");
    insert(&store, std::slice::from_ref(&ada));
    let at = t0() + Duration::days(1);

    commit(&store, UserChange::RecordLogin { user_id: ada.id(), at }).unwrap();
    commit(&store, UserChange::RecordLogin { user_id: user("x@example.com", "xavier").id(), at }).unwrap();

    let mut expected = ada.clone();
    expected.record_login(at);
    assert_eq!(store.users().by_id(ada.id()).await.unwrap(), Some(expected));
}

#[tokio::test]
async fn a_row_naming_a_user_that_is_not_stored_is_refused_as_unexpected() {
    let store = InMemoryStore::new();
    let ghost = user("ghost@example.com", "ghost");
    let session = forge_domain::sessions::Session::open(ghost.id(), t0(), Duration::days(30), None, None);

    let err = commit(&store, SessionChange::Open(session)).unwrap_err();

    assert!(matches!(&err, CommitError::Unexpected(e) if e.kind() == UnexpectedKind::Internal), "{err:?}");
}

#[tokio::test]
async fn list_filters_by_role_activity_verification_and_never_shows_deleted_users() {
    let store = InMemoryStore::new();
    let admin = ActorBuilder::admin().username("admin1").user().unwrap();
    let manager = ActorBuilder::manager().username("manager1").unverified().user().unwrap();
    let inactive = ActorBuilder::member().username("inactive1").inactive().user().unwrap();
    let plain = ActorBuilder::member().username("plain1").unverified().user().unwrap();
    let mut gone = ActorBuilder::member().username("gone1").user().unwrap();
    gone.soft_delete(t0()).unwrap();
    insert(&store, &[admin, manager, inactive, plain, gone]);
    let by = |filter| query(filter, UserSort::Username, SortOrder::Asc);

    assert_eq!(
        usernames(&store, by(UserFilter { role: Some(Role::Admin), ..UserFilter::default() })).await,
        ["admin1"]
    );
    assert_eq!(
        usernames(&store, by(UserFilter { role: Some(Role::Member), ..UserFilter::default() })).await,
        ["inactive1", "plain1"]
    );
    assert_eq!(
        usernames(&store, by(UserFilter { is_active: Some(false), ..UserFilter::default() })).await,
        ["inactive1"]
    );
    assert_eq!(
        usernames(&store, by(UserFilter { is_verified: Some(false), ..UserFilter::default() })).await,
        ["manager1", "plain1"]
    );
    assert_eq!(store.list(&by(UserFilter::default())).await.unwrap().total, 4, "the deleted user counts for nothing");
}

#[tokio::test]
async fn list_search_ignores_case_beyond_ascii_and_matches_wildcards_literally() {
    let store = InMemoryStore::new();
    let named = |email: &str, username: &str, full_name: &str| {
        ActorBuilder::member().email(email).username(username).full_name(full_name).user().unwrap()
    };
    insert(
        &store,
        &[
            user("turing@bletchley.example", "alan"),
            named("anders@example.com", "anders", "Anders Ångström"),
            named("a@example.com", "percent", "100% Ada"),
            named("b@example.com", "hundred", "1000 Ada"),
            user("c@example.com", "under_score"),
            user("d@example.com", "underXscore"),
        ],
    );
    let by = |term| query(search(term), UserSort::Username, SortOrder::Asc);

    assert_eq!(usernames(&store, by("ÅNGSTRÖM")).await, ["anders"]);
    assert_eq!(usernames(&store, by("BLETCHLEY")).await, ["alan"]);
    assert_eq!(usernames(&store, by("100%")).await, ["percent"]);
    assert_eq!(usernames(&store, by("%")).await, ["percent"]);
    assert_eq!(usernames(&store, by("r_s")).await, ["under_score"]);
    assert_eq!(usernames(&store, by("")).await.len(), 6, "an empty term matches everyone");
}

#[tokio::test]
async fn list_sorts_by_each_field_in_both_orders_with_ties_by_id_and_never_logged_in_last() {
    let store = InMemoryStore::new();
    let mut bob = user_at("c@example.com", "bob", Duration::seconds(1));
    let carol = user_at("a@example.com", "Carol", Duration::seconds(2));
    let mut alice = user_at("b@example.com", "alice", Duration::seconds(3));
    bob.record_login(t0() + Duration::hours(2));
    alice.record_login(t0() + Duration::hours(1));
    insert(&store, &[bob, carol, alice]);
    let sorted = |sort, order| usernames(&store, query(UserFilter::default(), sort, order));

    assert_eq!(sorted(UserSort::CreatedAt, SortOrder::Asc).await, ["bob", "Carol", "alice"]);
    assert_eq!(sorted(UserSort::CreatedAt, SortOrder::Desc).await, ["alice", "Carol", "bob"]);
    assert_eq!(sorted(UserSort::Username, SortOrder::Asc).await, ["alice", "bob", "Carol"]);
    assert_eq!(sorted(UserSort::Username, SortOrder::Desc).await, ["Carol", "bob", "alice"]);
    assert_eq!(sorted(UserSort::Email, SortOrder::Asc).await, ["Carol", "alice", "bob"]);
    assert_eq!(sorted(UserSort::LastLoginAt, SortOrder::Asc).await, ["alice", "bob", "Carol"]);
    assert_eq!(sorted(UserSort::LastLoginAt, SortOrder::Desc).await, ["bob", "alice", "Carol"]);

    let store = InMemoryStore::new();
    let mut same_time: Vec<User> = (0..5).map(|i| user(&format!("u{i}@example.com"), &format!("user{i}"))).collect();
    insert(&store, &same_time);
    same_time.sort_by_key(User::id);
    let ids = |users: Vec<User>| users.iter().map(User::id).collect::<Vec<_>>();
    let desc = store.list(&query(UserFilter::default(), UserSort::CreatedAt, SortOrder::Desc)).await.unwrap();
    assert_eq!(ids(desc.items), ids(same_time.into_iter().rev().collect()));
}

#[tokio::test]
async fn list_pages_through_the_matches_and_counts_them_all() {
    let store = InMemoryStore::new();
    let all: Vec<User> =
        (0..7).map(|i| user_at(&format!("u{i}@example.com"), &format!("user{i}"), Duration::seconds(i))).collect();
    insert(&store, &all);
    let page = |n| UserQuery {
        filter: UserFilter::default(),
        sort: UserSort::CreatedAt,
        order: SortOrder::Asc,
        page: PageRequest::new(n, 3).unwrap(),
    };

    let mut seen = Vec::new();
    for (n, expected_len) in [(1, 3), (2, 3), (3, 1), (4, 0)] {
        let result = store.list(&page(n)).await.unwrap();
        assert_eq!((result.total, result.request), (7, page(n).page));
        assert_eq!(result.items.len(), expected_len, "page {n}");
        seen.extend(result.items);
    }
    assert_eq!(seen, all);
}

#[tokio::test]
async fn taken_identities_and_admin_exists_see_deleted_accounts_as_the_database_does() {
    let store = InMemoryStore::new();
    let mut old_admin = ActorBuilder::admin().email("old@example.com").username("Old").user().unwrap();
    old_admin.soft_delete(t0()).unwrap();
    insert(&store, &[old_admin, user("ada@example.com", "Ada")]);
    let emails: Vec<Email> =
        ["ada@example.com", "old@example.com", "new@example.com"].map(|e| Email::parse(e).unwrap()).to_vec();
    let usernames: Vec<Username> = ["ADA", "old", "fresh"].map(|u| Username::parse(u).unwrap()).to_vec();

    let mut taken = store.taken_identities(&emails, &usernames).await.unwrap();
    taken.usernames.sort();

    assert_eq!(taken.emails, emails[..2]);
    assert_eq!(taken.usernames, ["ada", "old"]);
    assert!(!store.admin_exists().await.unwrap(), "a deleted admin is no admin");
}
