//! [`Forge::builder`]: settings in, every use case and its background workers out.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use forge_application::{
    UnexpectedError,
    auth::{
        AuthSettings,
        ports::{OpaqueTokens as _, PrincipalRepository},
    },
    common::{Clock, UnitOfWork},
    dashboard::{DashboardService, ports::StatsCache},
    exports::{ExportPorts, ExportService, ExportSettings},
    health::Probe,
    idempotency::{IdempotencyService, IdempotencySettings},
    jobs::JobsService,
    limits::{LockoutPolicy, RateLimitSettings, ports::RateLimiter},
    mail::{MailQueue, Mailer},
    maintenance::MaintenanceService,
    projects::ports::ProjectRepository,
    realtime::{EventBus, LiveEvents, LivePublisher, LiveUnitOfWork, RealtimePorts, RealtimeService, RealtimeSettings},
    relay::{OutboxConsumer, OutboxRelay, ProjectMail, RelaySettings},
    services::{Ports, Services, Settings},
    users::ports::UserRepository,
};
#[cfg(feature = "smtp")]
use forge_infrastructure::mail::{SmtpConfig, SmtpMailer};
#[cfg(feature = "redis")]
use forge_infrastructure::redis::{
    Redis, RedisBus, RedisProbe, RedisRateLimiter, RedisStatsCache, listen_for_invalidations,
};
use forge_infrastructure::{
    Argon2Hasher, Backend, CacheSettings, CacheStats, CachedProjects, CachedUsers, Database, DatabaseProbe,
    HashingPoolSettings, HashingPoolStats, InMemoryRateLimiter, InMemoryStatsCache, InvalidatingUnitOfWork,
    JwtAccessTokens, QueryStats, RandomTokens, ReadCache, SeaAccountTokenRepository, SeaApiKeyRepository,
    SeaAuditLogRepository, SeaDatabaseMetrics, SeaExportRepository, SeaExportSource, SeaHousekeeping,
    SeaIdempotencyStore, SeaLoginThrottleRepository, SeaOutboxStore, SeaProjectRepository, SeaSessionRepository,
    SeaStatsSource, SeaUnitOfWork, SeaUserRepository, SystemClock,
    exports::FileEncoder,
    jobs::{JobEngine, JobRunner, JobSettings, JobWorkers, TracedConsumer},
    mail::{FileMailer, MailTemplateSet, Sender},
    memory::DEFAULT_CAPACITY,
    persistence::{SeaAudiences, SeaEventLog, SeaTicketStore},
    realtime::InProcessBus,
};
use secrecy::{ExposeSecret as _, SecretString};

/// Every use case, wired over one database, and the background work they need.
///
/// Cheap to clone: the services share their adapters, and every clone shares the workers.
/// [`Forge::shutdown`] stops the job workers (letting running jobs finish); dropping the last
/// clone without it stops every background task, and queued jobs wait in the database.
#[derive(Clone)]
pub struct Forge {
    /// Every use case; a `Forge` dereferences to them, so `forge.auth` is `forge.services.auth`.
    pub services: Services,
    database: Database,
    query_stats: Arc<QueryStats>,
    hasher: Arc<Argon2Hasher>,
    cache: Option<Arc<ReadCache>>,
    shared_state: bool,
    workers: Arc<Workers>,
    jobs: Option<JobEngine>,
    job_services: Option<JobServices>,
    realtime: RealtimeService,
    bus: Arc<dyn EventBus>,
}

impl std::ops::Deref for Forge {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Forge {
    /// A builder for the database at `database_url` (`sqlite://path`, `sqlite::memory:` or
    /// `postgres://…`), with the server's defaults for everything else.
    pub fn builder(database_url: impl Into<String>) -> ForgeBuilder {
        ForgeBuilder::new(database_url)
    }

    /// Which database the use cases run on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.database.backend()
    }

    /// The statements run on the database so far.
    #[must_use]
    pub fn query_stats(&self) -> Arc<QueryStats> {
        self.query_stats.clone()
    }

