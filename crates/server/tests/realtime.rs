//! Real time across `forge serve` processes: two instances over one database and one Redis (a
//! `redis-server` of the test's own), a client on each; a client that does not read, under a flood
//! of events, while the server's memory is watched; and a server stopped with connections open.
//! The database is a fresh PostgreSQL database when `TEST_DATABASE_URL` is set, a SQLite file
//! otherwise.

#![allow(clippy::expect_used, clippy::unwrap_used, reason = "helpers panic on purpose: a failed test")]

use std::time::{Duration, Instant};

use forge_infrastructure::redis::testing::PrivateRedis;
use forge_migration::testing::TestDatabase;
use futures::{SinkExt as _, StreamExt as _};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest as _, http::HeaderValue},
};

mod support;

use support::{PASSWORD, Process as Server};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const PATIENCE: Duration = Duration::from_secs(15);

/// `forge serve` over `database` and `redis` under `prefix`, with `extra` settings.
async fn serve(database: &TestDatabase, redis: &PrivateRedis, prefix: &str, extra: &[(&str, &str)]) -> Server {
    let url = redis.url();
    let mut settings = vec![("REDIS_URL", url.as_str()), ("FORGE_REDIS__PREFIX", prefix)];
    settings.extend_from_slice(extra);
    support::serve(database.url(), &settings).await
}

