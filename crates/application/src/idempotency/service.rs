use std::sync::Arc;

use chrono::Duration;
use forge_domain::users::UserId;
use uuid::Uuid;

use super::{
    IdempotencyKey,
    ports::{ClaimState, IdempotencyStore, NewClaim, StoredResponse},
};
use crate::common::{Clock, UnexpectedError};

/// How long keys are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencySettings {
    /// How long a completed request's response is replayed.
    pub ttl: Duration,
    /// How long an unfinished claim holds its key: past this (a request longer than the
    /// server's time limit cannot still be running; its instance crashed), a repeat may run.
    pub lease: Duration,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self { ttl: Duration::hours(24), lease: Duration::minutes(5) }
    }
}

/// Whose key it is: keys of different callers never meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyCaller {
    /// An authenticated user.
    User(UserId),
    /// An anonymous client, by its address (for registration).
    Client(String),
}

impl IdempotencyCaller {
    /// The stored form: `user:<uuid>` or `client:<address>`.
    #[must_use]
    pub fn id(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Client(address) => format!("client:{address}"),
        }
    }
}

/// A key claimed by the request now running; hand it back through
/// [`IdempotencyService::complete`] or [`IdempotencyService::release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    caller: String,
    key: IdempotencyKey,
    id: Uuid,
}

impl Claim {
    /// This claim's id (a later claim of the same key has another).
    #[must_use]
    pub const fn id(&self) -> Uuid {
        self.id
    }
}

/// What a request with a key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Run: the key is this request's now.
    Proceed(Claim),
    /// Answer this again: it is the response to the same request, made earlier.
    Replay(StoredResponse),
    /// Refuse: the same request with this key is still running.
    InProgress,
    /// Refuse: the key was used for a different request.
    KeyReused,
}

/// Claims, completes and releases idempotency keys (see the module notes).
#[derive(Clone)]
pub struct IdempotencyService {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    settings: IdempotencySettings,
}

impl IdempotencyService {
    /// Builds the service.
    #[must_use]
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>, settings: IdempotencySettings) -> Self {
        Self { store, clock, settings }
    }

    /// Decides what the request `fingerprint` with `key` from `caller` does, claiming the key
    /// when it is free (or held by a claim that expired).
    ///
    /// # Errors
    /// [`UnexpectedError`] when the store fails.
    #[tracing::instrument(skip_all, fields(caller = %caller.id()))]
    pub async fn begin(
        &self,
        caller: &IdempotencyCaller,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Begin, UnexpectedError> {
        let caller = caller.id();
        // Twice at most: once more after forgetting an expired claim. Should a third party
        // claim the key in between, that claim is as good as any.
        for _ in 0..2 {
            let now = self.clock.now();
            let claim = NewClaim {
                caller: caller.clone(),
                key: key.clone(),
                fingerprint: fingerprint.to_owned(),
                claim_id: Uuid::now_v7(),
                created_at: now,
                expires_at: now + self.settings.lease,
            };
            let Some(existing) = self.store.begin(&claim).await? else {
                return Ok(Begin::Proceed(Claim { caller, key: key.clone(), id: claim.claim_id }));
            };
            if existing.expires_at <= now {
                self.store.forget_expired(&caller, key, now).await?;
                continue;
            }
            if existing.fingerprint != fingerprint {
                return Ok(Begin::KeyReused);
            }
            return Ok(match existing.state {
                ClaimState::Running => Begin::InProgress,
                ClaimState::Completed(response) => Begin::Replay(response),
            });
        }
        Ok(Begin::InProgress)
    }

    /// Keeps `response` as the answer to every repeat of the claimed request, for the
    /// retention period.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the store fails.
    pub async fn complete(&self, claim: &Claim, response: &StoredResponse) -> Result<(), UnexpectedError> {
        let expires_at = self.clock.now() + self.settings.ttl;
        self.store.complete(&claim.caller, &claim.key, claim.id, response, expires_at).await
    }

    /// Gives the key back without a response, so a repeat runs again.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the store fails.
    pub async fn release(&self, claim: &Claim) -> Result<(), UnexpectedError> {
        self.store.release(&claim.caller, &claim.key, claim.id).await
    }

    /// Forgets every expired key; returns how many (for a periodic task).
    ///
    /// # Errors
    /// [`UnexpectedError`] when the store fails.
    pub async fn purge_expired(&self) -> Result<u64, UnexpectedError> {
        self.store.purge_expired(self.clock.now()).await
    }
}
