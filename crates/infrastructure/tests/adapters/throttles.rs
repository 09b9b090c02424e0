//! Stored login throttles: written with a guard so that parallel failures are all counted, read
//! back exactly, and kept apart from the user's row.

use forge_application::limits::ThrottleChange;
use forge_application::users::UserChange;
use std::sync::Arc;

use chrono::Duration;
use forge_application::{
    common::{CommitError, UnexpectedKind, UnitOfWork},
    limits::ports::{LoginThrottle, LoginThrottleRepository},
    users::ports::UserRepository,
};
use forge_domain::users::{User, UserId};
use forge_infrastructure::{SeaLoginThrottleRepository, SeaUnitOfWork};
use tokio::task::JoinSet;

use crate::common::{Harness, t0, user};

/// A harness with one user in it, and the throttle repository.
async fn with_user() -> (Harness, SeaLoginThrottleRepository, User) {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    h.uow.commit(changes![UserChange::Insert(ada.clone())]).await.unwrap();
    let throttles = SeaLoginThrottleRepository::new(&h.database);
    (h, throttles, ada)
}

fn throttle(user_id: UserId, failures: u32, seconds: i64) -> LoginThrottle {
    LoginThrottle { user_id, failures, last_failure_at: t0() + Duration::seconds(seconds), locked_until: None }
}

#[tokio::test]
async fn a_throttle_round_trips_to_the_microsecond() {
    let (h, throttles, ada) = with_user().await;
    let mut locked = throttle(ada.id(), 10, 5);
    locked.locked_until = Some(t0() + Duration::minutes(15));

    h.uow.commit(changes![ThrottleChange::Save { throttle: locked, expected: None }]).await.unwrap();

    assert_eq!(throttles.for_user(ada.id()).await.unwrap(), Some(locked));
    assert_eq!(throttles.for_user(UserId::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn a_throttle_is_updated_only_while_it_is_as_it_was_read() {
    let (h, throttles, ada) = with_user().await;
    let first = throttle(ada.id(), 1, 0);
    h.uow.commit(changes![ThrottleChange::Save { throttle: first, expected: None }]).await.unwrap();

    let second = throttle(ada.id(), 2, 1);
    h.uow.commit(changes![ThrottleChange::Save { throttle: second, expected: Some(first) }]).await.unwrap();
    assert_eq!(throttles.for_user(ada.id()).await.unwrap(), Some(second));

    // Based on a row that is no longer there: as read before the second failure, or never read.
    let late = throttle(ada.id(), 2, 2);
    for expected in [Some(first), None] {
        let err = h.uow.commit(changes![ThrottleChange::Save { throttle: late, expected }]).await.unwrap_err();
        assert!(matches!(err, CommitError::Stale), "{err:?}");
    }
    assert_eq!(throttles.for_user(ada.id()).await.unwrap(), Some(second));
}

#[tokio::test]
async fn a_row_cleared_and_counted_up_again_is_not_the_row_that_was_read() {
    let (h, throttles, ada) = with_user().await;
    let before = throttle(ada.id(), 1, 0);
    h.uow.commit(changes![ThrottleChange::Save { throttle: before, expected: None }]).await.unwrap();
    h.uow.commit(changes![ThrottleChange::Clear { user_id: ada.id() }]).await.unwrap();
    let again = throttle(ada.id(), 1, 30);
    h.uow.commit(changes![ThrottleChange::Save { throttle: again, expected: None }]).await.unwrap();

    let err = h
        .uow
        .commit(changes![ThrottleChange::Save { throttle: throttle(ada.id(), 2, 31), expected: Some(before) }])
        .await
        .unwrap_err();

    assert!(matches!(err, CommitError::Stale), "{err:?}");
    assert_eq!(throttles.for_user(ada.id()).await.unwrap(), Some(again));
}

#[tokio::test]
async fn clearing_forgets_the_throttle_and_clearing_nothing_is_fine() {
    let (h, throttles, ada) = with_user().await;
    h.uow.commit(changes![ThrottleChange::Save { throttle: throttle(ada.id(), 3, 0), expected: None }]).await.unwrap();

    h.uow.commit(changes![ThrottleChange::Clear { user_id: ada.id() }]).await.unwrap();
    h.uow.commit(changes![ThrottleChange::Clear { user_id: ada.id() }]).await.unwrap();

    assert_eq!(throttles.for_user(ada.id()).await.unwrap(), None);
}

#[tokio::test]
async fn failed_logins_leave_the_user_row_and_its_version_alone() {
    let (h, _, ada) = with_user().await;

    h.uow.commit(changes![ThrottleChange::Save { throttle: throttle(ada.id(), 1, 0), expected: None }]).await.unwrap();

    let stored = h.users.by_id(ada.id()).await.unwrap().unwrap();
    assert_eq!(stored, ada);
    assert_eq!(stored.version(), ada.version());
}

#[tokio::test]
async fn a_throttle_of_an_unknown_user_is_refused_by_the_foreign_key() {
    let h = Harness::new().await;
    let err = h
        .uow
        .commit(changes![ThrottleChange::Save { throttle: throttle(UserId::generate(), 1, 0), expected: None }])
        .await
        .unwrap_err();
    assert!(matches!(&err, CommitError::Unexpected(e) if e.kind() == UnexpectedKind::Internal), "{err:?}");
}

/// Counts one failure the way the lockout does: read, add one, write guarded, and on a lost
/// race read again.
async fn count_a_failure(uow: &SeaUnitOfWork, throttles: &SeaLoginThrottleRepository, user_id: UserId, n: i64) {
    loop {
        let read = throttles.for_user(user_id).await.unwrap();
        let next = throttle(user_id, read.map_or(0, |t| t.failures) + 1, n);
        match uow.commit(changes![ThrottleChange::Save { throttle: next, expected: read }]).await {
            Ok(()) => return,
            Err(CommitError::Stale) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_failures_on_one_account_are_all_counted() {
    let (h, throttles, ada) = with_user().await;
    let uow = Arc::new(h.uow.clone());
    let throttles = Arc::new(throttles);
    let mut tasks = JoinSet::new();
    for n in 0..12 {
        let (uow, throttles, id) = (uow.clone(), throttles.clone(), ada.id());
        tasks.spawn(async move { count_a_failure(&uow, &throttles, id, n).await });
    }
    tasks.join_all().await;

    assert_eq!(throttles.for_user(ada.id()).await.unwrap().map(|t| t.failures), Some(12));
}
