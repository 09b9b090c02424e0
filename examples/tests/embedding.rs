//! The example's program against a real SQLite database: it runs, and leaves what it says.

use forge::prelude::ProjectRole;

#[tokio::test]
async fn the_example_registers_logs_in_creates_a_project_and_adds_a_member() {
    let dir = tempfile::tempdir().unwrap();

    let outcome = forge_example::run(dir.path()).await.unwrap();

    assert_eq!(outcome.project.name().as_ref(), "Apollo");
    let mut members = outcome.members;
    members.sort();
    assert_eq!(members, [("ada".to_owned(), ProjectRole::Owner), ("grace".to_owned(), ProjectRole::Maintainer)]);
    // Each registration mailed a verification link, and Grace was told she was added: three
    // mails, each written as a file.
    let mails = std::fs::read_dir(dir.path().join("mail")).unwrap().count();
    assert_eq!(mails, 3);
}
