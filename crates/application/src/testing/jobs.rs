//! A job queue that records what it is handed.

use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::{
    common::UnexpectedError,
    jobs::{Job, JobId, JobQueue},
};

/// A [`JobQueue`] that records every job it is handed, in order, and runs none: a test reads
/// what was queued.
#[derive(Debug, Default)]
pub struct RecordingJobQueue {
    jobs: Mutex<Vec<Job>>,
}

impl RecordingJobQueue {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every job, in the order it was handed over.
    #[must_use]
    pub fn jobs(&self) -> Vec<Job> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Job>> {
        // Every update is a single push: a panic elsewhere cannot leave it half-updated.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl JobQueue for RecordingJobQueue {
    async fn enqueue(&self, job: Job) -> Result<JobId, UnexpectedError> {
        let mut jobs = self.lock();
        jobs.push(job);
        Ok(JobId(format!("job-{}", jobs.len())))
    }
}
