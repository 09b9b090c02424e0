//! Every use case, wired from one set of ports: the one composition of the services, shared by
//! the `forge` builder (SQLite or PostgreSQL adapters), the server built on it, and
//! [`testing::InMemory`](crate::testing) (the in-memory fakes). Whatever adapters a caller picks,
//! the services are put together the same way: the lockout attached to logins unless switched
//! off, one clock, one mail queue.

use std::sync::Arc;

use chrono::Duration;

use crate::{
    account::{AccountPorts, AccountService, ports::AccountTokenRepository},
    api_keys::{ApiKeyPorts, ApiKeyService, ports::ApiKeyRepository},
    audit::{AuditLogService, ports::AuditLogRepository},
    auth::{
        AuthPorts, AuthService, AuthSettings,
        ports::{AccessTokens, OpaqueTokens, PasswordHasher, PrincipalRepository, SessionRepository},
    },
    common::{Clock, UnitOfWork},
    dashboard::{
        DashboardService,
        ports::{StatsCache, StatsSource},
    },
    health::{HealthService, Probe},
    idempotency::{IdempotencyService, IdempotencySettings, ports::IdempotencyStore},
    limits::{
        LimitService, LockoutPolicy, LockoutPorts, LockoutService, RateLimitSettings,
        ports::{LoginThrottleRepository, RateLimiter},
    },
    mail::{MailQueue, MailTemplates},
    metrics::{DatabaseMetrics, MetricsService},
    projects::{ProjectPorts, ProjectService, ports::ProjectRepository},
    users::{UserPorts, UserService, ports::UserRepository},
};

/// Every port the use cases need, one adapter each.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub account_tokens: Arc<dyn AccountTokenRepository>,
    pub api_keys: Arc<dyn ApiKeyRepository>,
    pub projects: Arc<dyn ProjectRepository>,
    pub throttles: Arc<dyn LoginThrottleRepository>,
    pub audit_log: Arc<dyn AuditLogRepository>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub stats_source: Arc<dyn StatsSource>,
    pub stats_cache: Arc<dyn StatsCache>,
    pub database_metrics: Arc<dyn DatabaseMetrics>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub access_tokens: Arc<dyn AccessTokens>,
    pub opaque_tokens: Arc<dyn OpaqueTokens>,
    pub principals: Arc<dyn PrincipalRepository>,
    pub limiter: Arc<dyn RateLimiter>,
    pub clock: Arc<dyn Clock>,
    pub mail_templates: Arc<dyn MailTemplates>,
    pub mail_queue: Arc<dyn MailQueue>,
    /// The readiness checks, by name (`database`, ...).
    pub probes: Vec<(&'static str, Arc<dyn Probe>)>,
}

/// The settings of the use cases; each defaults to the server's default.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Registration, the password policy, token and session lifetimes, the public URL of links.
    pub auth: AuthSettings,
    /// The request limits.
    pub rate_limits: RateLimitSettings,
    /// The lockout every login goes through; `None`: no lockout (unlocks still work).
    pub lockout: Option<LockoutPolicy>,
    /// How long idempotency keys are kept, and leased while their request runs.
    pub idempotency: IdempotencySettings,
    /// How old the dashboard's cached statistics may get.
    pub dashboard_max_age: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            auth: AuthSettings::default(),
            rate_limits: RateLimitSettings::default(),
            lockout: Some(LockoutPolicy::default()),
            idempotency: IdempotencySettings::default(),
            dashboard_max_age: DashboardService::DEFAULT_MAX_AGE,
        }
    }
}

/// Every use case. Cheap to clone: the services share their ports.
#[derive(Clone)]
pub struct Services {
    /// Registration, login, refresh, logout, sessions, authentication of access tokens.
    pub auth: AuthService,
    /// Profiles and the administration of accounts.
    pub users: UserService,
    /// E-mail verification, password reset and change.
    pub account: AccountService,
    /// API keys.
    pub api_keys: ApiKeyService,
    /// Projects and their members.
    pub projects: ProjectService,
    /// Reading the audit trail.
    pub audit: AuditLogService,
    /// `Idempotency-Key` claims and replays.
    pub idempotency: IdempotencyService,
    /// The dashboard's statistics.
    pub dashboard: DashboardService,
    /// Operational figures.
    pub metrics: MetricsService,
    /// Readiness of the dependencies.
    pub health: HealthService,
    /// Request limits per client address and account identifier.
    pub limits: LimitService,
    /// The lockout after repeated failed logins (attached to `auth` unless switched off).
    pub lockout: LockoutService,
}

impl Services {
    /// Every use case over `ports`, with `settings`.
    #[must_use]
    pub fn wire(ports: Ports, settings: Settings) -> Self {
        let Ports {
            users,
            sessions,
            account_tokens,
            api_keys,
            projects,
            throttles,
            audit_log,
            idempotency,
            stats_source,
            stats_cache,
            database_metrics,
            unit_of_work,
            hasher,
            access_tokens,
            opaque_tokens,
            principals,
            limiter,
            clock,
            mail_templates,
            mail_queue,
            probes,
        } = ports;
        let lockout = LockoutService::new(
            LockoutPorts {
                users: users.clone(),
                throttles,
                limiter: limiter.clone(),
                unit_of_work: unit_of_work.clone(),
                clock: clock.clone(),
            },
            settings.lockout.clone().unwrap_or_default(),
        );
        let auth = AuthService::new(
            AuthPorts {
                users: users.clone(),
                sessions: sessions.clone(),
                unit_of_work: unit_of_work.clone(),
                hasher: hasher.clone(),
                access_tokens,
                opaque_tokens: opaque_tokens.clone(),
                principals,
                clock: clock.clone(),
                mail_templates: mail_templates.clone(),
                mail_queue: mail_queue.clone(),
            },
            settings.auth.clone(),
        );
        let auth = if settings.lockout.is_some() { auth.with_lockout(lockout.clone()) } else { auth };
        let account = AccountService::new(
            AccountPorts {
                users: users.clone(),
                sessions: sessions.clone(),
                tokens: account_tokens,
                unit_of_work: unit_of_work.clone(),
                hasher: hasher.clone(),
                opaque_tokens: opaque_tokens.clone(),
                mail_templates: mail_templates.clone(),
                mail_queue: mail_queue.clone(),
                clock: clock.clone(),
            },
            settings.auth.clone(),
        );
        let api_keys = ApiKeyService::new(ApiKeyPorts {
            api_keys,
            users: users.clone(),
            unit_of_work: unit_of_work.clone(),
            tokens: opaque_tokens.clone(),
            clock: clock.clone(),
        });
        let projects = ProjectService::new(ProjectPorts {
            projects,
            users: users.clone(),
            unit_of_work: unit_of_work.clone(),
            clock: clock.clone(),
        });
        let users = UserService::new(
            UserPorts {
                users,
                sessions,
                unit_of_work,
                hasher,
                clock: clock.clone(),
                opaque_tokens,
                mail_templates,
                mail_queue,
            },
            settings.auth,
        );
        let health =
            probes.into_iter().fold(HealthService::new(), |health, (name, probe)| health.with_probe(name, probe));
        Self {
            auth,
            users,
            account,
            api_keys,
            projects,
            audit: AuditLogService::new(audit_log),
            idempotency: IdempotencyService::new(idempotency, clock.clone(), settings.idempotency),
            dashboard: DashboardService::new(stats_source, stats_cache, clock.clone(), settings.dashboard_max_age),
            metrics: MetricsService::new(database_metrics),
            health,
            limits: LimitService::new(limiter, clock, settings.rate_limits),
            lockout,
        }
    }
}