/// A new member registered and logged in through `server`: (access token, user id).
async fn member(client: &Client, server: &Server) -> (String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("rt{}@example.com", &tag[..12]);
    let response = client
        .post(format!("{}/api/v1/auth/register", server.base))
        .json(&json!({"email": email, "username": format!("rt_{}", &tag[..12]), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (login["access_token"].as_str().unwrap().to_owned(), login["user"]["id"].as_str().unwrap().to_owned())
}

/// A socket on `server` with `token`, once it is ready.
async fn connect(server: &Server, token: &str) -> Socket {
    let mut request =
        format!("{}/api/v1/ws", server.base.replacen("http://", "ws://", 1)).into_client_request().unwrap();
    request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connected");
    assert_eq!(next_json(&mut socket).await["type"], "ready");
    socket
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.expect("a message in time") {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The close code the server sends, skipping what comes before it.
async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(frame))) => return frame.map_or(1005, |f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn rename(client: &Client, server: &Server, token: &str, name: &str) {
    let response = client
        .patch(format!("{}/api/v1/users/me", server.base))
        .bearer_auth(token)
        .json(&json!({"full_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_caused_on_one_instance_reaches_clients_on_both_and_a_session_ended_on_one_closes_sockets_on_both() {
    let database = TestDatabase::new().await;
    let redis = PrivateRedis::start();
    let prefix = format!("rt{}", uuid::Uuid::new_v4().simple());
    let a = serve(&database, &redis, &prefix, &[]).await;
    let b = serve(&database, &redis, &prefix, &[]).await;
    let client = Client::new();
    let (token, _) = member(&client, &a).await;
    let mut on_a = connect(&a, &token).await;
    let mut on_b = connect(&b, &token).await;

    rename(&client, &a, &token, "made on A").await;
    for socket in [&mut on_a, &mut on_b] {
        let event = next_json(socket).await;
        assert_eq!(
            (event["type"].as_str(), event["data"]["full_name"].as_str()),
            (Some("account.updated"), Some("made on A"))
        );
    }
    rename(&client, &b, &token, "made on B").await;
    for socket in [&mut on_a, &mut on_b] {
        assert_eq!(next_json(socket).await["data"]["full_name"], "made on B");
    }

    // A project changed through B reaches its member connected to A.
    let (owner, _) = member(&client, &b).await;
    let mut owner_on_a = connect(&a, &owner).await;
    let project: Value = client
        .post(format!("{}/api/v1/projects", b.base))
        .bearer_auth(&owner)
        .json(&json!({"name": "Fan-out"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let added = next_json(&mut owner_on_a).await;
    assert_eq!(
        (added["type"].as_str(), added["data"]["project_id"].as_str()),
        (Some("project.member_added"), project["id"].as_str())
    );

    // Logging out through B closes the session's sockets on A and on B within a second.
    let at = Instant::now();
    let response = client.post(format!("{}/api/v1/auth/logout", b.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for socket in [&mut on_a, &mut on_b] {
        assert_eq!(close_code(socket).await, 4001);
    }
    assert!(at.elapsed() < Duration::from_secs(1), "both closed {:?} after the logout", at.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_does_not_read_is_closed_and_the_server_memory_stays_bounded() {
    const EVENTS: usize = 1500;
    const BLOB: usize = 64 * 1024;
    let database = TestDatabase::new().await;
    let redis = PrivateRedis::start();
    let prefix = format!("rt{}", uuid::Uuid::new_v4().simple());
    let server = serve(&database, &redis, &prefix, &[("FORGE_REALTIME__SEND_BUFFER", "16")]).await;
    let client = Client::new();
    let (token, user_id) = member(&client, &server).await;
    let mut reader = connect(&server, &token).await;
    let mut idle = connect(&server, &token).await;
    let before = server.rss_kib();

    // As another instance would publish them: events of 64 KiB each, about 94 MiB in all, for a
    // user with a reading and a non-reading connection. The publisher keeps at most a few events
    // ahead of the reader, so that only the connection that does not read falls behind, however
    // busy the machine is.
    let (progress, mut read_so_far) = tokio::sync::watch::channel(0_usize);
    let publisher = {
        let url = redis.url();
        let channel = format!("{prefix}:live");
        let user_id = user_id.clone();
        tokio::spawn(async move {
            let redis = redis::Client::open(url).unwrap();
            let mut connection = redis.get_multiplexed_async_connection().await.unwrap();
            let blob = "x".repeat(BLOB);
            for n in 0..EVENTS {
                read_so_far.wait_for(|read| n < read + 8).await.unwrap();
                let signal = json!({"event": {
                    "id": uuid::Uuid::now_v7(),
                    "type": "account.updated",
                    "user": user_id,
                    "project": null,
                    "data": {"n": n, "blob": blob},
                    "occurred_at": chrono::Utc::now(),
                }});
                let _: i64 = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(signal.to_string())
                    .query_async(&mut connection)
                    .await
                    .unwrap();
            }
        })
    };
    let mut peak = before;
    let mut received = 0;
    while received < EVENTS {
        let event = next_json(&mut reader).await;
        assert_eq!(event["data"]["n"], received, "in order, none lost, for the client that reads");
        received += 1;
        progress.send_replace(received);
        if received % 100 == 0 {
            peak = peak.max(server.rss_kib());
        }
    }
    publisher.await.unwrap();
    peak = peak.max(server.rss_kib());

    // The one that did not read gets what fit in its buffers, then the close.
    assert_eq!(close_code(&mut idle).await, 4008, "closed as a slow reader");
    let growth_mib = peak.saturating_sub(before) / 1024;
    println!(
        "resident memory: {before} KiB before, {peak} KiB at most during {} MiB of events",
        EVENTS * BLOB / (1024 * 1024)
    );
    assert!(growth_mib < 48, "the server grew by {growth_mib} MiB while about 94 MiB of events passed through it");
    let _ = reader.send(Message::Close(None)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopping_server_closes_its_sockets_with_going_away_and_exits_promptly() {
    let database = TestDatabase::new().await;
    let redis = PrivateRedis::start();
    let prefix = format!("rt{}", uuid::Uuid::new_v4().simple());
    let mut server = serve(&database, &redis, &prefix, &[("FORGE_SERVER__SHUTDOWN_TIMEOUT_SECS", "30")]).await;
    let client = Client::new();
    let (token, _) = member(&client, &server).await;
    let mut socket = connect(&server, &token).await;

    let at = Instant::now();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(close_code(&mut socket).await, 1001);
    drop(socket);
    // Well within the 30 s the server would otherwise wait for open connections (the job workers
    // also stop, which on a loaded machine takes a few seconds).
    let exited = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(at.elapsed() < Duration::from_secs(20), "the server still runs {:?} after SIGTERM", at.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exited.success(), "{exited:?}");
}
