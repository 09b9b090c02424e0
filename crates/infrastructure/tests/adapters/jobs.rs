//! The job engine (apalis) on the test database: retries with back-off, dead letters with their
//! last error, retry from administration, time limits, and jobs of a killed worker run again.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use forge_application::metrics::{DatabaseMetrics, PoolFigures};
use forge_application::{
    UnexpectedError,
    jobs::{Job, JobId, JobQueue, Queue},
    mail::{MailMessage, Mailer},
};
use forge_domain::users::Email;
use forge_infrastructure::{
    jobs::{JobEngine, JobRecord, JobRunner, JobSettings, JobState, QueueSettings},
    persistence::{Database, QueryStats, SeaDatabaseMetrics},
};

use crate::common::Harness;

/// A mailer that fails (as unavailable) until `healthy`, or the first `fail_first` sends, and
/// records when each attempt came and what was delivered.
#[derive(Default)]
struct FlakyMailer {
    fail_first: usize,
    healthy: AtomicBool,
    fatal: bool,
    hang: bool,
    attempts: AtomicUsize,
    at: Mutex<Vec<Instant>>,
    delivered: Mutex<Vec<String>>,
}

#[async_trait]
impl Mailer for FlakyMailer {
    async fn send(&self, message: &MailMessage) -> Result<(), UnexpectedError> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        self.at.lock().unwrap().push(Instant::now());
        if self.hang && !self.healthy.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        if self.fatal && !self.healthy.load(Ordering::SeqCst) {
            return Err(UnexpectedError::internal("550 no such mailbox"));
        }
        let failing = if self.fail_first == usize::MAX {
            !self.healthy.load(Ordering::SeqCst)
        } else {
            attempt <= self.fail_first
        };
        if failing {
            return Err(UnexpectedError::unavailable(format!("421 try again later (attempt {attempt})")));
        }
        self.delivered.lock().unwrap().push(message.subject.clone());
        Ok(())
    }
}

fn settings(max_attempts: u32) -> JobSettings {
    let queue = QueueSettings {
        concurrency: 2,
        time_limit: Duration::from_secs(5),
        max_attempts,
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
    };
    JobSettings {
        default: queue,
        mail: queue,
        exports: queue,
        maintenance: queue,
        poll_interval: Duration::from_millis(50),
        heartbeat: Duration::from_secs(1),
        worker_name: format!("test-{}", uuid::Uuid::new_v4().simple()),
        maintenance_every: None,
    }
}

fn mail(subject: &str) -> Job {
    Job::SendMail(MailMessage {
        to: Email::parse("ada@example.com").unwrap(),
        subject: subject.into(),
        text: "text".into(),
        html: "<p>html</p>".into(),
    })
}

