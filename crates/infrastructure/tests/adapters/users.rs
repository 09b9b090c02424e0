use chrono::{DateTime, Duration};
use forge_application::auth::SessionChange;
use forge_application::users::UserChange;
use forge_application::users::UserConstraint;
use forge_application::{
    PageRequest, SortOrder,
    common::{CommitError, UnexpectedKind, UnitOfWork},
    users::ports::{UserFilter, UserQuery, UserRepository, UserSort},
};
use forge_domain::users::{Email, FullName, PasswordHash, Role, User, UserId, UserParts, Username};
use forge_infrastructure::{Database, QueryStats, SeaUserRepository};
use sea_orm::ConnectionTrait;
use tokio::task::JoinSet;

use crate::common::{Harness, Tweak, session_for, t0, tweaked, user, user_at};

async fn insert(h: &Harness, users: &[User]) {
    h.uow.commit(users.iter().cloned().map(UserChange::Insert).collect()).await.unwrap();
}

fn query(filter: UserFilter, sort: UserSort, order: SortOrder) -> UserQuery {
    UserQuery { filter, sort, order, page: PageRequest::new(1, 100).unwrap() }
}

async fn usernames(h: &Harness, query: UserQuery) -> Vec<String> {
    h.users.list(&query).await.unwrap().items.iter().map(|u| u.username().to_string()).collect()
}

fn search(term: &str) -> UserFilter {
    UserFilter { search: Some(term.to_owned()), ..UserFilter::default() }
}

