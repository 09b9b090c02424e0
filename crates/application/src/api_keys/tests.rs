//! Unit tests of the API-key use cases, every port mocked.

use crate::api_keys::ApiKeyChange;
use crate::test_support::Written;
use std::sync::Arc;

use chrono::Duration;
use forge_domain::{
    api_keys::{AccessIntent, ApiKey, ApiKeyId, ApiKeyName, ApiKeyParts, ApiKeyScope, ApiKeyScopes},
    sessions::{SessionId, TokenDigest},
    users::{Role, User},
};
use secrecy::{ExposeSecret, SecretString};

use super::{
    ApiKeyAuthError, ApiKeyError, ApiKeyPorts, ApiKeyService, CreateApiKeyCommand,
    ports::{ApiKeyQuery, ApiKeySort, MockApiKeyRepository},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditValue},
    auth::ports::MockOpaqueTokens,
    common::{Actor, ClientContext, CommitError, MockUnitOfWork, Page, PageRequest, SortOrder, UnexpectedError},
    test_support::{a_user, fields_and_codes, fixed_clock, now, record_commits},
    users::ports::MockUserRepository,
};

/// The random part the token port hands out, and the key made of it.
const RANDOM: &str = "Ab3dE9xQzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
const KEY: &str = "sk_Ab3dE9xQzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
const KEY_DIGEST: &str = "digest-of-the-whole-key";

struct Mocks {
    api_keys: MockApiKeyRepository,
    users: MockUserRepository,
    unit_of_work: MockUnitOfWork,
    tokens: MockOpaqueTokens,
}

impl Mocks {
    fn new() -> Self {
        Self {
            api_keys: MockApiKeyRepository::new(),
            users: MockUserRepository::new(),
            unit_of_work: MockUnitOfWork::new(),
            tokens: MockOpaqueTokens::new(),
        }
    }

    fn service(self) -> ApiKeyService {
        ApiKeyService::new(ApiKeyPorts {
            api_keys: Arc::new(self.api_keys),
            users: Arc::new(self.users),
            unit_of_work: Arc::new(self.unit_of_work),
            tokens: Arc::new(self.tokens),
            clock: Arc::new(fixed_clock()),
        })
    }

    /// New keys are made of [`RANDOM`]; the whole key [`KEY`] digests to [`KEY_DIGEST`].
    fn make_keys(&mut self) {
        self.tokens
            .expect_generate()
            .times(1)
            .returning(|| (SecretString::from(RANDOM), TokenDigest::new("digest-of-the-random-part".into())));
        self.tokens.expect_digest().withf(|raw| raw == KEY).returning(|_| TokenDigest::new(KEY_DIGEST.into()));
    }

    /// [`KEY`] is presented and digests to `key`'s digest, which finds `key`.
    fn present(&mut self, key: &ApiKey) {
        let digest = key.digest().clone();
        self.tokens.expect_digest().withf(|raw| raw == KEY).return_const(digest.clone());
        let found = key.clone();
        self.api_keys
            .expect_by_digest()
            .withf(move |d| *d == digest)
            .times(1)
            .returning(move |_| Ok(Some(found.clone())));
    }

    fn found(&mut self, key: &ApiKey) {
        let (id, found) = (key.id(), key.clone());
        self.api_keys
            .expect_by_id()
            .withf(move |asked| *asked == id)
            .times(1)
            .returning(move |_| Ok(Some(found.clone())));
    }

    fn owner_is(&mut self, user: Option<User>, id: forge_domain::users::UserId) {
        self.users.expect_by_id().withf(move |asked| *asked == id).times(1).returning(move |_| Ok(user.clone()));
    }

    fn nothing_written(&mut self) {
        self.unit_of_work.expect_commit().never();
    }
}

fn context() -> ClientContext {
    ClientContext { ip: Some("192.0.2.4".into()), user_agent: Some("curl/8".into()), request_id: Some("req-9".into()) }
}

