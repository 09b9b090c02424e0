//! The job engine: apalis over the application's own database.
//!
//! Jobs are rows of apalis's tables (`Jobs` on SQLite, `apalis.jobs` on PostgreSQL), written
//! through the same pool as every repository. Each named queue is an apalis queue with a worker
//! of its own in every worker process: its concurrency limit, a time limit on each attempt, and
//! a retry layer with exponential back-off and jitter. When a job has failed its last attempt
//! (or failed in a way retrying cannot help), its row stays with status `Failed` or `Killed`
//! and the error of the last attempt: it is *dead*, and is listed, retried or discarded through
//! [`JobEngine::jobs`], [`JobEngine::retry`] and [`JobEngine::discard`].
//!
//! A worker records a heartbeat; a job held by a worker whose heartbeat stopped (the process
//! was killed) is put back on its queue by any other worker, or at once by the same worker
//! name when it starts again. Jobs therefore run at least once, and handlers are idempotent.

use std::{sync::Arc, time::Duration};

use apalis::{
    layers::retry::BackoffRetryPolicy,
    prelude::{
        AbortError, BackendExt as _, BoxDynError, Data, Monitor, TaskBuilder, TaskId, TaskSink, WorkerBuilder,
        WorkerBuilderExt,
    },
};

use async_trait::async_trait;
use forge_application::{
    UnexpectedError,
    common::{Page, PageRequest},
    jobs::{Job, JobAdmin, JobId, JobQueue, JobRecord, JobState, Queue},
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use tokio::{sync::oneshot, task::JoinHandle};

use super::{
    JobDurations,
    backoff::JitteredBackoff,
    payload::{JobPayload, StoredJob},
    poll::EveryInterval,
    runner::{JobFailure, JobRunner},
    settings::{JobSettings, QueueSettings},
};
use crate::persistence::{Database, placeholder};

type SqliteStorage = apalis_sqlite::SqliteStorage<StoredJob>;
#[cfg(feature = "postgres")]
type PostgresStorage = apalis_postgres::PostgresStorage<StoredJob>;

/// The state of a row with apalis status `status`, after `attempts` of `max_attempts`.
fn state_of(status: &str, attempts: i64, max_attempts: i64) -> JobState {
    match status {
        "Done" => JobState::Succeeded,
        "Running" | "Queued" => JobState::Running,
        "Killed" => JobState::Dead,
        "Failed" if attempts >= max_attempts => JobState::Dead,
        "Failed" => JobState::Failed,
        _ => JobState::Queued,
    }
}

/// The job engine over one database: the durable [`JobQueue`], the workers, and administration.
#[derive(Debug, Clone)]
pub struct JobEngine {
    /// The request pool: enqueues and administration, which requests do.
    db: DatabaseConnection,
    /// The background pool: the workers' polling, heartbeats and acknowledgements, and the
    /// maintenance schedule.
    workers: DatabaseConnection,
    settings: JobSettings,
    durations: Arc<JobDurations>,
}

impl JobEngine {
    /// The engine over `database`, creating apalis's tables if they are missing.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the tables cannot be created.
    pub async fn new(database: &Database, settings: JobSettings) -> Result<Self, UnexpectedError> {
        let db = database.connection().clone();
        let workers = database.background().connection().clone();
        match workers.get_database_backend() {
            // Only apalis's migrations: its `setup` would also switch the shared pool's
            // connections to `synchronous = OFF`, trading durability for speed.
            DbBackend::Sqlite => apalis_sqlite::SqliteStorage::<()>::migrations()
                .run(workers.get_sqlite_connection_pool())
                .await
                .map_err(UnexpectedError::unavailable)?,
            #[cfg(feature = "postgres")]
            DbBackend::Postgres => apalis_postgres::PostgresStorage::<()>::migrations()
                .run(workers.get_postgres_connection_pool())
                .await
                .map_err(UnexpectedError::unavailable)?,
            other => return Err(UnexpectedError::internal(format!("no job storage for {other:?}"))),
        }
        Ok(Self { db, workers, settings, durations: Arc::new(JobDurations::default()) })
    }

    /// This engine with the background pool in place of the request pool, for what the
    /// workers do.
    fn on_workers_pool(&self) -> Self {
        Self { db: self.workers.clone(), ..self.clone() }
    }

    /// How long the attempts this process ran took, by queue and outcome.
    #[must_use]
    pub fn durations(&self) -> Vec<(&'static str, &'static str, super::DurationHistogram)> {
        self.durations.snapshot()
    }

    /// The settings the engine runs with.
    #[must_use]
    pub const fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// The [`JobQueue`] storing jobs in this engine's database.
    #[must_use]
    pub fn queue(&self) -> Arc<dyn JobQueue> {
        Arc::new(self.clone())
    }

    fn sqlite(&self, queue: Queue) -> SqliteStorage {
        let config = apalis_sqlite::Config::default()
            .queue(queue.name())
            .heartbeat_interval(self.settings.heartbeat)
            .batch_size(self.settings.queue(queue).concurrency.max(1));
        SqliteStorage::new(self.db.get_sqlite_connection_pool()).with_config(config)
    }

    #[cfg(feature = "postgres")]
    fn postgres(&self, queue: Queue) -> PostgresStorage {
        let config = apalis_postgres::Config::default()
            .queue(queue.name())
            .heartbeat_interval(self.settings.heartbeat)
            .batch_size(self.settings.queue(queue).concurrency.max(1));
        PostgresStorage::new(self.db.get_postgres_connection_pool()).with_config(config)
    }

    /// Starts one worker per queue on the current Tokio runtime, running jobs with `runner`.
    #[must_use]
    pub fn start(&self, runner: Arc<JobRunner>) -> JobWorkers {
        let engine = self.on_workers_pool();
        engine.start_workers(runner)
    }

    fn start_workers(&self, runner: Arc<JobRunner>) -> JobWorkers {
        let (stop, stopped) = oneshot::channel::<()>();
        let grace = Duration::from_secs(30);
        // A worker stops on an error of its storage (a busy or unreachable database); it is
        // started again at once under a new name (`…-r1`, `…-r2`), so a passing failure never
        // leaves a queue without its worker, and the jobs the failed one had taken are put back
        // on the queue for the new one (they may run twice: jobs run at least once).
        let engine = self.clone();
        let mut monitor = Monitor::new().shutdown_timeout(grace).should_restart(move |worker, error| {
            tracing::warn!(worker = worker.name(), error = %error, "a job worker failed; restarting it");
            let (engine, name) = (engine.clone(), worker.name().to_owned());
            tokio::spawn(async move {
                match engine.release_held_by(&name).await {
                    Ok(0) => {}
                    Ok(released) => tracing::info!(worker = %name, released, "jobs of a failed worker put back"),
                    Err(e) => tracing::warn!(worker = %name, error = %e, "jobs of a failed worker could not be put back; they will be after its heartbeat times out"),
                }
            });
            true
        });
        for queue in Queue::ALL {
            let settings = *self.settings.queue(queue);
            let name = format!("{}-{}", self.settings.worker_name, queue.name());
            let poll = self.settings.poll_interval;
            let runner = Arc::new(QueueRunner {
                runner: runner.clone(),
                time_limit: settings.time_limit,
                queue: queue.name(),
                durations: self.durations.clone(),
            });
            match self.db.get_database_backend() {
                #[cfg(feature = "postgres")]
                DbBackend::Postgres => {
                    let storage = self.postgres(queue);
                    monitor = monitor.register(move |restarts| {
                        WorkerBuilder::new(incarnation(&name, restarts))
                            .backend(storage.clone().poll_with_strategy(EveryInterval::new(poll)))
                            .data(runner.clone())
                            .concurrency(settings.concurrency.max(1))
                            .retry(retry_policy(settings))
                            .build(run_job)
                    });
                }
                _ => {
                    let storage = self.sqlite(queue);
                    monitor = monitor.register(move |restarts| {
                        WorkerBuilder::new(incarnation(&name, restarts))
                            .backend(storage.clone().poll_with_strategy(EveryInterval::new(poll)))
                            .data(runner.clone())
                            .concurrency(settings.concurrency.max(1))
                            .retry(retry_policy(settings))
                            .build(run_job)
                    });
                }
            }
        }
        let scheduler = self.settings.maintenance_every.map(|every| {
            let engine = self.clone();
            tokio::spawn(async move {
                // Every worker process tries each period; the period's job is stored once.
                let mut ticks = tokio::time::interval(every.min(Duration::from_secs(60)).max(Duration::from_secs(1)));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    match engine.schedule_maintenance(chrono::Utc::now(), every).await {
                        Ok(true) => tracing::debug!("maintenance job scheduled"),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "the maintenance job could not be scheduled"),
                    }
                }
            })
        });
        let task = tokio::spawn(async move {
            let signal = async move {
                // A dropped sender stops the workers too.
                let _ = stopped.await;
                Ok(())
            };
            if let Err(e) = monitor.run_with_signal(signal).await {
                tracing::error!(error = %e, "the job workers stopped with an error");
            }
            if let Some(scheduler) = scheduler {
                scheduler.abort();
            }
        });
        JobWorkers { stop: std::sync::Mutex::new(Some(stop)), task: std::sync::Mutex::new(Some(task)) }
    }

    /// The `WHERE` clause (and its values) selecting jobs on `queue` in `state`.
    fn selection(&self, queue: Option<Queue>, state: Option<JobState>) -> (String, Vec<Value>) {
        let backend = self.db.get_database_backend();
        let mut sql = String::from(" WHERE 1 = 1");
        let mut values: Vec<Value> = Vec::new();
        if let Some(queue) = queue {
            values.push(queue.name().into());
            sql.push_str(&format!(" AND job_type = {}", placeholder(backend, values.len())));
        }
        if let Some(state) = state {
            sql.push_str(match state {
                JobState::Queued => " AND status = 'Pending'",
                JobState::Running => " AND status IN ('Running', 'Queued')",
                JobState::Succeeded => " AND status = 'Done'",
                JobState::Failed => " AND status = 'Failed' AND attempts < max_attempts",
                JobState::Dead => " AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))",
            });
        }
        (sql, values)
    }

    /// How many jobs are on `queue` in `state`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be read.
    pub async fn count(&self, queue: Option<Queue>, state: Option<JobState>) -> Result<u64, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, _) = table(backend);
        let (selection, values) = self.selection(queue, state);
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}{selection}");
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .map_err(crate::persistence::unexpected)?;
        let count: i64 = match row {
            Some(row) => row.try_get("", "n").map_err(crate::persistence::unexpected)?,
            None => 0,
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// How many jobs each queue has in each state (pairs with no job left out), in one
    /// statement.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be read.
    pub async fn census(&self) -> Result<Vec<(String, JobState, u64)>, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, _) = table(backend);
        let sql = format!(
            "SELECT job_type, status, CASE WHEN attempts >= max_attempts THEN 1 ELSE 0 END AS spent, \
             CAST(COUNT(*) AS BIGINT) AS n FROM {table} GROUP BY job_type, status, spent"
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_string(backend, sql))
            .await
            .map_err(crate::persistence::unexpected)?;
        let mut census: Vec<(String, JobState, u64)> = Vec::new();
        for row in rows {
            let read = |e| crate::persistence::unexpected(e);
            let queue: String = row.try_get("", "job_type").map_err(read)?;
            let status: String = row.try_get("", "status").map_err(read)?;
            let spent: i32 = row.try_get("", "spent").map_err(read)?;
            let n: i64 = row.try_get("", "n").map_err(read)?;
            let state = state_of(&status, i64::from(spent), 1);
            let n = u64::try_from(n).unwrap_or(0);
            match census.iter_mut().find(|(q, s, _)| *q == queue && *s == state) {
                Some(entry) => entry.2 += n,
                None => census.push((queue, state, n)),
            }
        }
        Ok(census)
    }

    /// Jobs on `queue` (every queue when `None`) in `state` (every state when `None`), newest
    /// first, at most `limit` from `offset`.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be read.
    pub async fn jobs(
        &self,
        queue: Option<Queue>,
        state: Option<JobState>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<JobRecord>, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, error) = table(backend);
        let run_at = match backend {
            DbBackend::Postgres => "CAST(EXTRACT(EPOCH FROM run_at) AS BIGINT)",
            _ => "CAST(run_at AS BIGINT)",
        };
        let (selection, mut values) = self.selection(queue, state);
        let mut sql = format!(
            "SELECT id, job_type, status, CAST(attempts AS BIGINT) AS attempts, CAST(max_attempts AS BIGINT) AS max_attempts, \
             {error} AS last_error, job, {run_at} AS run_at FROM {table}{selection}"
        );
        values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
        values.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
        sql.push_str(&format!(
            " ORDER BY run_at DESC, id DESC LIMIT {} OFFSET {}",
            placeholder(backend, values.len() - 1),
            placeholder(backend, values.len())
        ));
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await
            .map_err(crate::persistence::unexpected)?;
        rows.iter()
            .map(|row| {
                let read = |e| crate::persistence::unexpected(e);
                let status: String = row.try_get("", "status").map_err(read)?;
                let attempts: i64 = row.try_get("", "attempts").map_err(read)?;
                let max_attempts: i64 = row.try_get("", "max_attempts").map_err(read)?;
                let payload: Vec<u8> = row.try_get("", "job").map_err(read)?;
                let run_at: Option<i64> = row.try_get("", "run_at").map_err(read)?;
                let kind = serde_json::from_slice::<serde_json::Value>(&payload)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned));
                Ok(JobRecord {
                    id: row.try_get("", "id").map_err(read)?,
                    queue: row.try_get("", "job_type").map_err(read)?,
                    kind,
                    state: state_of(&status, attempts, max_attempts),
                    attempts,
                    max_attempts,
                    last_error: row.try_get::<Option<String>>("", "last_error").map_err(read)?.map(error_text),
                    run_at: run_at.and_then(|secs| chrono::DateTime::from_timestamp(secs, 0)),
                })
            })
            .collect()
    }

    /// Stores the maintenance job of the period of length `every` that `now` falls in, once
    /// for the whole cluster: its id is made from the period's start, so a second worker's
    /// attempt to store it finds it there. Returns whether this call stored it.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be written or read.
    pub async fn schedule_maintenance(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        every: Duration,
    ) -> Result<bool, UnexpectedError> {
        let period = u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1000);
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let start = now_ms - now_ms % period;
        self.store_once(Job::Maintenance, ulid::Ulid::from_parts(start, MAINTENANCE_BITS)).await
    }

    /// Stores `job` under the id `id` unless a job with that id exists; returns whether this
    /// call stored it.
    async fn store_once(&self, job: Job, id: ulid::Ulid) -> Result<bool, UnexpectedError> {
        // Looked up first: every worker offers the period's job once a minute and all but the
        // first offer find it stored. A refused insert would cost more than this read, and
        // apalis-sqlite leaves the refused insert's transaction pending, which makes the pool
        // close that connection as if a commit had failed.
        if self.job_exists(id).await? {
            return Ok(false);
        }
        let queue = job.queue();
        let max_attempts = usize::try_from(self.settings.queue(queue).max_attempts.max(1)).unwrap_or(1);
        let stored = StoredJob { job: JobPayload::from(job), traceparent: super::trace::current_traceparent() };
        let task = TaskBuilder::new(stored).task_id(TaskId::from(id)).max_attempts(max_attempts).build();
        let pushed = match self.db.get_database_backend() {
            #[cfg(feature = "postgres")]
            DbBackend::Postgres => self.postgres(queue).push_task(task).await.is_ok(),
            _ => self.sqlite(queue).push_task(task).await.is_ok(),
        };
        if pushed {
            return Ok(true);
        }
        // Refused: another worker stored it in between (or the database failed: then say so).
        if self.job_exists(id).await? {
            Ok(false)
        } else {
            Err(UnexpectedError::unavailable("the job could not be stored"))
        }
    }

    /// Whether a job with the id `id` is stored.
    async fn job_exists(&self, id: ulid::Ulid) -> Result<bool, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, _) = table(backend);
        let sql = format!("SELECT id FROM {table} WHERE id = {}", placeholder(backend, 1));
        let found = self
            .db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [id.to_string().into()]))
            .await
            .map_err(crate::persistence::unexpected)?;
        Ok(found.is_some())
    }

    /// How many jobs on `queue` are not finished yet: queued, running, or failed with attempts
    /// left (neither succeeded nor dead).
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be read.
    pub async fn unfinished(&self, queue: Queue) -> Result<u64, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, _) = table(backend);
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table} WHERE job_type = {} AND status <> 'Done' AND NOT {DEAD}",
            placeholder(backend, 1)
        );
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [queue.name().into()]))
            .await
            .map_err(crate::persistence::unexpected)?;
        let count: i64 = match row {
            Some(row) => row.try_get("", "n").map_err(crate::persistence::unexpected)?,
            None => 0,
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Puts back on their queue the jobs taken or running under the worker name `worker` (one
    /// that failed); returns how many.
    async fn release_held_by(&self, worker: &str) -> Result<u64, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, _) = table(backend);
        let sql = format!(
            "UPDATE {table} SET status = 'Pending', lock_by = NULL, lock_at = NULL \
             WHERE lock_by = {} AND status IN ('Queued', 'Running')",
            placeholder(backend, 1)
        );
        let result = self
            .db
            .execute_raw(Statement::from_sql_and_values(backend, sql, [worker.into()]))
            .await
            .map_err(crate::persistence::unexpected)?;
        Ok(result.rows_affected())
    }

    /// Puts the dead job `id` back on its queue with a fresh count of attempts. Returns whether
    /// there was such a dead job.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be written.
    pub async fn retry(&self, id: &str) -> Result<bool, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, _) = table(backend);
        let now = match backend {
            DbBackend::Postgres => "NOW()",
            _ => "strftime('%s', 'now')",
        };
        let sql = format!(
            "UPDATE {table} SET status = 'Pending', attempts = 0, run_at = {now}, lock_by = NULL, lock_at = NULL, \
             done_at = NULL WHERE id = {} AND {DEAD}",
            placeholder(backend, 1)
        );
        self.execute(sql, id).await
    }

    /// Deletes the dead job `id`. Returns whether there was such a dead job.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the table cannot be written.
    pub async fn discard(&self, id: &str) -> Result<bool, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let (table, _) = table(backend);
        let sql = format!("DELETE FROM {table} WHERE id = {} AND {DEAD}", placeholder(backend, 1));
        self.execute(sql, id).await
    }

    async fn execute(&self, sql: String, id: &str) -> Result<bool, UnexpectedError> {
        let backend = self.db.get_database_backend();
        let result = self
            .db
            .execute_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
            .await
            .map_err(crate::persistence::unexpected)?;
        Ok(result.rows_affected() == 1)
    }
}

