//! The clock, the mail fakes, the limiter, the actor builder and the operational fakes.

use chrono::Duration;
use forge_domain::users::{Email, PasswordPolicy, Role};
use secrecy::SecretString;

use super::t0;
use crate::{
    common::{Clock, UnexpectedKind},
    health::{HealthService, Probe},
    limits::{
        Limit,
        ports::{RateKey, RateLimiter},
    },
    mail::{MailQueue, MailTemplates, Notice},
    metrics::{DatabaseBackend, DatabaseMetrics},
    testing::{
        ActorBuilder, ActorError, DEFAULT_PASSWORD, FakeDatabaseMetrics, FakePasswordHasher, FakeProbe,
        FakeRateLimiter, FixedClock, InMemoryStore, PlainMailTemplates, RecordingMailQueue, link_token,
    },
};

#[test]
fn a_fixed_clock_moves_only_when_told() {
    let clock = FixedClock::default();
    assert_eq!(clock.now(), t0());
    assert_eq!(clock.advance(Duration::minutes(5)), t0() + Duration::minutes(5));
    assert_eq!(clock.now(), t0() + Duration::minutes(5));
    clock.set(t0() - Duration::days(1));
    assert_eq!(clock.now(), t0() - Duration::days(1));
    clock.advance(Duration::MAX);
    assert_eq!(clock.now(), chrono::DateTime::<chrono::Utc>::MAX_UTC, "stops at the end of time");
}

#[tokio::test]
async fn mailed_notices_are_recorded_by_address_with_the_token_of_their_link() {
    let templates = PlainMailTemplates::new();
    let queue = RecordingMailQueue::new();
    let ada = Email::parse("ada@example.com").unwrap();
    let verify = Notice::VerifyEmail {
        username: "ada".into(),
        link: SecretString::from("http://localhost:3000/verify-email?token=abc-DEF_123"),
        valid_for: Duration::hours(24),
    };
    let changed = Notice::PasswordChanged { username: "ada".into(), at: t0() };

    for notice in [verify, changed] {
        queue.enqueue(templates.render(&ada, &notice).unwrap()).await.unwrap();
    }

    assert_eq!(queue.len(), 2);
    let subjects: Vec<String> = queue.to("ADA@example.com").into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects, ["verify_email", "password_changed"]);
    assert_eq!(queue.last_token_to("ada@example.com").as_deref(), Some("abc-DEF_123"));
    assert!(queue.messages()[0].html.contains("token=abc-DEF_123"));
    assert!(queue.to("grace@example.com").is_empty() && queue.last_to("grace@example.com").is_none());
    assert_eq!(link_token("no link here"), None);
    queue.clear();
    assert!(queue.is_empty());
}

#[tokio::test]
async fn the_limiter_counts_hits_in_a_window_and_forgets_failures_after_a_quiet_spell() {
    let limiter = FakeRateLimiter::new();
    let key = RateKey::new("login:ip", "203.0.113.9");
    let limit = Limit::new(2, Duration::seconds(60)).unwrap();

    let decisions = [
        limiter.hit(&key, &limit, t0()).await.unwrap(),
        limiter.hit(&key, &limit, t0() + Duration::seconds(10)).await.unwrap(),
        limiter.hit(&key, &limit, t0() + Duration::seconds(20)).await.unwrap(),
    ];
    assert_eq!(decisions.map(|d| d.allowed), [true, true, false]);
    assert_eq!(decisions[2].retry_after, Some(Duration::seconds(40)));
    assert!(limiter.hit(&key, &limit, t0() + Duration::seconds(60)).await.unwrap().allowed, "a new window");

    let who = RateKey::new("lockout", "nobody");
    limiter.record_failure(&who, Duration::minutes(15), t0()).await.unwrap();
    let second = limiter.record_failure(&who, Duration::minutes(15), t0() + Duration::minutes(10)).await.unwrap();
    assert_eq!(second.failures, 2);
    assert_eq!(limiter.failures(&who, t0() + Duration::minutes(24)).await.unwrap(), Some(second));
    assert_eq!(limiter.failures(&who, t0() + Duration::minutes(25)).await.unwrap(), None);
}

#[test]
fn an_actor_is_built_with_unique_identities_and_stored_on_request() {
    let store = InMemoryStore::new();
    let admin = ActorBuilder::admin().store_in(&store).unwrap();
    let other = ActorBuilder::admin().build().unwrap();

    assert_eq!(admin.role(), Role::Admin);
    assert_ne!(admin.user().email(), other.user().email());
    assert!(admin.user().is_active() && admin.user().is_verified() && admin.session_id().is_none());
    assert!(FakePasswordHasher::new().matches(DEFAULT_PASSWORD, admin.user().password_hash()));
    assert_eq!(PasswordPolicy::default().check(DEFAULT_PASSWORD, &[]), Ok(()), "a test may type it in");
    let taken = ActorBuilder::member().email(admin.user().email().as_ref()).store_in(&store);
    assert!(matches!(taken, Err(ActorError::NotStored(_))), "{taken:?}");
    let invalid = ActorBuilder::member().email("not an address").username("").build().unwrap_err();
    let fields: Vec<&str> = invalid.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["email", "username"]);
}

#[tokio::test]
async fn probes_and_database_figures_report_what_they_are_told() {
    let probe = std::sync::Arc::new(FakeProbe::up());
    let health = HealthService::new().with_probe("database", probe.clone());
    assert!(health.check().await.is_ready());
    probe.set_up(false);
    assert_eq!(probe.check().await.unwrap_err().kind(), UnexpectedKind::Unavailable);
    assert!(!health.check().await.is_ready());

    let metrics = FakeDatabaseMetrics::default();
    assert_eq!(metrics.figures().backend, DatabaseBackend::Sqlite);
    metrics.set(crate::metrics::DatabaseFigures { statements: 7, ..metrics.figures() });
    assert_eq!(metrics.figures().statements, 7);
}
