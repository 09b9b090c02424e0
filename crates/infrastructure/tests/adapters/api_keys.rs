//! API keys: stored by digest only, listed per user, revoked once, touched forward only.

use chrono::Duration;
use forge_application::api_keys::ApiKeyChange;
use forge_application::users::UserChange;
use forge_application::{
    ClientContext, PageRequest, SortOrder,
    api_keys::ports::{ApiKeyQuery, ApiKeyRepository, ApiKeySort},
    audit::{AuditAction, AuditEntity, AuditRecord, Snapshot},
    common::{CommitError, UnexpectedKind, UnitOfWork},
};
use forge_domain::{
    api_keys::{ApiKey, ApiKeyId, ApiKeyName, ApiKeyParts, ApiKeyScopes},
    sessions::TokenDigest,
    users::User,
};
use forge_infrastructure::SeaApiKeyRepository;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::common::{Harness, t0, user};

/// A harness with one user in it, and the key repository over its pool.
async fn with_user() -> (Harness, SeaApiKeyRepository, User) {
    let h = Harness::new().await;
    let ada = user("ada@example.com", "ada");
    h.uow.commit(changes![UserChange::Insert(ada.clone())]).await.unwrap();
    let keys = SeaApiKeyRepository::new(&h.database);
    (h, keys, ada)
}

/// A key of `owner` named `name`, created at `t0() + offset`, with a digest of its own.
fn key(owner: &User, name: &str, offset: Duration) -> ApiKey {
    ApiKey::from_parts(ApiKeyParts {
        id: ApiKeyId::generate(),
        user_id: owner.id(),
        name: ApiKeyName::parse(name).unwrap(),
        prefix: "sk_Ab3dE9xQ".into(),
        digest: TokenDigest::new(format!("{:0>64}", uuid::Uuid::new_v4().simple())),
        scopes: ApiKeyScopes::parse(["read"]).unwrap(),
        created_at: t0() + offset,
        last_used_at: None,
        expires_at: Some(t0() + Duration::days(90)),
        revoked_at: None,
    })
}

fn names(keys: &[ApiKey]) -> Vec<&str> {
    keys.iter().map(|k| k.name().as_ref()).collect()
}

async fn execute(h: &Harness, sql: &str) {
    let backend = h.conn.get_database_backend();
    h.conn.execute_raw(Statement::from_string(backend, sql)).await.unwrap();
}

#[tokio::test]
async fn a_key_round_trips_by_id_and_by_digest() {
    let (h, keys, ada) = with_user().await;
    let stored = key(&ada, "deploys", Duration::zero());
    h.uow.commit(changes![ApiKeyChange::Insert(stored.clone())]).await.unwrap();

    assert_eq!(keys.by_id(stored.id()).await.unwrap(), Some(stored.clone()));
    assert_eq!(keys.by_digest(stored.digest()).await.unwrap(), Some(stored));
    assert_eq!(keys.by_id(ApiKeyId::generate()).await.unwrap(), None);
    assert_eq!(keys.by_digest(&TokenDigest::new("0".repeat(64))).await.unwrap(), None);
}

#[tokio::test]
async fn both_scopes_are_stored_and_read_back() {
    let (h, keys, ada) = with_user().await;
    let parts = ApiKey::from_parts(ApiKeyParts {
        scopes: ApiKeyScopes::all(),
        expires_at: None,
        ..parts_of(&key(&ada, "all", Duration::zero()))
    });
    h.uow.commit(changes![ApiKeyChange::Insert(parts.clone())]).await.unwrap();

    let read = keys.by_id(parts.id()).await.unwrap().unwrap();
    assert_eq!(read.scopes().names(), ["read", "write"]);
    assert_eq!(read.expires_at(), None);
}

#[tokio::test]
async fn a_key_of_an_unknown_user_is_refused_by_the_foreign_key() {
    let h = Harness::new().await;
    let stranger = user("stranger@example.com", "stranger");
    let err = h.uow.commit(changes![ApiKeyChange::Insert(key(&stranger, "x", Duration::zero()))]).await.unwrap_err();
    assert!(matches!(&err, CommitError::Unexpected(e) if e.kind() == UnexpectedKind::Internal), "{err:?}");
}

