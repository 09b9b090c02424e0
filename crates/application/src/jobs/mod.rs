//! Background jobs: work handed off to run later, durably, outside the request that asked for it.
//!
//! A use case (or an adapter acting for one, such as [`QueuedMail`]) describes the work as a
//! [`Job`] and hands it to the [`JobQueue`] port; it never knows which engine stores and runs it.
//! Each job belongs to a named [`Queue`], so slow work (exports) never holds up urgent work
//! (mail), and each queue has its own concurrency, time limit and retry policy (settings of the
//! adapter). A job that keeps failing ends *dead*, kept with its last error for an administrator
//! to read, retry or discard.
//!
//! Jobs run at least once: a worker that dies while running one leaves it to be picked up again,
//! so every job's effect must be the same whether it runs once or twice.

mod admin;

use async_trait::async_trait;

#[cfg(any(test, feature = "mocks"))]
pub use admin::MockJobAdmin;
pub use admin::{JobAdmin, JobRecord, JobState, JobsError, JobsService};

use crate::{
    common::UnexpectedError,
    exports::ExportId,
    mail::{MailMessage, MailQueue},
};

/// The named queues. Each has its own workers, so a backlog in one does not delay another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// Anything without a queue of its own.
    Default,
    /// Mail delivery.
    Mail,
    /// Exports of users, projects and audit logs.
    Exports,
    /// Scheduled purges and other housekeeping.
    Maintenance,
}

impl Queue {
    /// Every queue, in a fixed order.
    pub const ALL: [Self; 4] = [Self::Default, Self::Mail, Self::Exports, Self::Maintenance];

    /// The queue's stable name: `default`, `mail`, `exports`, `maintenance`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Mail => "mail",
            Self::Exports => "exports",
            Self::Maintenance => "maintenance",
        }
    }

    /// The queue named `name`, if there is one.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|queue| queue.name() == name)
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One piece of background work, with what it needs to run.
#[derive(Debug, Clone)]
pub enum Job {
    /// Deliver a rendered mail (through the [`Mailer`](crate::mail::Mailer)).
    SendMail(MailMessage),
    /// Write an export's file ([`ExportService::run`](crate::exports::ExportService::run)).
    Export(ExportId),
    /// The periodic purges ([`MaintenanceService::run`](crate::maintenance::MaintenanceService::run)).
    Maintenance,
}

impl Job {
    /// The queue the job runs on.
    #[must_use]
    pub const fn queue(&self) -> Queue {
        match self {
            Self::SendMail(_) => Queue::Mail,
            Self::Export(_) => Queue::Exports,
            Self::Maintenance => Queue::Maintenance,
        }
    }

    /// The job's stable kind, for logs and administration: `send_mail`, `export`,
    /// `maintenance`.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::SendMail(_) => "send_mail",
            Self::Export(_) => "export",
            Self::Maintenance => "maintenance",
        }
    }
}

/// The id a queue gave a job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobId(pub String);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Stores jobs durably for the workers to run.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Stores `job` on its queue; once this returns, the job survives a crash of this process.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the job could not be stored (the database is unreachable).
    async fn enqueue(&self, job: Job) -> Result<JobId, UnexpectedError>;

    /// Stores `job` unless a job was stored under `key` before (by this process or any other):
    /// what a consumer that may see one event twice uses, so that the event's work is queued
    /// once. Returns whether this call stored it. The default stores it every time, for queues
    /// that cannot tell.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the job could not be stored.
    async fn enqueue_once(&self, job: Job, key: uuid::Uuid) -> Result<bool, UnexpectedError> {
        let _ = key;
        self.enqueue(job).await.map(|_| true)
    }
}

/// The [`MailQueue`] over a [`JobQueue`]: each message becomes a [`Job::SendMail`] on the `mail`
/// queue, stored before the request that asked for it is answered.
pub struct QueuedMail {
    jobs: std::sync::Arc<dyn JobQueue>,
}

impl QueuedMail {
    /// Mail queued as jobs on `jobs`.
    #[must_use]
    pub fn new(jobs: std::sync::Arc<dyn JobQueue>) -> Self {
        Self { jobs }
    }
}

impl std::fmt::Debug for QueuedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedMail").finish_non_exhaustive()
    }
}

#[async_trait]
impl MailQueue for QueuedMail {
    async fn enqueue(&self, message: MailMessage) -> Result<(), UnexpectedError> {
        self.jobs.enqueue(Job::SendMail(message)).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use forge_domain::users::Email;

    use super::*;
    use crate::testing::RecordingJobQueue;

    fn message() -> MailMessage {
        MailMessage {
            to: Email::parse("ada@example.com").unwrap_or_else(|e| panic!("{e}")),
            subject: "Hello".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
        }
    }

    #[test]
    fn every_queue_is_found_by_its_name() {
        for queue in Queue::ALL {
            assert_eq!(Queue::from_name(queue.name()), Some(queue));
        }
        assert_eq!(Queue::from_name("nope"), None);
    }

    #[tokio::test]
    async fn queued_mail_becomes_a_send_mail_job_on_the_mail_queue() {
        let jobs = Arc::new(RecordingJobQueue::new());
        let mail = QueuedMail::new(jobs.clone());
        mail.enqueue(message()).await.unwrap_or_else(|e| panic!("{e}"));
        let recorded = jobs.jobs();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].queue(), Queue::Mail);
        assert!(matches!(&recorded[0], Job::SendMail(m) if m.to.as_ref() == "ada@example.com" && m.subject == "Hello"));
    }

    #[tokio::test]
    async fn a_queue_that_cannot_store_the_job_fails_the_mail() {
        let mut jobs = MockJobQueue::new();
        jobs.expect_enqueue().returning(|_| Err(UnexpectedError::unavailable("database down")));
        let mail = QueuedMail::new(Arc::new(jobs));
        assert!(mail.enqueue(message()).await.is_err());
    }
}
