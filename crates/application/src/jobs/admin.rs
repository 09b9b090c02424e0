//! Administration of jobs: listing them by queue and state, and retrying or discarding the dead.

use std::sync::Arc;

use async_trait::async_trait;
use forge_domain::users::Permission;

use super::Queue;
use crate::common::{Actor, Page, PageRequest, UnexpectedError};

/// Where a job is in its life, as administrators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for a worker (for the first time, or again after a failed attempt).
    Queued,
    /// A worker is running it.
    Running,
    /// Done.
    Succeeded,
    /// An attempt failed and another will follow.
    Failed,
    /// Every attempt failed (or one failed for good): kept with its last error.
    Dead,
}

impl JobState {
    /// Every state.
    pub const ALL: [Self; 5] = [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Dead];

    /// The state's name in the API: `queued`, `running`, `succeeded`, `failed`, `dead`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Dead => "dead",
        }
    }
}

/// One job, as administrators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// Its id.
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its kind (`send_mail`, `export`, `maintenance`), when the stored payload names one.
    pub kind: Option<String>,
    /// Where it is.
    pub state: JobState,
    /// Attempts made so far.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// The error of the last failed attempt, if any.
    pub last_error: Option<String>,
    /// When it is (or was) due to run.
    pub run_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The jobs as the engine keeps them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobAdmin: Send + Sync {
    /// One page of the jobs on `queue` in `state` (every one when `None`), newest first, with
    /// the count of all that match.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the jobs cannot be read.
    async fn list(
        &self,
        queue: Option<Queue>,
        state: Option<JobState>,
        page: PageRequest,
    ) -> Result<Page<JobRecord>, UnexpectedError>;

    /// Puts the dead job `id` back on its queue with a fresh count of attempts; whether there
    /// was such a dead job.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the jobs cannot be written.
    async fn retry(&self, id: &str) -> Result<bool, UnexpectedError>;

    /// Deletes the dead job `id`; whether there was such a dead job.
    ///
    /// # Errors
    /// [`UnexpectedError`] when the jobs cannot be written.
    async fn discard(&self, id: &str) -> Result<bool, UnexpectedError>;
}

/// Why a job administration use case refused.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// Only admins manage jobs.
    #[error("not allowed")]
    Forbidden,
    /// No dead job with this id.
    #[error("no dead job with this id")]
    NotFound,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

/// Administration of jobs, for admins.
#[derive(Clone)]
pub struct JobsService {
    admin: Arc<dyn JobAdmin>,
}

impl JobsService {
    /// Builds the service.
    #[must_use]
    pub fn new(admin: Arc<dyn JobAdmin>) -> Self {
        Self { admin }
    }

    /// Whether the actor may manage jobs at all.
    ///
    /// # Errors
    /// [`JobsError::Forbidden`] for anyone but admins.
    pub fn authorize(&self, actor: &Actor) -> Result<(), JobsError> {
        if actor.can(Permission::ManageJobs) { Ok(()) } else { Err(JobsError::Forbidden) }
    }

    /// One page of jobs.
    ///
    /// # Errors
    /// [`JobsError::Forbidden`]; [`JobsError::Unexpected`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn list(
        &self,
        actor: &Actor,
        queue: Option<Queue>,
        state: Option<JobState>,
        page: PageRequest,
    ) -> Result<Page<JobRecord>, JobsError> {
        self.authorize(actor)?;
        Ok(self.admin.list(queue, state, page).await?)
    }

    /// Retries the dead job `id`.
    ///
    /// # Errors
    /// [`JobsError::Forbidden`]; [`JobsError::NotFound`] when there is no dead job `id`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), job_id = id))]
    pub async fn retry(&self, actor: &Actor, id: &str) -> Result<(), JobsError> {
        self.authorize(actor)?;
        if self.admin.retry(id).await? {
            tracing::info!("dead job put back on its queue");
            Ok(())
        } else {
            Err(JobsError::NotFound)
        }
    }

    /// Discards the dead job `id`.
    ///
    /// # Errors
    /// [`JobsError::Forbidden`]; [`JobsError::NotFound`] when there is no dead job `id`.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), job_id = id))]
    pub async fn discard(&self, actor: &Actor, id: &str) -> Result<(), JobsError> {
        self.authorize(actor)?;
        if self.admin.discard(id).await? {
            tracing::info!("dead job discarded");
            Ok(())
        } else {
            Err(JobsError::NotFound)
        }
    }
}
