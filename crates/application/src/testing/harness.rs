//! Every use case wired over the fakes, with the server's defaults: one line of set-up for a test
//! or a harness.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use forge_domain::users::Role;

use super::{
    ActorBuilder, FakeAccessTokens, FakeDatabaseMetrics, FakeOpaqueTokens, FakePasswordHasher, FakeProbe,
    FakeRateLimiter, FakeStatsCache, FixedClock, InMemoryStore, PlainMailTemplates, RecordingMailQueue,
};
use crate::{
    auth::AuthSettings,
    common::Clock,
    dashboard::DashboardService,
    idempotency::IdempotencySettings,
    limits::{LockoutPolicy, RateLimitSettings},
    services::{Ports, Services, Settings},
};

/// Every use case over in-memory fakes, wired as the server wires them over its adapters: the
/// lockout in front of every login, the session's state read with the account on every authentication, mail rendered
/// and queued after each commit. Nothing touches a database, a network or the file system, and
/// nothing runs in the background.
///
/// ```
/// # tokio_test_block_on(async {
/// use forge_application::{auth::RegisterCommand, testing::InMemory};
///
/// let forge = InMemory::new();
/// let ada = forge
///     .auth
///     .register(RegisterCommand {
///         email: "ada@example.com".into(),
///         username: "ada".into(),
///         password: "Analytical-Engine-1843".into(),
///         full_name: None,
///         context: Default::default(),
///     })
///     .await
///     .unwrap();
/// assert_eq!(forge.mail.last_to("ada@example.com").unwrap().subject, "verify_email");
/// # });
/// # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
///
/// The fields are the services, then the fakes a test reads or moves: the clock, the mail queue,
/// the store behind every repository and the unit of work, and the rate limiter. Settings are the defaults of the server's configuration unless changed through
/// [`InMemory::builder`].
#[derive(Clone)]
#[non_exhaustive]
pub struct InMemory {
    /// Every use case, wired as the server wires them ([`Services::wire`]); an `InMemory`
    /// dereferences to them, so `forge.auth` is `forge.services.auth`.
    pub services: Services,
    /// The clock every use case reads.
    pub clock: Arc<FixedClock>,
    /// Every mail the use cases sent.
    pub mail: Arc<RecordingMailQueue>,
    /// Every table, behind every repository and the unit of work.
    pub store: Arc<InMemoryStore>,
    /// The counters of the request limits and of unknown login identifiers.
    pub limiter: Arc<FakeRateLimiter>,
}

impl InMemory {
    /// Every use case with the server's default settings, the clock at
    /// [`FixedClock::default_start`].
    #[must_use]
    pub fn new() -> Self {
        InMemoryBuilder::default().build()
    }

    /// A builder to change the settings first.
    pub fn builder() -> InMemoryBuilder {
        InMemoryBuilder::default()
    }

    /// An [`ActorBuilder`] for a user with `role`, created now by the harness's clock. Finish it
    /// with `.store_in(&forge.store)` for a user the use cases can find.
    pub fn actor(&self, role: Role) -> ActorBuilder {
        ActorBuilder::new(role).created_at(self.clock.now())
    }
}

impl std::ops::Deref for InMemory {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Default for InMemory {
    fn default() -> Self {
        Self::new()
    }
}

/// The settings of an [`InMemory`], each the server's default unless set.
#[derive(Debug, Clone)]
#[must_use]
pub struct InMemoryBuilder {
    auth: AuthSettings,
    lockout: Option<LockoutPolicy>,
    rate_limits: RateLimitSettings,
    idempotency: IdempotencySettings,
    dashboard_max_age: Duration,
    start: DateTime<Utc>,
}

impl Default for InMemoryBuilder {
    fn default() -> Self {
        Self {
            auth: AuthSettings::default(),
            lockout: Some(LockoutPolicy::default()),
            rate_limits: RateLimitSettings::default(),
            idempotency: IdempotencySettings::default(),
            dashboard_max_age: DashboardService::DEFAULT_MAX_AGE,
            start: FixedClock::default_start(),
        }
    }
}

impl InMemoryBuilder {
    /// The settings of authentication and the account flows (registration open or closed, the
    /// password policy, token and session lifetimes, the public URL of mailed links, ...).
    pub fn auth(mut self, settings: AuthSettings) -> Self {
        self.auth = settings;
        self
    }

    /// The lockout policy every login goes through.
    pub const fn lockout(mut self, policy: LockoutPolicy) -> Self {
        self.lockout = Some(policy);
        self
    }

    /// No lockout: logins are never slowed down or locked (the server's
    /// `rate_limit.lockout_enabled = false`). The lockout service stays available for unlocks.
    pub const fn without_lockout(mut self) -> Self {
        self.lockout = None;
        self
    }

    /// The request limits.
    pub const fn rate_limits(mut self, settings: RateLimitSettings) -> Self {
        self.rate_limits = settings;
        self
    }

    /// How long idempotency keys are kept, and leased while their request runs.
    pub const fn idempotency(mut self, settings: IdempotencySettings) -> Self {
        self.idempotency = settings;
        self
    }

    /// How old the dashboard's cached statistics may get.
    pub const fn dashboard_max_age(mut self, max_age: Duration) -> Self {
        self.dashboard_max_age = max_age;
        self
    }

    /// The instant the clock starts at.
    pub const fn starting_at(mut self, start: DateTime<Utc>) -> Self {
        self.start = start;
        self
    }

    /// Wires every use case over a new set of fakes.
    #[must_use]
    pub fn build(self) -> InMemory {
        let fixed_clock = Arc::new(FixedClock::new(self.start));
        let clock: Arc<dyn Clock> = fixed_clock.clone();
        let store = Arc::new(InMemoryStore::new());
        let mail = Arc::new(RecordingMailQueue::new());
        let limiter = Arc::new(FakeRateLimiter::new());
        let ports = Ports {
            users: store.clone(),
            sessions: store.clone(),
            account_tokens: store.clone(),
            api_keys: store.clone(),
            projects: store.clone(),
            throttles: store.clone(),
            audit_log: store.clone(),
            idempotency: store.clone(),
            stats_source: store.clone(),
            stats_cache: Arc::new(FakeStatsCache::new()),
            database_metrics: Arc::new(FakeDatabaseMetrics::default()),
            unit_of_work: store.clone(),
            hasher: Arc::new(FakePasswordHasher::new()),
            access_tokens: Arc::new(FakeAccessTokens::new(self.auth.access_token_ttl)),
            opaque_tokens: Arc::new(FakeOpaqueTokens::new()),
            principals: store.clone(),
            limiter: limiter.clone(),
            clock,
            mail_templates: Arc::new(PlainMailTemplates::new()),
            mail_queue: mail.clone(),
            probes: vec![("database", Arc::new(FakeProbe::up()))],
        };
        let settings = Settings {
            auth: self.auth,
            rate_limits: self.rate_limits,
            lockout: self.lockout,
            idempotency: self.idempotency,
            dashboard_max_age: self.dashboard_max_age,
        };
        InMemory { services: Services::wire(ports, settings), clock: fixed_clock, mail, store, limiter }
    }
}
