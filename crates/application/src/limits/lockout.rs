use std::sync::Arc;

use chrono::{DateTime, Utc};
use forge_domain::users::{User, UserId};

use super::{
    FailedLogins, LockoutPolicy, LockoutVerdict, ThrottleChange,
    policy::normalize_identifier,
    ports::{LoginThrottle, LoginThrottleRepository, RateKey, RateLimiter},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditRecord, AuditValue, Snapshot},
    common::{Actor, Changes, ClientContext, Clock, CommitError, UnexpectedError, UnitOfWork},
    users::{
        UserError,
        policy::{self, Viewer},
        ports::UserRepository,
    },
};

/// How often a failed login is re-counted after losing a race with another one on the same
/// account before it gives up (with a warning). Each retry re-reads the row, so this is only
/// reached under a flood of parallel failures on one account, which the request limits bound.
const MAX_COUNT_ATTEMPTS: usize = 8;

/// The ports the lockout needs.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct LockoutPorts {
    pub users: Arc<dyn UserRepository>,
    pub throttles: Arc<dyn LoginThrottleRepository>,
    pub limiter: Arc<dyn RateLimiter>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    pub clock: Arc<dyn Clock>,
}

/// The lockout after repeated failed logins: the gate every login passes
/// ([`AuthService::with_lockout`](crate::auth::AuthService::with_lockout)), and the admin's
/// unlock.
///
/// The failed logins of an account are stored ([`LoginThrottle`]), so every instance sees them
/// and they survive a restart. Those of an identifier that names no account cannot be stored
/// against an account; they are counted by the [`RateLimiter`] under the normalized identifier,
/// with the same thresholds, so that from outside an unknown account is slowed and locked
/// exactly like a known one and a login cannot tell whether an account exists.
#[derive(Clone)]
pub struct LockoutService {
    ports: LockoutPorts,
    policy: Arc<LockoutPolicy>,
}

/// Where a login attempt stands, read before its password is checked.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    subject: Subject,
    /// Whether the attempt may go ahead.
    pub(crate) verdict: LockoutVerdict,
}

#[derive(Debug, Clone)]
enum Subject {
    /// An account, with its stored throttle as read.
    Account { user_id: UserId, stored: Option<LoginThrottle> },
    /// An identifier that names no account, with its limiter key.
    Identifier(RateKey),
}

impl LockoutService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: LockoutPorts, policy: LockoutPolicy) -> Self {
        Self { ports, policy: Arc::new(policy) }
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &LockoutPolicy {
        &self.policy
    }

    /// Lifts the lock and forgets the failed logins of a user (admins only). Unlocking an
    /// account that is not locked changes nothing and succeeds.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for anyone but admins (checked first, so ids reveal nothing);
    /// [`UserError::NotFound`] for unknown or deleted users.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), user_id = %id))]
    pub async fn unlock(&self, actor: &Actor, id: UserId) -> Result<(), UserError> {
        if !policy::can_unlock(Viewer::user(actor.id(), actor.role())) {
            return Err(UserError::Forbidden);
        }
        match self.ports.users.by_id(id).await? {
            Some(user) if !user.is_deleted() => {}
            _ => return Err(UserError::NotFound),
        }
        let Some(stored) = self.ports.throttles.for_user(id).await? else {
            return Ok(());
        };
        let now = self.ports.clock.now();
        let audit =
            AuditRecord::new(AuditAction::UserUnlocked, AuditEntity::User, id, Some(actor.id()), actor.context(), now)
                .before(throttle_snapshot(stored.failures, stored.locked_until))
                .after(throttle_snapshot(0, None));
        self.ports
            .unit_of_work
            .commit(Changes::new().with(ThrottleChange::Clear { user_id: id }).with(audit))
            .await
            .map_err(|e| UserError::Unexpected(e.into_unexpected()))?;
        tracing::info!("account unlocked");
        Ok(())
    }

