//! A Redis server of a test's own: `redis-server` on a free port, in memory, stopped when dropped.
//! Tests stop and start it again to see what an outage does.

#![allow(clippy::expect_used, reason = "a test helper: failing to start Redis fails the test")]

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A private `redis-server` (the binary must be on `PATH`).
#[derive(Debug)]
pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts one on a free port and waits until it answers.
    ///
    /// # Panics
    /// When it cannot be started within five seconds.
    #[must_use]
    pub fn start() -> Self {
        let port =
            TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port();
        let mut redis = Self { port, child: None };
        redis.start_again();
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Whether it is running.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills it (an outage: connections drop, everything it held is gone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty) and waits until it answers.
    ///
    /// # Panics
    /// When it does not answer within five seconds.
    pub fn start_again(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (is it on PATH?)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let answered = redis::Client::open(self.url())
                .and_then(|client| client.get_connection())
                .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection));
            if answered.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "the private Redis did not answer within 5 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
