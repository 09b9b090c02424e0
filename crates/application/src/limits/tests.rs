//! Unit tests of request limits and the lockout, every port mocked. Storage is played by small
//! fakes behind the mocks (a throttle row, a limiter streak) so that a test can run a whole
//! sequence of logins and watch the delays grow.

use crate::auth::SessionChange;
use crate::limits::ThrottleChange;
use crate::test_support::Written;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use chrono::{DateTime, Duration, Utc};
use forge_domain::{
    sessions::TokenDigest,
    users::{Role, User, UserId},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    Decision, Limit, LimitService, LimitedAction, LockoutPolicy, LockoutPorts, LockoutService, RateLimitSettings,
    ports::{FailureStreak, LoginThrottle, MockLoginThrottleRepository, MockRateLimiter, RateKey},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditValue},
    auth::{
        AuthPorts, AuthService, AuthSettings, LoginCommand, LoginError,
        ports::{
            IssuedAccessToken, MockAccessTokens, MockOpaqueTokens, MockPasswordHasher, MockPrincipalRepository,
            MockSessionRepository,
        },
    },
    common::{Changes, ClientContext, CommitError, MockClock, MockUnitOfWork},
    test_support::{Commits, a_user, acting_as, now, record_commits},
    users::{UserError, ports::MockUserRepository},
};

const PASSWORD: &str = "Correct-Horse-42-Battery";
const WRONG: &str = "Wrong-Horse-42-Battery";

/// A clock the test moves.
#[derive(Clone)]
struct Time(Arc<Mutex<DateTime<Utc>>>);

impl Time {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(now())))
    }

    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    fn mock(&self) -> MockClock {
        let time = self.clone();
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || time.now());
        clock
    }
}

/// The stored throttle of the one account, as the unit of work leaves it.
type Row = Arc<Mutex<Option<LoginThrottle>>>;

/// The limiter's failure streaks, with the instant each is forgotten.
type Streaks = Arc<Mutex<HashMap<RateKey, (FailureStreak, DateTime<Utc>)>>>;

/// An [`AuthService`] with a [`LockoutService`] over fakes, for one account (or none).
struct Bench {
    auth: AuthService,
    time: Time,
    commits: Commits,
    row: Row,
    streaks: Streaks,
    verifications: Arc<AtomicUsize>,
}

impl Bench {
    /// `account` exists (found by its e-mail address); anything else names no account.
    fn new(account: Option<&User>) -> Self {
        Self::with_commit_outcome(account, |_, _| None)
    }

    /// As [`Bench::new`], with the `n`th commit (from 0) answered by `outcome(n, row)` when it
    /// says so, instead of being applied.
    fn with_commit_outcome(
        account: Option<&User>,
        outcome: impl Fn(usize, &Row) -> Option<CommitError> + Send + Sync + 'static,
    ) -> Self {
        let time = Time::new();
        let row: Row = Arc::default();
        let streaks: Streaks = Arc::default();
        let verifications = Arc::new(AtomicUsize::new(0));

        let mut users = MockUserRepository::new();
        let found = account.cloned();
        users.expect_by_email().returning(move |email| Ok(found.clone().filter(|u| u.email() == email)));
        let found = account.cloned();
        users.expect_by_id().returning(move |id| Ok(found.clone().filter(|u| u.id() == id)));

        let mut throttles = MockLoginThrottleRepository::new();
        let stored = row.clone();
        throttles.expect_for_user().returning(move |id| Ok(stored.lock().unwrap().filter(|t| t.user_id == id)));

        let mut limiter = MockRateLimiter::new();
        let held = streaks.clone();
        limiter.expect_failures().returning(move |key, now| {
            Ok(held.lock().unwrap().get(key).filter(|(_, forget_at)| now < *forget_at).map(|(s, _)| *s))
        });
        let held = streaks.clone();
        limiter.expect_record_failure().returning(move |key, forget_after, now| {
            let mut held = held.lock().unwrap();
            let failures = held.get(key).filter(|(_, forget_at)| now < *forget_at).map_or(0, |(s, _)| s.failures) + 1;
            let streak = FailureStreak { failures, last_failure_at: now };
            held.insert(key.clone(), (streak, now + forget_after));
            Ok(streak)
        });

        let mut unit_of_work = MockUnitOfWork::new();
        let raced = row.clone();
        let commits = record_commits(&mut unit_of_work, move |n| outcome(n, &raced).map_or(Ok(()), Err));
        let unit_of_work = Applying { inner: unit_of_work, row: row.clone() };

        let mut hasher = MockPasswordHasher::new();
        let counted = verifications.clone();
        hasher.expect_verify().returning(move |password, hash| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(hash.is_some() && password.expose_secret() == PASSWORD)
        });
        let mut opaque_tokens = MockOpaqueTokens::new();
        opaque_tokens
            .expect_generate()
            .returning(|| (SecretString::from("refresh"), TokenDigest::new("digest".into())));
        let mut access_tokens = MockAccessTokens::new();
        access_tokens
            .expect_issue()
            .returning(|_, _, _| Ok(IssuedAccessToken { token: SecretString::from("access"), expires_in: 900 }));

