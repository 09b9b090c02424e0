//! Idempotency claims in memory: the [`IdempotencyStore`] of the store. Claims are not changes of
//! a unit of work; each call is atomic on its own, as each statement of the SeaORM store is.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::store::{InMemoryStore, count};
use crate::{
    common::UnexpectedError,
    idempotency::{
        IdempotencyKey,
        ports::{ClaimState, ExistingClaim, IdempotencyStore, NewClaim, StoredResponse},
    },
};

/// The claims by caller and key.
#[derive(Debug, Default)]
pub(super) struct Claims(Mutex<HashMap<(String, String), Claim>>);

/// A claim as the `idempotency_keys` table holds it.
#[derive(Debug, Clone)]
struct Claim {
    fingerprint: String,
    claim_id: Uuid,
    state: ClaimState,
    expires_at: DateTime<Utc>,
}

impl Claims {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Claim>> {
        // Every update is a single insert, change or removal: a panic elsewhere cannot leave the
        // map half-updated.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key_of(caller: &str, key: &IdempotencyKey) -> (String, String) {
    (caller.to_owned(), key.as_ref().to_owned())
}

#[async_trait]
impl IdempotencyStore for InMemoryStore {
    async fn begin(&self, claim: &NewClaim) -> Result<Option<ExistingClaim>, UnexpectedError> {
        let mut claims = self.claims.lock();
        let key = key_of(&claim.caller, &claim.key);
        if let Some(held) = claims.get(&key) {
            return Ok(Some(ExistingClaim {
                fingerprint: held.fingerprint.clone(),
                state: held.state.clone(),
                expires_at: held.expires_at,
            }));
        }
        let new = Claim {
            fingerprint: claim.fingerprint.clone(),
            claim_id: claim.claim_id,
            state: ClaimState::Running,
            expires_at: claim.expires_at,
        };
        claims.insert(key, new);
        Ok(None)
    }

    async fn complete(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        claim_id: Uuid,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        if let Some(held) = self.claims.lock().get_mut(&key_of(caller, key)).filter(|held| held.claim_id == claim_id) {
            held.state = ClaimState::Completed(response.clone());
            held.expires_at = expires_at;
        }
        Ok(())
    }

    async fn release(&self, caller: &str, key: &IdempotencyKey, claim_id: Uuid) -> Result<(), UnexpectedError> {
        let mut claims = self.claims.lock();
        let key = key_of(caller, key);
        if claims.get(&key).is_some_and(|held| held.claim_id == claim_id) {
            claims.remove(&key);
        }
        Ok(())
    }

    async fn forget_expired(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        let mut claims = self.claims.lock();
        let key = key_of(caller, key);
        if claims.get(&key).is_some_and(|held| held.expires_at <= now) {
            claims.remove(&key);
        }
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, UnexpectedError> {
        let mut claims = self.claims.lock();
        let expired = count(claims.values().filter(|held| held.expires_at <= now));
        claims.retain(|_, held| held.expires_at > now);
        Ok(expired)
    }
}
