//! The use cases end to end over [`InMemory`], as an embedding service's test would run them:
//! only public items, no database.

use std::time::Instant;

use chrono::Duration;
use forge_domain::{projects::ProjectRole, users::Role};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    ClientContext,
    audit::{AuditAction, EventType, ports::AuditLogQuery},
    auth::{AuthSettings, AuthenticateError, LoginCommand, LoginError, RegisterCommand, RegisterError},
    projects::{AddMemberCommand, CreateProjectCommand, MemberRef, ProjectConflict, ProjectError},
    testing::{DEFAULT_PASSWORD, InMemory},
};

fn register(email: &str, username: &str) -> RegisterCommand {
    RegisterCommand {
        email: email.into(),
        username: username.into(),
        password: SecretString::from("Analytical-Engine-1843"),
        full_name: None,
        context: ClientContext::default(),
    }
}

fn login(identifier: &str, password: &str) -> LoginCommand {
    LoginCommand { identifier: identifier.into(), password: password.into(), context: ClientContext::default() }
}

#[tokio::test]
async fn register_login_authenticate_create_a_project_and_add_a_member_with_no_database() {
    let started = Instant::now();
    let forge = InMemory::new();

    let ada = forge.auth.register(register("ada@example.com", "ada")).await.unwrap();
    let grace = forge.auth.register(register("grace@example.com", "grace")).await.unwrap();
    let session = forge.auth.login(login("ada@example.com", "Analytical-Engine-1843")).await.unwrap();
    let actor =
        forge.auth.authenticate(session.tokens.access_token.expose_secret(), ClientContext::default()).await.unwrap();
    let apollo =
        forge.projects.create(&actor, CreateProjectCommand { name: "Apollo".into(), description: None }).await.unwrap();
    let added = forge
        .projects
        .add_member(
            &actor,
            apollo.project.id(),
            AddMemberCommand { member: MemberRef::Email("grace@example.com".into()), role: "viewer".into() },
        )
        .await
        .unwrap();

    assert_eq!(actor.id(), ada.id());
    assert_eq!((added.member.membership.user_id(), added.member.membership.role()), (grace.id(), ProjectRole::Viewer));
    let events = forge.store.outbox_events();
    assert_eq!(
        events.iter().map(|e| (e.event_type, e.recipient)).collect::<Vec<_>>(),
        [(EventType::ProjectMemberAdded, grace.id())]
    );
    let actions: Vec<AuditAction> = forge.store.audit_records().iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::UserRegistered,
            AuditAction::UserRegistered,
            AuditAction::SessionCreated,
            AuditAction::ProjectCreated,
            AuditAction::ProjectMemberAdded,
        ]
    );
    assert_eq!(forge.mail.last_to("grace@example.com").unwrap().subject, "verify_email");
    let again = forge
        .projects
        .add_member(
            &actor,
            apollo.project.id(),
            AddMemberCommand { member: MemberRef::Id(grace.id()), role: "viewer".into() },
        )
        .await;
    assert!(matches!(again, Err(ProjectError::Conflict(ProjectConflict::AlreadyMember))), "{again:?}");
    let admin = forge.actor(Role::Admin).store_in(&forge.store).unwrap();
    let query = AuditLogQuery {
        filter: crate::audit::ports::AuditLogFilter { project_id: Some(apollo.project.id()), ..Default::default() },
        ..Default::default()
    };
    let of_apollo = forge.audit.list(&admin, &query).await.unwrap();
    let actions: Vec<AuditAction> = of_apollo.items.iter().map(|e| e.action).collect();
    assert_eq!(actions, [AuditAction::ProjectMemberAdded, AuditAction::ProjectCreated], "newest first");
    // Milliseconds in a debug build (a real password hasher alone would take seconds); printed
    // with `--nocapture`, not asserted: timings are for the benchmarks.
    println!("the use cases took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_mailed_link_verifies_the_address_and_a_taken_address_is_refused() {
    let forge = InMemory::new();
    let ada = forge.auth.register(register("ada@example.com", "ada")).await.unwrap();

    let token = forge.mail.last_token_to("ada@example.com").unwrap();
    forge.account.verify_email(SecretString::from(token.clone()), ClientContext::default()).await.unwrap();

    assert!(forge.users.get(&forge.actor(Role::Admin).build().unwrap(), ada.id()).await.unwrap().is_verified());
    assert!(forge.account.verify_email(SecretString::from(token), ClientContext::default()).await.is_err(), "once");
    let taken = forge.auth.register(register("ADA@example.com", "other")).await;
    assert!(matches!(taken, Err(RegisterError::EmailTaken)), "{taken:?}");
}

