//! What running each kind of job does.

use std::sync::Arc;

use forge_application::{common::UnexpectedKind, jobs::Job, mail::Mailer};

use super::payload::JobPayload;

/// Why an attempt failed, and whether another attempt may succeed.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// A dependency is unavailable (an SMTP server down, a 4xx reply): retried with back-off.
    #[error("{0}")]
    Retry(String),
    /// Trying again cannot help (a refused recipient, a malformed job): the job is dead at once.
    #[error("{0}")]
    Fatal(String),
}

/// Runs jobs: the handlers of every kind, with the adapters they need.
pub struct JobRunner {
    mailer: Arc<dyn Mailer>,
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner").finish_non_exhaustive()
    }
}

impl JobRunner {
    /// Handlers over `mailer` (for mail jobs).
    #[must_use]
    pub fn new(mailer: Arc<dyn Mailer>) -> Self {
        Self { mailer }
    }

    /// Runs one attempt of the stored job `payload`.
    ///
    /// Every handler may run more than once for one job (a worker that died after the work
    /// and before recording it): a mail may then be sent twice, which is the accepted cost of
    /// never losing one.
    ///
    /// # Errors
    /// [`JobFailure`]: whether the attempt may be retried.
    pub async fn run(&self, payload: JobPayload) -> Result<(), JobFailure> {
        let job = Job::try_from(payload).map_err(|e| JobFailure::Fatal(e.to_string()))?;
        match job {
            Job::SendMail(message) => match self.mailer.send(&message).await {
                Ok(()) => {
                    tracing::info!(job = "send_mail", "mail delivered");
                    Ok(())
                }
                Err(e) if e.kind() == UnexpectedKind::Unavailable => Err(JobFailure::Retry(e.to_string())),
                Err(e) => Err(JobFailure::Fatal(e.to_string())),
            },
        }
    }
}