    /// The database's pool and statement figures, as `GET /api/v1/metrics/database` shows them
    /// to admins (for an exporter that has its own access control).
    #[must_use]
    pub fn database_figures(&self) -> forge_application::metrics::DatabaseFigures {
        use forge_application::metrics::DatabaseMetrics as _;
        SeaDatabaseMetrics::new(&self.database, self.query_stats.clone()).figures()
    }

    /// The figures of the password-hashing pool (hashes running, waiting, done, refused).
    #[must_use]
    pub fn hashing_stats(&self) -> HashingPoolStats {
        self.hasher.stats()
    }

    /// The read cache's hits and misses per level, and its size; `None` when the cache is off.
    #[must_use]
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.cache.as_ref().map(|cache| cache.stats())
    }

    /// Real-time tickets, resuming, and who receives an event.
    #[must_use]
    pub const fn realtime(&self) -> &RealtimeService {
        &self.realtime
    }

    /// The bus real-time signals reach every instance through: Redis when configured, this
    /// process alone otherwise.
    #[must_use]
    pub fn event_bus(&self) -> Arc<dyn EventBus> {
        self.bus.clone()
    }

    /// Whether request limits and the cache are shared with other instances (through Redis).
    /// Without it, each instance counts its own requests against the limits.
    #[must_use]
    pub const fn shares_state(&self) -> bool {
        self.shared_state
    }

    /// Mails not yet delivered or given up: the jobs of the `mail` queue still queued, running
    /// or waiting for another attempt (always 0 for a [queue of the caller's
    /// own](MailDelivery::Queue)).
    ///
    /// # Errors
    /// [`UnexpectedError`] when the jobs table cannot be read.
    pub async fn mail_in_flight(&self) -> Result<u64, UnexpectedError> {
        match &self.jobs {
            Some(jobs) => jobs.unfinished(forge_application::jobs::Queue::Mail).await,
            None => Ok(0),
        }
    }

    /// The job engine, when jobs are on ([`ForgeBuilder::jobs`]): for administration of jobs.
    #[must_use]
    pub const fn jobs(&self) -> Option<&JobEngine> {
        self.jobs.as_ref()
    }

    /// The jobs of each queue in each state, and when the oldest outbox event not yet delivered
    /// occurred; `None` when jobs are off.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the tables cannot be read.
    pub async fn job_census(&self) -> Result<Option<JobCensus>, UnexpectedError> {
        let Some(engine) = &self.jobs else { return Ok(None) };
        let jobs = engine.census().await?;
        let oldest_undelivered_event = SeaOutboxStore::new(&self.database).oldest_undelivered().await?;
        Ok(Some(JobCensus { jobs, oldest_undelivered_event }))
    }

    /// Exports, administration of jobs and maintenance, when jobs are on
    /// ([`ForgeBuilder::jobs`]).
    #[must_use]
    pub const fn job_services(&self) -> Option<&JobServices> {
        self.job_services.as_ref()
    }

    /// Stops the background work: takes no more mail and delivers what is queued, waiting at
    /// most `grace`; stops the periodic purges. Calling it again does nothing.
    pub async fn shutdown(&self, grace: Duration) {
        self.workers.shutdown(grace).await;
    }
}

/// Where mail goes.
#[derive(Clone)]
pub enum MailDelivery {
    /// One `.eml` file per message in this directory (the embedded default: `<data dir>/mail`).
    Files(PathBuf),
    /// An SMTP server.
    #[cfg(feature = "smtp")]
    Smtp(SmtpConfig),
    /// A queue of the caller's own (a durable job queue, or a recording queue in tests): no
    /// delivery worker is started.
    Queue(Arc<dyn MailQueue>),
}

/// Why [`ForgeBuilder::build`] could not wire the use cases.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The database could not be reached or its schema read or applied.
    #[error("{what}: {source}")]
    Database {
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: UnexpectedError,
    },
    /// The database has migrations that are not applied, and applying them was not asked for.
    #[error("the database has {0} pending migration(s): apply them first (`forge migrate up`)")]
    PendingMigrations(usize),
    /// A setting that cannot work.
    #[error("{key}: {reason}")]
    Setting {
        /// The setting, as the builder method names it.
        key: &'static str,
        /// Why it is refused.
        reason: String,
    },
}

