//! Unit tests of idempotency decisions, the store mocked.

use std::sync::{Arc, Mutex};

use chrono::Duration;

use super::{
    Begin, IdempotencyCaller, IdempotencyKey, IdempotencyService, IdempotencySettings,
    ports::{ClaimState, ExistingClaim, MockIdempotencyStore, NewClaim, StoredResponse},
};
use crate::test_support::{fixed_clock, now};

const FINGERPRINT: &str = "f1";

fn key() -> IdempotencyKey {
    IdempotencyKey::parse("order-42").unwrap()
}

fn caller() -> IdempotencyCaller {
    IdempotencyCaller::Client("203.0.113.9".into())
}

fn response() -> StoredResponse {
    StoredResponse { status: 201, headers: vec![("location".into(), "/x".into())], body: b"{}".to_vec() }
}

fn service(store: MockIdempotencyStore) -> IdempotencyService {
    IdempotencyService::new(Arc::new(store), Arc::new(fixed_clock()), IdempotencySettings::default())
}

fn held(fingerprint: &str, state: ClaimState, expires_in: Duration) -> ExistingClaim {
    ExistingClaim { fingerprint: fingerprint.into(), state, expires_at: now() + expires_in }
}

#[tokio::test]
async fn a_free_key_is_claimed_for_the_lease_and_completed_for_a_day() {
    let claims: Arc<Mutex<Vec<NewClaim>>> = Arc::default();
    let mut store = MockIdempotencyStore::new();
    let log = claims.clone();
    store.expect_begin().times(1).returning(move |claim| {
        log.lock().unwrap().push(claim.clone());
        Ok(None)
    });
    let expected = response();
    let log_for_complete = claims.clone();
    store
        .expect_complete()
        .withf(move |caller, key, claim_id, stored, expires_at| {
            *claim_id == log_for_complete.lock().unwrap()[0].claim_id
                && caller == "client:203.0.113.9"
                && key.as_ref() == "order-42"
                && *stored == expected
                && *expires_at == now() + Duration::hours(24)
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(()));
    let service = service(store);

    let Begin::Proceed(claim) = service.begin(&caller(), &key(), FINGERPRINT).await.unwrap() else {
        panic!("expected to proceed")
    };
    service.complete(&claim, &response()).await.unwrap();

    let claims = claims.lock().unwrap();
    assert_eq!(claims[0].caller, "client:203.0.113.9");
    assert_eq!(claims[0].fingerprint, FINGERPRINT);
    assert_eq!((claims[0].created_at, claims[0].expires_at), (now(), now() + Duration::minutes(5)));
    assert_eq!(claim.id(), claims[0].claim_id, "completion names the claim it completes");
}

#[tokio::test]
async fn the_same_request_again_replays_the_stored_response() {
    let mut store = MockIdempotencyStore::new();
    store
        .expect_begin()
        .returning(|_| Ok(Some(held(FINGERPRINT, ClaimState::Completed(response()), Duration::hours(1)))));

    let begin = service(store).begin(&caller(), &key(), FINGERPRINT).await.unwrap();

    assert_eq!(begin, Begin::Replay(response()));
}

#[tokio::test]
async fn the_same_request_while_the_first_runs_is_in_progress() {
    let mut store = MockIdempotencyStore::new();
    store.expect_begin().returning(|_| Ok(Some(held(FINGERPRINT, ClaimState::Running, Duration::minutes(4)))));

    assert_eq!(service(store).begin(&caller(), &key(), FINGERPRINT).await.unwrap(), Begin::InProgress);
}

#[tokio::test]
async fn another_request_with_the_key_is_a_reuse_whether_the_first_runs_or_not() {
    for state in [ClaimState::Running, ClaimState::Completed(response())] {
        let mut store = MockIdempotencyStore::new();
        let existing = held("another", state, Duration::hours(1));
        store.expect_begin().returning(move |_| Ok(Some(existing.clone())));
        store.expect_complete().never();

        assert_eq!(service(store).begin(&caller(), &key(), FINGERPRINT).await.unwrap(), Begin::KeyReused);
    }
}

#[tokio::test]
async fn an_expired_claim_is_forgotten_and_the_key_claimed_anew() {
    let mut store = MockIdempotencyStore::new();
    let mut seq = mockall::Sequence::new();
    store
        .expect_begin()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(held("another", ClaimState::Completed(response()), Duration::zero()))));
    store
        .expect_forget_expired()
        .withf(|caller, key, at| caller == "client:203.0.113.9" && key.as_ref() == "order-42" && *at == now())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    store.expect_begin().times(1).in_sequence(&mut seq).returning(|_| Ok(None));

    let begin = service(store).begin(&caller(), &key(), FINGERPRINT).await.unwrap();

    assert!(matches!(begin, Begin::Proceed(_)), "{begin:?}");
}

#[tokio::test]
async fn releasing_names_the_claim_so_a_later_claim_is_not_released() {
    let mut store = MockIdempotencyStore::new();
    store.expect_begin().returning(|_| Ok(None));
    let service_store = Arc::new(Mutex::new(None));
    let seen = service_store.clone();
    store.expect_release().times(1).returning(move |_, _, id| {
        *seen.lock().unwrap() = Some(id);
        Ok(())
    });
    let service = service(store);
    let Begin::Proceed(claim) = service.begin(&caller(), &key(), FINGERPRINT).await.unwrap() else { panic!() };

    service.release(&claim).await.unwrap();

    assert_eq!(*service_store.lock().unwrap(), Some(claim.id()));
}

#[test]
fn callers_are_told_apart_by_kind() {
    let id = forge_domain::users::UserId::generate();
    assert_eq!(IdempotencyCaller::User(id).id(), format!("user:{id}"));
    assert_ne!(IdempotencyCaller::Client("1".into()).id(), IdempotencyCaller::User(id).id());
}
