//! Where idempotency claims are kept.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::IdempotencyKey;
use crate::common::UnexpectedError;

/// A response as it is kept for replay: the status, the headers that matter to a client
/// (`Content-Type`, `Location`, `ETag`, ...) and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, exactly as sent.
    pub body: Vec<u8>,
}

/// A claim on a key, as the first request makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClaim {
    /// Whose key it is ([`IdempotencyCaller::id`](super::IdempotencyCaller::id)).
    pub caller: String,
    /// The key.
    pub key: IdempotencyKey,
    /// The fingerprint of the request (a SHA-256 in hex).
    pub fingerprint: String,
    /// This claim, as opposed to a later claim of the same key.
    pub claim_id: Uuid,
    /// When the claim was made.
    pub created_at: DateTime<Utc>,
    /// When an unfinished claim may be taken over (the request's lease).
    pub expires_at: DateTime<Utc>,
}

/// What a key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimState {
    /// Its first request is still running.
    Running,
    /// Its first request answered this.
    Completed(StoredResponse),
}

/// A claim already held on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingClaim {
    /// The fingerprint of the request that claimed it.
    pub fingerprint: String,
    /// Running or completed.
    pub state: ClaimState,
    /// When it may be forgotten.
    pub expires_at: DateTime<Utc>,
}

/// Keeps claims on idempotency keys, shared by every instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `claim.key` for `claim.caller` unless a claim on it exists, atomically: of any
    /// number of concurrent calls for one key, on any instance, exactly one claims it.
    ///
    /// Returns `None` when the key is now this claim's, or the claim that holds it (which may
    /// have expired: the caller decides).
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn begin(&self, claim: &NewClaim) -> Result<Option<ExistingClaim>, UnexpectedError>;

    /// Stores the response of the claim `claim_id` and keeps it until `expires_at`. Nothing
    /// happens if that claim no longer holds the key.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn complete(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        claim_id: Uuid,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), UnexpectedError>;

    /// Gives up the claim `claim_id`, so the key can be claimed again. Nothing happens if that
    /// claim no longer holds the key.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn release(&self, caller: &str, key: &IdempotencyKey, claim_id: Uuid) -> Result<(), UnexpectedError>;

    /// Forgets the claim on this key if it expired at or before `now`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn forget_expired(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<(), UnexpectedError>;

    /// Forgets every claim that expired at or before `now`; returns how many.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, UnexpectedError>;
}