/// The name of a queue's worker after `restarts` restarts: `name`, then `name-r1`, `name-r2`, ….
fn incarnation(name: &str, restarts: usize) -> String {
    if restarts == 0 { name.to_owned() } else { format!("{name}-r{restarts}") }
}

/// The random part of every maintenance job's id (its time part is the period's start).
const MAINTENANCE_BITS: u128 = 0x4d41_494e_5445_4e41_4e43;

/// The condition of a dead job's row.
const DEAD: &str = "(status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))";

/// The jobs table of `backend`, and the expression of its last error as text.
const fn table(backend: DbBackend) -> (&'static str, &'static str) {
    match backend {
        DbBackend::Postgres => ("apalis.jobs", "last_result::text"),
        _ => ("Jobs", "last_result"),
    }
}

/// The error message of a stored result: apalis keeps `{"Err": "…"}` (as JSON text).
fn error_text(stored: String) -> String {
    match serde_json::from_str::<serde_json::Value>(&stored) {
        Ok(serde_json::Value::Object(map)) => match map.get("Err") {
            Some(serde_json::Value::String(message)) => message.clone(),
            Some(other) => other.to_string(),
            None => stored,
        },
        Ok(serde_json::Value::String(message)) => message,
        _ => stored,
    }
}

/// Retries every failure but those that cannot succeed ([`AbortError`]), `max_attempts - 1`
/// times, with exponential back-off and jitter.
fn retry_policy(settings: QueueSettings) -> BackoffRetryPolicy<JitteredBackoff> {
    let retries = usize::try_from(settings.max_attempts.max(1) - 1).unwrap_or(usize::MAX);
    BackoffRetryPolicy::new(retries, JitteredBackoff::new(settings))
}

