//! Unit tests of the session-management use cases, every port mocked.

use crate::auth::SessionChange;
use crate::test_support::Written;
use std::sync::Arc;

use chrono::Duration;
use forge_domain::{
    api_keys::ApiKeyId,
    sessions::{Session, SessionId},
    users::{Role, User},
};

use super::{
    AuthPorts, AuthService, AuthSettings, SessionError, SessionQuery, SessionSort,
    ports::{MockAccessTokens, MockOpaqueTokens, MockPasswordHasher, MockPrincipalRepository, MockSessionRepository},
};
use crate::{
    audit::AuditAction,
    common::{Actor, ClientContext, CommitError, MockUnitOfWork, PageRequest, SortOrder, UnexpectedError},
    test_support::{a_session, a_user, fixed_clock, now, record_commits},
    users::ports::MockUserRepository,
};

/// The ports session management uses, as mocks; the clock is stopped at [`now`].
struct Mocks {
    sessions: MockSessionRepository,
    unit_of_work: MockUnitOfWork,
}

impl Mocks {
    fn new() -> Self {
        Self { sessions: MockSessionRepository::new(), unit_of_work: MockUnitOfWork::new() }
    }

    fn service(self) -> AuthService {
        AuthService::new(
            AuthPorts {
                // Session management never touches accounts, passwords or tokens: a call to one
                // of these mocks, which have no expectations, fails the test.
                users: Arc::new(MockUserRepository::new()),
                sessions: Arc::new(self.sessions),
                unit_of_work: Arc::new(self.unit_of_work),
                hasher: Arc::new(MockPasswordHasher::new()),
                access_tokens: Arc::new(MockAccessTokens::new()),
                opaque_tokens: Arc::new(MockOpaqueTokens::new()),
                principals: Arc::new(MockPrincipalRepository::new()),
                clock: Arc::new(fixed_clock()),
                mail_templates: Arc::new(crate::mail::MockMailTemplates::new()),
                mail_queue: Arc::new(crate::mail::MockMailQueue::new()),
            },
            AuthSettings::default(),
        )
    }

    /// The repository lists `sessions` as the active ones of `user` at [`now`].
    fn active(&mut self, user: &User, sessions: Vec<Session>) {
        let id = user.id();
        self.sessions
            .expect_active_for_user()
            .withf(move |user_id, at| *user_id == id && *at == now())
            .times(1)
            .returning(move |_, _| Ok(sessions.clone()));
    }

    fn found(&mut self, session: &Session) {
        let (id, found) = (session.id, session.clone());
        self.sessions
            .expect_by_id()
            .withf(move |asked| *asked == id)
            .times(1)
            .returning(move |_| Ok(Some(found.clone())));
    }

    /// Nothing may be written or revoked.
    fn nothing_ends(&mut self) {
        self.unit_of_work.expect_commit().never();
    }
}

fn context() -> ClientContext {
    ClientContext {
        ip: Some("192.0.2.10".into()),
        user_agent: Some("browser".into()),
        request_id: Some("req-7".into()),
    }
}

/// An actor for `user` authenticated through `session`.
fn in_session(user: &User, session: SessionId) -> Actor {
    Actor::new(user.clone(), Some(session), context())
}

fn by_api_key(user: &User) -> Actor {
    Actor::new(user.clone(), None, context()).via_api_key(ApiKeyId::generate())
}

/// A session of `user` opened `hours_ago`, last refreshed `used_hours_ago`.
fn session_of(user: &User, hours_ago: i64, used_hours_ago: i64) -> Session {
    let mut session = a_session(user.id());
    session.created_at = now() - Duration::hours(hours_ago);
    session.last_used_at = now() - Duration::hours(used_hours_ago);
    session.expires_at = session.created_at + Duration::days(30);
    session
}