#[tokio::test]
async fn a_user_round_trips_with_every_field() {
    let h = Harness::new().await;
    let user = User::from_parts(UserParts {
        id: UserId::generate(),
        email: Email::parse("ada@example.com").unwrap(),
        username: Username::parse("Ada_Lovelace").unwrap(),
        full_name: Some(FullName::parse("Ada Zoë Lovelace").unwrap()),
        role: Role::Manager,
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        is_active: false,
        is_verified: true,
        created_at: t0(),
        updated_at: t0() + Duration::minutes(1),
        last_login_at: Some(t0() + Duration::minutes(2)),
        deleted_at: Some(t0() + Duration::minutes(3)),
        version: 7,
    });
    insert(&h, std::slice::from_ref(&user)).await;

    assert_eq!(h.users.by_id(user.id()).await.unwrap(), Some(user));
    assert_eq!(h.users.by_id(UserId::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn timestamps_are_stored_at_microsecond_precision_on_every_database() {
    let h = Harness::new().await;
    let nanos = DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap();
    let user = User::register(
        forge_domain::users::NewUser {
            email: Email::parse("ada@example.com").unwrap(),
            username: Username::parse("ada").unwrap(),
            full_name: None,
            role: Role::Member,
            password_hash: crate::common::phc(),
            is_active: true,
            is_verified: true,
        },
        nanos,
    );
    insert(&h, std::slice::from_ref(&user)).await;

    let stored = h.users.by_id(user.id()).await.unwrap().unwrap();
    let micros = DateTime::from_timestamp(1_790_000_000, 123_456_000).unwrap();
    assert_eq!(stored.created_at(), micros);
    assert_eq!(stored.updated_at(), micros);
}

#[tokio::test]
async fn by_email_and_by_username_find_the_user_and_by_username_ignores_case() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "Ada.Lovelace");
    insert(&h, &[ada.clone(), user("grace@example.com", "grace")]).await;

    assert_eq!(h.users.by_email(&Email::parse("ADA@example.com").unwrap()).await.unwrap().as_ref(), Some(&ada));
    for spelling in ["Ada.Lovelace", "ada.lovelace", "ADA.LOVELACE"] {
        let found = h.users.by_username(&Username::parse(spelling).unwrap()).await.unwrap();
        assert_eq!(found.as_ref(), Some(&ada), "{spelling}");
    }
    assert_eq!(h.users.by_email(&Email::parse("nobody@example.com").unwrap()).await.unwrap(), None);
    assert_eq!(h.users.by_username(&Username::parse("nobody").unwrap()).await.unwrap(), None);
}

#[tokio::test]
async fn soft_deleted_users_are_still_found_by_id_email_and_username() {
    let h = Harness::new().await;
    let gone = tweaked(&user("gone@example.com", "gone"), Tweak { deleted_at: Some(t0()), ..Tweak::default() });
    insert(&h, std::slice::from_ref(&gone)).await;

    assert_eq!(h.users.by_id(gone.id()).await.unwrap().as_ref(), Some(&gone));
    assert_eq!(h.users.by_email(gone.email()).await.unwrap().as_ref(), Some(&gone));
    assert_eq!(h.users.by_username(gone.username()).await.unwrap().as_ref(), Some(&gone));
}

#[tokio::test]
async fn inserting_a_taken_email_is_refused_as_email_taken() {
    let h = Harness::new().await;
    insert(&h, &[user("ada@example.com", "ada")]).await;

    let err = h.uow.commit(changes![UserChange::Insert(user("ada@example.com", "someone_else"))]).await.unwrap_err();
    assert!(err.constraint() == Some(&UserConstraint::EmailTaken), "{err:?}");
}

#[tokio::test]
async fn inserting_a_taken_username_is_refused_as_username_taken_even_in_another_case() {
    let h = Harness::new().await;
    insert(&h, &[user("ada@example.com", "Ada")]).await;

    for taken in ["Ada", "ada", "ADA"] {
        let err = h.uow.commit(changes![UserChange::Insert(user("other@example.com", taken))]).await.unwrap_err();
        assert!(err.constraint() == Some(&UserConstraint::UsernameTaken), "{taken}: {err:?}");
    }
}

#[tokio::test]
async fn changing_to_a_taken_email_or_username_is_refused_by_the_update_too() {
    let h = Harness::new().await;
    let (ada, grace) = (user("ada@example.com", "ada"), user("grace@example.com", "grace"));
    insert(&h, &[ada.clone(), grace]).await;

    let mut by_email = ada.clone();
    by_email.change_email(Email::parse("grace@example.com").unwrap(), t0()).unwrap();
    let err = h.uow.commit(changes![UserChange::Update { user: by_email, expected_version: 1 }]).await.unwrap_err();
    assert!(err.constraint() == Some(&UserConstraint::EmailTaken), "{err:?}");

    let mut by_name = ada.clone();
    by_name.rename(Username::parse("GRACE").unwrap(), t0()).unwrap();
    let err = h.uow.commit(changes![UserChange::Update { user: by_name, expected_version: 1 }]).await.unwrap_err();
    assert!(err.constraint() == Some(&UserConstraint::UsernameTaken), "{err:?}");

    assert_eq!(h.users.by_id(ada.id()).await.unwrap(), Some(ada));
}

#[tokio::test]
async fn taken_identities_names_the_stored_addresses_and_usernames_deleted_or_not() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "Ada");
    let gone = tweaked(&user("gone@example.com", "gone"), Tweak { deleted_at: Some(t0()), ..Tweak::default() });
    insert(&h, &[ada, gone]).await;
    let emails: Vec<Email> =
        ["ada@example.com", "gone@example.com", "new@example.com"].map(|e| Email::parse(e).unwrap()).to_vec();
    let usernames: Vec<Username> = ["ADA", "Gone", "fresh"].map(|u| Username::parse(u).unwrap()).to_vec();

    let mut taken = h.users.taken_identities(&emails, &usernames).await.unwrap();
    taken.usernames.sort();

    assert_eq!(taken.emails, emails[..2]);
    assert_eq!(taken.usernames, ["ada", "gone"]);
    let none = h.users.taken_identities(&[], &[]).await.unwrap();
    assert!(none.emails.is_empty() && none.usernames.is_empty());
}