/// The runner of one queue's jobs, with the queue's time limit.
///
/// The limit is applied inside the handler (rather than by a timeout layer around it) so that
/// an attempt cut short is an ordinary failed attempt, recorded and retried like any other.
#[derive(Debug)]
struct QueueRunner {
    runner: Arc<JobRunner>,
    time_limit: Duration,
    queue: &'static str,
    durations: Arc<JobDurations>,
}

/// The handler of every queue: runs one attempt within the queue's time limit.
async fn run_job(stored: StoredJob, queue: Data<Arc<QueueRunner>>) -> Result<(), BoxDynError> {
    let limit = queue.time_limit;
    let (kind, job_queue) = stored.job.kind_and_queue();
    let span = super::trace::attempt_span(kind, job_queue.name(), stored.traceparent.as_deref());
    let attempt = tracing::Instrument::instrument(queue.runner.run(stored.job), span);
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(limit, attempt).await;
    let succeeded = matches!(outcome, Ok(Ok(())));
    queue.durations.record(queue.queue, if succeeded { "succeeded" } else { "failed" }, started.elapsed());
    let Ok(outcome) = outcome else {
        return Err(format!("the attempt ran past the time limit of {} ms", limit.as_millis()).into());
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(JobFailure::Retry(message)) => Err(message.into()),
        Err(JobFailure::Fatal(message)) => Err(Box::new(AbortError::new(message))),
    }
}

