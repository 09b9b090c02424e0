//! A project-tracking service that embeds Forge's use cases: accounts, logins and projects with
//! members, without HTTP. [`run`] is the whole program; `src/main.rs` calls it and the
//! integration test checks what it did.

use std::path::Path;

use forge::prelude::*;

/// What [`run`] did, for the caller to print or check.
#[derive(Debug)]
pub struct Outcome {
    /// The project Ada created.
    pub project: Project,
    /// The project's members by username, with their roles.
    pub members: Vec<(String, ProjectRole)>,
}

/// Registers Ada and Grace, logs Ada in, has her create a project and add Grace to it, on a
/// SQLite database under `dir` (mail goes to `dir/mail`).
///
/// # Errors
/// Whatever a use case refuses, or a database that cannot be opened.
pub async fn run(dir: &Path) -> Result<Outcome, Box<dyn std::error::Error>> {
    let database = format!("sqlite://{}", dir.join("example.db").display());
    let forge = Forge::builder(database).jwt_secret(SECRET).data_dir(dir).build().await?;

    forge.auth.register(account("ada@example.com", "ada")).await?;
    let grace = forge.auth.register(account("grace@example.com", "grace")).await?;
    let login = LoginCommand { identifier: "ada".into(), password: password(), context: ClientContext::default() };
    let tokens = forge.auth.login(login).await?.tokens;
    let ada = forge.auth.authenticate(tokens.access_token.expose_secret(), ClientContext::default()).await?;
    let project =
        forge.projects.create(&ada, CreateProjectCommand { name: "Apollo".into(), description: None }).await?;
    let adding = AddMemberCommand { member: MemberRef::Id(grace.id()), role: "maintainer".into() };
    forge.projects.add_member(&ada, project.project.id(), adding).await?;

    let members = forge.projects.members(&ada, project.project.id(), &Default::default()).await?;
    let members = members.members.items.into_iter().map(|m| (m.username.to_string(), m.membership.role())).collect();
    // Mail goes out from the job workers in the background, and Grace's notice first passes
    // through the outbox (the relay turns the event into a mail job). Give both a moment before
    // stopping them; whatever is not delivered by then waits in the database for the next start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        // The outbox first: an event is marked delivered only once its mail job is queued.
        let events_waiting = forge.job_census().await?.is_some_and(|c| c.oldest_undelivered_event.is_some());
        if !events_waiting && forge.mail_in_flight().await? == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    forge.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(Outcome { project: project.project, members })
}

/// The signing key of this example's tokens; a real service reads its own from a secret store.
const SECRET: &str = "an-example-signing-key-of-32-bytes-or-more";

fn password() -> SecretString {
    SecretString::from("Analytical-Engine-1843!")
}

fn account(email: &str, username: &str) -> RegisterCommand {
    RegisterCommand {
        email: email.into(),
        username: username.into(),
        password: password(),
        full_name: None,
        context: ClientContext::default(),
    }
}
