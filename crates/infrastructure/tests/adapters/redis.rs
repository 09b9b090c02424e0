//! The Redis adapters as several instances use them: two sets of adapters over one database and
//! one Redis (a `redis-server` of the test's own), each with its own connections and its own
//! first cache level, as two processes would have.

use std::{sync::Arc, time::Duration as StdDuration};

use chrono::{Duration, Utc};
use forge_application::{
    auth::{SessionChange, ports::PrincipalRepository},
    common::{Changes, UnitOfWork},
    dashboard::{DashboardStats, ProjectCounts, UserCounts, ports::StatsCache},
    health::Probe,
    limits::{
        Limit,
        ports::{RateKey, RateLimiter},
    },
    projects::{ProjectChange, ports::ProjectRepository},
    users::{UserChange, ports::UserRepository},
};
use forge_domain::{
    projects::{NewProject, Project, ProjectName, ProjectRole},
    users::Role,
};
use forge_infrastructure::{
    CacheSettings, CachedProjects, CachedUsers, InvalidatingUnitOfWork, ReadCache, SeaProjectRepository, SeaUnitOfWork,
    SeaUserRepository,
    redis::{Redis, RedisProbe, RedisRateLimiter, RedisStatsCache, listen_for_invalidations, testing::PrivateRedis},
};
use tokio::task::JoinSet;

use crate::common::{Harness, session_for, t0, user};

/// One instance's adapters: its own connection to Redis and its own first cache level.
struct Instance {
    users: Arc<CachedUsers>,
    projects: CachedProjects,
    uow: InvalidatingUnitOfWork,
    cache: Arc<ReadCache>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

async fn instance(h: &Harness, url: &str) -> Instance {
    let redis = Redis::new(url, "it").unwrap();
    let cache = redis.read_cache(CacheSettings::default());
    let listener = tokio::spawn(listen_for_invalidations(redis.clone(), cache.clone()));
    let users = Arc::new(CachedUsers::new(SeaUserRepository::new(&h.database), cache.clone()));
    let projects = CachedProjects::new(SeaProjectRepository::new(&h.database), users.clone(), cache.clone());
    let uow = InvalidatingUnitOfWork::new(Arc::new(SeaUnitOfWork::new(&h.database)), cache.clone());
    wait_until(|| cache.stats().local_enabled).await;
    Instance { users, projects, uow, cache, listener }
}

/// Waits (at most 5 s) until `condition` holds.
async fn wait_until(condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(5);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "the condition did not hold within 5 s");
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_limit_counts_the_hits_of_every_instance_together() {
    let server = PrivateRedis::start();
    let a = Arc::new(RedisRateLimiter::new(&Redis::new(&server.url(), "it").unwrap(), 100));
    let b = Arc::new(RedisRateLimiter::new(&Redis::new(&server.url(), "it").unwrap(), 100));
    let limit = Limit::new(10, Duration::seconds(60)).unwrap();
    let now = Utc::now();
    let mut tasks = JoinSet::new();
    for n in 0..30 {
        let limiter = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move { limiter.hit(&RateKey::new("login:ip", "203.0.113.9"), &limit, now).await.unwrap() });
    }
    let allowed = tasks.join_all().await.iter().filter(|d| d.allowed).count();
    assert_eq!(allowed, 10, "two instances admit the limit together, not each");