fn in_session(user: &User) -> Actor {
    Actor::new(user.clone(), Some(SessionId::generate()), context())
}

fn by_api_key(user: &User) -> Actor {
    Actor::new(user.clone(), None, context()).via_api_key(ApiKeyId::generate())
}

/// A key of `owner` with `scopes`, created a day ago.
fn key_of(owner: &User, scopes: &[&str]) -> ApiKeyParts {
    ApiKeyParts {
        id: ApiKeyId::generate(),
        user_id: owner.id(),
        name: ApiKeyName::parse("deploys").unwrap(),
        prefix: "sk_Ab3dE9xQ".into(),
        digest: TokenDigest::new(format!("digest-{}", uuid::Uuid::new_v4())),
        scopes: ApiKeyScopes::parse(scopes.iter().copied()).unwrap(),
        created_at: now() - Duration::days(1),
        last_used_at: None,
        expires_at: None,
        revoked_at: None,
    }
}

fn a_key(owner: &User) -> ApiKey {
    ApiKey::from_parts(key_of(owner, &["read", "write"]))
}

fn a_command(name: &str) -> CreateApiKeyCommand {
    CreateApiKeyCommand { name: name.into(), ..CreateApiKeyCommand::default() }
}

// ---------------------------------------------------------------------------------------------
// create

#[tokio::test]
async fn create_stores_only_the_digest_and_prefix_and_returns_the_key_once() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.make_keys();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let created = m.service().create(&in_session(&ada), a_command("  deploys ")).await.unwrap();

    assert_eq!(created.secret.expose_secret(), KEY);
    let changes = commits.single();
    let [Written::ApiKey(ApiKeyChange::Insert(stored))] = changes.as_slice() else {
        panic!("expected one InsertApiKey: {changes:#?}")
    };
    assert_eq!(stored, &created.api_key);
    assert_eq!(stored.user_id(), ada.id());
    assert_eq!(stored.name().as_ref(), "deploys");
    assert_eq!(stored.prefix(), "sk_Ab3dE9xQ");
    assert_eq!(stored.digest().as_str(), KEY_DIGEST, "the digest is of the whole key, prefix included");
    assert_eq!(stored.scopes(), &ApiKeyScopes::all(), "both scopes by default");
    assert_eq!((stored.created_at(), stored.expires_at(), stored.last_used_at()), (now(), None, None));

    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!(audit.action, AuditAction::ApiKeyCreated);
    assert_eq!((audit.entity_type, audit.entity_id.clone()), (AuditEntity::ApiKey, stored.id().to_string()));
    assert_eq!(audit.actor_id, Some(ada.id()));
    assert_eq!(audit.context, context());
    let after = audit.after.expect("the new key");
    assert_eq!(after.get("name"), Some(&AuditValue::Text("deploys".into())));
    assert_eq!(after.get("prefix"), Some(&AuditValue::Text("sk_Ab3dE9xQ".into())));
    assert_eq!(after.get("scopes"), Some(&AuditValue::List(vec!["read".into(), "write".into()])));
    assert_eq!(after.get("expires_at"), Some(&AuditValue::Null));
    let recorded = format!("{after:?}");
    assert!(!recorded.contains(RANDOM) && !recorded.contains(KEY_DIGEST), "no secret in the trail: {recorded}");
}

#[tokio::test]
async fn create_takes_the_scopes_and_expiry_asked_for() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.make_keys();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let cmd = CreateApiKeyCommand {
        name: "reports".into(),
        scopes: Some(vec!["read".into(), "read".into()]),
        expires_at: Some("2030-01-31T00:00:00Z".into()),
    };

    let created = m.service().create(&in_session(&ada), cmd).await.unwrap();

    assert_eq!(created.api_key.scopes().names(), ["read"]);
    assert_eq!(created.api_key.expires_at().map(|t| t.to_rfc3339()).as_deref(), Some("2030-01-31T00:00:00+00:00"));
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!(audit.after.unwrap().get("expires_at"), Some(&AuditValue::Time(created.api_key.expires_at().unwrap())));
}

