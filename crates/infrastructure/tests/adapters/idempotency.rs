//! Idempotency claims: claimed by exactly one of concurrent requests, completed and released only
//! by their own claim, purged once expired.

use chrono::Duration;
use forge_application::idempotency::{
    IdempotencyKey,
    ports::{ClaimState, IdempotencyStore, NewClaim, StoredResponse},
};
use forge_infrastructure::SeaIdempotencyStore;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::common::{Harness, t0};

fn claim(caller: &str, key: &str, fingerprint: &str) -> NewClaim {
    NewClaim {
        caller: caller.to_owned(),
        key: IdempotencyKey::parse(key).unwrap(),
        fingerprint: fingerprint.to_owned(),
        claim_id: Uuid::now_v7(),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(5),
    }
}

fn response() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("location".into(), "/api/v1/users/1".into()),
        ],
        body: b"{\"id\":1}".to_vec(),
    }
}

#[tokio::test]
async fn of_twenty_concurrent_claims_of_one_key_exactly_one_wins() {
    let h = Harness::new().await;
    let mut tasks = JoinSet::new();
    for i in 0..20 {
        let store = SeaIdempotencyStore::new(&h.database);
        tasks.spawn(async move { store.begin(&claim("user:a", "k-1", &format!("f{i}"))).await.unwrap() });
    }
    let outcomes = tasks.join_all().await;

    assert_eq!(outcomes.iter().filter(|o| o.is_none()).count(), 1, "{outcomes:?}");
    let holders: Vec<_> = outcomes.iter().flatten().map(|e| e.fingerprint.clone()).collect();
    assert_eq!(holders.len(), 19);
    assert!(holders.windows(2).all(|w| w[0] == w[1]), "all see the same holder: {holders:?}");
    assert!(outcomes.iter().flatten().all(|e| e.state == ClaimState::Running));
}

#[tokio::test]
async fn a_completed_claim_gives_back_its_response_and_expiry() {
    let h = Harness::new().await;
    let store = SeaIdempotencyStore::new(&h.database);
    let first = claim("user:a", "k-1", "f1");
    assert_eq!(store.begin(&first).await.unwrap(), None);

    store.complete("user:a", &first.key, first.claim_id, &response(), t0() + Duration::hours(24)).await.unwrap();

    let existing = store.begin(&claim("user:a", "k-1", "f2")).await.unwrap().unwrap();
    assert_eq!(existing.fingerprint, "f1");
    assert_eq!(existing.state, ClaimState::Completed(response()));
    assert_eq!(existing.expires_at, t0() + Duration::hours(24));
}

#[tokio::test]
async fn keys_of_different_callers_are_independent() {
    let h = Harness::new().await;
    let store = SeaIdempotencyStore::new(&h.database);
    assert_eq!(store.begin(&claim("user:a", "k-1", "f1")).await.unwrap(), None);
    assert_eq!(store.begin(&claim("user:b", "k-1", "f1")).await.unwrap(), None);
    assert_eq!(store.begin(&claim("user:a", "K-1", "f1")).await.unwrap(), None, "keys are case-sensitive");
}

#[tokio::test]
async fn only_its_own_claim_completes_or_releases_a_key() {
    let h = Harness::new().await;
    let store = SeaIdempotencyStore::new(&h.database);
    let first = claim("user:a", "k-1", "f1");
    store.begin(&first).await.unwrap();
    let stranger = Uuid::now_v7();

    store.complete("user:a", &first.key, stranger, &response(), t0() + Duration::hours(1)).await.unwrap();
    store.release("user:a", &first.key, stranger).await.unwrap();

    let existing = store.begin(&claim("user:a", "k-1", "f1")).await.unwrap().unwrap();
    assert_eq!(existing.state, ClaimState::Running, "neither the completion nor the release applied");

    store.release("user:a", &first.key, first.claim_id).await.unwrap();
    assert_eq!(store.begin(&claim("user:a", "k-1", "f1")).await.unwrap(), None, "released: free again");
}

#[tokio::test]
async fn expired_claims_are_forgotten_one_by_one_or_all_at_once() {
    let h = Harness::new().await;
    let store = SeaIdempotencyStore::new(&h.database);
    for (caller, key) in [("user:a", "k-1"), ("user:a", "k-2"), ("user:b", "k-1")] {
        store.begin(&claim(caller, key, "f")).await.unwrap();
    }
    let key = IdempotencyKey::parse("k-1").unwrap();

    store.forget_expired("user:a", &key, t0()).await.unwrap();
    assert!(store.begin(&claim("user:a", "k-1", "f")).await.unwrap().is_some(), "not expired yet: kept");
    store.forget_expired("user:a", &key, t0() + Duration::minutes(5)).await.unwrap();
    assert_eq!(store.begin(&claim("user:a", "k-1", "f")).await.unwrap(), None, "expired: forgotten");

    assert_eq!(store.purge_expired(t0() + Duration::minutes(4)).await.unwrap(), 0);
    assert_eq!(store.purge_expired(t0() + Duration::minutes(5)).await.unwrap(), 3);
}
