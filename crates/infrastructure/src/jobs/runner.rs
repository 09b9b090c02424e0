//! What running each kind of job does.

use std::sync::Arc;

use forge_application::{
    UnexpectedError, common::UnexpectedKind, exports::ExportService, jobs::Job, mail::Mailer,
    maintenance::MaintenanceService,
};

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
    exports: Option<ExportService>,
    maintenance: Option<MaintenanceService>,
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
        Self { mailer, exports: None, maintenance: None }
    }

    /// The same, also running exports and the maintenance purges.
    #[must_use]
    pub fn with_services(mut self, exports: ExportService, maintenance: MaintenanceService) -> Self {
        self.exports = Some(exports);
        self.maintenance = Some(maintenance);
        self
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
            Job::Export(id) => {
                let exports =
                    self.exports.as_ref().ok_or_else(|| JobFailure::Retry("exports are not run here".into()))?;
                exports.run(id).await.map_err(retried)
            }
            Job::Maintenance => {
                let maintenance =
                    self.maintenance.as_ref().ok_or_else(|| JobFailure::Retry("maintenance is not run here".into()))?;
                maintenance.run().await.map(|_| ()).map_err(retried)
            }
        }
    }
}

/// A storage failure of a resumable job: tried again (an export resumes where it stopped).
fn retried(error: UnexpectedError) -> JobFailure {
    JobFailure::Retry(error.to_string())
}
