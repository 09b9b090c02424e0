//! Unit tests of the statistics, source and cache mocked.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use forge_domain::users::Role;

use super::{
    DashboardError, DashboardService, DashboardStats, ProjectCounts, UserCounts,
    ports::{MockStatsCache, MockStatsSource},
};
use crate::{
    common::{MockClock, UnexpectedError},
    test_support::{a_user, acting_as, now},
};

fn users() -> UserCounts {
    UserCounts { total: 10, active: 7, admins: 2, new_today: 1, new_week: 3 }
}

fn clock_at(at: DateTime<Utc>) -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at);
    clock
}

/// A cache that really keeps what it is given.
fn working_cache(held: Arc<Mutex<Option<DashboardStats>>>) -> MockStatsCache {
    let mut cache = MockStatsCache::new();
    let read = held.clone();
    cache.expect_get().returning(move || Ok(*read.lock().unwrap()));
    cache.expect_put().returning(move |stats| {
        *held.lock().unwrap() = Some(*stats);
        Ok(())
    });
    cache
}

fn counting_source(times: usize) -> MockStatsSource {
    let mut source = MockStatsSource::new();
    let midnight = DateTime::parse_from_rfc3339("2023-11-14T00:00:00Z").unwrap().with_timezone(&Utc);
    source
        .expect_user_counts()
        .withf(move |today, week| *today == midnight && *week == now() - Duration::days(7))
        .times(times)
        .returning(|_, _| Ok(users()));
    source.expect_project_counts().times(times).returning(|| Ok(ProjectCounts { total: 4, active: 3 }));
    source
}

fn service(source: MockStatsSource, cache: MockStatsCache, clock: MockClock) -> DashboardService {
    DashboardService::new(Arc::new(source), Arc::new(cache), Arc::new(clock), DashboardService::DEFAULT_MAX_AGE)
}

#[tokio::test]
async fn admins_and_managers_get_counts_computed_now_and_midnight_is_utc() {
    for role in [Role::Admin, Role::Manager] {
        let held = Arc::default();
        let stats = service(counting_source(1), working_cache(held), clock_at(now()))
            .stats(&acting_as(&a_user(role).build()))
            .await
            .unwrap();

        assert_eq!(stats.users, users(), "{role}");
        assert_eq!(stats.users.inactive(), 3);
        assert_eq!(stats.projects, ProjectCounts { total: 4, active: 3 });
        assert_eq!(stats.generated_at, now());
    }
}

#[tokio::test]
async fn members_may_not_see_the_statistics_and_nothing_is_counted() {
    let mut source = MockStatsSource::new();
    source.expect_user_counts().never();
    let mut cache = MockStatsCache::new();
    cache.expect_get().never();

    let result = service(source, cache, clock_at(now())).stats(&acting_as(&a_user(Role::Member).build())).await;

    assert!(matches!(result, Err(DashboardError::Forbidden)), "{result:?}");
}

#[tokio::test]
async fn statistics_younger_than_a_minute_come_from_the_cache() {
    let held = Arc::new(Mutex::new(Some(DashboardStats {
        users: users(),
        projects: ProjectCounts::default(),
        generated_at: now() - Duration::seconds(59),
    })));
    let stats = service(counting_source(0), working_cache(held), clock_at(now()))
        .stats(&acting_as(&a_user(Role::Admin).build()))
        .await
        .unwrap();

    assert_eq!(stats.generated_at, now() - Duration::seconds(59));
}

#[tokio::test]
async fn statistics_a_minute_old_are_computed_again_and_cached() {
    let held = Arc::new(Mutex::new(Some(DashboardStats {
        users: UserCounts::default(),
        projects: ProjectCounts::default(),
        generated_at: now() - Duration::seconds(60),
    })));
    let stats = service(counting_source(1), working_cache(held.clone()), clock_at(now()))
        .stats(&acting_as(&a_user(Role::Admin).build()))
        .await
        .unwrap();

    assert_eq!((stats.users, stats.generated_at), (users(), now()));
    assert_eq!(held.lock().unwrap().map(|s| s.generated_at), Some(now()));
}

#[tokio::test]
async fn a_failing_cache_is_bypassed() {
    let mut cache = MockStatsCache::new();
    cache.expect_get().returning(|| Err(UnexpectedError::unavailable("cache down")));
    cache.expect_put().returning(|_| Err(UnexpectedError::unavailable("cache down")));

    let stats = service(counting_source(1), cache, clock_at(now()))
        .stats(&acting_as(&a_user(Role::Admin).build()))
        .await
        .unwrap();

    assert_eq!(stats.users, users());
}