#[tokio::test]
async fn create_lists_every_invalid_field_and_makes_no_key() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.tokens.expect_generate().never();
    m.nothing_written();
    let cmd = CreateApiKeyCommand {
        name: "   ".into(),
        scopes: Some(vec!["read".into(), "admin".into()]),
        expires_at: Some((now() - Duration::seconds(1)).to_rfc3339()),
    };

    let err = m.service().create(&in_session(&ada), cmd).await.unwrap_err();

    let ApiKeyError::Validation(errors) = err else { panic!("expected a validation error, got {err:?}") };
    assert_eq!(
        fields_and_codes(&errors),
        [("name", "REQUIRED"), ("scopes", "INVALID_CHOICE"), ("expires_at", "OUT_OF_RANGE")]
    );
}

#[tokio::test]
async fn create_refuses_an_empty_scope_list_a_long_name_and_a_malformed_expiry() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.tokens.expect_generate().never();
    m.nothing_written();
    let cmd = CreateApiKeyCommand {
        name: "x".repeat(101),
        scopes: Some(Vec::new()),
        expires_at: Some("next tuesday".into()),
    };

    let err = m.service().create(&in_session(&ada), cmd).await.unwrap_err();

    let ApiKeyError::Validation(errors) = err else { panic!("expected a validation error, got {err:?}") };
    assert_eq!(
        fields_and_codes(&errors),
        [("name", "TOO_LONG"), ("scopes", "TOO_SHORT"), ("expires_at", "INVALID_FORMAT")]
    );
}

#[tokio::test]
async fn create_is_refused_to_an_api_key() {
    let ada = a_user(Role::Admin).build();
    let mut m = Mocks::new();
    m.tokens.expect_generate().never();
    m.nothing_written();

    let err = m.service().create(&by_api_key(&ada), a_command("more keys")).await.unwrap_err();

    assert!(matches!(err, ApiKeyError::ApiKeyNotAllowed), "{err:?}");
}

#[tokio::test]
async fn create_propagates_a_storage_failure() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.make_keys();
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(UnexpectedError::unavailable("down"))));

    let err = m.service().create(&in_session(&ada), a_command("deploys")).await.unwrap_err();

    assert!(matches!(err, ApiKeyError::Unexpected(_)), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// list and get

#[tokio::test]
async fn list_asks_for_the_actors_own_keys_with_the_query() {
    let ada = a_user(Role::Admin).build();
    let key = a_key(&ada);
    let query = ApiKeyQuery { sort: ApiKeySort::Name, order: SortOrder::Asc, page: PageRequest::new(2, 5).unwrap() };
    let mut m = Mocks::new();
    let (id, found) = (ada.id(), key.clone());
    m.api_keys
        .expect_list_for_user()
        .withf(move |user_id, q| *user_id == id && *q == query)
        .times(1)
        .returning(move |_, q| Ok(Page { items: vec![found.clone()], total: 6, request: q.page }));

    let page = m.service().list(&in_session(&ada), &query).await.unwrap();

    assert_eq!(page.items, [key]);
    assert_eq!(page.total, 6);
}

#[tokio::test]
async fn list_is_refused_to_an_api_key() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.api_keys.expect_list_for_user().never();

    let err = m.service().list(&by_api_key(&ada), &ApiKeyQuery::default()).await.unwrap_err();

    assert!(matches!(err, ApiKeyError::ApiKeyNotAllowed), "{err:?}");
}