        let users = Arc::new(users);
        let unit_of_work = Arc::new(unit_of_work);
        let lockout = LockoutService::new(
            LockoutPorts {
                users: users.clone(),
                throttles: Arc::new(throttles),
                limiter: Arc::new(limiter),
                unit_of_work: unit_of_work.clone(),
                clock: Arc::new(time.mock()),
            },
            LockoutPolicy::default(),
        );
        let auth = AuthService::new(
            AuthPorts {
                users,
                sessions: Arc::new(MockSessionRepository::new()),
                unit_of_work,
                hasher: Arc::new(hasher),
                access_tokens: Arc::new(access_tokens),
                opaque_tokens: Arc::new(opaque_tokens),
                principals: Arc::new(MockPrincipalRepository::new()),
                clock: Arc::new(time.mock()),
                mail_templates: Arc::new(crate::mail::MockMailTemplates::new()),
                mail_queue: Arc::new(crate::mail::MockMailQueue::new()),
            },
            AuthSettings::default(),
        )
        .with_lockout(lockout);
        Self { auth, time, commits, row, streaks, verifications }
    }

    async fn login(&self, identifier: &str, password: &str) -> Result<(), LoginError> {
        let context = ClientContext { ip: Some("203.0.113.9".into()), ..ClientContext::default() };
        self.auth
            .login(LoginCommand { identifier: identifier.into(), password: SecretString::from(password), context })
            .await
            .map(|_| ())
    }

    fn verifications(&self) -> usize {
        self.verifications.load(Ordering::SeqCst)
    }

    fn stored(&self) -> Option<LoginThrottle> {
        *self.row.lock().unwrap()
    }
}

/// A unit of work that records every commit (answering as told) and applies the throttle
/// changes to the fake row, with the guard the real one keeps.
struct Applying {
    inner: MockUnitOfWork,
    row: Row,
}

#[async_trait::async_trait]
impl crate::common::UnitOfWork for Applying {
    async fn commit(&self, changes: Changes) -> Result<(), CommitError> {
        let throttles: Vec<ThrottleChange> = changes.of::<ThrottleChange>().cloned().collect();
        self.inner.commit(changes).await?;
        let mut row = self.row.lock().unwrap();
        for change in throttles {
            match change {
                ThrottleChange::Save { throttle, expected } => {
                    if *row != expected {
                        return Err(CommitError::Stale);
                    }
                    *row = Some(throttle);
                }
                ThrottleChange::Clear { .. } => *row = None,
            }
        }
        Ok(())
    }
}

/// What a login attempt answered, in a form two runs can be compared by.
fn outcome(result: &Result<(), LoginError>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(LoginError::InvalidCredentials) => "invalid credentials".into(),
        Err(LoginError::RateLimited { retry_after }) => format!("rate limited for {}s", retry_after.num_seconds()),
        Err(LoginError::AccountLocked { retry_after }) => format!("locked for {}s", retry_after.num_seconds()),
        Err(LoginError::Unexpected(e)) => format!("unexpected: {e}"),
    }
}

