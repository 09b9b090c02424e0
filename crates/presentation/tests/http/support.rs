//! Test helpers: real use cases over mocked ports, users, and an application to send requests to.
//! Only forge-presentation's public API is used here, as by any other caller of `build_app`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use actix_web::{body::MessageBody, dev::ServiceResponse, test};
use chrono::{DateTime, Utc};
use forge_application::{
    account::{AccountPorts, AccountService, ports::MockAccountTokenRepository},
    api_keys::{ApiKeyPorts, ApiKeyService, ports::MockApiKeyRepository},
    audit::{AuditLogService, ports::MockAuditLogRepository},
    auth::{
        AuthPorts, AuthService, AuthSettings,
        ports::{
            AccessClaims, AccessTokenError, MockAccessTokens, MockOpaqueTokens, MockPasswordHasher,
            MockPrincipalRepository, MockSessionRepository, Principal,
        },
    },
    common::{Clock, MockUnitOfWork, UnexpectedError},
    dashboard::{
        DashboardService,
        ports::{MockStatsCache, MockStatsSource},
    },
    health::HealthService,
    idempotency::{
        IdempotencyKey, IdempotencyService, IdempotencySettings,
        ports::{ClaimState, ExistingClaim, IdempotencyStore, NewClaim, StoredResponse},
    },
    limits::{
        LimitService, LockoutPolicy, LockoutPorts, LockoutService, RateLimitSettings,
        ports::{MockLoginThrottleRepository, MockRateLimiter},
    },
    mail::{MailMessage, MockMailQueue, MockMailTemplates},
    metrics::{MetricsService, MockDatabaseMetrics},
    projects::{ProjectPorts, ProjectService, ports::MockProjectRepository},
    users::{UserPorts, UserService, ports::MockUserRepository},
};
use forge_domain::{
    sessions::{SessionId, TokenDigest},
    users::{Email, PasswordHash, Role, User, UserParts, Username},
};
use forge_presentation::{
    AppState, HttpSettings,
    problem::{PROBLEM_JSON, ProblemDocument},
};
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;

/// 2023-11-14T22:13:20Z.
pub(crate) fn utc() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
}

/// An active, verified user called `name` (`name@example.com`).
pub(crate) fn user_with_role(name: &str, role: Role) -> User {
    User::from_parts(UserParts {
        id: Uuid::now_v7().into(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        username: Username::parse(name).unwrap(),
        full_name: None,
        role,
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        is_active: true,
        is_verified: true,
        created_at: utc(),
        updated_at: utc(),
        last_login_at: None,
        deleted_at: None,
        version: 1,
    })
}

/// A clock stopped at an instant of the test's choosing.
pub(crate) struct FixedClockForTests(pub DateTime<Utc>);

impl Clock for FixedClockForTests {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// A clock stopped at [`utc`].
struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        utc()
    }
}

/// The ports behind the real services, with expectations set by each test. A mock called without
/// an expectation fails the test, which is how "nothing reached the use case" is checked.
#[derive(Default)]
pub(crate) struct Mocks {
    pub users: MockUserRepository,
    pub sessions: MockSessionRepository,
    pub unit_of_work: MockUnitOfWork,
    pub hasher: MockPasswordHasher,
    pub access_tokens: MockAccessTokens,
    pub opaque_tokens: MockOpaqueTokens,
    pub principals: MockPrincipalRepository,
    pub account_tokens: MockAccountTokenRepository,
    pub mail_templates: MockMailTemplates,
    pub mail_queue: MockMailQueue,
    pub api_keys: MockApiKeyRepository,
    pub audit_logs: MockAuditLogRepository,
    pub stats: MockStatsSource,
    pub stats_cache: MockStatsCache,
    pub database_metrics: MockDatabaseMetrics,
    /// Idempotency claims, in memory (shared, so a test can look into it).
    pub idempotency: Arc<MemoryIdempotencyStore>,
    pub health: HealthService,
    pub http: HttpSettings,
    /// The settings every service gets.
    pub settings: AuthSettings,
    /// Whether the sessions of known tokens count as revoked.
    pub revoked: bool,
    /// What each known token stands for (set through `authenticates` and `refuses`).
    pub tokens: HashMap<String, Result<User, AccessTokenError>>,
    pub limiter: MockRateLimiter,
    pub throttles: MockLoginThrottleRepository,
    /// The request limits; none: switched off, so the limiter is never asked.
    pub rate_limits: Option<RateLimitSettings>,
    pub projects: MockProjectRepository,
}

