//! The builder's background work end to end: with jobs on and a consumer registered, an event a
//! use case stores reaches the consumer through the relay, and mail goes through the job queue.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use forge::{
    JobSettings,
    application::{
        UnexpectedError,
        audit::{AuditValue, EventType},
        relay::{OutboxConsumer, RelayedEvent},
    },
    prelude::*,
};

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<RelayedEvent>>,
}

#[async_trait::async_trait]
impl OutboxConsumer for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn consume(&self, event: &RelayedEvent) -> Result<(), UnexpectedError> {
        self.events.lock().unwrap().push(event.clone());
        Ok(())
    }
}

fn account(email: &str, username: &str) -> RegisterCommand {
    RegisterCommand {
        email: email.into(),
        username: username.into(),
        password: SecretString::from("Analytical-Engine-1843!"),
        full_name: None,
        context: ClientContext::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_added_event_reaches_a_registered_consumer_and_the_mail_is_delivered_as_a_job() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::default());
    let settings = JobSettings { poll_interval: Duration::from_millis(50), ..JobSettings::default() };
    let forge = Forge::builder(format!("sqlite://{}", dir.path().join("relay.db").display()))
        .jwt_secret("a-test-signing-key-of-32-bytes-or-more")
        .data_dir(dir.path())
        .jobs(settings, true)
        .outbox_consumer(recorder.clone())
        .build()
        .await
        .unwrap();

    forge.auth.register(account("ada@example.com", "ada")).await.unwrap();
    let grace = forge.auth.register(account("grace@example.com", "grace")).await.unwrap();
    let login = LoginCommand {
        identifier: "ada".into(),
        password: SecretString::from("Analytical-Engine-1843!"),
        context: ClientContext::default(),
    };
    let tokens = forge.auth.login(login).await.unwrap().tokens;
    let ada = forge.auth.authenticate(tokens.access_token.expose_secret(), ClientContext::default()).await.unwrap();
    let project =
        forge.projects.create(&ada, CreateProjectCommand { name: "Apollo".into(), description: None }).await.unwrap();
    let adding = AddMemberCommand { member: MemberRef::Id(grace.id()), role: "maintainer".into() };
    forge.projects.add_member(&ada, project.project.id(), adding).await.unwrap();

    let started = Instant::now();
    let event = loop {
        if let Some(event) = recorder.events.lock().unwrap().first().cloned() {
            break event;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the event was not relayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(event.event_type, EventType::ProjectMemberAdded);
    assert_eq!(event.recipient, grace.id());
    assert!(matches!(event.data.get("project_name"), Some(AuditValue::Text(name)) if name == "Apollo"), "{event:?}");

    // The two verification mails and, from Forge's own consumer (which ran before the recorder),
    // Grace's "you were added" went through the mail queue and were written as files.
    while forge.mail_in_flight().await.unwrap() > 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the mail was not delivered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mails: Vec<String> = std::fs::read_dir(dir.path().join("mail"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 3);
    let added: Vec<&String> = mails.iter().filter(|m| m.contains("You were added to Apollo")).collect();
    assert_eq!(added.len(), 1);
    assert!(added[0].contains("grace@example.com"), "{}", added[0]);
    forge.shutdown(Duration::from_secs(5)).await;
    assert_eq!(recorder.events.lock().unwrap().len(), 1, "delivered once");
}
