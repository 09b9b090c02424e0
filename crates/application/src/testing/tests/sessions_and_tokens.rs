//! Sessions, tokens, keys, throttles, claims and the audit trail: the guarded writes and the
//! reads of the smaller tables.

use chrono::Duration;
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    api_keys::{ApiKey, ApiKeyId, ApiKeyName, ApiKeyParts, ApiKeyScopes},
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::{User, UserId},
};
use uuid::Uuid;

use super::{commit, t0, user};
use crate::{
    ClientContext, PageRequest, SortOrder,
    account::AccountTokenChange,
    api_keys::{
        ApiKeyChange,
        ports::{ApiKeyQuery, ApiKeyRepository, ApiKeySort},
    },
    audit::{
        AuditAction, AuditEntity, AuditRecord, AuditValue, EventType, OutboxEvent, Snapshot,
        ports::{AuditLogFilter, AuditLogQuery, AuditLogRepository},
    },
    auth::{
        SessionChange,
        ports::{PrincipalRepository, SessionRepository},
    },
    common::{Changes, CommitError},
    idempotency::{
        IdempotencyKey,
        ports::{ClaimState, IdempotencyStore, NewClaim, StoredResponse},
    },
    limits::{
        ThrottleChange,
        ports::{LoginThrottle, LoginThrottleRepository},
    },
    testing::InMemoryStore,
    users::UserChange,
};

fn with_user() -> (InMemoryStore, User) {
    let store = InMemoryStore::new();
    let ada = user("ada@example.com", "ada");
    commit(&store, UserChange::Insert(ada.clone())).unwrap();
    (store, ada)
}

fn refresh_token(session: &Session, digest: &str) -> RefreshToken {
    RefreshToken {
        digest: TokenDigest::new(digest.into()),
        session_id: session.id,
        issued_at: t0(),
        expires_at: t0() + Duration::days(7),
        used_at: None,
    }
}

#[tokio::test]
async fn a_refresh_token_is_consumed_once_and_a_stale_consumption_rolls_back_its_commit() {
    let (store, ada) = with_user();
    let session = Session::open(ada.id(), t0(), Duration::days(30), None, None);
    let first = refresh_token(&session, "first");
    commit(
        &store,
        Changes::new().with(SessionChange::Open(session.clone())).with(SessionChange::IssueRefreshToken(first)),
    )
    .unwrap();
    let consume = || SessionChange::ConsumeRefreshToken { digest: TokenDigest::new("first".into()), at: t0() };

    commit(&store, consume()).unwrap();
    let next = refresh_token(&session, "next");
    let err = commit(&store, Changes::new().with(SessionChange::IssueRefreshToken(next)).with(consume())).unwrap_err();

    assert!(matches!(err, CommitError::Stale), "{err:?}");
    assert_eq!(store.refresh_token(&TokenDigest::new("first".into())).await.unwrap().unwrap().used_at, Some(t0()));
    assert_eq!(store.refresh_token(&TokenDigest::new("next".into())).await.unwrap(), None);
    let unknown = SessionChange::ConsumeRefreshToken { digest: TokenDigest::new("nope".into()), at: t0() };
    assert!(matches!(commit(&store, unknown), Err(CommitError::Stale)));
}