impl Mocks {
    /// Makes `token` authenticate as `user` (who is then found by id).
    pub fn authenticates(mut self, token: &str, user: &User) -> Self {
        self.tokens.insert(token.to_owned(), Ok(user.clone()));
        let (id, user) = (user.id(), user.clone());
        self.users.expect_by_id().withf(move |asked| *asked == id).returning(move |_| Ok(Some(user.clone())));
        self
    }

    /// Account tokens are made, mails rendered (as their notice's name) and queued, whenever
    /// a use case asks.
    pub fn accept_mail(&mut self) {
        self.opaque_tokens
            .expect_generate()
            .returning(|| (SecretString::from("account-token"), TokenDigest::new("account-digest".into())));
        self.mail_templates.expect_render().returning(|to, notice| {
            Ok(MailMessage {
                to: to.clone(),
                subject: notice.name().to_owned(),
                text: String::new(),
                html: String::new(),
            })
        });
        self.mail_queue.expect_enqueue().returning(|_| Ok(()));
    }

    /// Makes `token` fail verification with `error`.
    pub fn refuses(mut self, token: &str, error: AccessTokenError) -> Self {
        self.tokens.insert(token.to_owned(), Err(error));
        self
    }

    /// The application state over these mocks.
    pub fn state(mut self) -> AppState {
        let tokens = std::mem::take(&mut self.tokens);
        if !tokens.is_empty() {
            let known: HashMap<_, _> =
                tokens.values().filter_map(|user| user.as_ref().ok()).map(|user| (user.id(), user.clone())).collect();
            self.access_tokens.expect_verify().returning(move |token, now| match tokens.get(token) {
                Some(Ok(user)) => Ok(AccessClaims {
                    user_id: user.id(),
                    session_id: SessionId::from(Uuid::nil()),
                    token_id: Uuid::nil(),
                    issued_at: now,
                    expires_at: now,
                }),
                Some(Err(e)) => Err(*e),
                None => Err(AccessTokenError::Invalid),
            });
            let live = !self.revoked;
            self.principals.expect_principal().returning(move |user_id, _| {
                Ok(known.get(&user_id).map(|user| Principal { user: user.clone(), session_live: live }))
            });
        }
        let users: Arc<MockUserRepository> = Arc::new(self.users);
        let sessions = Arc::new(self.sessions);
        let unit_of_work = Arc::new(self.unit_of_work);
        let hasher = Arc::new(self.hasher);
        let opaque_tokens = Arc::new(self.opaque_tokens);
        let clock = Arc::new(FixedClock);
        let limiter = Arc::new(self.limiter);
        let limits = LimitService::new(
            limiter.clone(),
            clock.clone(),
            self.rate_limits.unwrap_or(RateLimitSettings { enabled: false, ..RateLimitSettings::default() }),
        );
        let lockout = LockoutService::new(
            LockoutPorts {
                users: users.clone(),
                throttles: Arc::new(self.throttles),
                limiter,
                unit_of_work: unit_of_work.clone(),
                clock: clock.clone(),
            },
            LockoutPolicy::default(),
        );
        let mail_templates = Arc::new(self.mail_templates);
        let mail_queue = Arc::new(self.mail_queue);
        let auth = AuthService::new(
            AuthPorts {
                users: users.clone(),
                sessions: sessions.clone(),
                unit_of_work: unit_of_work.clone(),
                hasher: hasher.clone(),
                access_tokens: Arc::new(self.access_tokens),
                opaque_tokens: opaque_tokens.clone(),
                principals: Arc::new(self.principals),
                clock: clock.clone(),
                mail_templates: mail_templates.clone(),
                mail_queue: mail_queue.clone(),
            },
            self.settings.clone(),
        );
        let account = AccountService::new(
            AccountPorts {
                users: users.clone(),
                sessions: sessions.clone(),
                tokens: Arc::new(self.account_tokens),
                unit_of_work: unit_of_work.clone(),
                hasher: hasher.clone(),
                opaque_tokens: opaque_tokens.clone(),
                mail_templates: mail_templates.clone(),
                mail_queue: mail_queue.clone(),
                clock: clock.clone(),
            },
            self.settings.clone(),
        );
        let api_keys = ApiKeyService::new(ApiKeyPorts {
            api_keys: Arc::new(self.api_keys),
            users: users.clone(),
            unit_of_work: unit_of_work.clone(),
            tokens: opaque_tokens.clone(),
            clock: clock.clone(),
        });
        let projects = ProjectService::new(ProjectPorts {
            projects: Arc::new(self.projects),
            users: users.clone(),
            unit_of_work: unit_of_work.clone(),
            clock: clock.clone(),
        });
        let users = UserService::new(
            UserPorts { users, sessions, unit_of_work, hasher, clock, opaque_tokens, mail_templates, mail_queue },
            self.settings.clone(),
        );
        AppState {
            auth,
            users,
            health: self.health,
            http: Arc::new(self.http),
            account,
            api_keys,
            limits,
            lockout,
            projects,
            audit: AuditLogService::new(Arc::new(self.audit_logs)),
            idempotency: IdempotencyService::new(
                self.idempotency,
                Arc::new(FixedClock),
                IdempotencySettings::default(),
            ),
            dashboard: DashboardService::new(
                Arc::new(self.stats),
                Arc::new(self.stats_cache),
                Arc::new(FixedClock),
                DashboardService::DEFAULT_MAX_AGE,
            ),
            metrics: MetricsService::new(Arc::new(self.database_metrics)),
            prometheus: None,
            jobs: None,
            realtime: None,
            metrics_endpoint: None,
        }
    }
}