/// Waits (up to 30 s) for the job `id` to reach `state`.
async fn wait_for(engine: &JobEngine, id: &JobId, state: JobState) -> JobRecord {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = engine.jobs(Some(Queue::Mail), None, 100, 0).await.unwrap();
        if let Some(job) = jobs.into_iter().find(|job| job.id == id.0) {
            if job.state == state {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} stuck in {:?}, wanted {state:?}: {job:?}", job.state);
        } else {
            assert!(Instant::now() < deadline, "job {id} not found");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pool_of(database: &Database) -> PoolFigures {
    SeaDatabaseMetrics::new(database, Arc::new(QueryStats::default())).figures().pool
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_poll_on_the_background_pool_and_leave_the_request_pool_to_requests() {
    let h = Harness::new().await;
    let engine = JobEngine::new(&h.database, settings(1)).await.unwrap();
    // None on PostgreSQL; on SQLite the one SeaORM read the SQLite version through.
    let before = pool_of(&h.database).size;
    assert!(before <= 1, "{before}");
    let mailer = Arc::new(FlakyMailer::default());
    let workers = engine.start(Arc::new(JobRunner::new(mailer.clone())));
    // Twenty poll intervals of the four queues' workers, each polling on its own, and their
    // heartbeats: on the request pool they would have opened connections of it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let background = pool_of(&h.database.background());
    assert!(background.size >= 1 && background.size <= background.max, "{background:?}");
    assert_eq!(pool_of(&h.database).size, before, "a worker took a connection of the request pool");

    let id = engine.enqueue(mail("welcome")).await.unwrap();
    wait_for(&engine, &id, JobState::Succeeded).await;
    assert_eq!(*mailer.delivered.lock().unwrap(), ["welcome"]);
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_that_fails_twice_is_delivered_on_the_third_attempt_after_backing_off() {
    let h = Harness::new().await;
    let engine = JobEngine::new(&h.database, settings(5)).await.unwrap();
    let mailer = Arc::new(FlakyMailer { fail_first: 2, ..FlakyMailer::default() });
    let workers = engine.start(Arc::new(JobRunner::new(mailer.clone())));

    let id = engine.enqueue(mail("welcome")).await.unwrap();
    let job = wait_for(&engine, &id, JobState::Succeeded).await;

    assert_eq!(job.attempts, 3);
    assert_eq!(job.kind.as_deref(), Some("send_mail"));
    assert_eq!(*mailer.delivered.lock().unwrap(), ["welcome"]);
    let at = mailer.at.lock().unwrap().clone();
    assert_eq!(at.len(), 3);
    // Back-off with jitter: at least half of 200 ms, then at least half of 400 ms.
    assert!(at[1] - at[0] >= Duration::from_millis(100), "{:?}", at[1] - at[0]);
    assert!(at[2] - at[1] >= Duration::from_millis(200), "{:?}", at[2] - at[1]);
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_that_always_fails_is_dead_with_its_error_and_a_retry_delivers_it_once_fixed() {
    let h = Harness::new().await;
    let engine = JobEngine::new(&h.database, settings(3)).await.unwrap();
    let mailer = Arc::new(FlakyMailer { fail_first: usize::MAX, ..FlakyMailer::default() });
    let workers = engine.start(Arc::new(JobRunner::new(mailer.clone())));

    let id = engine.enqueue(mail("reset")).await.unwrap();
    let dead = wait_for(&engine, &id, JobState::Dead).await;
    assert_eq!(dead.attempts, 3);
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("421 try again later")), "{dead:?}");
    let listed = engine.jobs(Some(Queue::Mail), Some(JobState::Dead), 10, 0).await.unwrap();
    assert_eq!(listed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [id.0.as_str()]);
    // Nothing picks a dead job up again by itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mailer.attempts.load(Ordering::SeqCst), 3);

    mailer.healthy.store(true, Ordering::SeqCst);
    assert!(engine.retry(&id.0).await.unwrap());
    assert!(!engine.retry(&id.0).await.unwrap(), "only a dead job can be retried");
    wait_for(&engine, &id, JobState::Succeeded).await;
    assert_eq!(*mailer.delivered.lock().unwrap(), ["reset"]);
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_retrying_cannot_help_is_dead_at_once_and_can_be_discarded() {
    let h = Harness::new().await;
    let engine = JobEngine::new(&h.database, settings(5)).await.unwrap();
    let mailer = Arc::new(FlakyMailer { fatal: true, ..FlakyMailer::default() });
    let workers = engine.start(Arc::new(JobRunner::new(mailer.clone())));

    let id = engine.enqueue(mail("refused")).await.unwrap();
    let dead = wait_for(&engine, &id, JobState::Dead).await;
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("550 no such mailbox")), "{dead:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(mailer.attempts.load(Ordering::SeqCst), 1);

    assert!(engine.discard(&id.0).await.unwrap());
    assert!(engine.jobs(Some(Queue::Mail), None, 10, 0).await.unwrap().is_empty());
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_past_the_time_limit_fails_and_counts_as_an_attempt() {
    let h = Harness::new().await;
    let mut settings = settings(2);
    settings.mail.time_limit = Duration::from_millis(300);
    let engine = JobEngine::new(&h.database, settings).await.unwrap();
    let mailer = Arc::new(FlakyMailer { hang: true, ..FlakyMailer::default() });
    let workers = engine.start(Arc::new(JobRunner::new(mailer.clone())));

    let id = engine.enqueue(mail("slow")).await.unwrap();
    let dead = wait_for(&engine, &id, JobState::Dead).await;
    assert_eq!(dead.attempts, 2);
    assert_eq!(mailer.attempts.load(Ordering::SeqCst), 2);
    assert!(mailer.delivered.lock().unwrap().is_empty());
    assert!(dead.last_error.as_deref().is_some_and(|e| e.contains("time limit of 300 ms")), "{dead:?}");
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_held_by_a_worker_that_died_is_run_by_another() {
    let h = Harness::new().await;
    let first = JobEngine::new(&h.database, settings(5)).await.unwrap();
    let stuck = Arc::new(FlakyMailer { hang: true, ..FlakyMailer::default() });
    let dying = first.start(Arc::new(JobRunner::new(stuck.clone())));
    let id = first.enqueue(mail("survivor")).await.unwrap();
    wait_for(&first, &id, JobState::Running).await;
    // The process dies: its workers stop without finishing or handing anything back.
    drop(dying);

    let second = JobEngine::new(&h.database, settings(5)).await.unwrap();
    let mailer = Arc::new(FlakyMailer::default());
    let workers = second.start(Arc::new(JobRunner::new(mailer.clone())));
    wait_for(&second, &id, JobState::Succeeded).await;
    assert_eq!(*mailer.delivered.lock().unwrap(), ["survivor"]);
    assert!(stuck.delivered.lock().unwrap().is_empty());
    workers.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_queue_keeps_its_own_jobs() {
    let h = Harness::new().await;
    let engine = JobEngine::new(&h.database, settings(5)).await.unwrap();
    let id = engine.enqueue(mail("queued")).await.unwrap();
    let mail_jobs = engine.jobs(Some(Queue::Mail), Some(JobState::Queued), 10, 0).await.unwrap();
    assert_eq!(mail_jobs.len(), 1);
    assert_eq!((mail_jobs[0].id.as_str(), mail_jobs[0].queue.as_str()), (id.0.as_str(), "mail"));
    assert!(engine.jobs(Some(Queue::Exports), None, 10, 0).await.unwrap().is_empty());
}
