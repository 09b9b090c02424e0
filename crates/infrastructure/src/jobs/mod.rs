//! Background jobs on apalis: the durable [`JobQueue`](forge_application::jobs::JobQueue), the
//! workers that run each named queue, and the administration of dead jobs.

mod backoff;
mod durations;
mod engine;
mod payload;
mod poll;
mod runner;
mod settings;
pub(crate) mod trace;

pub use backoff::{JitteredBackoff, delay_after, jittered};
pub use durations::{DurationHistogram, JOB_DURATION_BOUNDS, JobDurations};
pub use engine::{JobEngine, JobWorkers};
pub use forge_application::jobs::{JobRecord, JobState};
pub use payload::{JobPayload, StoredJob};
pub use runner::{JobFailure, JobRunner};
pub use settings::{JobSettings, QueueSettings};
pub use trace::TracedConsumer;
