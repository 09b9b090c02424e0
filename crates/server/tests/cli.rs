//! The `forge` binary as an operator runs it: configuration errors, migrations, admin creation,
//! the OpenAPI document, and serving until SIGTERM.

#![allow(clippy::expect_used, reason = "helpers outside `#[test]` functions panic on purpose: a failed test")]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

fn forge(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_forge"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FORGE_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .current_dir(data_dir)
        .stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("forge runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_bad_setting_stops_start_up_with_its_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(forge(dir.path()).env("FORGE_BIND", "localhost").arg("serve"));
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("server.bind"), "{}", text(&output.stderr));

    let output = run(forge(dir.path()).env("FORGE_SERVER__REQUEST_TIMEOUT_SECS", "soon").arg("serve"));
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("server.request_timeout_secs"), "{}", text(&output.stderr));
}

#[test]
fn production_refuses_to_start_without_a_real_secret() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(forge(dir.path()).env("FORGE_ENV", "production").arg("serve"));
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("auth.jwt_secret"), "{}", text(&output.stderr));
    let output = run(forge(dir.path()).env("FORGE_ENV", "production").env("FORGE_JWT_SECRET", "changeme").arg("serve"));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn migrate_status_up_down_and_fresh_manage_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let status = run(forge(dir.path()).args(["migrate", "status"]));
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(text(&status.stdout).lines().all(|l| l.starts_with("pending")), "{}", text(&status.stdout));

    let up = run(forge(dir.path()).args(["migrate", "up"]));
    assert!(up.status.success(), "{}", text(&up.stderr));
    let status = text(&run(forge(dir.path()).args(["migrate", "status"])).stdout);
    assert!(status.lines().count() >= 2 && status.lines().all(|l| l.starts_with("applied")), "{status}");

    let down = run(forge(dir.path()).args(["migrate", "down"]));
    assert!(down.status.success(), "{}", text(&down.stderr));
    let status = text(&run(forge(dir.path()).args(["migrate", "status"])).stdout);
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), 1, "{status}");

    let fresh = run(forge(dir.path()).args(["migrate", "fresh"]));
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));
    let status = text(&run(forge(dir.path()).args(["migrate", "status"])).stdout);
    assert!(status.lines().all(|l| l.starts_with("applied")), "{status}");
}

#[test]
fn create_admin_takes_the_password_from_the_environment_and_refuses_a_weak_one() {
    let dir = tempfile::tempdir().unwrap();
    let created = run(forge(dir.path()).env("FORGE_ADMIN_PASSWORD", "Analytical-Engine-1843!").args([
        "create-admin",
        "--email",
        "ops@example.com",
        "--username",
        "ops",
    ]));
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains("created admin ops"));

    let again = run(forge(dir.path()).env("FORGE_ADMIN_PASSWORD", "Analytical-Engine-1843!").args([
        "create-admin",
        "--email",
        "ops@example.com",
        "--username",
        "ops2",
    ]));
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("e-mail"), "{}", text(&again.stderr));

    let weak = run(forge(dir.path()).env("FORGE_ADMIN_PASSWORD", "password").args([
        "create-admin",
        "--email",
        "weak@example.com",
        "--username",
        "weak",
    ]));
    assert!(!weak.status.success());
    assert!(text(&weak.stderr).contains("password"), "{}", text(&weak.stderr));

    let no_password = run(forge(dir.path()).args(["create-admin", "--email", "x@example.com", "--username", "nopass"]));
    assert!(!no_password.status.success());
    assert!(text(&no_password.stderr).contains("FORGE_ADMIN_PASSWORD"), "{}", text(&no_password.stderr));
}

#[test]
fn openapi_prints_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(forge(dir.path()).arg("openapi"));
    assert!(output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/api/v1/auth/login"].is_object());
}