fn revoked_ids(changes: &[Written]) -> Vec<SessionId> {
    changes
        .iter()
        .map(|c| match c {
            Written::Session(SessionChange::Revoke { id, at }) if *at == now() => *id,
            other => panic!("expected only RevokeSession at now, got {other:?}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// list_sessions

#[tokio::test]
async fn list_sessions_shows_live_sessions_newest_first_with_the_current_one_marked() {
    let ada = a_user(Role::Member).build();
    let older = session_of(&ada, 48, 2);
    let newer = session_of(&ada, 1, 1);
    // Absolute expiry in three days, idle end in seven: the absolute one comes first.
    let mut ending_soon = session_of(&ada, 24, 0);
    ending_soon.expires_at = now() + Duration::days(3);
    // Not refreshed for eight days: past the seven-day idle timeout, so not live.
    let idle = session_of(&ada, 24 * 9, 24 * 8);
    let mut m = Mocks::new();
    m.active(&ada, vec![older.clone(), idle, newer.clone(), ending_soon.clone()]);
    m.nothing_ends();

    let page = m.service().list_sessions(&in_session(&ada, newer.id), &SessionQuery::default()).await.unwrap();

    let ids: Vec<_> = page.items.iter().map(|s| s.session.id).collect();
    assert_eq!(ids, [newer.id, ending_soon.id, older.id]);
    assert_eq!(page.total, 3);
    let current: Vec<_> = page.items.iter().map(|s| s.current).collect();
    assert_eq!(current, [true, false, false]);
    assert_eq!(page.items[0].expires_at, newer.last_used_at + Duration::days(7));
    assert_eq!(page.items[1].expires_at, now() + Duration::days(3));
    assert_eq!(page.items[2].expires_at, older.last_used_at + Duration::days(7));
}

#[tokio::test]
async fn list_sessions_sorts_by_last_use_and_pages() {
    let ada = a_user(Role::Member).build();
    let sessions: Vec<Session> = (1..=5).map(|h| session_of(&ada, 10, h)).collect();
    let mut m = Mocks::new();
    m.active(&ada, sessions.clone());
    let query =
        SessionQuery { sort: SessionSort::LastUsedAt, order: SortOrder::Asc, page: PageRequest::new(2, 2).unwrap() };

    let page = m.service().list_sessions(&in_session(&ada, SessionId::generate()), &query).await.unwrap();

    // Least recently used first: 5, 4 | 3, 2 | 1 hours ago.
    let ids: Vec<_> = page.items.iter().map(|s| s.session.id).collect();
    assert_eq!(ids, [sessions[2].id, sessions[1].id]);
    assert_eq!((page.total, page.pages()), (5, 3));
    assert!(page.items.iter().all(|s| !s.current));
}

#[tokio::test]
async fn list_sessions_is_refused_to_an_api_key_without_reading_anything() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.sessions.expect_active_for_user().never();

    let err = m.service().list_sessions(&by_api_key(&ada), &SessionQuery::default()).await.unwrap_err();

    assert!(matches!(err, SessionError::ApiKeyNotAllowed), "{err:?}");
}

#[tokio::test]
async fn list_sessions_propagates_a_storage_failure() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.sessions.expect_active_for_user().returning(|_, _| Err(UnexpectedError::unavailable("down")));

    let err = m.service().list_sessions(&in_session(&ada, SessionId::generate()), &SessionQuery::default()).await;

    assert!(matches!(err, Err(SessionError::Unexpected(_))), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// revoke_session

#[tokio::test]
async fn revoke_session_ends_that_session_with_an_audit_entry() {
    let ada = a_user(Role::Member).build();
    let other = session_of(&ada, 5, 1);
    let mut m = Mocks::new();
    m.found(&other);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let actor = in_session(&ada, SessionId::generate());

    m.service().revoke_session(&actor, other.id).await.unwrap();

    assert_eq!(revoked_ids(&commits.single()), [other.id]);
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!(audit.action, AuditAction::SessionRevoked);
    assert_eq!(audit.entity_id, other.id.to_string());
    assert_eq!(audit.actor_id, Some(ada.id()));
    assert_eq!(audit.context, context());
}

#[tokio::test]
async fn revoke_session_may_end_the_current_session() {
    let ada = a_user(Role::Member).build();
    let current = session_of(&ada, 1, 0);
    let mut m = Mocks::new();
    m.found(&current);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().revoke_session(&in_session(&ada, current.id), current.id).await.unwrap();

    assert_eq!(revoked_ids(&commits.single()), [current.id]);
}

#[tokio::test]
async fn revoke_session_of_another_user_is_not_found_and_ends_nothing() {
    let ada = a_user(Role::Member).build();
    // Not even an admin ends someone else's session this way.
    let admin = a_user(Role::Admin).build();
    let theirs = session_of(&ada, 1, 0);
    let mut m = Mocks::new();
    m.found(&theirs);
    m.nothing_ends();

    let err = m.service().revoke_session(&in_session(&admin, SessionId::generate()), theirs.id).await.unwrap_err();

    assert!(matches!(err, SessionError::NotFound), "{err:?}");
}

#[tokio::test]
async fn revoke_session_of_an_unknown_id_is_not_found() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.sessions.expect_by_id().times(1).returning(|_| Ok(None));
    m.nothing_ends();

    let err = m.service().revoke_session(&in_session(&ada, SessionId::generate()), SessionId::generate()).await;

    assert!(matches!(err, Err(SessionError::NotFound)), "{err:?}");
}

#[tokio::test]
async fn revoke_session_of_an_ended_or_idle_session_is_not_found() {
    let ada = a_user(Role::Member).build();
    let mut ended = session_of(&ada, 5, 1);
    ended.revoke(now() - Duration::hours(1));
    let idle = session_of(&ada, 24 * 9, 24 * 8);
    for session in [ended, idle] {
        let mut m = Mocks::new();
        m.found(&session);
        m.nothing_ends();

        let err = m.service().revoke_session(&in_session(&ada, SessionId::generate()), session.id).await;

        assert!(matches!(err, Err(SessionError::NotFound)), "{err:?}");
    }
}

#[tokio::test]
async fn revoke_session_is_refused_to_an_api_key_without_reading_anything() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.sessions.expect_by_id().never();
    m.nothing_ends();

    let err = m.service().revoke_session(&by_api_key(&ada), SessionId::generate()).await;

    assert!(matches!(err, Err(SessionError::ApiKeyNotAllowed)), "{err:?}");
}

#[tokio::test]
async fn revoke_session_reports_a_storage_failure_without_telling_the_store() {
    let ada = a_user(Role::Member).build();
    let session = session_of(&ada, 5, 1);
    let mut m = Mocks::new();
    m.found(&session);
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(UnexpectedError::unavailable("down"))));

    let err = m.service().revoke_session(&in_session(&ada, SessionId::generate()), session.id).await;

    assert!(matches!(err, Err(SessionError::Unexpected(_))), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// logout_all

#[tokio::test]
async fn logout_all_ends_every_active_session_including_the_current_one() {
    let ada = a_user(Role::Member).build();
    let sessions = vec![session_of(&ada, 3, 0), session_of(&ada, 2, 1), session_of(&ada, 1, 1)];
    let mut m = Mocks::new();
    m.active(&ada, sessions.clone());
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().logout_all(&in_session(&ada, sessions[0].id)).await.unwrap();

    let expected: Vec<SessionId> = sessions.iter().map(|s| s.id).collect();
    assert_eq!(revoked_ids(&commits.single()), expected);
    assert_eq!(commits.audit_actions(), [AuditAction::SessionRevoked; 3]);
    assert!(commits.audits().iter().all(|a| a.actor_id == Some(ada.id())));
}

#[tokio::test]
async fn logout_all_without_active_sessions_writes_nothing() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.active(&ada, Vec::new());
    m.nothing_ends();

    m.service().logout_all(&in_session(&ada, SessionId::generate())).await.unwrap();
}

#[tokio::test]
async fn logout_all_is_refused_to_an_api_key() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.sessions.expect_active_for_user().never();
    m.nothing_ends();

    let err = m.service().logout_all(&by_api_key(&ada)).await;

    assert!(matches!(err, Err(SessionError::ApiKeyNotAllowed)), "{err:?}");
}

#[tokio::test]
async fn logout_all_reports_a_storage_failure() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.active(&ada, vec![session_of(&ada, 1, 0)]);
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(UnexpectedError::unavailable("down"))));

    let err = m.service().logout_all(&in_session(&ada, SessionId::generate())).await;

    assert!(matches!(err, Err(SessionError::Unexpected(_))), "{err:?}");
}