#[tokio::test]
async fn access_tokens_expire_with_the_clock_and_logout_revokes_the_session() {
    let forge = InMemory::new();
    let ada = forge.actor(Role::Member).email("ada@example.com").username("ada").store_in(&forge.store).unwrap();
    let session = forge.auth.login(login("ada@example.com", DEFAULT_PASSWORD)).await.unwrap();
    let token = session.tokens.access_token.expose_secret().to_owned();

    let actor = forge.auth.authenticate(&token, ClientContext::default()).await.unwrap();
    assert_eq!(actor.id(), ada.id());
    forge.auth.logout(&actor).await.unwrap();
    let revoked = forge.auth.authenticate(&token, ClientContext::default()).await;
    assert!(matches!(revoked, Err(AuthenticateError::Revoked)), "{revoked:?}");

    let fresh = forge.auth.login(login("ada", DEFAULT_PASSWORD)).await.unwrap();
    forge.clock.advance(Duration::minutes(16));
    let expired = forge.auth.authenticate(fresh.tokens.access_token.expose_secret(), ClientContext::default()).await;
    assert!(matches!(expired, Err(AuthenticateError::Expired)), "{expired:?}");
}

#[tokio::test]
async fn the_lockout_guards_every_login_as_on_the_server_and_can_be_left_out() {
    let forge = InMemory::new();
    forge.actor(Role::Member).email("ada@example.com").store_in(&forge.store).unwrap();

    for _ in 0..3 {
        let refused = forge.auth.login(login("ada@example.com", "wrong")).await;
        assert!(matches!(refused, Err(LoginError::InvalidCredentials)), "{refused:?}");
    }
    let slowed = forge.auth.login(login("ada@example.com", DEFAULT_PASSWORD)).await;
    assert!(matches!(slowed, Err(LoginError::RateLimited { .. })), "{slowed:?}");
    forge.clock.advance(Duration::seconds(1));
    assert!(forge.auth.login(login("ada@example.com", DEFAULT_PASSWORD)).await.is_ok());

    let lenient = InMemory::builder()
        .without_lockout()
        .auth(AuthSettings { allow_registration: false, ..AuthSettings::default() })
        .build();
    lenient.actor(Role::Member).email("ada@example.com").store_in(&lenient.store).unwrap();
    for _ in 0..5 {
        assert!(lenient.auth.login(login("ada@example.com", "wrong")).await.is_err());
    }
    assert!(lenient.auth.login(login("ada@example.com", DEFAULT_PASSWORD)).await.is_ok());
    let closed = lenient.auth.register(register("grace@example.com", "grace")).await;
    assert!(matches!(closed, Err(RegisterError::RegistrationClosed)), "{closed:?}");
}

#[tokio::test]
async fn an_admin_reads_the_trail_and_the_statistics_of_the_store() {
    let forge = InMemory::new();
    let admin = forge.actor(Role::Admin).store_in(&forge.store).unwrap();
    forge.auth.register(register("ada@example.com", "ada")).await.unwrap();

    let trail = forge.audit.list(&admin, &AuditLogQuery::default()).await.unwrap();
    let stats = forge.dashboard.stats(&admin).await.unwrap();

    assert_eq!(trail.items.iter().map(|e| e.action).collect::<Vec<_>>(), [AuditAction::UserRegistered]);
    assert_eq!((stats.users.total, stats.users.admins, stats.projects.total), (2, 1, 0));
    assert!(forge.health.check().await.is_ready());
    assert!(forge.metrics.database(&admin).is_ok());
}