#[tokio::test]
async fn get_shows_a_key_to_its_owner_and_to_admins_only() {
    let ada = a_user(Role::Member).build();
    let key = a_key(&ada);
    for (viewer, visible) in [
        (ada.clone(), true),
        (a_user(Role::Admin).build(), true),
        (a_user(Role::Manager).build(), false),
        (a_user(Role::Member).build(), false),
    ] {
        let mut m = Mocks::new();
        m.found(&key);

        let result = m.service().get(&in_session(&viewer), key.id()).await;

        match result {
            Ok(shown) if visible => assert_eq!(shown, key),
            Err(ApiKeyError::NotFound) if !visible => {}
            other => panic!("{:?} sees {other:?}", viewer.role()),
        }
    }
}

#[tokio::test]
async fn get_of_a_revoked_or_unknown_key_is_not_found() {
    let ada = a_user(Role::Member).build();
    let mut revoked = a_key(&ada);
    revoked.revoke(now());
    let mut m = Mocks::new();
    m.found(&revoked);
    assert!(matches!(m.service().get(&in_session(&ada), revoked.id()).await, Err(ApiKeyError::NotFound)));

    let mut m = Mocks::new();
    m.api_keys.expect_by_id().returning(|_| Ok(None));
    assert!(matches!(m.service().get(&in_session(&ada), ApiKeyId::generate()).await, Err(ApiKeyError::NotFound)));
}

// ---------------------------------------------------------------------------------------------
// revoke

#[tokio::test]
async fn revoke_by_the_owner_revokes_with_an_audit_entry() {
    let ada = a_user(Role::Member).build();
    let key = a_key(&ada);
    let mut m = Mocks::new();
    m.found(&key);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().revoke(&in_session(&ada), key.id()).await.unwrap();

    let changes = commits.single();
    assert!(
        matches!(changes.as_slice(), [Written::ApiKey(ApiKeyChange::Revoke { id, at })] if *id == key.id() && *at == now()),
        "{changes:#?}"
    );
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!(audit.action, AuditAction::ApiKeyRevoked);
    assert_eq!((audit.entity_type, audit.entity_id.clone()), (AuditEntity::ApiKey, key.id().to_string()));
    assert_eq!(audit.actor_id, Some(ada.id()));
    assert_eq!(audit.before.unwrap().get("revoked_at"), Some(&AuditValue::Null));
    let after = audit.after.unwrap();
    assert_eq!(after.get("revoked_at"), Some(&AuditValue::Time(now())));
    assert_eq!(after.get("prefix"), Some(&AuditValue::Text("sk_Ab3dE9xQ".into())));
}

#[tokio::test]
async fn an_admin_revokes_anyones_key_and_is_recorded_as_the_actor() {
    let ada = a_user(Role::Member).build();
    let admin = a_user(Role::Admin).build();
    let key = a_key(&ada);
    let mut m = Mocks::new();
    m.found(&key);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().revoke(&in_session(&admin), key.id()).await.unwrap();

    assert_eq!(commits.audits()[0].actor_id, Some(admin.id()));
    assert_eq!(
        commits.audits()[0].after.as_ref().unwrap().get("user_id"),
        Some(&AuditValue::Text(ada.id().to_string()))
    );
}

#[tokio::test]
async fn revoke_of_someone_elses_key_by_a_member_or_manager_is_not_found() {
    let ada = a_user(Role::Member).build();
    let key = a_key(&ada);
    for role in [Role::Member, Role::Manager] {
        let mut m = Mocks::new();
        m.found(&key);
        m.nothing_written();

        let err = m.service().revoke(&in_session(&a_user(role).build()), key.id()).await.unwrap_err();

        assert!(matches!(err, ApiKeyError::NotFound), "{role:?}: {err:?}");
    }
}

#[tokio::test]
async fn revoke_of_an_unknown_or_already_revoked_key_is_not_found() {
    let ada = a_user(Role::Member).build();
    let mut revoked = a_key(&ada);
    revoked.revoke(now() - Duration::hours(1));
    let mut m = Mocks::new();
    m.found(&revoked);
    m.nothing_written();
    assert!(matches!(m.service().revoke(&in_session(&ada), revoked.id()).await, Err(ApiKeyError::NotFound)));

    let mut m = Mocks::new();
    m.api_keys.expect_by_id().returning(|_| Ok(None));
    m.nothing_written();
    assert!(matches!(m.service().revoke(&in_session(&ada), ApiKeyId::generate()).await, Err(ApiKeyError::NotFound)));
}