#[tokio::test]
async fn two_keys_cannot_share_a_digest() {
    let (h, keys, ada) = with_user().await;
    let first = key(&ada, "first", Duration::zero());
    let twin = ApiKey::from_parts(ApiKeyParts {
        id: ApiKeyId::generate(),
        name: ApiKeyName::parse("twin").unwrap(),
        ..parts_of(&first)
    });
    h.uow.commit(changes![ApiKeyChange::Insert(first.clone())]).await.unwrap();

    let err = h.uow.commit(changes![ApiKeyChange::Insert(twin.clone())]).await.unwrap_err();

    assert!(matches!(err, CommitError::Unexpected(_)), "{err:?}");
    assert_eq!(keys.by_id(twin.id()).await.unwrap(), None);
    assert_eq!(keys.by_digest(first.digest()).await.unwrap(), Some(first));
}

#[tokio::test]
async fn list_for_user_pages_the_users_unrevoked_keys_in_the_order_asked() {
    let (h, keys, ada) = with_user().await;
    let grace = user("grace@example.com", "grace");
    let (alpha, bravo, charlie) = (
        key(&ada, "alpha", Duration::minutes(3)),
        key(&ada, "bravo", Duration::minutes(1)),
        key(&ada, "charlie", Duration::minutes(2)),
    );
    let revoked = key(&ada, "revoked", Duration::minutes(4));
    let expired = ApiKey::from_parts(ApiKeyParts {
        expires_at: Some(t0() - Duration::days(1)),
        ..parts_of(&key(&ada, "expired", Duration::minutes(5)))
    });
    let others = key(&grace, "others", Duration::zero());
    h.uow
        .commit(changes![
            UserChange::Insert(grace),
            ApiKeyChange::Insert(alpha.clone()),
            ApiKeyChange::Insert(bravo.clone()),
            ApiKeyChange::Insert(charlie.clone()),
            ApiKeyChange::Insert(revoked.clone()),
            ApiKeyChange::Insert(expired.clone()),
            ApiKeyChange::Insert(others),
            ApiKeyChange::Revoke { id: revoked.id(), at: t0() },
            ApiKeyChange::Touch { id: charlie.id(), at: t0() + Duration::hours(1) },
            ApiKeyChange::Touch { id: alpha.id(), at: t0() + Duration::hours(2) },
        ])
        .await
        .unwrap();

    let newest_first = keys.list_for_user(ada.id(), &ApiKeyQuery::default()).await.unwrap();
    assert_eq!(names(&newest_first.items), ["expired", "alpha", "charlie", "bravo"], "expired keys are listed");
    assert_eq!(newest_first.total, 4);

    let by_name = ApiKeyQuery { sort: ApiKeySort::Name, order: SortOrder::Asc, page: PageRequest::new(2, 2).unwrap() };
    let page = keys.list_for_user(ada.id(), &by_name).await.unwrap();
    assert_eq!(names(&page.items), ["charlie", "expired"]);
    assert_eq!((page.total, page.pages()), (4, 2));

    for order in [SortOrder::Asc, SortOrder::Desc] {
        let by_use = ApiKeyQuery { sort: ApiKeySort::LastUsedAt, order, page: PageRequest::default() };
        let listed = keys.list_for_user(ada.id(), &by_use).await.unwrap();
        let used: Vec<&str> = names(&listed.items).into_iter().take(2).collect();
        let expected = if order == SortOrder::Asc { ["charlie", "alpha"] } else { ["alpha", "charlie"] };
        assert_eq!(used, expected, "{order:?}: never-used keys come last");
    }
}

fn parts_of(key: &ApiKey) -> ApiKeyParts {
    ApiKeyParts {
        id: key.id(),
        user_id: key.user_id(),
        name: key.name().clone(),
        prefix: key.prefix().to_owned(),
        digest: key.digest().clone(),
        scopes: key.scopes().clone(),
        created_at: key.created_at(),
        last_used_at: key.last_used_at(),
        expires_at: key.expires_at(),
        revoked_at: key.revoked_at(),
    }
}

