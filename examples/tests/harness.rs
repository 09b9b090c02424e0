//! The same story on the in-memory fakes: every use case, no database, a debug build well under
//! a second (the time is printed with `--nocapture`, not asserted).

use forge::{prelude::*, testing::InMemory};

fn register(email: &str, username: &str) -> RegisterCommand {
    RegisterCommand {
        email: email.into(),
        username: username.into(),
        password: "Analytical-Engine-1843".into(),
        full_name: None,
        context: ClientContext::default(),
    }
}

#[tokio::test]
async fn a_member_is_added_to_a_new_project() {
    let started = std::time::Instant::now();
    let forge = InMemory::new();
    forge.auth.register(register("ada@example.com", "ada")).await.unwrap();
    forge.auth.register(register("grace@example.com", "grace")).await.unwrap();
    let login = LoginCommand {
        identifier: "ada".into(),
        password: "Analytical-Engine-1843".into(),
        context: ClientContext::default(),
    };
    let tokens = forge.auth.login(login).await.unwrap().tokens;
    let ada = forge.auth.authenticate(tokens.access_token.expose_secret(), ClientContext::default()).await.unwrap();

    let apollo =
        forge.projects.create(&ada, CreateProjectCommand { name: "Apollo".into(), description: None }).await.unwrap();
    let grace = AddMemberCommand { member: MemberRef::Email("grace@example.com".into()), role: "viewer".into() };
    let added = forge.projects.add_member(&ada, apollo.project.id(), grace).await.unwrap();

    assert_eq!(added.member.membership.role(), ProjectRole::Viewer);
    assert_eq!(forge.store.outbox_events().len(), 1, "grace is told");
    assert!(forge.mail.last_to("grace@example.com").is_some(), "grace was asked to verify her address");
    println!("register ×2, login, authenticate, create, add member: {:?}", started.elapsed());
}