#[tokio::test]
async fn revoke_that_loses_a_race_with_another_revocation_is_not_found() {
    let ada = a_user(Role::Member).build();
    let key = a_key(&ada);
    let mut m = Mocks::new();
    m.found(&key);
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));

    let err = m.service().revoke(&in_session(&ada), key.id()).await.unwrap_err();

    assert!(matches!(err, ApiKeyError::NotFound), "{err:?}");
}

#[tokio::test]
async fn revoke_is_refused_to_an_api_key_even_for_its_own_key() {
    let ada = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.api_keys.expect_by_id().never();
    m.nothing_written();

    let err = m.service().revoke(&by_api_key(&ada), ApiKeyId::generate()).await.unwrap_err();

    assert!(matches!(err, ApiKeyError::ApiKeyNotAllowed), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// authenticate_api_key

#[tokio::test]
async fn a_valid_key_authenticates_its_owner_without_a_session_and_records_the_use() {
    let ada = a_user(Role::Manager).build();
    let key = a_key(&ada);
    let mut m = Mocks::new();
    m.present(&key);
    m.owner_is(Some(ada.clone()), ada.id());
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let actor = m.service().authenticate_api_key(KEY, AccessIntent::Write, context()).await.unwrap();

    assert_eq!(actor.id(), ada.id());
    assert_eq!(actor.role(), Role::Manager);
    assert_eq!(actor.session_id(), None);
    assert_eq!(actor.api_key_id(), Some(key.id()));
    assert_eq!(actor.context(), &context());
    let changes = commits.single();
    assert!(
        matches!(changes.as_slice(), [Written::ApiKey(ApiKeyChange::Touch { id, at })] if *id == key.id() && *at == now()),
        "{changes:#?}"
    );
    assert!(commits.audits().is_empty(), "using a key is not audited");
}

#[tokio::test]
async fn a_key_used_within_the_last_minute_is_not_written_again() {
    let ada = a_user(Role::Member).build();
    let key = ApiKey::from_parts(ApiKeyParts {
        last_used_at: Some(now() - Duration::seconds(59)),
        ..key_of(&ada, &["read"])
    });
    let mut m = Mocks::new();
    m.present(&key);
    m.owner_is(Some(ada.clone()), ada.id());
    m.nothing_written();

    let actor = m.service().authenticate_api_key(KEY, AccessIntent::Read, context()).await.unwrap();

    assert_eq!(actor.api_key_id(), Some(key.id()));
}

#[tokio::test]
async fn failing_to_record_the_use_does_not_refuse_the_key() {
    let ada = a_user(Role::Member).build();
    let key = a_key(&ada);
    let mut m = Mocks::new();
    m.present(&key);
    m.owner_is(Some(ada.clone()), ada.id());
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Unexpected(UnexpectedError::unavailable("busy"))));

    let actor = m.service().authenticate_api_key(KEY, AccessIntent::Read, context()).await;

    assert!(actor.is_ok(), "{actor:?}");
}

#[tokio::test]
async fn a_read_key_is_refused_for_writes_with_the_missing_scope() {
    let ada = a_user(Role::Member).build();
    let key = ApiKey::from_parts(key_of(&ada, &["read"]));
    let mut m = Mocks::new();
    m.present(&key);
    m.owner_is(Some(ada.clone()), ada.id());
    m.nothing_written();

    let err = m.service().authenticate_api_key(KEY, AccessIntent::Write, context()).await.unwrap_err();

    assert!(matches!(err, ApiKeyAuthError::InsufficientScope(ApiKeyScope::Write)), "{err:?}");
}