#[tokio::test]
async fn a_failed_commit_stores_none_of_its_changes() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    insert(&h, std::slice::from_ref(&ada)).await;
    let session = session_for(&ada, t0());
    let newcomer = user("new@example.com", "newcomer");

    let err = h
        .uow
        .commit(changes![
            SessionChange::Open(session.clone()),
            UserChange::Insert(newcomer.clone()),
            UserChange::Insert(user("ada@example.com", "ada2")),
        ])
        .await
        .unwrap_err();

    assert!(err.constraint() == Some(&UserConstraint::EmailTaken), "{err:?}");
    assert_eq!(forge_application::auth::ports::SessionRepository::by_id(&h.sessions, session.id).await.unwrap(), None);
    assert_eq!(h.users.by_id(newcomer.id()).await.unwrap(), None);
}

#[tokio::test]
async fn an_update_based_on_a_stale_version_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    insert(&h, std::slice::from_ref(&ada)).await;

    let mut first = ada.clone();
    first.change_role(Role::Admin, t0() + Duration::minutes(1)).unwrap();
    h.uow.commit(changes![UserChange::Update { user: first.clone(), expected_version: 1 }]).await.unwrap();

    let mut second = ada.clone();
    second.set_full_name(Some(FullName::parse("Lost Update").unwrap()), t0() + Duration::minutes(2)).unwrap();
    let err = h.uow.commit(changes![UserChange::Update { user: second, expected_version: 1 }]).await.unwrap_err();

    assert!(matches!(err, CommitError::Stale), "{err:?}");
    assert_eq!(h.users.by_id(ada.id()).await.unwrap(), Some(first));
}

#[tokio::test]
async fn an_update_of_a_missing_user_is_stale() {
    let h = Harness::new().await;
    let ghost = user("ghost@example.com", "ghost");
    let err = h.uow.commit(changes![UserChange::Update { user: ghost, expected_version: 1 }]).await.unwrap_err();
    assert!(matches!(err, CommitError::Stale), "{err:?}");
}

#[tokio::test]
async fn an_update_based_on_the_current_version_stores_every_field() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    insert(&h, std::slice::from_ref(&ada)).await;

    let mut changed = ada.clone();
    let later = t0() + Duration::hours(1);
    changed.change_email(Email::parse("lovelace@example.com").unwrap(), later).unwrap();
    changed.rename(Username::parse("Lovelace").unwrap(), later).unwrap();
    changed.set_full_name(Some(FullName::parse("Ada Lovelace").unwrap()), later).unwrap();
    changed.change_role(Role::Admin, later).unwrap();
    changed.verify_email(later).unwrap();
    changed.change_password(PasswordHash::new("$argon2id$new".to_owned()), later).unwrap();
    changed.deactivate(later).unwrap();
    changed.soft_delete(later).unwrap();
    let base = ada.version();
    h.uow.commit(changes![UserChange::Update { user: changed.clone(), expected_version: base }]).await.unwrap();

    assert_eq!(h.users.by_id(ada.id()).await.unwrap(), Some(changed.clone()));
    assert_eq!(h.users.by_username(&Username::parse("LOVELACE").unwrap()).await.unwrap(), Some(changed));
    assert_eq!(h.users.by_username(&Username::parse("ada").unwrap()).await.unwrap(), None);
}

#[tokio::test]
async fn recording_a_login_sets_last_login_at_without_touching_the_version() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    insert(&h, std::slice::from_ref(&ada)).await;

    let at = t0() + Duration::days(1);
    h.uow.commit(changes![UserChange::RecordLogin { user_id: ada.id(), at }]).await.unwrap();

    let mut expected = ada.clone();
    expected.record_login(at);
    assert_eq!(h.users.by_id(ada.id()).await.unwrap(), Some(expected));
}