/// Fails `n` logins of `identifier` in a row, each as soon as the lockout admits it.
async fn fail_in_a_row(bench: &Bench, identifier: &str, n: u32) {
    for _ in 0..n {
        match bench.login(identifier, WRONG).await {
            Err(LoginError::InvalidCredentials) => {}
            Err(LoginError::RateLimited { retry_after }) => {
                bench.time.advance(retry_after);
                let again = bench.login(identifier, WRONG).await;
                assert!(matches!(again, Err(LoginError::InvalidCredentials)), "{}", outcome(&again));
            }
            other => panic!("unexpected {}", outcome(&other)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the lockout

#[tokio::test]
async fn after_three_failures_each_attempt_waits_one_then_two_then_four_seconds() {
    let ada = a_user(Role::Member).build();
    let bench = Bench::new(Some(&ada));
    let email = ada.email().as_ref().to_owned();
    for _ in 0..3 {
        assert!(matches!(bench.login(&email, WRONG).await, Err(LoginError::InvalidCredentials)));
    }

    for expected in [1, 2, 4] {
        let verified = bench.verifications();
        let refused = bench.login(&email, PASSWORD).await;
        assert_eq!(outcome(&refused), format!("rate limited for {expected}s"));
        assert_eq!(bench.verifications(), verified, "the password is not checked while waiting");
        bench.time.advance(Duration::seconds(expected) - Duration::milliseconds(1));
        assert!(matches!(bench.login(&email, WRONG).await, Err(LoginError::RateLimited { .. })));
        bench.time.advance(Duration::milliseconds(1));
        assert!(matches!(bench.login(&email, WRONG).await, Err(LoginError::InvalidCredentials)));
    }
    assert_eq!(bench.stored().map(|t| t.failures), Some(6));
    assert!(bench.commits.audit_actions().is_empty(), "no lock yet");
}

#[tokio::test]
async fn the_tenth_failure_locks_the_account_and_writes_user_locked() {
    let ada = a_user(Role::Member).build();
    let bench = Bench::new(Some(&ada));
    let email = ada.email().as_ref().to_owned();

    fail_in_a_row(&bench, &email, 9).await;
    assert_eq!(bench.stored().and_then(|t| t.locked_until), None);
    fail_in_a_row(&bench, &email, 1).await;

    let stored = bench.stored().expect("a throttle row");
    assert_eq!(stored.failures, 10);
    assert_eq!(stored.locked_until, Some(bench.time.now() + Duration::minutes(15)));
    let [audit] = bench.commits.audits().try_into().expect("one audit entry");
    assert_eq!(audit.action, AuditAction::UserLocked);
    assert_eq!((audit.entity_type, audit.entity_id.clone()), (AuditEntity::User, ada.id().to_string()));
    assert_eq!(audit.actor_id, None, "the system locked it");
    assert_eq!(audit.context.ip.as_deref(), Some("203.0.113.9"));
    let after = audit.after.expect("the lock");
    assert_eq!(after.get("failed_logins"), Some(&AuditValue::Int(10)));
    assert_eq!(after.get("locked_until"), Some(&AuditValue::Time(bench.time.now() + Duration::minutes(15))));
}

#[tokio::test]
async fn a_locked_account_refuses_even_the_right_password_until_the_lock_ends() {
    let ada = a_user(Role::Member).build();
    let bench = Bench::new(Some(&ada));
    let email = ada.email().as_ref().to_owned();
    fail_in_a_row(&bench, &email, 10).await;
    let verified = bench.verifications();

    let refused = bench.login(&email, PASSWORD).await;
    assert_eq!(outcome(&refused), "locked for 900s");
    bench.time.advance(Duration::minutes(14));
    assert_eq!(outcome(&bench.login(&email, PASSWORD).await), "locked for 60s");
    assert_eq!(bench.verifications(), verified, "no password is checked while locked");

    bench.time.advance(Duration::minutes(1));
    assert_eq!(outcome(&bench.login(&email, PASSWORD).await), "ok");
}

#[tokio::test]
async fn a_success_forgets_the_failures_in_the_commit_that_opens_the_session() {
    let ada = a_user(Role::Member).build();
    let bench = Bench::new(Some(&ada));
    let email = ada.email().as_ref().to_owned();
    fail_in_a_row(&bench, &email, 2).await;

    bench.login(&email, PASSWORD).await.unwrap();

    let last = bench.commits.all().pop().expect("the login's commit");
    assert!(matches!(last.first(), Some(Written::Session(SessionChange::Open(_)))), "{last:#?}");
    assert!(
        matches!(last.last(), Some(Written::Throttle(ThrottleChange::Clear { user_id })) if *user_id == ada.id()),
        "{last:#?}"
    );
    assert_eq!(bench.stored(), None);
    fail_in_a_row(&bench, &email, 3).await;
    assert_eq!(bench.stored().map(|t| t.failures), Some(3), "counting starts over");
}

#[tokio::test]
async fn a_login_without_failures_on_record_writes_nothing_for_the_lockout() {
    let ada = a_user(Role::Member).build();
    let bench = Bench::new(Some(&ada));

    bench.login(ada.email().as_ref(), PASSWORD).await.unwrap();

    let changes = bench.commits.single();
    assert!(!changes.iter().any(|c| matches!(c, Written::Throttle(ThrottleChange::Clear { .. }))), "{changes:#?}");
}

#[tokio::test]
async fn failures_are_forgotten_fifteen_minutes_after_the_latest() {
    let ada = a_user(Role::Member).build();
    let bench = Bench::new(Some(&ada));
    let email = ada.email().as_ref().to_owned();
    fail_in_a_row(&bench, &email, 5).await;

    bench.time.advance(Duration::minutes(15));
    fail_in_a_row(&bench, &email, 1).await;

    assert_eq!(bench.stored().map(|t| t.failures), Some(1));
}

#[tokio::test]
async fn an_unknown_identifier_is_slowed_and_locked_exactly_like_an_account() {
    let ada = a_user(Role::Member).build();
    let known = Bench::new(Some(&ada));
    let unknown = Bench::new(None);

    let mut seen = Vec::new();
    for (bench, identifier) in [(&known, ada.email().as_ref()), (&unknown, "Nobody@Example.com")] {
        let mut answers = Vec::new();
        for step in 0..30 {
            answers.push(outcome(&bench.login(identifier, WRONG).await));
            // Wait a little less than the delays sometimes, a little more at others.
            bench.time.advance(Duration::seconds([1, 3, 70][step % 3]));
        }
        bench.time.advance(Duration::minutes(15));
        answers.push(outcome(&bench.login(identifier, WRONG).await));
        seen.push((answers, bench.verifications()));
    }

    assert_eq!(seen[0], seen[1], "the same answers, and the same number of password checks");
    assert!(seen[1].0.iter().any(|a| a.starts_with("rate limited")), "{:?}", seen[1].0);
    assert!(seen[1].0.iter().any(|a| a.starts_with("locked")), "{:?}", seen[1].0);
    assert_eq!(seen[1].0.last().map(String::as_str), Some("invalid credentials"), "the lock ended");
    assert_eq!(unknown.stored(), None, "nothing is stored for an identifier that names no account");
    let streaks = unknown.streaks.lock().unwrap();
    assert!(streaks.contains_key(&RateKey::new("lockout", "nobody@example.com")), "{:?}", streaks.keys());
}

#[tokio::test]
async fn an_unknown_identifier_is_counted_under_its_normalized_form() {
    let bench = Bench::new(None);
    for identifier in ["Nobody@Example.com", " nobody@example.COM ", "nobody@example.com"] {
        assert!(matches!(bench.login(identifier, WRONG).await, Err(LoginError::InvalidCredentials)));
    }
    assert_eq!(outcome(&bench.login("NOBODY@example.com", WRONG).await), "rate limited for 1s");
}

#[tokio::test]
async fn a_failure_that_lost_a_race_is_counted_again_on_the_fresh_row() {
    let ada = a_user(Role::Member).build();
    // The second failure's commit loses to a failure another instance counted meanwhile.
    let bench = Bench::with_commit_outcome(Some(&ada), |n, row| {
        (n == 1).then(|| {
            let mut row = row.lock().unwrap();
            if let Some(throttle) = row.as_mut() {
                throttle.failures += 1;
            }
            CommitError::Stale
        })
    });
    let email = ada.email().as_ref().to_owned();
    fail_in_a_row(&bench, &email, 2).await;

    assert_eq!(bench.stored().map(|t| t.failures), Some(3));
    let saves: Vec<Option<u32>> = bench
        .commits
        .all()
        .into_iter()
        .flatten()
        .filter_map(|c| match c {
            Written::Throttle(ThrottleChange::Save { expected, .. }) => Some(expected.map(|t| t.failures)),
            _ => None,
        })
        .collect();
    assert_eq!(saves, [None, Some(1), Some(2)], "the retry is based on the row as it is now");
}

// ---------------------------------------------------------------------------------------------
// unlock

/// A lockout service over mocks, with `stored` as the throttle of whichever user is asked about.
fn unlock_service(
    users: MockUserRepository,
    stored: Option<LoginThrottle>,
    unit_of_work: MockUnitOfWork,
) -> LockoutService {
    let mut throttles = MockLoginThrottleRepository::new();
    throttles.expect_for_user().returning(move |_| Ok(stored));
    LockoutService::new(
        LockoutPorts {
            users: Arc::new(users),
            throttles: Arc::new(throttles),
            limiter: Arc::new(MockRateLimiter::new()),
            unit_of_work: Arc::new(unit_of_work),
            clock: Arc::new(Time::new().mock()),
        },
        LockoutPolicy::default(),
    )
}

fn finding(user: &User) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    let (id, found) = (user.id(), user.clone());
    users.expect_by_id().withf(move |asked| *asked == id).returning(move |_| Ok(Some(found.clone())));
    users
}

fn a_lock_of(user_id: UserId) -> LoginThrottle {
    LoginThrottle {
        user_id,
        failures: 10,
        last_failure_at: now() - Duration::minutes(1),
        locked_until: Some(now() + Duration::minutes(14)),
    }
}

#[tokio::test]
async fn an_admin_unlocks_an_account_and_the_trail_says_who() {
    let admin = a_user(Role::Admin).build();
    let ada = a_user(Role::Member).build();
    let mut unit_of_work = MockUnitOfWork::new();
    let commits = record_commits(&mut unit_of_work, |_| Ok(()));
    let service = unlock_service(finding(&ada), Some(a_lock_of(ada.id())), unit_of_work);

    service.unlock(&acting_as(&admin), ada.id()).await.unwrap();

    let changes = commits.single();
    assert!(
        matches!(changes.as_slice(), [Written::Throttle(ThrottleChange::Clear { user_id })] if *user_id == ada.id())
    );
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!(audit.action, AuditAction::UserUnlocked);
    assert_eq!((audit.entity_type, audit.entity_id.clone()), (AuditEntity::User, ada.id().to_string()));
    assert_eq!(audit.actor_id, Some(admin.id()));
    let before = audit.before.expect("the lock that was lifted");
    assert_eq!(before.get("failed_logins"), Some(&AuditValue::Int(10)));
    assert_eq!(before.get("locked_until"), Some(&AuditValue::Time(now() + Duration::minutes(14))));
    let after = audit.after.expect("no lock");
    assert_eq!(after.get("failed_logins"), Some(&AuditValue::Int(0)));
    assert_eq!(after.get("locked_until"), Some(&AuditValue::Null));
}

#[tokio::test]
async fn unlocking_is_for_admins_only_and_checked_before_anything_is_read() {
    let ada = a_user(Role::Member).build();
    for role in [Role::Manager, Role::Member] {
        let actor = a_user(role).build();
        let mut users = MockUserRepository::new();
        users.expect_by_id().never();
        let mut unit_of_work = MockUnitOfWork::new();
        unit_of_work.expect_commit().never();
        let service = unlock_service(users, Some(a_lock_of(ada.id())), unit_of_work);

        let err = service.unlock(&acting_as(&actor), ada.id()).await.unwrap_err();

        assert!(matches!(err, UserError::Forbidden), "{role:?}: {err:?}");
    }
}

#[tokio::test]
async fn unlocking_an_unknown_or_deleted_user_is_not_found() {
    let admin = a_user(Role::Admin).build();
    let deleted = a_user(Role::Member).deleted().build();
    let mut users = MockUserRepository::new();
    let found = deleted.clone();
    users.expect_by_id().returning(move |id| Ok((id == found.id()).then(|| found.clone())));
    let mut unit_of_work = MockUnitOfWork::new();
    unit_of_work.expect_commit().never();
    let service = unlock_service(users, Some(a_lock_of(deleted.id())), unit_of_work);

    for id in [deleted.id(), UserId::generate()] {
        let err = service.unlock(&acting_as(&admin), id).await.unwrap_err();
        assert!(matches!(err, UserError::NotFound), "{err:?}");
    }
}

#[tokio::test]
async fn unlocking_an_account_that_is_not_locked_changes_nothing() {
    let admin = a_user(Role::Admin).build();
    let ada = a_user(Role::Member).build();
    let mut unit_of_work = MockUnitOfWork::new();
    unit_of_work.expect_commit().never();
    let service = unlock_service(finding(&ada), None, unit_of_work);

    service.unlock(&acting_as(&admin), ada.id()).await.unwrap();
}

#[tokio::test]
async fn after_an_unlock_the_right_password_works_at_once() {
    let admin = a_user(Role::Admin).build();
    let ada = a_user(Role::Member).build();
    let bench = Bench::new(Some(&ada));
    let email = ada.email().as_ref().to_owned();
    fail_in_a_row(&bench, &email, 10).await;
    assert!(matches!(bench.login(&email, PASSWORD).await, Err(LoginError::AccountLocked { .. })));
    let mut unit_of_work = MockUnitOfWork::new();
    let row = bench.row.clone();
    unit_of_work.expect_commit().returning(move |changes| {
        if changes.of::<ThrottleChange>().any(|c| matches!(c, ThrottleChange::Clear { .. })) {
            *row.lock().unwrap() = None;
        }
        Ok(())
    });
    let service = unlock_service(finding(&ada), bench.stored(), unit_of_work);

    service.unlock(&acting_as(&admin), ada.id()).await.unwrap();

    assert_eq!(outcome(&bench.login(&email, PASSWORD).await), "ok");
}

// ---------------------------------------------------------------------------------------------
// request limits

fn limits(enabled: bool, limiter: MockRateLimiter) -> LimitService {
    LimitService::new(
        Arc::new(limiter),
        Arc::new(Time::new().mock()),
        RateLimitSettings { enabled, ..RateLimitSettings::default() },
    )
}

fn allowed(limit: &Limit) -> Decision {
    Decision::from_count(limit, 1, limit.window())
}

#[tokio::test]
async fn switched_off_limits_count_nothing() {
    let mut limiter = MockRateLimiter::new();
    limiter.expect_hit().never();
    let service = limits(false, limiter);

    assert_eq!(service.check_client(LimitedAction::Login, Some("203.0.113.7".parse().unwrap())).await.unwrap(), None);
    assert_eq!(service.check_account("ada@example.com").await.unwrap(), None);
}

#[tokio::test]
async fn each_action_is_counted_per_address_under_its_own_limit() {
    let settings = RateLimitSettings::default();
    for action in LimitedAction::ALL {
        let expected_key = RateKey::new(&format!("{}:ip", action.as_str()), "203.0.113.7");
        let expected_limit = settings.per_ip(action);
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_hit()
            .withf(move |key, limit, at| *key == expected_key && *limit == expected_limit && *at == now())
            .times(1)
            .returning(|_, limit, _| Ok(allowed(limit)));
        let service = limits(true, limiter);

        let decision = service.check_client(action, Some("203.0.113.7".parse().unwrap())).await.unwrap();

        assert_eq!(decision.map(|d| d.limit), Some(expected_limit.max()), "{action:?}");
    }
}

#[tokio::test]
async fn ipv6_clients_share_the_budget_of_their_64_network() {
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_hit()
        .withf(|key, _, _| key.as_str() == "register:ip:2001:db8:1:2::/64")
        .times(2)
        .returning(|_, limit, _| Ok(allowed(limit)));
    let service = limits(true, limiter);

    for ip in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::2"] {
        service.check_client(LimitedAction::Register, Some(ip.parse().unwrap())).await.unwrap();
    }
}

#[tokio::test]
async fn logins_are_counted_per_normalized_account_identifier() {
    let mut limiter = MockRateLimiter::new();
    let login_per_account = RateLimitSettings::default().login_per_account;
    limiter
        .expect_hit()
        .withf(move |key, limit, _| key.as_str() == "login:account:ada@example.com" && *limit == login_per_account)
        .times(1)
        .returning(|_, limit, _| Ok(Decision::from_count(limit, u64::from(limit.max()) + 1, Duration::seconds(7))));
    let service = limits(true, limiter);

    let decision = service.check_account(" Ada@Example.COM ").await.unwrap().unwrap();

    assert!(!decision.allowed);
    assert_eq!(decision.retry_after, Some(Duration::seconds(7)));
}
