//! What a commit tells connected clients, and who receives what.

use std::sync::{Arc, Mutex};

use forge_domain::sessions::TokenDigest;
use forge_domain::{
    projects::{Membership, MembershipParts, ProjectRole},
    users::Role,
};
use secrecy::SecretString;

use super::*;
use crate::{
    audit::AuditValue,
    auth::ports::{MockOpaqueTokens, MockPrincipalRepository, Principal},
    common::{Actor, ClientContext, CommitError, MockUnitOfWork, UnitOfWork as _},
    test_support::{a_user, acting_as, fixed_clock, now},
};

fn field<'a>(event: &'a LiveEvent, name: &str) -> Option<&'a AuditValue> {
    event.data.get(name)
}

fn events(signals: &[Signal]) -> Vec<&LiveEvent> {
    signals
        .iter()
        .filter_map(|s| match s {
            Signal::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn an_account_change_tells_its_owner_and_a_deactivation_blocks_every_connection() {
    let current = a_user(Role::Member).build();
    let mut user = current.clone();
    user.deactivate(now()).unwrap();
    let changes = Changes::new().with(UserChange::Update { user: user.clone(), expected_version: current.version() });

    let signals = signals_of(&changes, now());

    let events = events(&signals);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, LiveEventType::AccountUpdated);
    assert_eq!(events[0].audience, Audience::user(user.id()));
    assert_eq!(field(events[0], "is_active"), Some(&AuditValue::Bool(false)));
    assert_eq!(field(events[0], "id"), Some(&AuditValue::Text(user.id().to_string())));
    assert!(field(events[0], "password_hash").is_none(), "no secret in an event");
    assert!(signals.contains(&Signal::UserBlocked(user.id())));
}

#[test]
fn an_account_that_can_still_act_is_not_blocked() {
    let current = a_user(Role::Member).build();
    let mut user = current.clone();
    user.change_role(Role::Manager, now()).unwrap();
    let changes = Changes::new().with(UserChange::Update { user, expected_version: current.version() });

    let signals = signals_of(&changes, now());

    assert!(!signals.iter().any(|s| matches!(s, Signal::UserBlocked(_))));
    assert_eq!(events(&signals).len(), 1);
}

#[test]
fn ended_sessions_and_revoked_keys_close_connections() {
    let (a, b) = (SessionId::generate(), SessionId::generate());
    let key = ApiKeyId::generate();
    let changes = Changes::new()
        .with(SessionChange::Revoke { id: a, at: now() })
        .with(SessionChange::Revoke { id: b, at: now() })
        .with(ApiKeyChange::Revoke { id: key, at: now() });

    let signals = signals_of(&changes, now());

    assert!(signals.contains(&Signal::SessionsEnded(vec![a, b])));
    assert!(signals.contains(&Signal::ApiKeyRevoked(key)));
    assert!(events(&signals).is_empty());
}

#[test]
fn a_removal_is_told_to_the_members_who_stay_and_to_the_one_removed() {
    let (project, user) = (ProjectId::generate(), UserId::generate());
    let membership = Membership::from_parts(MembershipParts {
        project_id: project,
        user_id: user,
        role: ProjectRole::Viewer,
        added_at: now(),
        updated_at: now(),
        version: 1,
    });
    let changes = Changes::new().with(ProjectChange::AddMember(membership)).with(ProjectChange::RemoveMember {
        project_id: project,
        user_id: user,
        expected_version: 1,
    });

    let signals = signals_of(&changes, now());

    let events = events(&signals);
    assert_eq!(events[0].event_type, LiveEventType::ProjectMemberAdded);
    assert_eq!(events[0].audience, Audience::project(project));
    assert_eq!(field(events[0], "role"), Some(&AuditValue::Text("viewer".into())));
    assert_eq!(events[1].event_type, LiveEventType::ProjectMemberRemoved);
    assert_eq!(events[1].audience, Audience { user: Some(user), project: Some(project) });
}

#[test]
fn event_type_names_round_trip() {
    for t in LiveEventType::ALL {
        assert_eq!(LiveEventType::parse(t.as_str()), Some(t));
    }
    assert_eq!(LiveEventType::parse("project.created"), None);
}

/// Records what is published.
#[derive(Default)]
struct Recorder(Mutex<Vec<Signal>>);

#[async_trait]
impl LiveEvents for Recorder {
    async fn publish(&self, signals: Vec<Signal>) {
        self.0.lock().unwrap().extend(signals);
    }
}

#[tokio::test]
async fn a_commit_publishes_after_it_succeeded_and_a_failed_one_publishes_nothing() {
    let session = SessionId::generate();
    let changes = || Changes::new().with(SessionChange::Revoke { id: session, at: now() });

    let mut ok = MockUnitOfWork::new();
    ok.expect_commit().times(1).returning(|_| Ok(()));
    let recorder = Arc::new(Recorder::default());
    let uow = LiveUnitOfWork::new(Arc::new(ok), recorder.clone(), Arc::new(fixed_clock()));
    uow.commit(changes()).await.unwrap();
    assert_eq!(*recorder.0.lock().unwrap(), vec![Signal::SessionsEnded(vec![session])]);

    let mut failing = MockUnitOfWork::new();
    failing.expect_commit().times(1).returning(|_| Err(CommitError::Stale));
    let recorder = Arc::new(Recorder::default());
    let uow = LiveUnitOfWork::new(Arc::new(failing), recorder.clone(), Arc::new(fixed_clock()));
    assert!(uow.commit(changes()).await.is_err());
    assert!(recorder.0.lock().unwrap().is_empty());
}

struct Parts {
    tickets: MockTicketStore,
    log: MockEventLog,
    audiences: MockAudiences,
    principals: MockPrincipalRepository,
    tokens: MockOpaqueTokens,
}

impl Parts {
    fn new() -> Self {
        Self {
            tickets: MockTicketStore::new(),
            log: MockEventLog::new(),
            audiences: MockAudiences::new(),
            principals: MockPrincipalRepository::new(),
            tokens: MockOpaqueTokens::new(),
        }
    }

    fn service(self) -> RealtimeService {
        RealtimeService::new(
            RealtimePorts {
                tickets: Arc::new(self.tickets),
                log: Arc::new(self.log),
                audiences: Arc::new(self.audiences),
                principals: Arc::new(self.principals),
                tokens: Arc::new(self.tokens),
                clock: Arc::new(fixed_clock()),
            },
            RealtimeSettings { resume_limit: 2, ..RealtimeSettings::default() },
        )
    }
}

fn an_event(audience: Audience) -> LiveEvent {
    LiveEvent::new(LiveEventType::ProjectUpdated, audience, &Snapshot::new(), now())
}

#[tokio::test]
async fn a_project_event_reaches_the_members_of_the_moment_and_its_user_once() {
    let (project, stays, removed) = (ProjectId::generate(), UserId::generate(), UserId::generate());
    let mut parts = Parts::new();
    parts.audiences.expect_members_of().returning(move |_| Ok(vec![stays]));
    let service = parts.service();

    let to_members = service.recipients(&an_event(Audience::project(project))).await.unwrap();
    assert_eq!(to_members, vec![stays]);
    let both = service.recipients(&an_event(Audience { user: Some(removed), project: Some(project) })).await.unwrap();
    assert_eq!(both, vec![stays, removed]);
    let already_member =
        service.recipients(&an_event(Audience { user: Some(stays), project: Some(project) })).await.unwrap();
    assert_eq!(already_member, vec![stays]);
}

#[tokio::test]
async fn a_resume_replays_what_the_reader_may_see_or_says_there_is_a_gap() {
    let user = a_user(Role::Member).build();
    let actor = acting_as(&user);
    let project = ProjectId::generate();
    let mut parts = Parts::new();
    parts.audiences.expect_projects_of().returning(move |_| Ok(vec![project]));
    let missed = vec![an_event(Audience::user(user.id())), an_event(Audience::project(project))];
    let too_many = vec![missed[0].clone(), missed[1].clone(), missed[1].clone()];
    let (known, unknown, flood) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let replayed = missed.clone();
    parts.log.expect_after().returning(move |last, reader, projects, since, limit| {
        assert_eq!(projects, [project]);
        assert_eq!(since, now() - chrono::Duration::minutes(5));
        assert_eq!(limit, 3, "one more than the limit, to tell a flood");
        let _ = reader;
        Ok(if last == known {
            Some(replayed.clone())
        } else if last == flood {
            Some(too_many.clone())
        } else {
            None
        })
    });
    let service = parts.service();

    assert_eq!(service.replay(&actor, known).await.unwrap(), Replay::Events(missed));
    assert_eq!(service.replay(&actor, unknown).await.unwrap(), Replay::Gap);
    assert_eq!(service.replay(&actor, flood).await.unwrap(), Replay::Gap);
}

#[tokio::test]
async fn a_ticket_is_issued_to_a_session_only_and_admits_only_a_live_session() {
    let user = a_user(Role::Member).build();
    let session = SessionId::generate();
    let actor = Actor::new(user.clone(), Some(session), ClientContext::default());
    let mut parts = Parts::new();
    parts.tokens.expect_generate().returning(|| (SecretString::from("t"), TokenDigest::new("ab".into())));
    parts.tokens.expect_digest().returning(|_| TokenDigest::new("ab".into()));
    parts.tickets.expect_issue().times(1).returning(move |ticket| {
        assert_eq!(ticket.session_id, session);
        assert_eq!(ticket.expires_at, now() + chrono::Duration::seconds(30));
        Ok(())
    });
    let stored = user.clone();
    let mut redeemed = 0;
    parts.tickets.expect_redeem().returning(move |_, _| {
        redeemed += 1;
        Ok((redeemed == 1 || redeemed == 2).then_some((stored.id(), session)))
    });
    let live = Arc::new(Mutex::new(true));
    let principal_live = live.clone();
    let account = user.clone();
    parts.principals.expect_principal().returning(move |_, _| {
        Ok(Some(Principal { user: account.clone(), session_live: *principal_live.lock().unwrap() }))
    });
    let service = parts.service();

    let issued = service.issue_ticket(&actor).await.unwrap();
    assert_eq!(issued.expires_in, std::time::Duration::from_secs(30));
    let admitted = service.redeem_ticket(&issued.ticket, ClientContext::default()).await.unwrap();
    assert_eq!((admitted.id(), admitted.session_id()), (user.id(), Some(session)));
    *live.lock().unwrap() = false;
    assert!(matches!(service.redeem_ticket(&issued.ticket, ClientContext::default()).await, Err(TicketError::Invalid)));
    assert!(matches!(service.redeem_ticket(&issued.ticket, ClientContext::default()).await, Err(TicketError::Invalid)));

    let by_key = Actor::new(user, None, ClientContext::default()).via_api_key(ApiKeyId::generate());
    assert!(matches!(Parts::new().service().issue_ticket(&by_key).await, Err(TicketError::ApiKeyNotAllowed)));
}
