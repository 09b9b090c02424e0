//! `forge` processes over a test's own database: `forge serve` (waited for until ready) and
//! `forge worker`, each killed when dropped, with the bootstrap admin and a fixed signing key.

#![allow(dead_code, reason = "each test file uses the helpers it needs")]

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode};

pub const PASSWORD: &str = "Vq7#mLp2!xZr-Tide";
pub const ADMIN_EMAIL: &str = "root@example.com";
pub const SECRET: &str = "instances-test-signing-key-0123456789abcdef";

/// One `forge` process, killed when dropped.
pub struct Process {
    /// `http://127.0.0.1:<port>` for `forge serve`.
    pub base: String,
    pub child: Child,
}

impl Process {
    /// Kills the process with SIGKILL, as a crash or an OOM kill would.
    pub fn sigkill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.child.id())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident memory of process `pid`, in KiB (0 once it has exited).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `forge <subcommand>` over the database at `database_url`, in a directory of its own, with the
/// settings every test process shares and `extra` on top.
fn command(database_url: &str, subcommand: &str, extra: &[(&str, &str)]) -> Command {
    let dir = tempfile::tempdir().unwrap().keep();
    let mut command = Command::new(env!("CARGO_BIN_EXE_forge"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FORGE_DATA_DIR", &dir)
        .env("DATABASE_URL", database_url)
        .env("FORGE_JWT_SECRET", SECRET)
        .env("FORGE_RATE_LIMIT__ENABLED", "false")
        .env("FORGE_SERVER__WORKERS", "2")
        .env("FORGE_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("FORGE_ADMIN_USERNAME", "root")
        .env("FORGE_ADMIN_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (key, value) in extra {
        command.env(key, value);
    }
    command.arg(subcommand);
    command
}

/// Starts `forge serve` and waits until it is ready.
pub async fn serve(database_url: &str, extra: &[(&str, &str)]) -> Process {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut extra = extra.to_vec();
    extra.push(("FORGE_BIND", &bind));
    let child = command(database_url, "serve", &extra).spawn().expect("forge serve starts");
    let server = Process { base: format!("http://127.0.0.1:{port}"), child };
    let client = Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{}/health/ready", server.base)).send().await
            && response.status() == StatusCode::OK
        {
            return server;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "forge serve did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts `forge worker`, its health checks on a free port of its own.
pub fn worker(database_url: &str, extra: &[(&str, &str)]) -> Process {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut extra = extra.to_vec();
    extra.push(("FORGE_BIND", &bind));
    let child = command(database_url, "worker", &extra).spawn().expect("forge worker starts");
    Process { base: format!("http://127.0.0.1:{port}"), child }
}