#[tokio::test]
async fn a_write_only_key_is_refused_for_reads() {
    let ada = a_user(Role::Member).build();
    let key = ApiKey::from_parts(key_of(&ada, &["write"]));
    let mut m = Mocks::new();
    m.present(&key);
    m.owner_is(Some(ada.clone()), ada.id());
    m.nothing_written();

    let err = m.service().authenticate_api_key(KEY, AccessIntent::Read, context()).await.unwrap_err();

    assert!(matches!(err, ApiKeyAuthError::InsufficientScope(ApiKeyScope::Read)), "{err:?}");
}

#[tokio::test]
async fn something_that_is_not_a_key_is_refused_without_a_lookup() {
    for raw in ["", "sk_", "pk_Ab3dE9xQ", "eyJhbGciOiJIUzI1NiJ9.e30.x"] {
        let mut m = Mocks::new();
        m.tokens.expect_digest().never();
        m.api_keys.expect_by_digest().never();

        let result = m.service().authenticate_api_key(raw, AccessIntent::Read, context()).await;

        assert!(matches!(result, Err(ApiKeyAuthError::Invalid)), "{raw}: {result:?}");
    }
}

#[tokio::test]
async fn an_unknown_key_is_invalid() {
    let mut m = Mocks::new();
    m.tokens.expect_digest().return_const(TokenDigest::new("unknown".into()));
    m.api_keys.expect_by_digest().times(1).returning(|_| Ok(None));
    m.users.expect_by_id().never();

    let err = m.service().authenticate_api_key(KEY, AccessIntent::Read, context()).await.unwrap_err();

    assert!(matches!(err, ApiKeyAuthError::Invalid), "{err:?}");
}

#[tokio::test]
async fn a_revoked_key_is_revoked_and_an_expired_key_expired_without_loading_the_owner() {
    let ada = a_user(Role::Member).build();
    let revoked =
        ApiKey::from_parts(ApiKeyParts { revoked_at: Some(now() - Duration::minutes(1)), ..key_of(&ada, &["read"]) });
    let expired = ApiKey::from_parts(ApiKeyParts { expires_at: Some(now()), ..key_of(&ada, &["read"]) });
    for (key, revoked) in [(revoked, true), (expired, false)] {
        let mut m = Mocks::new();
        m.present(&key);
        m.users.expect_by_id().never();
        m.nothing_written();

        let err = m.service().authenticate_api_key(KEY, AccessIntent::Read, context()).await.unwrap_err();

        if revoked {
            assert!(matches!(err, ApiKeyAuthError::Revoked), "{err:?}");
        } else {
            assert!(matches!(err, ApiKeyAuthError::Expired), "{err:?}");
        }
    }
}

#[tokio::test]
async fn a_key_whose_owner_is_gone_deleted_or_disabled_is_invalid() {
    let ada = a_user(Role::Member).build();
    for owner in [None, Some(a_user(Role::Member).deleted().build()), Some(a_user(Role::Admin).inactive().build())] {
        let key = a_key(&ada);
        let mut m = Mocks::new();
        m.present(&key);
        m.owner_is(owner, ada.id());
        m.nothing_written();

        let err = m.service().authenticate_api_key(KEY, AccessIntent::Read, context()).await.unwrap_err();

        assert!(matches!(err, ApiKeyAuthError::Invalid), "{err:?}");
    }
}

#[tokio::test]
async fn authentication_fails_closed_when_storage_fails() {
    let mut m = Mocks::new();
    m.tokens.expect_digest().return_const(TokenDigest::new("d".into()));
    m.api_keys.expect_by_digest().returning(|_| Err(UnexpectedError::unavailable("down")));

    let err = m.service().authenticate_api_key(KEY, AccessIntent::Read, context()).await.unwrap_err();

    assert!(matches!(err, ApiKeyAuthError::Unexpected(_)), "{err:?}");
}