#[test]
fn serve_migrates_the_embedded_database_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = forge(dir.path())
        .env("FORGE_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env("FORGE_LOG__FORMAT", "json")
        .env("FORGE_ADMIN_EMAIL", "root@example.com")
        .env("FORGE_ADMIN_USERNAME", "root")
        .env("FORGE_ADMIN_PASSWORD", "Analytical-Engine-1843!")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let ready = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            stream
                .write_all(
                    b"GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                      traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
                )
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            break response;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not come up");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    assert!(dir.path().join("forge.db").exists(), "the embedded database is created in the data dir");
    assert!(dir.path().join("jwt_secret").exists(), "a development key is generated and kept");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");

    let logs: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .chain(BufReader::new(child.stderr.take().unwrap()).lines())
        .map_while(Result::ok)
        .collect();
    let json_lines: Vec<serde_json::Value> = logs.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(!json_lines.is_empty(), "production-style JSON logs: {logs:?}");
    assert!(
        json_lines.iter().any(|l| l.to_string().contains("bootstrap admin created")),
        "the FORGE_ADMIN_* admin is created: {logs:?}"
    );
    let request_lines: Vec<_> = json_lines.iter().filter(|l| l.to_string().contains("/health/ready")).collect();
    assert!(!request_lines.is_empty(), "the request was logged: {logs:?}");
    assert!(request_lines.iter().all(|l| l.to_string().contains("request_id")), "{request_lines:?}");
    let completed = json_lines
        .iter()
        .find(|l| l["message"] == "request completed")
        .unwrap_or_else(|| panic!("the request's completion was logged: {logs:?}"));
    assert!(completed["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{completed}");
    assert_eq!(completed["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736", "the caller's trace: {completed}");
    let span_id = completed["span_id"].as_str().unwrap_or_default();
    assert!(span_id.len() == 16 && span_id != "00f067aa0ba902b7", "the request's own span: {completed}");
}

/// A free local port.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Sends one HTTP/1.1 request and returns the whole response, retrying the connection until the
/// server listens (up to 30 s).
fn http(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let started = Instant::now();
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream.write_all(request.as_bytes()).expect("the request is sent");
            let mut response = String::new();
            stream.read_to_string(&mut response).expect("the response is read");
            return response;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `.eml` files under `<dir>/mail/`.
fn mail_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir.join("mail"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_mail_acknowledged_before_a_sigkill_is_sent_by_forge_worker_which_answers_probes_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The server runs no job workers (as beside `forge worker` processes): the mail is still
    // waiting when the process is killed. (With workers of its own, however rarely they poll,
    // the first poll could come after the registration and send the mail before the kill.)
    let mut server = forge(dir.path())
        .env("FORGE_BIND", format!("127.0.0.1:{port}"))
        .env("FORGE_JOBS__RUN_IN_SERVE", "false")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let body = r#"{"email":"ada@example.com","username":"ada","password":"Analytical-Engine-1843!"}"#;
    let response = http(
        port,
        &format!(
            "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let killed = Command::new("kill").args(["-KILL", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());
    server.wait().unwrap();
    assert!(mail_files(dir.path()).is_empty(), "the mail was not delivered before the kill");

    let health_port = free_port();
    let mut worker = forge(dir.path())
        .env("FORGE_JOBS__POLL_INTERVAL_MS", "50")
        .env("FORGE_BIND", format!("127.0.0.1:{health_port}"))
        .arg("worker")
        .spawn()
        .unwrap();
    // The worker answers its orchestrator's probes.
    let live = http(health_port, "GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(live.starts_with("HTTP/1.1 200"), "{live}");
    let ready = http(health_port, "GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(ready.starts_with("HTTP/1.1 200") && ready.contains("\"database\""), "{ready}");
    let started = Instant::now();
    let mail = loop {
        if let Some(mail) = mail_files(dir.path()).into_iter().find(|m| m.contains("ada@example.com")) {
            break mail;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the worker did not deliver the mail");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(mail.contains("verify-email?token="), "the verification mail: {mail}");

    let stopped = Command::new("kill").args(["-TERM", &worker.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let exit = worker.wait().unwrap();
    assert!(exit.success(), "forge worker exits 0 on SIGTERM, got {exit:?}");
    assert_eq!(mail_files(dir.path()).len(), 1, "delivered once");
}