#[tokio::test]
async fn list_filters_by_role_activity_and_verification() {
    let h = Harness::new().await;
    let base = |email, name| user(email, name);
    insert(
        &h,
        &[
            tweaked(
                &base("a@example.com", "admin1"),
                Tweak { role: Role::Admin, is_verified: true, ..Tweak::default() },
            ),
            tweaked(&base("m@example.com", "manager1"), Tweak { role: Role::Manager, ..Tweak::default() }),
            tweaked(
                &base("i@example.com", "inactive1"),
                Tweak { is_active: false, is_verified: true, ..Tweak::default() },
            ),
            base("p@example.com", "plain1"),
        ],
    )
    .await;
    let by = |filter| query(filter, UserSort::Username, SortOrder::Asc);

    assert_eq!(usernames(&h, by(UserFilter { role: Some(Role::Admin), ..UserFilter::default() })).await, ["admin1"]);
    assert_eq!(
        usernames(&h, by(UserFilter { role: Some(Role::Member), ..UserFilter::default() })).await,
        ["inactive1", "plain1"]
    );
    assert_eq!(usernames(&h, by(UserFilter { is_active: Some(false), ..UserFilter::default() })).await, ["inactive1"]);
    assert_eq!(
        usernames(&h, by(UserFilter { is_verified: Some(true), ..UserFilter::default() })).await,
        ["admin1", "inactive1"]
    );
    assert_eq!(
        usernames(&h, by(UserFilter { is_verified: Some(false), ..UserFilter::default() })).await,
        ["manager1", "plain1"]
    );
    assert_eq!(
        usernames(&h, by(UserFilter { role: Some(Role::Member), is_active: Some(true), ..UserFilter::default() }))
            .await,
        ["plain1"]
    );
    assert_eq!(usernames(&h, by(UserFilter::default())).await.len(), 4);
}

#[tokio::test]
async fn list_search_matches_email_username_or_full_name_ignoring_case() {
    let h = Harness::new().await;
    insert(
        &h,
        &[
            user("turing@bletchley.example", "alan"),
            user("ada@example.com", "Countess"),
            tweaked(&user("grace@example.com", "grace"), Tweak { full_name: Some("Grace Hopper"), ..Tweak::default() }),
            user("other@example.com", "other"),
            tweaked(
                &user("anders@example.com", "anders"),
                Tweak { full_name: Some("Anders Ångström"), ..Tweak::default() },
            ),
        ],
    )
    .await;
    let by = |term| query(search(term), UserSort::Username, SortOrder::Asc);

    assert_eq!(usernames(&h, by("ÅNGSTRÖM")).await, ["anders"], "case is folded beyond ASCII on both databases");
    assert_eq!(usernames(&h, by("BLETCHLEY")).await, ["alan"]);
    assert_eq!(usernames(&h, by("counT")).await, ["Countess"]);
    assert_eq!(usernames(&h, by("hopP")).await, ["grace"]);
    assert_eq!(usernames(&h, by("example.com")).await, ["anders", "Countess", "grace", "other"]);
    assert!(usernames(&h, by("nobody")).await.is_empty());
}

#[tokio::test]
async fn list_search_matches_percent_underscore_and_backslash_literally() {
    let h = Harness::new().await;
    insert(
        &h,
        &[
            tweaked(&user("a@example.com", "percent"), Tweak { full_name: Some("100% Ada"), ..Tweak::default() }),
            tweaked(&user("b@example.com", "hundred"), Tweak { full_name: Some("1000 Ada"), ..Tweak::default() }),
            user("c@example.com", "under_score"),
            user("d@example.com", "underXscore"),
            tweaked(&user("e@example.com", "slash"), Tweak { full_name: Some("back\\slash"), ..Tweak::default() }),
            tweaked(&user("f@example.com", "noslash"), Tweak { full_name: Some("backslash"), ..Tweak::default() }),
        ],
    )
    .await;
    let by = |term| query(search(term), UserSort::Username, SortOrder::Asc);

    assert_eq!(usernames(&h, by("100%")).await, ["percent"]);
    assert_eq!(usernames(&h, by("%")).await, ["percent"]);
    assert_eq!(usernames(&h, by("r_s")).await, ["under_score"]);
    assert_eq!(usernames(&h, by("_")).await, ["under_score"]);
    assert_eq!(usernames(&h, by("k\\s")).await, ["slash"]);
    assert_eq!(usernames(&h, by("\\")).await, ["slash"]);
}

