//! A job as it is stored: JSON that names its kind and carries what it needs.

use forge_application::{
    UnexpectedError,
    exports::ExportId,
    jobs::{Job, Queue},
    mail::MailMessage,
};
use forge_domain::users::Email;
use serde::{Deserialize, Serialize};

/// A job as its row holds it: the job, and the W3C `traceparent` of the span that queued it (when
/// traces are on), so that running it continues the trace of the request that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredJob {
    /// The job.
    #[serde(flatten)]
    pub job: JobPayload,
    /// The trace context it was queued in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

/// The stored form of a [`Job`]. Its JSON is the job's row in the queue's table, so changing a
/// variant's fields must keep reading rows written by the previous release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobPayload {
    /// [`Job::SendMail`]. The bodies may hold single-use links: the row is as secret as the
    /// mail itself, and is purged with the other finished jobs.
    SendMail {
        /// The recipient's address.
        to: String,
        /// The subject line.
        subject: String,
        /// The plain-text body.
        text: String,
        /// The HTML body.
        html: String,
    },
    /// [`Job::Export`].
    Export {
        /// The export to write.
        export_id: uuid::Uuid,
    },
    /// [`Job::Maintenance`].
    Maintenance,
}

impl JobPayload {
    /// The job's kind and queue, as [`Job::kind`] and [`Job::queue`] name them, read without
    /// converting the payload.
    #[must_use]
    pub const fn kind_and_queue(&self) -> (&'static str, Queue) {
        match self {
            Self::SendMail { .. } => ("send_mail", Queue::Mail),
            Self::Export { .. } => ("export", Queue::Exports),
            Self::Maintenance => ("maintenance", Queue::Maintenance),
        }
    }
}

impl From<Job> for JobPayload {
    fn from(job: Job) -> Self {
        match job {
            Job::SendMail(message) => Self::SendMail {
                to: message.to.as_ref().to_owned(),
                subject: message.subject,
                text: message.text,
                html: message.html,
            },
            Job::Export(id) => Self::Export { export_id: id.as_uuid() },
            Job::Maintenance => Self::Maintenance,
        }
    }
}

impl TryFrom<JobPayload> for Job {
    type Error = UnexpectedError;

    fn try_from(payload: JobPayload) -> Result<Self, UnexpectedError> {
        match payload {
            JobPayload::SendMail { to, subject, text, html } => {
                let to = Email::parse(&to).map_err(|e| UnexpectedError::internal(format!("a stored mail job: {e}")))?;
                Ok(Self::SendMail(MailMessage { to, subject, text, html }))
            }
            JobPayload::Export { export_id } => Ok(Self::Export(ExportId::from_uuid(export_id))),
            JobPayload::Maintenance => Ok(Self::Maintenance),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mail_job_survives_the_round_trip_through_json() {
        let message = MailMessage {
            to: Email::parse("ada@example.com").unwrap(),
            subject: "Hi \"there\"".into(),
            text: "line\nline".into(),
            html: "<p>é</p>".into(),
        };
        let json = serde_json::to_string(&JobPayload::from(Job::SendMail(message))).unwrap();
        assert!(json.contains(r#""kind":"send_mail""#), "{json}");
        let back = Job::try_from(serde_json::from_str::<JobPayload>(&json).unwrap()).unwrap();
        let Job::SendMail(back) = back else { panic!("not a mail job: {back:?}") };
        assert_eq!(back.to.as_ref(), "ada@example.com");
        assert_eq!(
            (back.subject.as_str(), back.text.as_str(), back.html.as_str()),
            ("Hi \"there\"", "line\nline", "<p>é</p>")
        );
    }

    #[test]
    fn the_trace_context_rides_beside_the_job_and_an_old_row_without_one_still_reads() {
        let stored = StoredJob { job: JobPayload::Maintenance, traceparent: Some("00-abc-def-01".into()) };
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(json, r#"{"kind":"maintenance","traceparent":"00-abc-def-01"}"#);
        assert_eq!(serde_json::from_str::<StoredJob>(&json).unwrap(), stored);
        let old: StoredJob = serde_json::from_str(r#"{"kind":"maintenance"}"#).unwrap();
        assert_eq!(old, StoredJob { job: JobPayload::Maintenance, traceparent: None });
    }

    #[test]
    fn the_payload_names_the_kind_and_queue_of_its_job() {
        let message = MailMessage {
            to: Email::parse("ada@example.com").unwrap(),
            subject: String::new(),
            text: String::new(),
            html: String::new(),
        };
        let id = ExportId::from_uuid(uuid::Uuid::now_v7());
        for job in [Job::SendMail(message), Job::Export(id), Job::Maintenance] {
            assert_eq!(JobPayload::from(job.clone()).kind_and_queue(), (job.kind(), job.queue()));
        }
    }

    #[test]
    fn a_stored_mail_to_a_bad_address_is_refused() {
        let payload = JobPayload::SendMail {
            to: "nope".into(),
            subject: String::new(),
            text: String::new(),
            html: String::new(),
        };
        assert!(Job::try_from(payload).is_err());
    }
}