#[async_trait]
impl JobQueue for JobEngine {
    async fn enqueue(&self, job: Job) -> Result<JobId, UnexpectedError> {
        let id = ulid::Ulid::generate();
        self.store_once(job, id).await?;
        Ok(JobId(id.to_string()))
    }

    async fn enqueue_once(&self, job: Job, key: uuid::Uuid) -> Result<bool, UnexpectedError> {
        self.store_once(job, ulid::Ulid::from(key.as_u128())).await
    }
}

#[async_trait]
impl JobAdmin for JobEngine {
    async fn list(
        &self,
        queue: Option<Queue>,
        state: Option<JobState>,
        page: PageRequest,
    ) -> Result<Page<JobRecord>, UnexpectedError> {
        let total = self.count(queue, state).await?;
        let items = self.jobs(queue, state, u64::from(page.limit()), page.offset()).await?;
        Ok(Page { items, total, request: page })
    }

    async fn retry(&self, id: &str) -> Result<bool, UnexpectedError> {
        Self::retry(self, id).await
    }

    async fn discard(&self, id: &str) -> Result<bool, UnexpectedError> {
        Self::discard(self, id).await
    }
}

/// The running workers of a [`JobEngine`]; stop them with [`JobWorkers::shutdown`].
#[derive(Debug)]
pub struct JobWorkers {
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl JobWorkers {
    /// Stops taking jobs and lets the running ones finish, waiting at most `grace`; a job still
    /// running then is abandoned and, once its worker's heartbeat is missed, run again by
    /// another worker. Calling it again does nothing.
    pub async fn shutdown(&self, grace: Duration) {
        let stop = self.stop.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let Some(mut task) = task else { return };
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
            tracing::warn!("job workers stopped before their running jobs finished; those jobs will run again");
        } else {
            tracing::info!("job workers stopped");
        }
    }
}

impl Drop for JobWorkers {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_row_is_dead_once_its_attempts_are_spent() {
        assert_eq!(state_of("Failed", 2, 5), JobState::Failed);
        assert_eq!(state_of("Failed", 5, 5), JobState::Dead);
        assert_eq!(state_of("Killed", 1, 5), JobState::Dead);
        assert_eq!(state_of("Done", 1, 5), JobState::Succeeded);
        assert_eq!(state_of("Pending", 0, 5), JobState::Queued);
        assert_eq!(state_of("Running", 1, 5), JobState::Running);
    }

    #[test]
    fn the_last_error_is_read_out_of_its_stored_form() {
        assert_eq!(error_text(r#"{"Err":"smtp down"}"#.into()), "smtp down");
        assert_eq!(error_text("plain".into()), "plain");
    }
}