#[tokio::test]
async fn list_sorts_by_each_field_in_both_orders() {
    let h = Harness::new().await;
    // Creation order, e-mail order and username order all differ.
    insert(
        &h,
        &[
            user_at("c@example.com", "bob", Duration::seconds(1)),
            user_at("a@example.com", "Carol", Duration::seconds(2)),
            user_at("b@example.com", "alice", Duration::seconds(3)),
        ],
    )
    .await;
    let sorted = |sort, order| usernames(&h, query(UserFilter::default(), sort, order));

    assert_eq!(sorted(UserSort::CreatedAt, SortOrder::Asc).await, ["bob", "Carol", "alice"]);
    assert_eq!(sorted(UserSort::CreatedAt, SortOrder::Desc).await, ["alice", "Carol", "bob"]);
    assert_eq!(sorted(UserSort::Username, SortOrder::Asc).await, ["alice", "bob", "Carol"]);
    assert_eq!(sorted(UserSort::Username, SortOrder::Desc).await, ["Carol", "bob", "alice"]);
    assert_eq!(sorted(UserSort::Email, SortOrder::Asc).await, ["Carol", "alice", "bob"]);
    assert_eq!(sorted(UserSort::Email, SortOrder::Desc).await, ["bob", "alice", "Carol"]);
}

#[tokio::test]
async fn list_breaks_ties_by_id_in_the_requested_order() {
    let h = Harness::new().await;
    let mut same_time: Vec<User> = (0..5).map(|i| user(&format!("u{i}@example.com"), &format!("user{i}"))).collect();
    insert(&h, &same_time).await;
    same_time.sort_by_key(User::id);
    let ids = |users: Vec<User>| users.into_iter().map(|u| u.id()).collect::<Vec<_>>();

    let asc = h.users.list(&query(UserFilter::default(), UserSort::CreatedAt, SortOrder::Asc)).await.unwrap();
    assert_eq!(ids(asc.items), ids(same_time.clone()));
    let desc = h.users.list(&query(UserFilter::default(), UserSort::CreatedAt, SortOrder::Desc)).await.unwrap();
    assert_eq!(ids(desc.items), ids(same_time.into_iter().rev().collect()));
}

#[tokio::test]
async fn list_puts_users_who_never_logged_in_last_in_both_orders() {
    let h = Harness::new().await;
    let login = |minutes| Some(t0() + Duration::minutes(minutes));
    insert(
        &h,
        &[
            user("n@example.com", "never"),
            tweaked(&user("e@example.com", "early"), Tweak { last_login_at: login(1), ..Tweak::default() }),
            tweaked(&user("l@example.com", "late"), Tweak { last_login_at: login(2), ..Tweak::default() }),
        ],
    )
    .await;
    let sorted = |order| usernames(&h, query(UserFilter::default(), UserSort::LastLoginAt, order));

    assert_eq!(sorted(SortOrder::Asc).await, ["early", "late", "never"]);
    assert_eq!(sorted(SortOrder::Desc).await, ["late", "early", "never"]);
}

#[tokio::test]
async fn list_pages_through_the_matches_and_counts_them_all() {
    let h = Harness::new().await;
    let all: Vec<User> =
        (0..7).map(|i| user_at(&format!("u{i}@example.com"), &format!("user{i}"), Duration::seconds(i))).collect();
    insert(&h, &all).await;
    let page = |n| UserQuery {
        filter: UserFilter::default(),
        sort: UserSort::CreatedAt,
        order: SortOrder::Asc,
        page: PageRequest::new(n, 3).unwrap(),
    };

    let mut seen = Vec::new();
    for (n, expected_len) in [(1, 3), (2, 3), (3, 1), (4, 0)] {
        let result = h.users.list(&page(n)).await.unwrap();
        assert_eq!(result.total, 7);
        assert_eq!(result.request, page(n).page);
        assert_eq!(result.items.len(), expected_len, "page {n}");
        seen.extend(result.items);
    }
    assert_eq!(seen, all);

    let filtered = UserQuery { filter: search("user1"), ..page(1) };
    assert_eq!(h.users.list(&filtered).await.unwrap().total, 1);
}