#[tokio::test]
async fn a_session_is_touched_only_forward_revoked_once_and_listed_while_active() {
    let (store, ada) = with_user();
    let older = Session::open(ada.id(), t0(), Duration::days(30), Some("x".repeat(100)), None);
    let newer = Session::open(ada.id(), t0() + Duration::hours(1), Duration::days(30), None, None);
    let ended = Session::open(ada.id(), t0(), Duration::days(30), None, None);
    let changes: Changes = [&older, &newer, &ended].map(|s| SessionChange::Open(s.clone())).into_iter().collect();
    commit(&store, changes).unwrap();

    let later = t0() + Duration::hours(2);
    commit(&store, SessionChange::Touch { id: older.id, at: later }).unwrap();
    commit(&store, SessionChange::Touch { id: older.id, at: t0() + Duration::hours(1) }).unwrap();
    commit(&store, SessionChange::Revoke { id: ended.id, at: later }).unwrap();
    commit(&store, SessionChange::Revoke { id: ended.id, at: later + Duration::hours(1) }).unwrap();

    let stored_older = store.sessions().by_id(older.id).await.unwrap().unwrap();
    assert_eq!(stored_older.last_used_at, later);
    assert_eq!(stored_older.ip.map(|ip| ip.chars().count()), Some(64), "cut to the column's width");
    assert_eq!(store.sessions().by_id(ended.id).await.unwrap().unwrap().revoked_at, Some(later));
    let active: Vec<_> = store.active_for_user(ada.id(), later).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(active, [newer.id, older.id], "newest first, the revoked one left out");
    assert!(store.active_for_user(ada.id(), t0() + Duration::days(31)).await.unwrap().is_empty());
    let principal = |session| store.principal(ada.id(), session);
    assert!(principal(older.id).await.unwrap().unwrap().session_live);
    assert!(!principal(ended.id).await.unwrap().unwrap().session_live, "revoked");
    assert!(!principal(SessionId::generate()).await.unwrap().unwrap().session_live, "no such session");
    assert!(store.principal(UserId::generate(), older.id).await.unwrap().is_none(), "no such account");
}

#[tokio::test]
async fn an_account_token_is_consumed_once_and_discarding_removes_only_its_purpose_and_account() {
    let (store, ada) = with_user();
    let token = |digest: &str, purpose| {
        AccountToken::issue(
            TokenDigest::new(digest.into()),
            ada.id(),
            purpose,
            ada.email().clone(),
            t0(),
            Duration::hours(1),
        )
    };
    let changes: Changes = [
        token("verify-1", TokenPurpose::VerifyEmail),
        token("verify-2", TokenPurpose::VerifyEmail),
        token("reset", TokenPurpose::ResetPassword),
    ]
    .map(AccountTokenChange::Insert)
    .into_iter()
    .collect();
    commit(&store, changes).unwrap();
    let digest = |raw: &str| TokenDigest::new(raw.into());

    commit(&store, AccountTokenChange::Consume { digest: digest("verify-1") }).unwrap();
    let again = commit(&store, AccountTokenChange::Consume { digest: digest("verify-1") });
    assert!(matches!(again, Err(CommitError::Stale)), "{again:?}");
    commit(&store, AccountTokenChange::Discard { user_id: ada.id(), purpose: TokenPurpose::VerifyEmail }).unwrap();

    assert_eq!(store.account_tokens().by_digest(&digest("verify-2")).await.unwrap(), None);
    assert!(store.account_tokens().by_digest(&digest("reset")).await.unwrap().is_some());
}

fn api_key(user: &User, name: &str, minutes: i64, digest: &str) -> ApiKey {
    ApiKey::from_parts(ApiKeyParts {
        id: ApiKeyId::generate(),
        user_id: user.id(),
        name: ApiKeyName::parse(name).unwrap(),
        prefix: "sk_Ab3dE9xQ".into(),
        digest: TokenDigest::new(digest.into()),
        scopes: ApiKeyScopes::parse(["read"]).unwrap(),
        created_at: t0() + Duration::minutes(minutes),
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    })
}