    /// Reads where an attempt on `account` (found by `identifier`, or not) stands at `now`.
    pub(crate) async fn admit(
        &self,
        account: Option<&User>,
        identifier: &str,
        now: DateTime<Utc>,
    ) -> Result<Attempt, UnexpectedError> {
        match account {
            Some(user) => {
                let stored = self.ports.throttles.for_user(user.id()).await?;
                let verdict = self.policy.judge(stored.as_ref().map(failed_logins).as_ref(), now);
                Ok(Attempt { subject: Subject::Account { user_id: user.id(), stored }, verdict })
            }
            None => {
                let key = RateKey::new("lockout", &normalize_identifier(identifier));
                let streak = self.ports.limiter.failures(&key, now).await?;
                let failed = streak.map(|s| self.policy.from_streak(s.failures, s.last_failure_at));
                let verdict = self.policy.judge(failed.as_ref(), now);
                Ok(Attempt { subject: Subject::Identifier(key), verdict })
            }
        }
    }

    /// Counts the failure of `attempt` at `now`. Locking an account writes `user.locked` to the
    /// audit trail, in the same transaction.
    pub(crate) async fn record_failure(
        &self,
        attempt: Attempt,
        context: &ClientContext,
        now: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        let (user_id, mut stored) = match attempt.subject {
            Subject::Identifier(key) => {
                let streak = self.ports.limiter.record_failure(&key, self.policy.lock_duration, now).await?;
                if streak.failures == self.policy.lock_after {
                    tracing::warn!("repeated failed logins locked an identifier that names no account");
                }
                return Ok(());
            }
            Subject::Account { user_id, stored } => (user_id, stored),
        };
        for _ in 0..MAX_COUNT_ATTEMPTS {
            let before = stored.as_ref().map(failed_logins).filter(|f| self.policy.is_live(f, now));
            let after = self.policy.after_failure(before.as_ref(), now);
            let locks =
                after.failures >= self.policy.lock_after && before.is_none_or(|b| b.failures < self.policy.lock_after);
            let throttle = LoginThrottle {
                user_id,
                failures: after.failures,
                last_failure_at: after.last_failure_at,
                locked_until: after.locked_until,
            };
            let mut changes = Changes::from(ThrottleChange::Save { throttle, expected: stored });
            if locks {
                changes.push(
                    AuditRecord::new(AuditAction::UserLocked, AuditEntity::User, user_id, None, context, now)
                        .after(throttle_snapshot(after.failures, after.locked_until)),
                );
            }
            match self.ports.unit_of_work.commit(changes).await {
                Ok(()) => {
                    if locks {
                        tracing::warn!(%user_id, failures = after.failures, "repeated failed logins locked an account");
                    }
                    return Ok(());
                }
                // Another failure (or a success, or an unlock) changed the row since it was read.
                Err(CommitError::Stale) => stored = self.ports.throttles.for_user(user_id).await?,
                Err(e) => return Err(e.into_unexpected()),
            }
        }
        tracing::warn!(%user_id, "a failed login was not counted: the account's throttle kept changing");
        Ok(())
    }

    /// The change that forgets the failed logins of a successful `attempt`, if it has any.
    pub(crate) fn on_success(attempt: &Attempt) -> Option<ThrottleChange> {
        match &attempt.subject {
            Subject::Account { user_id, stored: Some(_) } => Some(ThrottleChange::Clear { user_id: *user_id }),
            Subject::Account { stored: None, .. } | Subject::Identifier(_) => None,
        }
    }
}

fn failed_logins(throttle: &LoginThrottle) -> FailedLogins {
    FailedLogins {
        failures: throttle.failures,
        last_failure_at: throttle.last_failure_at,
        locked_until: throttle.locked_until,
    }
}

/// What the audit trail records of a throttle.
fn throttle_snapshot(failures: u32, locked_until: Option<DateTime<Utc>>) -> Snapshot {
    Snapshot::new().with("failed_logins", i64::from(failures)).with("locked_until", AuditValue::from(locked_until))
}