/// Settings for [`Forge`]; every one has the `forge` server's default.
#[must_use = "a builder does nothing until `build` is called"]
pub struct ForgeBuilder {
    database_url: String,
    max_connections: Option<u32>,
    migrate: Option<bool>,
    jwt_secret: Option<SecretString>,
    jwt_issuer: String,
    jwt_audience: String,
    auth: AuthSettings,
    rate_limits: RateLimitSettings,
    limiter_capacity: usize,
    lockout: Option<LockoutPolicy>,
    idempotency: IdempotencySettings,
    idempotency_purge_every: Duration,
    app_name: String,
    mail: Option<MailDelivery>,
    mail_from: String,
    data_dir: PathBuf,
    clock: Option<Arc<dyn Clock>>,
    probe_timeout: Duration,
    hashing: HashingPoolSettings,
    exports: ExportSettings,
    retention: Duration,
    cache: Option<CacheSettings>,
    #[cfg(feature = "redis")]
    redis: Option<(String, String)>,
    jobs: (JobSettings, bool),
    outbox_consumers: Vec<Arc<dyn OutboxConsumer>>,
    realtime: RealtimeSettings,
}

impl ForgeBuilder {
    fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: None,
            migrate: None,
            jwt_secret: None,
            jwt_issuer: "forge".into(),
            jwt_audience: "forge-api".into(),
            auth: AuthSettings::default(),
            rate_limits: RateLimitSettings::default(),
            limiter_capacity: DEFAULT_CAPACITY,
            lockout: Some(LockoutPolicy::default()),
            idempotency: IdempotencySettings::default(),
            idempotency_purge_every: Duration::from_secs(3600),
            app_name: "Forge".into(),
            mail: None,
            mail_from: "Forge <no-reply@localhost>".into(),
            data_dir: PathBuf::from("./data"),
            clock: None,
            probe_timeout: Duration::from_secs(2),
            hashing: HashingPoolSettings::for_this_machine(),
            exports: ExportSettings::default(),
            retention: Duration::from_secs(7 * 24 * 3600),
            cache: Some(CacheSettings::default()),
            #[cfg(feature = "redis")]
            redis: None,
            jobs: (JobSettings::default(), true),
            outbox_consumers: Vec::new(),
            realtime: RealtimeSettings::default(),
        }
    }

    /// The most pooled connections (default: 8 on SQLite, 16 on PostgreSQL).
    pub const fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(max);
        self
    }

    /// Whether `build` applies pending migrations (default: on SQLite yes; on PostgreSQL no,
    /// and then a schema with pending migrations is refused).
    pub const fn migrate(mut self, migrate: bool) -> Self {
        self.migrate = Some(migrate);
        self
    }

    /// The key access and refresh tokens are signed with (at least 32 bytes). Without one, a
    /// random key is made for this process: tokens then stop working when it restarts.
    pub fn jwt_secret(mut self, secret: impl Into<SecretString>) -> Self {
        self.jwt_secret = Some(secret.into());
        self
    }

    /// The `iss` and `aud` of access tokens (default `forge` and `forge-api`, as the server).
    pub fn jwt_issuer_and_audience(mut self, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        self.jwt_issuer = issuer.into();
        self.jwt_audience = audience.into();
        self
    }

    /// Token lifetimes, the password policy, registration, the app's address for mail links.
    pub fn auth(mut self, settings: AuthSettings) -> Self {
        self.auth = settings;
        self
    }

    /// Request limits, and how many keys the in-process limiter holds at most.
    pub fn rate_limits(mut self, settings: RateLimitSettings, capacity: usize) -> Self {
        self.rate_limits = settings;
        self.limiter_capacity = capacity;
        self
    }

    /// The lockout after repeated failed logins; `None` switches it off.
    pub const fn lockout(mut self, policy: Option<LockoutPolicy>) -> Self {
        self.lockout = policy;
        self
    }

    /// How long idempotency keys are kept, and how often expired ones are purged.
    pub const fn idempotency(mut self, settings: IdempotencySettings, purge_every: Duration) -> Self {
        self.idempotency = settings;
        self.idempotency_purge_every = purge_every;
        self
    }

    /// How mails name the service (default `Forge`).
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }

    /// Where mail goes (default: `.eml` files under `<data dir>/mail`).
    pub fn mail(mut self, delivery: MailDelivery) -> Self {
        self.mail = Some(delivery);
        self
    }

    /// The sender of every mail, such as `Acme <no-reply@acme.example>`.
    pub fn mail_from(mut self, from: impl Into<String>) -> Self {
        self.mail_from = from.into();
        self
    }

    /// The directory of the default mail files (default `./data`).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// The clock every use case reads (default: the system's). Tests move time with it instead
    /// of sleeping.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The password-hashing threads and their queue (default: one thread per core, sixteen
    /// waiting hashes per thread); a full queue refuses logins and registrations with
    /// `UnexpectedKind::Busy` instead of piling up.
    pub const fn hashing(mut self, settings: HashingPoolSettings) -> Self {
        self.hashing = settings;
        self
    }

    /// The read cache's size and lifetimes; `None` switches it off (every read goes to the
    /// database). It is used only with [Redis](Self::redis), which gives it its second level and
    /// tells every instance of every write.
    pub const fn cache(mut self, settings: Option<CacheSettings>) -> Self {
        self.cache = settings;
        self
    }

    /// Redis at `url`, with every key under `prefix`: request limits, failure streaks and the
    /// dashboard statistics are shared by every instance, and the read cache gains its shared
    /// level and cross-instance invalidations. Redis may be down at start-up or later: limits
    /// then count in the process and reads go to the database until it answers again.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, url: impl Into<String>, prefix: impl Into<String>) -> Self {
        self.redis = Some((url.into(), prefix.into()));
        self
    }

    /// The durable job queues in the database, where mail, exports and maintenance run (a mail
    /// accepted before a crash is still delivered after it): their settings, and whether this
    /// process runs their workers (the default: `JobSettings::default()`, `true`). Without,
    /// other processes (`forge worker`) run them. Unused with [`MailDelivery::Queue`].
    pub fn jobs(mut self, settings: JobSettings, run_workers: bool) -> Self {
        self.jobs = (settings, run_workers);
        self
    }

    /// How long exports are kept and how many rows each batch writes (with jobs on), and how
    /// long delivered outbox events and succeeded jobs are kept before maintenance purges them.
    pub const fn exports(mut self, exports: ExportSettings, retention: Duration) -> Self {
        self.exports = exports;
        self.retention = retention;
        self
    }

    /// How long WebSocket tickets work, and how far back reconnecting clients resume.
    pub const fn realtime(mut self, settings: RealtimeSettings) -> Self {
        self.realtime = settings;
        self
    }

    /// Adds a consumer of the outbox's events. The relay runs where the job workers run
    /// ([`ForgeBuilder::jobs`] with `run_workers`), and only when there is a consumer.
    pub fn outbox_consumer(mut self, consumer: Arc<dyn OutboxConsumer>) -> Self {
        self.outbox_consumers.push(consumer);
        self
    }

    /// How long the readiness check waits for the database.
    pub const fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Connects, applies (or checks) the schema, builds every adapter and use case, reloads the
    /// sessions revoked recently, and starts the background work.
    ///
    /// Must run inside a Tokio runtime.
    ///
    /// # Errors
    /// [`BuildError`]: an unreachable database, pending migrations, or a setting that cannot
    /// work (a short JWT secret, a malformed sender).
    pub async fn build(self) -> Result<Forge, BuildError> {
        let secret = match self.jwt_secret.clone() {
            Some(secret) if secret.expose_secret().len() < 32 => {
                return Err(BuildError::Setting { key: "jwt_secret", reason: "must be at least 32 bytes".into() });
            }
            Some(secret) => secret,
            None => {
                tracing::warn!("no JWT secret given: tokens are signed with a key that lives as long as the process");
                RandomTokens::new().generate().0
            }
        };
        let from = Sender::parse(&self.mail_from).map_err(|reason| BuildError::Setting { key: "mail_from", reason })?;
        let templates = MailTemplateSet::new(self.app_name.clone())
            .map_err(|source| BuildError::Database { what: "compiling the mail templates", source })?;

        let mut database = self.open_database().await?;
        let query_stats = QueryStats::attach(&mut database);
        let clock: Arc<dyn Clock> = self.clock.clone().unwrap_or_else(|| Arc::new(SystemClock::new()));
        let (mail_queue, jobs, job_mailer) = self.start_background(&database, from).await?;

        let hasher = Arc::new(Argon2Hasher::owasp(self.hashing).map_err(|e| BuildError::Setting {
            key: "hashing",
            reason: format!("cannot start the password-hashing threads: {e}"),
        })?);
        let shared = self.shared_state()?;
        let cache = self.read_cache(shared.as_ref());
        let sea_users = SeaUserRepository::new(&database);
        let sea_unit_of_work: Arc<dyn UnitOfWork> = Arc::new(SeaUnitOfWork::new(&database));
        let sea_projects = SeaProjectRepository::new(&database);
        // With the cache, accounts, principals and projects are read through it, and every
        // commit invalidates what it made stale.
        let users: Arc<dyn UserRepository>;
        let principals: Arc<dyn PrincipalRepository>;
        let projects: Arc<dyn ProjectRepository>;
        let mut unit_of_work: Arc<dyn UnitOfWork>;
        if let Some(cache) = &cache {
            let cached = Arc::new(CachedUsers::new(sea_users, cache.clone()));
            projects = Arc::new(CachedProjects::new(sea_projects, cached.clone(), cache.clone()));
            unit_of_work = Arc::new(InvalidatingUnitOfWork::new(sea_unit_of_work, cache.clone()));
            (users, principals) = (cached.clone(), cached);
        } else {
            let plain = Arc::new(sea_users);
            (users, principals) = (plain.clone(), plain);
            projects = Arc::new(sea_projects);
            unit_of_work = sea_unit_of_work;
        }
        // Outermost: clients told of a change read it from any instance (the cache was
        // invalidated by then).
        let (bus, bus_listener) = Self::event_bus(shared.as_ref());
        let event_log = Arc::new(SeaEventLog::new(&database));
        let live: Arc<dyn LiveEvents> = Arc::new(LivePublisher::new(event_log.clone(), bus.clone()));
        unit_of_work = Arc::new(LiveUnitOfWork::new(unit_of_work, live.clone(), clock.clone()));
        #[cfg_attr(not(feature = "redis"), allow(unused_mut))]
        let mut probes: Vec<(&'static str, Arc<dyn Probe>)> =
            vec![("database", Arc::new(DatabaseProbe::new(&database, self.probe_timeout)))];
        let (limiter, stats_cache): (Arc<dyn RateLimiter>, Arc<dyn StatsCache>) = match &shared {
            #[cfg(feature = "redis")]
            Some(redis) => {
                probes.push(("cache", Arc::new(RedisProbe::new(redis))));
                (Arc::new(RedisRateLimiter::new(redis, self.limiter_capacity)), Arc::new(RedisStatsCache::new(redis)))
            }
            // In-process limits: one instance counts alone.
            _ => (Arc::new(InMemoryRateLimiter::new(self.limiter_capacity)), Arc::new(InMemoryStatsCache::new())),
        };
        let ports = Ports {
            users,
            sessions: Arc::new(SeaSessionRepository::new(&database)),
            account_tokens: Arc::new(SeaAccountTokenRepository::new(&database)),
            api_keys: Arc::new(SeaApiKeyRepository::new(&database)),
            projects,
            throttles: Arc::new(SeaLoginThrottleRepository::new(&database)),
            audit_log: Arc::new(SeaAuditLogRepository::new(&database)),
            idempotency: Arc::new(SeaIdempotencyStore::new(&database)),
            stats_source: Arc::new(SeaStatsSource::new(&database)),
            stats_cache,
            database_metrics: Arc::new(SeaDatabaseMetrics::new(&database, query_stats.clone())),
            unit_of_work,
            hasher: hasher.clone(),
            access_tokens: Arc::new(JwtAccessTokens::new(
                secret.expose_secret().as_bytes(),
                self.jwt_issuer.clone(),
                self.jwt_audience.clone(),
                self.auth.access_token_ttl,
            )),
            opaque_tokens: Arc::new(RandomTokens::new()),
            principals,
            limiter,
            clock,
            mail_templates: Arc::new(templates),
            mail_queue,
            probes,
        };
        let built_in: Vec<Arc<dyn OutboxConsumer>> = jobs
            .iter()
            .map(|engine| {
                Arc::new(ProjectMail::new(ports.users.clone(), ports.mail_templates.clone(), engine.queue()))
                    as Arc<dyn OutboxConsumer>
            })
            .collect();
        let relay = self.start_relay(&database, ports.clock.clone(), built_in);
        let (job_services, job_workers) =
            self.start_jobs(&database, jobs.as_ref(), job_mailer, ports.clock.clone(), live);
        let realtime = RealtimeService::new(
            RealtimePorts {
                tickets: Arc::new(SeaTicketStore::new(&database)),
                log: event_log,
                audiences: Arc::new(SeaAudiences::new(&database)),
                principals: ports.principals.clone(),
                tokens: ports.opaque_tokens.clone(),
                clock: ports.clock.clone(),
            },
            self.realtime,
        );
        let settings = Settings {
            auth: self.auth,
            rate_limits: self.rate_limits,
            lockout: self.lockout,
            idempotency: self.idempotency,
            dashboard_max_age: DashboardService::DEFAULT_MAX_AGE,
        };
        let services = Services::wire(ports, settings);

        let purge = tokio::spawn(purge_idempotency_keys(services.idempotency.clone(), self.idempotency_purge_every));
        let listener = Self::listen(shared.as_ref(), cache.as_ref());
        let workers = Arc::new(Workers {
            purge: Mutex::new(Some(purge)),
            listener: Mutex::new(listener),
            bus_listener: Mutex::new(bus_listener),
            jobs: job_workers,
            relay,
        });
        let shared_state = shared.is_some();
        Ok(Forge {
            services,
            database,
            query_stats,
            hasher,
            cache,
            shared_state,
            workers,
            jobs,
            job_services,
            realtime,
            bus,
        })
    }

    /// Redis, when configured.
    #[cfg(feature = "redis")]
    fn shared_state(&self) -> Result<Option<Redis>, BuildError> {
        self.redis
            .as_ref()
            .map(|(url, prefix)| Redis::new(url, prefix))
            .transpose()
            .map_err(|e| BuildError::Setting { key: "redis", reason: e.to_string() })
    }

    #[cfg(not(feature = "redis"))]
    #[allow(clippy::unnecessary_wraps, clippy::unused_self)]
    fn shared_state(&self) -> Result<Option<NoRedis>, BuildError> {
        Ok(None)
    }

    /// The read cache, with Redis only: without it nothing would tell this process of a write
    /// made by another one (another instance, or a `forge` command on the same database).
    fn read_cache(&self, shared: Option<&SharedState>) -> Option<Arc<ReadCache>> {
        #[cfg_attr(not(feature = "redis"), allow(unused_variables))]
        let settings = self.cache?;
        match shared {
            #[cfg(feature = "redis")]
            Some(redis) => Some(redis.read_cache(settings)),
            #[cfg(not(feature = "redis"))]
            Some(never) => match *never {},
            None => None,
        }
    }

    /// The real-time bus: over Redis (with the task that listens to it) when configured, in the
    /// process otherwise.
    fn event_bus(shared: Option<&SharedState>) -> (Arc<dyn EventBus>, Option<tokio::task::JoinHandle<()>>) {
        match shared {
            #[cfg(feature = "redis")]
            Some(redis) => {
                let bus = RedisBus::new(redis);
                let listener = tokio::spawn(bus.clone().listen());
                (Arc::new(bus), Some(listener))
            }
            #[cfg(not(feature = "redis"))]
            Some(never) => match *never {},
            None => (Arc::new(InProcessBus::new()), None),
        }
    }

    /// The task keeping the first cache level coherent with the other instances.
    fn listen(shared: Option<&SharedState>, cache: Option<&Arc<ReadCache>>) -> Option<tokio::task::JoinHandle<()>> {
        match (shared, cache) {
            #[cfg(feature = "redis")]
            (Some(redis), Some(cache)) => Some(tokio::spawn(listen_for_invalidations(redis.clone(), cache.clone()))),
            _ => None,
        }
    }

    /// Connects, then applies the pending migrations or refuses them, as configured.
    async fn open_database(&self) -> Result<Database, BuildError> {
        let sqlite = self.database_url.starts_with("sqlite:");
        let max_connections = self.max_connections.unwrap_or(if sqlite { 8 } else { 16 });
        let database = Database::connect(&self.database_url, max_connections)
            .await
            .map_err(|source| BuildError::Database { what: "connecting to the database", source })?;
        if self.migrate.unwrap_or(sqlite) {
            database
                .migrate_up()
                .await
                .map_err(|source| BuildError::Database { what: "migrating the database", source })?;
        } else {
            let pending = database
                .pending_migrations()
                .await
                .map_err(|source| BuildError::Database { what: "reading the migration status", source })?;
            if pending > 0 {
                return Err(BuildError::PendingMigrations(pending));
            }
        }
        Ok(database)
    }

    /// The queue the use cases hand mail to: the job engine's `mail` queue (with the mailer its
    /// workers deliver through), or a queue of the caller's own (and then no job engine).
    async fn start_background(&self, database: &Database, from: Sender) -> Result<Background, BuildError> {
        let Some(mailer) = self.mailer(from)? else {
            let queue = self.mail.clone().and_then(|delivery| match delivery {
                MailDelivery::Queue(queue) => Some(queue),
                _ => None,
            });
            return queue
                .map(|queue| (queue, None, None))
                .ok_or_else(|| BuildError::Setting { key: "mail", reason: "no mail delivery".into() });
        };
        let engine = JobEngine::new(database, self.jobs.0.clone())
            .await
            .map_err(|source| BuildError::Database { what: "creating the job tables", source })?;
        let queue: Arc<dyn MailQueue> = Arc::new(forge_application::jobs::QueuedMail::new(engine.queue()));
        Ok((queue, Some(engine), Some(mailer)))
    }

    /// Exports, job administration and maintenance over the job engine, and the engine's
    /// workers when this process runs them.
    fn start_jobs(
        &self,
        database: &Database,
        engine: Option<&JobEngine>,
        mailer: Option<Arc<dyn Mailer>>,
        clock: Arc<dyn Clock>,
        live: Arc<dyn LiveEvents>,
    ) -> (Option<JobServices>, Option<JobWorkers>) {
        let Some(engine) = engine else { return (None, None) };
        let exports = ExportService::new(
            ExportPorts {
                exports: Arc::new(SeaExportRepository::new(database)),
                source: Arc::new(SeaExportSource::new(&database.background())),
                encoder: Arc::new(FileEncoder),
                jobs: engine.queue(),
                clock: clock.clone(),
                live,
            },
            self.exports,
        );
        let maintenance =
            MaintenanceService::new(Arc::new(SeaHousekeeping::new(&database.background())), clock, self.retention);
        let services = JobServices {
            exports: exports.clone(),
            jobs: JobsService::new(Arc::new(engine.clone())),
            maintenance: maintenance.clone(),
        };
        let workers = match (self.jobs.1, mailer) {
            (true, Some(mailer)) => {
                Some(engine.start(Arc::new(JobRunner::new(mailer).with_services(exports, maintenance))))
            }
            _ => None,
        };
        (Some(services), workers)
    }

    /// The relay loop, where the job workers run: Forge's own consumers (`built_in`) and those
    /// added with [`Self::outbox_consumer`].
    fn start_relay(
        &self,
        database: &Database,
        clock: Arc<dyn Clock>,
        built_in: Vec<Arc<dyn OutboxConsumer>>,
    ) -> Option<crate::relay::RelayLoop> {
        let (settings, true) = &self.jobs else { return None };
        // Each consumer's work continues the trace of the request that stored the event.
        let consumers: Vec<Arc<dyn OutboxConsumer>> = built_in
            .into_iter()
            .chain(self.outbox_consumers.iter().cloned())
            .map(|consumer| Arc::new(TracedConsumer::new(consumer)) as Arc<dyn OutboxConsumer>)
            .collect();
        if consumers.is_empty() {
            return None;
        }
        let relay = OutboxRelay::new(
            Arc::new(SeaOutboxStore::new(&database.background())),
            consumers,
            clock,
            RelaySettings { owner: format!("{}-relay", settings.worker_name), ..RelaySettings::default() },
        );
        Some(crate::relay::RelayLoop::start(relay, settings.poll_interval, Duration::from_secs(3600)))
    }

    /// The mailer of the configured delivery (none for a queue of the caller's own).
    fn mailer(&self, from: Sender) -> Result<Option<Arc<dyn Mailer>>, BuildError> {
        let delivery = self.mail.clone().unwrap_or_else(|| MailDelivery::Files(self.data_dir.join("mail")));
        let mailer: Arc<dyn Mailer> = match delivery {
            MailDelivery::Queue(_) => return Ok(None),
            MailDelivery::Files(dir) => {
                tracing::info!(dir = %dir.display(), "mail is written to files");
                Arc::new(FileMailer::new(dir, from))
            }
            #[cfg(feature = "smtp")]
            MailDelivery::Smtp(config) => {
                tracing::info!(host = %config.host, port = ?config.port, "mail is sent over SMTP");
                Arc::new(SmtpMailer::new(config, from).map_err(|reason| BuildError::Setting { key: "mail", reason })?)
            }
        };
        Ok(Some(mailer))
    }
}