#[tokio::test]
async fn an_api_key_is_revoked_once_touched_forward_and_listed_unless_revoked() {
    let (store, ada) = with_user();
    let (alpha, bravo, gone) =
        (api_key(&ada, "alpha", 1, "d1"), api_key(&ada, "bravo", 2, "d2"), api_key(&ada, "gone", 3, "d3"));
    let changes: Changes = [&alpha, &bravo, &gone].map(|key| ApiKeyChange::Insert(key.clone())).into_iter().collect();
    commit(&store, changes).unwrap();
    let twin = api_key(&ada, "twin", 4, "d1");
    assert!(matches!(commit(&store, ApiKeyChange::Insert(twin)), Err(CommitError::Unexpected(_))), "one digest");

    commit(&store, ApiKeyChange::Revoke { id: gone.id(), at: t0() }).unwrap();
    let again = commit(&store, ApiKeyChange::Revoke { id: gone.id(), at: t0() + Duration::hours(1) });
    assert!(matches!(again, Err(CommitError::Stale)), "{again:?}");
    let later = t0() + Duration::hours(2);
    commit(&store, ApiKeyChange::Touch { id: alpha.id(), at: later }).unwrap();
    commit(&store, ApiKeyChange::Touch { id: alpha.id(), at: t0() }).unwrap();

    assert_eq!(store.api_keys().by_id(gone.id()).await.unwrap().unwrap().revoked_at(), Some(t0()));
    assert_eq!(store.api_keys().by_digest(alpha.digest()).await.unwrap().unwrap().last_used_at(), Some(later));
    let listed = |sort, order| {
        let store = &store;
        let user_id = ada.id();
        async move {
            let query = ApiKeyQuery { sort, order, page: PageRequest::new(1, 10).unwrap() };
            let page = store.list_for_user(user_id, &query).await.unwrap();
            page.items.iter().map(|key| key.name().to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(ApiKeySort::CreatedAt, SortOrder::Desc).await, ["bravo", "alpha"]);
    assert_eq!(listed(ApiKeySort::LastUsedAt, SortOrder::Asc).await, ["alpha", "bravo"], "never used last");
    assert_eq!(listed(ApiKeySort::LastUsedAt, SortOrder::Desc).await, ["alpha", "bravo"], "never used last");
}

#[tokio::test]
async fn a_throttle_is_saved_only_while_it_is_as_it_was_read() {
    let (store, ada) = with_user();
    let throttle = |failures, minutes| LoginThrottle {
        user_id: ada.id(),
        failures,
        last_failure_at: t0() + Duration::minutes(minutes),
        locked_until: None,
    };
    commit(&store, ThrottleChange::Save { throttle: throttle(1, 1), expected: None }).unwrap();
    let inserted_twice = commit(&store, ThrottleChange::Save { throttle: throttle(1, 2), expected: None });
    assert!(matches!(inserted_twice, Err(CommitError::Stale)), "another failure inserted it first");

    commit(&store, ThrottleChange::Save { throttle: throttle(2, 3), expected: Some(throttle(1, 1)) }).unwrap();
    let stale = commit(&store, ThrottleChange::Save { throttle: throttle(2, 4), expected: Some(throttle(1, 1)) });
    assert!(matches!(stale, Err(CommitError::Stale)), "{stale:?}");
    assert_eq!(store.for_user(ada.id()).await.unwrap(), Some(throttle(2, 3)));

    commit(&store, ThrottleChange::Clear { user_id: ada.id() }).unwrap();
    commit(&store, ThrottleChange::Clear { user_id: ada.id() }).unwrap();
    assert_eq!(store.for_user(ada.id()).await.unwrap(), None);
}

#[tokio::test]
async fn an_idempotency_key_is_claimed_once_completed_by_its_claim_only_and_forgotten_when_expired() {
    let store = InMemoryStore::new();
    let key = IdempotencyKey::parse("order-42").unwrap();
    let claim = |claim_id| NewClaim {
        caller: "client:a".into(),
        key: key.clone(),
        fingerprint: "f1".into(),
        claim_id,
        created_at: t0(),
        expires_at: t0() + Duration::minutes(5),
    };
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    let response = StoredResponse { status: 201, headers: vec![], body: b"{}".to_vec() };

    assert_eq!(store.begin(&claim(first)).await.unwrap(), None);
    assert_eq!(store.begin(&claim(second)).await.unwrap().map(|held| held.state), Some(ClaimState::Running));
    store.complete("client:a", &key, second, &response, t0() + Duration::days(1)).await.unwrap();
    assert_eq!(store.begin(&claim(second)).await.unwrap().map(|held| held.state), Some(ClaimState::Running));
    store.complete("client:a", &key, first, &response, t0() + Duration::days(1)).await.unwrap();
    let held = store.begin(&claim(second)).await.unwrap().unwrap();
    assert_eq!((held.state, held.expires_at), (ClaimState::Completed(response), t0() + Duration::days(1)));

    assert_eq!(store.purge_expired(t0() + Duration::hours(1)).await.unwrap(), 0);
    store.forget_expired("client:a", &key, t0() + Duration::days(1)).await.unwrap();
    assert_eq!(store.begin(&claim(second)).await.unwrap(), None, "forgotten, then claimed again");
    store.release("client:a", &key, first).await.unwrap();
    store.release("client:a", &key, second).await.unwrap();
    assert_eq!(store.purge_expired(t0() + Duration::days(2)).await.unwrap(), 0, "released");
}

#[tokio::test]
async fn the_audit_trail_is_filtered_and_read_back_with_instants_as_text() {
    let (store, ada) = with_user();
    let context = ClientContext { request_id: Some("req-1".into()), ..ClientContext::default() };
    let entry = |action, minutes| {
        AuditRecord::new(
            action,
            AuditEntity::User,
            ada.id(),
            Some(ada.id()),
            &context,
            t0() + Duration::minutes(minutes),
        )
        .after(Snapshot::new().with("at", t0()).with("version", 1))
    };
    let changes: Changes =
        [entry(AuditAction::UserCreated, 0), entry(AuditAction::UserUpdated, 1), entry(AuditAction::UserUpdated, 2)]
            .into_iter()
            .collect();
    commit(&store, changes).unwrap();
    let list = |filter, order| {
        let store = &store;
        async move {
            let query = AuditLogQuery { filter, order, ..AuditLogQuery::default() };
            store.list(&query).await.unwrap()
        }
    };

    let updates = AuditLogFilter { action: Some(AuditAction::UserUpdated), ..AuditLogFilter::default() };
    assert_eq!(list(updates, SortOrder::Desc).await.total, 2);
    let window = AuditLogFilter {
        from: Some(t0() + Duration::minutes(1)),
        to: Some(t0() + Duration::minutes(1)),
        ..AuditLogFilter::default()
    };
    let page = list(window, SortOrder::Asc).await;
    assert_eq!(page.items.iter().map(|e| e.action).collect::<Vec<_>>(), [AuditAction::UserUpdated]);
    let after = page.items[0].after.clone().unwrap();
    assert_eq!(after.get("at"), Some(&AuditValue::Text("2026-01-01T00:00:00.000000Z".into())));
    assert_eq!(after.get("version"), Some(&AuditValue::Int(1)));
    assert_eq!(page.items[0].context.request_id.as_deref(), Some("req-1"));
    let oldest_first = list(AuditLogFilter::default(), SortOrder::Asc).await;
    assert_eq!(oldest_first.items[0].action, AuditAction::UserCreated);
}

#[tokio::test]
async fn an_event_for_a_user_who_is_not_stored_is_refused_with_everything_committed_with_it() {
    let (store, ada) = with_user();
    let audit =
        AuditRecord::new(AuditAction::UserCreated, AuditEntity::User, "x", None, &ClientContext::default(), t0());
    let stray =
        OutboxEvent::new(EventType::ProjectMemberAdded, user("x@example.com", "xavier").id(), Snapshot::new(), t0());

    let err = commit(&store, Changes::new().with(audit).with(stray)).unwrap_err();
    assert!(matches!(err, CommitError::Unexpected(_)), "{err:?}");
    assert!(store.audit_records().is_empty() && store.outbox_events().is_empty());

    let event = OutboxEvent::new(EventType::ProjectMemberAdded, ada.id(), Snapshot::new().with("n", 1), t0());
    commit(&store, event.clone()).unwrap();
    assert_eq!(store.outbox_events(), [event]);
}