#[tokio::test]
async fn a_key_is_revoked_once_and_a_second_revocation_is_stale() {
    let (h, keys, ada) = with_user().await;
    let stored = key(&ada, "deploys", Duration::zero());
    h.uow.commit(changes![ApiKeyChange::Insert(stored.clone())]).await.unwrap();
    let first = t0() + Duration::minutes(1);

    h.uow.commit(changes![ApiKeyChange::Revoke { id: stored.id(), at: first }]).await.unwrap();
    let err = h.uow.commit(changes![ApiKeyChange::Revoke { id: stored.id(), at: first + Duration::minutes(1) }]).await;

    assert!(matches!(err, Err(CommitError::Stale)), "{err:?}");
    let read = keys.by_digest(stored.digest()).await.unwrap().unwrap();
    assert_eq!(read.revoked_at(), Some(first), "still found by digest, and known to be revoked");
    let unknown = h.uow.commit(changes![ApiKeyChange::Revoke { id: ApiKeyId::generate(), at: first }]).await;
    assert!(matches!(unknown, Err(CommitError::Stale)), "{unknown:?}");
}

#[tokio::test]
async fn touching_a_key_moves_last_used_at_forward_only() {
    let (h, keys, ada) = with_user().await;
    let stored = key(&ada, "deploys", Duration::zero());
    h.uow.commit(changes![ApiKeyChange::Insert(stored.clone())]).await.unwrap();
    let later = t0() + Duration::hours(2);

    h.uow.commit(changes![ApiKeyChange::Touch { id: stored.id(), at: later }]).await.unwrap();
    h.uow.commit(changes![ApiKeyChange::Touch { id: stored.id(), at: t0() + Duration::hours(1) }]).await.unwrap();

    assert_eq!(keys.by_id(stored.id()).await.unwrap().unwrap().last_used_at(), Some(later));
}

#[tokio::test]
async fn a_users_keys_go_with_it_when_it_is_purged() {
    let (h, keys, ada) = with_user().await;
    let stored = key(&ada, "deploys", Duration::zero());
    h.uow.commit(changes![ApiKeyChange::Insert(stored.clone())]).await.unwrap();

    // An administrative purge; ada is the only user.
    execute(&h, "DELETE FROM users").await;

    assert_eq!(keys.by_id(stored.id()).await.unwrap(), None);
}

#[tokio::test]
async fn a_stored_key_with_an_unknown_scope_is_a_corrupt_row() {
    let (h, keys, ada) = with_user().await;
    let stored = key(&ada, "deploys", Duration::zero());
    h.uow.commit(changes![ApiKeyChange::Insert(stored.clone())]).await.unwrap();

    execute(&h, "UPDATE api_keys SET scopes = 'read,admin'").await;

    let err = keys.by_id(stored.id()).await.unwrap_err();
    assert_eq!(err.kind(), UnexpectedKind::Internal);
    assert!(err.to_string().contains("scopes"), "{err}");
}

#[tokio::test]
async fn the_creation_audit_entry_holds_the_keys_description_and_no_secret() {
    let (h, _keys, ada) = with_user().await;
    let stored = key(&ada, "deploys", Duration::zero());
    let after = Snapshot::new()
        .with("name", stored.name().as_ref())
        .with("prefix", stored.prefix())
        .with("scopes", stored.scopes().names())
        .with("expires_at", stored.expires_at());
    let audit = AuditRecord::new(
        AuditAction::ApiKeyCreated,
        AuditEntity::ApiKey,
        stored.id(),
        Some(ada.id()),
        &ClientContext::default(),
        t0(),
    )
    .after(after);

    h.uow.commit(changes![ApiKeyChange::Insert(stored.clone()), audit]).await.unwrap();

    let backend = h.conn.get_database_backend();
    let row = h
        .conn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT action, entity_type, entity_id, CAST(changes AS TEXT) AS changes FROM audit_logs",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "action").unwrap(), "api_key.created");
    assert_eq!(row.try_get::<String>("", "entity_type").unwrap(), "api_key");
    assert_eq!(row.try_get::<String>("", "entity_id").unwrap(), stored.id().to_string());
    let changes: Value = serde_json::from_str(&row.try_get::<String>("", "changes").unwrap()).unwrap();
    assert_eq!(changes["after"]["name"], json!("deploys"));
    assert_eq!(changes["after"]["prefix"], json!("sk_Ab3dE9xQ"));
    assert_eq!(changes["after"]["scopes"], json!(["read"]));
    let expires_at = stored.expires_at().unwrap().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert_eq!(changes["after"]["expires_at"], json!(expires_at));
    assert!(!changes.to_string().contains(stored.digest().as_str()), "no digest in the trail: {changes}");
}
