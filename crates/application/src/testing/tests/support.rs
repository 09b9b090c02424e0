//! The clock, the mail fakes and the operational fakes.

use chrono::Duration;
use forge_domain::users::Email;
use secrecy::SecretString;

use super::t0;
use crate::{
    common::{Clock, UnexpectedKind},
    health::{HealthService, Probe},
    mail::{MailQueue, MailTemplates, Notice},
    metrics::{DatabaseBackend, DatabaseMetrics},
    testing::{FakeDatabaseMetrics, FakeProbe, FixedClock, PlainMailTemplates, RecordingMailQueue, link_token},
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