/// The problem document of a response, checking its media type.
pub(crate) async fn problem_of(res: ServiceResponse<impl MessageBody>) -> ProblemDocument {
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(content_type, PROBLEM_JSON, "status {}", res.status());
    let body = test::read_body(res).await;
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not a problem document ({e}): {body:?}"))
}

/// The JSON body of a response.
pub(crate) async fn json_of(res: ServiceResponse<impl MessageBody>) -> Value {
    let body = test::read_body(res).await;
    serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

/// `field:CODE` for each error of a problem.
pub(crate) fn error_codes(problem: &ProblemDocument) -> Vec<String> {
    problem.errors.iter().map(|e| format!("{}:{}", e.field, e.code)).collect()
}

/// An [`IdempotencyStore`] in a map: the semantics of the real one, for tests without a database.
#[derive(Default)]
pub(crate) struct MemoryIdempotencyStore {
    claims: Mutex<HashMap<(String, String), (uuid::Uuid, ExistingClaim)>>,
}

impl MemoryIdempotencyStore {
    /// How many keys are held.
    pub(crate) fn len(&self) -> usize {
        self.claims.lock().unwrap().len()
    }
}

#[async_trait::async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn begin(&self, claim: &NewClaim) -> Result<Option<ExistingClaim>, UnexpectedError> {
        let mut claims = self.claims.lock().unwrap();
        let slot = (claim.caller.clone(), claim.key.to_string());
        if let Some((_, existing)) = claims.get(&slot) {
            return Ok(Some(existing.clone()));
        }
        let existing = ExistingClaim {
            fingerprint: claim.fingerprint.clone(),
            state: ClaimState::Running,
            expires_at: claim.expires_at,
        };
        claims.insert(slot, (claim.claim_id, existing));
        Ok(None)
    }

    async fn complete(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        claim_id: uuid::Uuid,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        if let Some((id, existing)) = self.claims.lock().unwrap().get_mut(&(caller.to_owned(), key.to_string()))
            && *id == claim_id
        {
            existing.state = ClaimState::Completed(response.clone());
            existing.expires_at = expires_at;
        }
        Ok(())
    }

    async fn release(&self, caller: &str, key: &IdempotencyKey, claim_id: uuid::Uuid) -> Result<(), UnexpectedError> {
        let mut claims = self.claims.lock().unwrap();
        let slot = (caller.to_owned(), key.to_string());
        if claims.get(&slot).is_some_and(|(id, _)| *id == claim_id) {
            claims.remove(&slot);
        }
        Ok(())
    }

    async fn forget_expired(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        now: DateTime<Utc>,
    ) -> Result<(), UnexpectedError> {
        let mut claims = self.claims.lock().unwrap();
        let slot = (caller.to_owned(), key.to_string());
        if claims.get(&slot).is_some_and(|(_, existing)| existing.expires_at <= now) {
            claims.remove(&slot);
        }
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, UnexpectedError> {
        let mut claims = self.claims.lock().unwrap();
        let before = claims.len();
        claims.retain(|_, (_, existing)| existing.expires_at > now);
        Ok((before - claims.len()) as u64)
    }
}