    let key = RateKey::new("lockout", "nobody");
    a.record_failure(&key, Duration::minutes(15), now).await.unwrap();
    b.record_failure(&key, Duration::minutes(15), now).await.unwrap();
    assert_eq!(a.failures(&key, now).await.unwrap().map(|s| s.failures), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_redis_limits_count_in_the_process_and_go_back_to_redis_when_it_returns() {
    let mut server = PrivateRedis::start();
    let redis = Redis::new(&server.url(), "it").unwrap();
    let limiter = RedisRateLimiter::new(&redis, 100);
    let probe = RedisProbe::new(&redis);
    let one = Limit::new(1, Duration::seconds(60)).unwrap();
    let key = RateKey::new("login:ip", "198.51.100.1");
    let now = Utc::now();
    assert!(limiter.hit(&key, &one, now).await.unwrap().allowed);
    assert!(probe.check().await.is_ok());
    assert!(!probe.required(), "readiness holds without Redis");

    server.stop();
    let counted_here = limiter.hit(&key, &one, now).await.unwrap();
    assert!(limiter.is_degraded());
    assert!(counted_here.allowed, "the process counts on its own: its first hit of the key");
    assert!(!limiter.hit(&key, &one, now).await.unwrap().allowed, "and still enforces the limit");
    assert!(probe.check().await.is_err());

    server.start_again();
    let mut back = false;
    for _ in 0..100 {
        if limiter.hit(&RateKey::new("login:ip", "198.51.100.2"), &one, now).await.is_ok() && !limiter.is_degraded() {
            back = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    assert!(back, "the limiter went back to Redis by itself");
}

#[tokio::test]
async fn the_statistics_are_shared() {
    let server = PrivateRedis::start();
    let a = RedisStatsCache::new(&Redis::new(&server.url(), "it").unwrap());
    let b = RedisStatsCache::new(&Redis::new(&server.url(), "it").unwrap());
    assert_eq!(b.get().await.unwrap(), None);
    let stats = DashboardStats {
        users: UserCounts { total: 5, active: 4, admins: 1, new_today: 2, new_week: 3 },
        projects: ProjectCounts { total: 7, active: 6 },
        generated_at: t0(),
    };
    a.put(&stats).await.unwrap();
    assert_eq!(b.get().await.unwrap(), Some(stats));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_through_one_instance_is_read_by_the_other_at_once() {
    let server = PrivateRedis::start();
    let h = Harness::new().await;
    let (a, b) = (instance(&h, &server.url()).await, instance(&h, &server.url()).await);
    let ada = user("ada@example.com", "ada");
    let session = session_for(&ada, t0());
    a.uow
        .commit(Changes::new().with(UserChange::Insert(ada.clone())).with(SessionChange::Open(session.clone())))
        .await
        .unwrap();

    // Both instances cache the principal.
    for instance in [&a, &b] {
        for _ in 0..2 {
            let principal = instance.users.principal(ada.id(), session.id).await.unwrap().unwrap();
            assert_eq!((principal.user.role(), principal.session_live), (Role::Member, true));
        }
    }
    assert!(b.cache.stats().local_hits >= 1, "{:?}", b.cache.stats());

    // A role change through A: B reads the new role at once.
    let mut promoted = ada.clone();
    promoted.change_role(Role::Manager, t0() + Duration::minutes(1)).unwrap();
    a.uow.commit(UserChange::Update { user: promoted.clone(), expected_version: ada.version() }.into()).await.unwrap();
    assert_eq!(b.users.principal(ada.id(), session.id).await.unwrap().unwrap().user.role(), Role::Manager);
    assert_eq!(b.users.by_id(ada.id()).await.unwrap().unwrap().role(), Role::Manager);

    // The session ended through B: A refuses it at once.
    b.uow.commit(SessionChange::Revoke { id: session.id, at: t0() + Duration::minutes(2) }.into()).await.unwrap();
    assert!(!a.users.principal(ada.id(), session.id).await.unwrap().unwrap().session_live);
    assert!(!b.users.principal(ada.id(), session.id).await.unwrap().unwrap().session_live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_redis_is_down_reads_come_from_the_database_and_the_cache_is_coherent_when_it_is_back() {
    let mut server = PrivateRedis::start();
    let h = Harness::new().await;
    let (a, b) = (instance(&h, &server.url()).await, instance(&h, &server.url()).await);
    let ada = user("ada@example.com", "ada");
    let session = session_for(&ada, t0());
    a.uow
        .commit(Changes::new().with(UserChange::Insert(ada.clone())).with(SessionChange::Open(session.clone())))
        .await
        .unwrap();
    assert!(b.users.principal(ada.id(), session.id).await.unwrap().unwrap().session_live);

    server.stop();
    wait_until(|| !b.cache.stats().local_enabled).await;
    // Writes and reads go on without Redis; nothing B cached before can be served stale.
    let mut manager = ada.clone();
    manager.change_role(Role::Manager, t0() + Duration::minutes(1)).unwrap();
    a.uow.commit(UserChange::Update { user: manager.clone(), expected_version: ada.version() }.into()).await.unwrap();
    let read = b.users.principal(ada.id(), session.id).await.unwrap().unwrap();
    assert_eq!(read.user.role(), Role::Manager);

    server.start_again();
    wait_until(|| a.cache.stats().local_enabled && b.cache.stats().local_enabled).await;
    assert_eq!(b.users.principal(ada.id(), session.id).await.unwrap().unwrap().user.role(), Role::Manager);
    let mut admin = manager.clone();
    admin.change_role(Role::Admin, t0() + Duration::minutes(2)).unwrap();
    a.uow.commit(UserChange::Update { user: admin, expected_version: manager.version() }.into()).await.unwrap();
    assert_eq!(b.users.principal(ada.id(), session.id).await.unwrap().unwrap().user.role(), Role::Admin);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn projects_and_memberships_changed_through_one_instance_are_read_by_the_other_at_once() {
    let server = PrivateRedis::start();
    let h = Harness::new().await;
    let (a, b) = (instance(&h, &server.url()).await, instance(&h, &server.url()).await);
    let (ada, bob) = (user("ada@example.com", "ada"), user("bob@example.com", "bob"));
    let (mut project, owner) =
        Project::create(ada.id(), NewProject { name: ProjectName::parse("Engine").unwrap(), description: None }, t0());
    let joined = project.add_member(bob.id(), ProjectRole::Viewer, None, t0()).unwrap();
    a.uow
        .commit(
            Changes::new()
                .with(UserChange::Insert(ada.clone()))
                .with(UserChange::Insert(bob.clone()))
                .with(ProjectChange::Insert(project.clone()))
                .with(ProjectChange::AddMember(owner))
                .with(ProjectChange::AddMember(joined.clone())),
        )
        .await
        .unwrap();
    for instance in [&a, &b] {
        for _ in 0..2 {
            assert_eq!(instance.projects.by_id(project.id()).await.unwrap().unwrap().name().as_ref(), "Engine");
            let member = instance.projects.member(project.id(), bob.id()).await.unwrap().unwrap();
            assert_eq!((member.membership.role(), member.username.as_ref()), (ProjectRole::Viewer, "bob"));
        }
    }
    assert!(a.cache.stats().local_hits >= 2, "the second reads came from the first level: {:?}", a.cache.stats());

    let before = project.version();
    project.rename(ProjectName::parse("Difference Engine").unwrap(), t0() + Duration::minutes(1)).unwrap();
    b.uow.commit(ProjectChange::Update { project: project.clone(), expected_version: before }.into()).await.unwrap();
    assert_eq!(a.projects.by_id(project.id()).await.unwrap().unwrap().name().as_ref(), "Difference Engine");

    b.uow
        .commit(
            ProjectChange::RemoveMember {
                project_id: project.id(),
                user_id: bob.id(),
                expected_version: joined.version(),
            }
            .into(),
        )
        .await
        .unwrap();
    assert!(a.projects.member(project.id(), bob.id()).await.unwrap().is_none(), "removed through B, gone on A");
}