/// Where state shared with other instances lives.
#[cfg(feature = "redis")]
type SharedState = Redis;
#[cfg(not(feature = "redis"))]
type SharedState = NoRedis;

/// Built without Redis: there is never shared state.
#[cfg(not(feature = "redis"))]
enum NoRedis {}

/// What [`ForgeBuilder::start_background`] starts: the mail queue, the in-process mail worker,
/// the job engine and its workers.
type Background = (Arc<dyn MailQueue>, Option<JobEngine>, Option<Arc<dyn Mailer>>);

/// What [`Forge::job_census`] counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCensus {
    /// Jobs by queue and state.
    pub jobs: Vec<(String, forge_application::jobs::JobState, u64)>,
    /// When the oldest outbox event not yet delivered occurred.
    pub oldest_undelivered_event: Option<chrono::DateTime<chrono::Utc>>,
}

/// The use cases of background work, there when jobs are on ([`ForgeBuilder::jobs`]).
#[derive(Clone)]
pub struct JobServices {
    /// Exports.
    pub exports: ExportService,
    /// Administration of jobs.
    pub jobs: JobsService,
    /// The maintenance purges (also run as a scheduled job).
    pub maintenance: MaintenanceService,
}

/// The background work of one [`Forge`].
struct Workers {
    purge: Mutex<Option<tokio::task::JoinHandle<()>>>,
    listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    bus_listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
    jobs: Option<JobWorkers>,
    relay: Option<crate::relay::RelayLoop>,
}

impl Workers {
    async fn shutdown(&self, grace: Duration) {
        for task in [&self.purge, &self.listener, &self.bus_listener] {
            if let Some(task) = task.lock().unwrap_or_else(PoisonError::into_inner).take() {
                task.abort();
            }
        }
        if let Some(relay) = &self.relay {
            relay.shutdown(grace).await;
        }
        if let Some(jobs) = &self.jobs {
            jobs.shutdown(grace).await;
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for task in [&mut self.purge, &mut self.listener, &mut self.bus_listener] {
            if let Some(task) = task.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
                task.abort();
            }
        }
    }
}

/// Forgets expired idempotency keys every `every` (keys are also judged expired when used, so
/// this only bounds the table's size).
async fn purge_idempotency_keys(idempotency: IdempotencyService, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match idempotency.purge_expired().await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "expired idempotency keys purged"),
            Err(e) => tracing::warn!(error = ?e, "purging expired idempotency keys failed; retrying later"),
        }
    }
}
