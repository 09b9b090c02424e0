//! The relay's mail consumer: "you were added to a project" for every `project.member_added`
//! event, queued as a mail job once per event however often the event is delivered.

use std::sync::Arc;

use async_trait::async_trait;

use super::{OutboxConsumer, RelayedEvent};
use crate::{
    audit::{AuditValue, EventType},
    common::UnexpectedError,
    jobs::{Job, JobQueue},
    mail::{MailTemplates, Notice},
    users::ports::UserRepository,
};

/// Mails the recipient of each `project.member_added` event.
pub struct ProjectMail {
    users: Arc<dyn UserRepository>,
    templates: Arc<dyn MailTemplates>,
    jobs: Arc<dyn JobQueue>,
}

impl ProjectMail {
    /// The consumer, reading recipients from `users` and queueing mail on `jobs`.
    #[must_use]
    pub fn new(users: Arc<dyn UserRepository>, templates: Arc<dyn MailTemplates>, jobs: Arc<dyn JobQueue>) -> Self {
        Self { users, templates, jobs }
    }
}

fn text(event: &RelayedEvent, field: &str) -> Option<String> {
    match event.data.get(field) {
        Some(AuditValue::Text(value)) => Some(value.clone()),
        _ => None,
    }
}

#[async_trait]
impl OutboxConsumer for ProjectMail {
    fn name(&self) -> &'static str {
        "project-mail"
    }

    async fn consume(&self, event: &RelayedEvent) -> Result<(), UnexpectedError> {
        if event.event_type != EventType::ProjectMemberAdded {
            return Ok(());
        }
        // Nobody to tell: the account is gone or switched off since.
        let Some(user) = self.users.by_id(event.recipient).await? else { return Ok(()) };
        if user.is_deleted() || !user.is_active() {
            return Ok(());
        }
        let notice = Notice::AddedToProject {
            username: user.username().as_ref().to_owned(),
            project_name: text(event, "project_name").unwrap_or_default(),
            role: text(event, "role").unwrap_or_default(),
        };
        let message = self.templates.render(user.email(), &notice)?;
        // The event's id is the job's key: a second delivery of the event queues nothing.
        self.jobs.enqueue_once(Job::SendMail(message), event.id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use forge_domain::users::UserId;

    use super::*;
    use crate::{
        audit::StoredSnapshot,
        jobs::MockJobQueue,
        mail::MockMailTemplates,
        test_support::{a_user, now},
        users::ports::MockUserRepository,
    };

    fn event(event_type: EventType, recipient: UserId) -> RelayedEvent {
        RelayedEvent {
            id: uuid::Uuid::now_v7(),
            event_type,
            recipient,
            data: StoredSnapshot::from_fields([
                ("project_name".to_owned(), AuditValue::Text("Apollo".into())),
                ("role".to_owned(), AuditValue::Text("maintainer".into())),
            ]),
            occurred_at: now(),
            attempts: 0,
            traceparent: None,
        }
    }

    #[tokio::test]
    async fn a_member_added_event_queues_one_mail_keyed_by_the_event() {
        let user = a_user(forge_domain::users::Role::Member).build();
        let id = user.id();
        let mut users = MockUserRepository::new();
        users.expect_by_id().returning(move |_| Ok(Some(user.clone())));
        let mut templates = MockMailTemplates::new();
        templates.expect_render().returning(|to, notice| {
            let Notice::AddedToProject { project_name, role, .. } = notice else { panic!("{notice:?}") };
            Ok(crate::mail::MailMessage {
                to: to.clone(),
                subject: format!("{project_name}/{role}"),
                text: String::new(),
                html: String::new(),
            })
        });
        let event = event(EventType::ProjectMemberAdded, id);
        let key = event.id;
        let mut jobs = MockJobQueue::new();
        jobs.expect_enqueue_once()
            .withf(move |job, k| *k == key && matches!(job, Job::SendMail(m) if m.subject == "Apollo/maintainer"))
            .times(1)
            .returning(|_, _| Ok(true));
        let consumer = ProjectMail::new(Arc::new(users), Arc::new(templates), Arc::new(jobs));
        consumer.consume(&event).await.unwrap_or_else(|e| panic!("{e}"));
    }

    #[tokio::test]
    async fn other_events_and_deleted_recipients_queue_nothing() {
        let deleted = a_user(forge_domain::users::Role::Member).deleted().build();
        let id = deleted.id();
        let mut users = MockUserRepository::new();
        users.expect_by_id().returning(move |_| Ok(Some(deleted.clone())));
        let mut jobs = MockJobQueue::new();
        jobs.expect_enqueue_once().never();
        let consumer = ProjectMail::new(Arc::new(users), Arc::new(MockMailTemplates::new()), Arc::new(jobs));
        consumer.consume(&event(EventType::ProjectMemberRemoved, id)).await.unwrap_or_else(|e| panic!("{e}"));
        consumer.consume(&event(EventType::ProjectMemberAdded, id)).await.unwrap_or_else(|e| panic!("{e}"));
    }
}
