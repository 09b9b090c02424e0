//! Runs the example in a temporary directory and prints what it did.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let outcome = forge_example::run(dir.path()).await?;
    println!("project {} ({})", outcome.project.name(), outcome.project.id());
    for (username, role) in &outcome.members {
        println!("  {username}: {role}");
    }
    Ok(())
}
