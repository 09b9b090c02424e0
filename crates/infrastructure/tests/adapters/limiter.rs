//! The rate limiters: fixed windows and failure streaks, counted alike in the process and in Redis
//! (every rule is checked on both adapters), and the in-process one's bounded number of keys.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use forge_application::limits::{
    Limit,
    ports::{FailureStreak, RateKey, RateLimiter},
};
use forge_infrastructure::{
    InMemoryRateLimiter,
    redis::{Redis, RedisRateLimiter, testing::PrivateRedis},
};
use tokio::task::JoinSet;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

fn key(subject: &str) -> RateKey {
    RateKey::new("login:ip", subject)
}

fn limit(max: u32, seconds: i64) -> Limit {
    Limit::new(max, Duration::seconds(seconds)).unwrap()
}

/// A limiter in a Redis of the test's own (kept running while the limiter is used).
pub fn redis_limiter() -> (PrivateRedis, Arc<RedisRateLimiter>) {
    let server = PrivateRedis::start();
    let redis = Redis::new(&server.url(), "test").unwrap();
    (server, Arc::new(RedisRateLimiter::new(&redis, 100)))
}

/// Runs the check `$name` on the in-process limiter and on the Redis one.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn in_process() {
                super::$name(Arc::new(InMemoryRateLimiter::default())).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn in_redis() {
                let (_server, limiter) = redis_limiter();
                super::$name(limiter.clone()).await;
                assert!(!limiter.is_degraded(), "every count went to Redis");
            }
        }
    )*};
}

on_both!(
    hits_count_down_within_a_window_and_are_refused_past_the_limit,
    refused_hits_do_not_push_the_window_back_and_a_new_window_starts_afresh,
    every_key_has_a_budget_of_its_own,
    parallel_hits_are_each_counted_once,
    a_failure_streak_grows_and_each_failure_pushes_its_end_back,
);

async fn hits_count_down_within_a_window_and_are_refused_past_the_limit(limiter: Arc<dyn RateLimiter>) {
    let three = limit(3, 60);
    let mut seen = Vec::new();
    for second in [0, 10, 20, 30] {
        let d = limiter.hit(&key("a"), &three, at(second)).await.unwrap();
        seen.push((
            d.allowed,
            d.limit,
            d.remaining,
            d.reset_after.num_seconds(),
            d.retry_after.map(|r| r.num_seconds()),
        ));
    }
    assert_eq!(
        seen,
        [(true, 3, 2, 60, None), (true, 3, 1, 50, None), (true, 3, 0, 40, None), (false, 3, 0, 30, Some(30))]
    );
}

async fn refused_hits_do_not_push_the_window_back_and_a_new_window_starts_afresh(limiter: Arc<dyn RateLimiter>) {
    let one = limit(1, 60);
    limiter.hit(&key("a"), &one, at(0)).await.unwrap();
    for second in [1, 30, 59] {
        let refused = limiter.hit(&key("a"), &one, at(second)).await.unwrap();
        assert_eq!(refused.retry_after, Some(Duration::seconds(60 - second)));
    }

    let fresh = limiter.hit(&key("a"), &one, at(60)).await.unwrap();

    assert!(fresh.allowed);
    assert_eq!((fresh.remaining, fresh.reset_after), (0, Duration::seconds(60)));
}

async fn every_key_has_a_budget_of_its_own(limiter: Arc<dyn RateLimiter>) {
    let one = limit(1, 60);
    assert!(limiter.hit(&key("203.0.113.1"), &one, at(0)).await.unwrap().allowed);
    assert!(!limiter.hit(&key("203.0.113.1"), &one, at(1)).await.unwrap().allowed);
    assert!(limiter.hit(&key("203.0.113.2"), &one, at(1)).await.unwrap().allowed);
    assert!(limiter.hit(&RateKey::new("register:ip", "203.0.113.1"), &one, at(1)).await.unwrap().allowed);
}

async fn parallel_hits_are_each_counted_once(limiter: Arc<dyn RateLimiter>) {
    let fifty = limit(50, 60);
    let mut tasks = JoinSet::new();
    for _ in 0..80 {
        let limiter = limiter.clone();
        tasks.spawn(async move { limiter.hit(&key("a"), &fifty, at(0)).await.unwrap() });
    }
    let decisions = tasks.join_all().await;

    assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 50);
    let remaining: BTreeSet<u32> = decisions.iter().filter(|d| d.allowed).map(|d| d.remaining).collect();
    assert_eq!(remaining.len(), 50, "every allowed hit saw a count of its own");
}

async fn a_failure_streak_grows_and_each_failure_pushes_its_end_back(limiter: Arc<dyn RateLimiter>) {
    let forget_after = Duration::minutes(15);
    assert_eq!(limiter.failures(&key("x"), at(0)).await.unwrap(), None);
    for (n, second) in [(1, 0), (2, 600), (3, 1200)] {
        let streak = limiter.record_failure(&key("x"), forget_after, at(second)).await.unwrap();
        assert_eq!(streak, FailureStreak { failures: n, last_failure_at: at(second) });
    }

    // 35 minutes after the first failure, 15 after the latest.
    assert_eq!(
        limiter.failures(&key("x"), at(2099)).await.unwrap(),
        Some(FailureStreak { failures: 3, last_failure_at: at(1200) })
    );
    assert_eq!(limiter.failures(&key("x"), at(2100)).await.unwrap(), None);
    let fresh = limiter.record_failure(&key("x"), forget_after, at(2100)).await.unwrap();
    assert_eq!(fresh.failures, 1, "a forgotten streak starts over");
}

#[tokio::test]
async fn lapsed_counters_are_dropped_as_time_passes() {
    let limiter = InMemoryRateLimiter::default();
    for n in 0..50 {
        limiter.hit(&key(&n.to_string()), &limit(5, 60), at(0)).await.unwrap();
    }
    limiter.record_failure(&key("streak"), Duration::minutes(15), at(0)).await.unwrap();
    assert_eq!(limiter.len(), 51);

    limiter.hit(&key("late"), &limit(5, 60), at(60)).await.unwrap();

    assert_eq!(limiter.len(), 2, "the streak and the new window");
}

#[tokio::test]
async fn a_flood_of_distinct_keys_never_holds_more_than_the_capacity() {
    let limiter = InMemoryRateLimiter::new(100);
    let minute = limit(5, 60);
    for n in 0..10_000 {
        limiter.hit(&key(&format!("flood-{n}")), &minute, at(n / 1000)).await.unwrap();
        assert!(limiter.len() <= 100);
    }
    assert_eq!(limiter.len(), 100);
}

#[tokio::test]
async fn at_capacity_the_counter_closest_to_lapsing_makes_room() {
    let limiter = InMemoryRateLimiter::new(3);
    limiter.hit(&key("long"), &limit(1, 3600), at(0)).await.unwrap();
    limiter.hit(&key("short"), &limit(1, 10), at(0)).await.unwrap();
    limiter.record_failure(&key("streak"), Duration::minutes(15), at(0)).await.unwrap();

    limiter.hit(&key("new"), &limit(1, 60), at(1)).await.unwrap();

    assert_eq!(limiter.len(), 3);
    assert!(limiter.hit(&key("short"), &limit(1, 10), at(2)).await.unwrap().allowed, "evicted, so counted afresh");
    assert!(!limiter.hit(&key("long"), &limit(1, 3600), at(2)).await.unwrap().allowed, "still counted");
    assert!(limiter.failures(&key("streak"), at(2)).await.unwrap().is_some(), "still remembered");
}