#[tokio::test]
async fn a_list_page_and_its_total_are_one_statement_and_a_page_past_the_last_two() {
    let h = Harness::new().await;
    let all: Vec<User> =
        (0..3).map(|i| user_at(&format!("u{i}@example.com"), &format!("user{i}"), Duration::seconds(i))).collect();
    insert(&h, &all).await;
    // A pool of the test's own, counted from its start, and a repository built on it after.
    let mut database = Database::connect(h.db.url(), 2).await.unwrap();
    let stats = QueryStats::attach(&mut database);
    let users = SeaUserRepository::new(&database);
    let page = |n, filter| UserQuery {
        filter,
        sort: UserSort::CreatedAt,
        order: SortOrder::Asc,
        page: PageRequest::new(n, 2).unwrap(),
    };

    for (query, items, total, statements) in [
        (page(1, UserFilter::default()), &all[..2], 3, 1),
        (page(2, UserFilter::default()), &all[2..], 3, 1),
        // Past the last page the rows cannot carry the total: it is counted on its own.
        (page(3, UserFilter::default()), &[], 3, 2),
        // Nothing matches: no rows on the first page is a total of zero, without a count.
        (page(1, search("nobody")), &[], 0, 1),
        (page(2, search("nobody")), &[], 0, 2),
        (page(1, search("user2")), &all[2..], 1, 1),
    ] {
        let before = stats.statements();
        let result = users.list(&query).await.unwrap();
        assert_eq!((result.items.as_slice(), result.total), (items, total), "{query:?}");
        assert_eq!(stats.statements() - before, statements, "{query:?}");
    }
    assert_eq!(stats.failed(), 0);
}

#[tokio::test]
async fn list_never_includes_deleted_users_not_even_in_the_total() {
    let h = Harness::new().await;
    let gone = tweaked(&user("gone@example.com", "gone"), Tweak { deleted_at: Some(t0()), ..Tweak::default() });
    insert(&h, &[gone, user("here@example.com", "here")]).await;

    let page = h.users.list(&query(search("e"), UserSort::Username, SortOrder::Asc)).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items.iter().map(|u| u.username().as_ref()).collect::<Vec<_>>(), ["here"]);
}

#[tokio::test]
async fn admin_exists_only_when_a_non_deleted_admin_does() {
    let h = Harness::new().await;
    assert!(!h.users.admin_exists().await.unwrap());

    let admin = Tweak { role: Role::Admin, ..Tweak::default() };
    let deleted_admin = Tweak { role: Role::Admin, deleted_at: Some(t0()), ..Tweak::default() };
    insert(&h, &[tweaked(&user("old@example.com", "old"), deleted_admin), user("m@example.com", "member")]).await;
    assert!(!h.users.admin_exists().await.unwrap());

    insert(&h, &[tweaked(&user("root@example.com", "root"), admin)]).await;
    assert!(h.users.admin_exists().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_registrations_of_one_email_store_exactly_one() {
    let h = Harness::new().await;
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let uow = h.uow.clone();
        let candidate = user("race@example.com", &format!("racer{i}"));
        tasks.spawn(async move { uow.commit(changes![UserChange::Insert(candidate)]).await });
    }
    let (mut stored, mut taken) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(()) => stored += 1,
            Err(e) if e.constraint() == Some(&UserConstraint::EmailTaken) => taken += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((stored, taken), (1, 19));
    assert!(h.users.by_email(&Email::parse("race@example.com").unwrap()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_stored_value_the_domain_refuses_is_an_internal_error() {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    insert(&h, std::slice::from_ref(&ada)).await;
    h.conn.execute_unprepared("UPDATE users SET role = 'overlord'").await.unwrap();

    let err = h.users.by_id(ada.id()).await.unwrap_err();
    assert_eq!(err.kind(), UnexpectedKind::Internal);
    assert!(err.to_string().contains("role"), "{err}");
}

#[tokio::test]
async fn test_databases_are_isolated_from_each_other() {
    let (first, second) = (Harness::new().await, Harness::new().await);
    insert(&first, &[user("ada@example.com", "ada")]).await;
    insert(&second, &[user("ada@example.com", "ada")]).await;
    assert_ne!(first.db.url(), second.db.url());
}
