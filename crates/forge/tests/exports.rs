//! Exports and maintenance through the builder, with the job workers held back so the test runs
//! the jobs itself: two attempts of one export at once write every row once, an export resumed
//! after a partial run continues where it stopped, and the maintenance job of a period is stored
//! once however many workers schedule it.

#![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

use std::time::Duration;

use forge::{
    ExportSettings, JobSettings,
    application::{
        exports::{ExportFilters, ExportFormat, ExportStatus},
        jobs::{JobState, Queue},
        users::ports::UserFilter,
    },
    prelude::*,
};

async fn forge(dir: &std::path::Path, batch_size: u32) -> Forge {
    Forge::builder(format!("sqlite://{}", dir.join("exports.db").display()))
        .jwt_secret("a-test-signing-key-of-32-bytes-or-more")
        .data_dir(dir)
        // Jobs on, workers off: the test runs the export job itself.
        .jobs(JobSettings { maintenance_every: None, ..JobSettings::default() }, false)
        .exports(ExportSettings { batch_size, ..ExportSettings::default() }, Duration::from_secs(3600))
        .build()
        .await
        .unwrap()
}

async fn admin(forge: &Forge) -> Actor {
    let user = forge
        .users
        .create_admin(forge::application::users::NewAdminCommand {
            email: "root@example.com".into(),
            username: "root".into(),
            password: SecretString::from("Analytical-Engine-1843!"),
        })
        .await
        .unwrap();
    Actor::new(user, None, ClientContext::default())
}

async fn register(forge: &Forge, n: usize) {
    for i in 0..n {
        forge
            .auth
            .register(RegisterCommand {
                email: format!("user{i}@example.com"),
                username: format!("user{i}"),
                password: SecretString::from("Analytical-Engine-1843!"),
                full_name: None,
                context: ClientContext::default(),
            })
            .await
            .unwrap();
    }
}

async fn file(forge: &Forge, actor: &Actor, id: forge::application::exports::ExportId) -> String {
    let exports = &forge.job_services().unwrap().exports;
    let export = exports.download(actor, id).await.unwrap();
    let mut bytes = Vec::new();
    for seq in 0..export.chunks {
        bytes.extend(exports.chunk(&export, seq).await.unwrap());
    }
    assert_eq!(u64::try_from(bytes.len()).unwrap(), export.bytes);
    String::from_utf8(bytes).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_attempts_of_one_export_at_once_write_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let forge = forge(dir.path(), 3).await;
    let actor = admin(&forge).await;
    register(&forge, 10).await;
    let exports = forge.job_services().unwrap().exports.clone();
    let export = exports.request(&actor, ExportFilters::Users(UserFilter::default()), ExportFormat::Csv).await.unwrap();
    assert_eq!(export.status, ExportStatus::Queued);

    let (first, second) = tokio::join!(exports.run(export.id), exports.run(export.id));
    first.unwrap();
    second.unwrap();
    // A third, late attempt (a job run again after its worker died) changes nothing.
    exports.run(export.id).await.unwrap();

    let done = exports.get(&actor, export.id).await.unwrap();
    assert_eq!(done.status, ExportStatus::Completed);
    assert_eq!((done.progress().current, done.progress().total, done.progress().percentage), (11, 11, 100));
    assert_eq!(done.chunks, 4, "11 rows in batches of 3");
    let text = file(&forge, &actor, export.id).await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "a header and eleven rows: {text}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("id,")).count(), 1, "one header");
    for i in 0..10 {
        let email = format!("user{i}@example.com");
        assert_eq!(lines.iter().filter(|l| l.contains(&format!(",{email},"))).count(), 1, "{email} once");
    }
    forge.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_nothing_completes_with_the_header_alone() {
    let dir = tempfile::tempdir().unwrap();
    let forge = forge(dir.path(), 3).await;
    let actor = admin(&forge).await;
    let exports = forge.job_services().unwrap().exports.clone();
    let filter = UserFilter { search: Some("nobody-matches-this".into()), ..UserFilter::default() };
    let export = exports.request(&actor, ExportFilters::Users(filter), ExportFormat::Csv).await.unwrap();
    exports.run(export.id).await.unwrap();
    let done = exports.get(&actor, export.id).await.unwrap();
    assert_eq!((done.status, done.progress().percentage, done.current), (ExportStatus::Completed, 100, 0));
    assert_eq!(file(&forge, &actor, export.id).await.lines().count(), 1);
    forge.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_maintenance_job_of_a_period_is_stored_once_whoever_schedules_it() {
    let dir = tempfile::tempdir().unwrap();
    let forge = forge(dir.path(), 3).await;
    let engine = forge.jobs().unwrap().clone();
    let now = chrono::Utc::now();
    let every = Duration::from_secs(3600);
    // Several workers' schedulers in the same period: one stores it, the others find it.
    let attempts = futures::future::join_all((0..4).map(|_| engine.schedule_maintenance(now, every))).await;
    let stored = attempts.into_iter().map(Result::unwrap).filter(|stored| *stored).count();
    assert_eq!(stored, 1);
    assert_eq!(engine.count(Some(Queue::Maintenance), None).await.unwrap(), 1);
    // The next period gets a job of its own.
    assert!(engine.schedule_maintenance(now + chrono::Duration::hours(1), every).await.unwrap());
    assert_eq!(engine.count(Some(Queue::Maintenance), Some(JobState::Queued)).await.unwrap(), 2);

    // The job itself purges what has expired: run it, then run it again and purge nothing.
    let maintenance = &forge.job_services().unwrap().maintenance;
    maintenance.run().await.unwrap();
    let again = maintenance.run().await.unwrap();
    assert_eq!(again, forge::application::maintenance::PurgeCounts::default());
    forge.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_run_the_maintenance_job_of_a_period_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("maintenance.db").display());
    // Two processes' worth of workers over one database, each scheduling maintenance at start.
    let mut workers = Vec::new();
    for name in ["worker-a", "worker-b"] {
        let settings = JobSettings {
            poll_interval: Duration::from_millis(50),
            worker_name: name.into(),
            maintenance_every: Some(Duration::from_secs(3600)),
            ..JobSettings::default()
        };
        let forge = Forge::builder(url.clone())
            .jwt_secret("a-test-signing-key-of-32-bytes-or-more")
            .data_dir(dir.path())
            .jobs(settings, true)
            .build()
            .await
            .unwrap();
        workers.push(forge);
    }
    let engine = workers[0].jobs().unwrap().clone();
    let started = std::time::Instant::now();
    while engine.count(Some(Queue::Maintenance), Some(JobState::Succeeded)).await.unwrap() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "the maintenance job did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both schedulers have ticked by now; give a late one time to try again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(engine.count(Some(Queue::Maintenance), None).await.unwrap(), 1, "one job for the period");
    let job = &engine.jobs(Some(Queue::Maintenance), None, 10, 0).await.unwrap()[0];
    assert_eq!((job.state, job.attempts), (JobState::Succeeded, 1), "{job:?}");
    for forge in workers {
        forge.shutdown(Duration::from_secs(5)).await;
    }
}
