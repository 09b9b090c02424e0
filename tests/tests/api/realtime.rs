//! `POST /api/v1/ws/ticket` and `GET /api/v1/ws` over real WebSocket connections: tickets,
//! origins, who sees what, connections closed when access ends, resuming, and the bounds.

use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest as _, http::HeaderValue},
};

use crate::{
    harness::{Session, TestApp, spawn_app, spawn_app_with},
    projects::{add_member, create_project},
};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a message that should come.
const PATIENCE: Duration = Duration::from_secs(10);

/// How a connection authenticates.
enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
    Ticket(&'a str),
}

fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/api/v1/ws{query}", app.address.replacen("http://", "ws://", 1))
}

/// Opens a socket, or returns the HTTP refusal (status and problem document).
async fn open(
    app: &TestApp,
    credential: Credential<'_>,
    last_event_id: Option<&str>,
    origin: Option<&str>,
) -> Result<Socket, (StatusCode, Value)> {
    let mut query = Vec::new();
    if let Credential::Ticket(ticket) = credential {
        query.push(format!("ticket={ticket}"));
    }
    if let Some(last) = last_event_id {
        query.push(format!("last_event_id={last}"));
    }
    let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
    let mut request = ws_url(app, &query).into_client_request().unwrap();
    match credential {
        Credential::Bearer(token) => {
            request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        }
        Credential::ApiKey(key) => {
            request.headers_mut().insert("x-api-key", HeaderValue::from_str(key).unwrap());
        }
        Credential::Ticket(_) => {}
    }
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", HeaderValue::from_str(origin).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
            let body = response.body().as_deref().map_or(Value::Null, |b| serde_json::from_slice(b).unwrap());
            Err((status, body))
        }
        Err(e) => panic!("the WebSocket could not be opened: {e}"),
    }
}

/// A socket of `session`'s, opened with its access token, once the server says it is ready.
async fn connect(app: &TestApp, session: &Session) -> Socket {
    let mut socket = open(app, Credential::Bearer(&session.access_token), None, None).await.expect("connected");
    let ready = next_json(&mut socket).await;
    assert_eq!(ready["type"], "ready", "{ready}");
    socket
}

/// The next text message, as JSON.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message within the patience")
            .expect("the socket is open")
            .expect("a readable message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The next event of `event_type`, skipping others.
async fn next_event(socket: &mut Socket, event_type: &str) -> Value {
    loop {
        let message = next_json(socket).await;
        if message["type"] == event_type {
            return message;
        }
    }
}

/// Waits for the server to close the socket; returns the close code and when it came.
async fn closed(socket: &mut Socket) -> (u16, Instant) {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.expect("closed within the patience") {
            Some(Ok(Message::Close(frame))) => return (frame.map_or(1005, |f| u16::from(f.code)), Instant::now()),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the socket failed instead of closing: {e}"),
            None => panic!("the socket ended without a close frame"),
        }
    }
}

async fn ticket(app: &TestApp, session: &Session) -> String {
    let response = app.post("/api/v1/ws/ticket", Some(&session.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 30);
    body["ticket"].as_str().unwrap().to_owned()
}

/// Changes the full name of `session`'s own account: an `account.updated` for it alone.
async fn rename(app: &TestApp, session: &Session, name: &str) {
    let response = app.patch("/api/v1/users/me", Some(&session.access_token), &json!({"full_name": name})).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_ticket_opens_one_socket_for_its_session_once_and_not_after_it_expires() {
    let app = spawn_app().await;
    let ada = app.member().await;

    let first = ticket(&app, &ada).await;
    let mut socket = open(&app, Credential::Ticket(&first), None, None).await.expect("the ticket admits");
    assert_eq!(next_json(&mut socket).await["type"], "ready");
    rename(&app, &ada, "Ada L").await;
    let event = next_event(&mut socket, "account.updated").await;
    assert_eq!(event["data"]["id"], ada.id.as_str(), "the socket is the ticket's user's");

    let (status, problem) = open(&app, Credential::Ticket(&first), None, None).await.unwrap_err();
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("INVALID_TICKET")), "used once");

    let late = ticket(&app, &ada).await;
    app.clock.advance(chrono::Duration::seconds(31));
    let (status, problem) = open(&app, Credential::Ticket(&late), None, None).await.unwrap_err();
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("INVALID_TICKET")), "expired");

    let (status, _) = open(&app, Credential::Ticket("not-a-ticket"), None, None).await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_ticket_of_an_ended_session_is_refused_and_an_api_key_gets_none() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let ticket = ticket(&app, &ada).await;
    let response = app.post("/api/v1/auth/logout", Some(&ada.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, problem) = open(&app, Credential::Ticket(&ticket), None, None).await.unwrap_err();
    assert_eq!((status, problem["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("INVALID_TICKET")));

    let bob = app.member().await;
    let key = app.post("/api/v1/api-keys", Some(&bob.access_token), &json!({"name": "rt", "scopes": ["read"]})).await;
    let key: Value = key.json().await.unwrap();
    let response = app
        .client
        .post(app.url("/api/v1/ws/ticket"))
        .header("x-api-key", key["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_origin_that_is_not_allowed_is_refused_and_an_allowed_one_connects() {
    let app = spawn_app_with(|s| s.cors.origins = vec!["http://spa.example:5173".into()]).await;
    let ada = app.member().await;

    let (status, problem) =
        open(&app, Credential::Bearer(&ada.access_token), None, Some("http://evil.example")).await.unwrap_err();
    assert_eq!((status, problem["code"].as_str()), (StatusCode::FORBIDDEN, Some("ORIGIN_NOT_ALLOWED")));
    let (status, _) = open(&app, Credential::Bearer(&ada.access_token), None, Some("null")).await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);

    for origin in ["http://spa.example:5173", "http://localhost:3000"] {
        let mut socket = open(&app, Credential::Bearer(&ada.access_token), None, Some(origin)).await.expect(origin);
        assert_eq!(next_json(&mut socket).await["type"], "ready");
    }
}

#[tokio::test]
async fn no_credentials_a_bad_token_or_a_plain_request_are_refused() {
    let app = spawn_app().await;
    let request = ws_url(&app, "").into_client_request().unwrap();
    match tokio_tungstenite::connect_async(request).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    let (status, _) = open(&app, Credential::Bearer("not.a.jwt"), None, None).await.unwrap_err();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let ada = app.member().await;
    let plain = app.get("/api/v1/ws", Some(&ada.access_token)).await;
    crate::harness::assert_problem(plain, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST").await;
    let (status, problem) =
        open(&app, Credential::Bearer(&ada.access_token), Some("yesterday"), None).await.unwrap_err();
    assert_eq!((status, problem["code"].as_str()), (StatusCode::BAD_REQUEST, Some("MALFORMED_REQUEST")));
}

#[tokio::test]
async fn an_api_key_with_the_read_scope_connects_and_one_without_is_refused() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let create = |scopes: Value| {
        let app = &app;
        let token = ada.access_token.clone();
        async move {
            let response = app.post("/api/v1/api-keys", Some(&token), &json!({"name": "rt", "scopes": scopes})).await;
            let body: Value = response.json().await.unwrap();
            (body["id"].as_str().unwrap().to_owned(), body["key"].as_str().unwrap().to_owned())
        }
    };
    let (_, write_only) = create(json!(["write"])).await;
    let (status, _) = open(&app, Credential::ApiKey(&write_only), None, None).await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (id, reader) = create(json!(["read"])).await;
    let mut socket = open(&app, Credential::ApiKey(&reader), None, None).await.expect("a read key connects");
    assert_eq!(next_json(&mut socket).await["type"], "ready");
    rename(&app, &ada, "Ada by key").await;
    assert_eq!(next_event(&mut socket, "account.updated").await["data"]["full_name"], "Ada by key");

    // Revoking the key closes its socket.
    let revoked = Instant::now();
    let response = app.delete(&format!("/api/v1/api-keys/{id}"), Some(&ada.access_token)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (code, at) = closed(&mut socket).await;
    assert_eq!(code, 4001);
    assert!(at - revoked < Duration::from_secs(1), "closed {:?} after the revocation", at - revoked);
}

#[tokio::test]
async fn ping_gets_pong_and_a_client_breaking_the_rules_is_closed() {
    let app = spawn_app_with(|s| s.realtime.max_message_bytes = 256).await;
    let ada = app.member().await;
    let mut socket = connect(&app, &ada).await;

    socket.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
    socket.send(Message::text(r#"{"type":"subscribe"}"#)).await.unwrap();
    let error = next_json(&mut socket).await;
    assert_eq!((error["type"].as_str(), error["data"]["code"].as_str()), (Some("error"), Some("unknown_message")));
    socket.send(Message::text("not json")).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "error", "the socket stays open after a bad message");

    socket.send(Message::text("x".repeat(1000))).await.unwrap();
    assert_eq!(closed(&mut socket).await.0, 1009, "a message over the limit");

    let mut socket = connect(&app, &ada).await;
    socket.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(closed(&mut socket).await.0, 1003, "binary messages are not spoken here");
}

#[tokio::test]
async fn each_user_sees_its_own_account_and_exports_only() {
    let app = spawn_app().await;
    let ada = app.user_with_role("manager").await;
    let bob = app.member().await;
    let mut ada_socket = connect(&app, &ada).await;
    let mut bob_socket = connect(&app, &bob).await;

    rename(&app, &ada, "Ada Secret").await;
    let response =
        app.post("/api/v1/exports", Some(&ada.access_token), &json!({"resource": "users", "format": "csv"})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let export: Value = response.json().await.unwrap();

    assert_eq!(next_event(&mut ada_socket, "account.updated").await["data"]["full_name"], "Ada Secret");
    let progress = next_event(&mut ada_socket, "export.progress").await;
    assert_eq!(progress["data"]["id"], export["id"]);
    assert_eq!(progress["data"]["status"], "running");
    let done = next_event(&mut ada_socket, "export.completed").await;
    assert_eq!(done["data"]["percentage"], 100);
    assert!(done["id"].as_str().is_some() && done["occurred_at"].as_str().is_some(), "{done}");

    // Bob's next message is his own change: nothing of Ada's came before it.
    rename(&app, &bob, "Bob Fence").await;
    let first = next_json(&mut bob_socket).await;
    assert_eq!(
        (first["type"].as_str(), first["data"]["full_name"].as_str()),
        (Some("account.updated"), Some("Bob Fence")),
        "{first}"
    );
}

#[tokio::test]
async fn project_events_reach_its_members_of_the_moment_and_stop_at_removal() {
    let app = spawn_app().await;
    let owner = app.member().await;
    let carol = app.member().await;
    let outsider = app.member().await;
    let project = create_project(&app, &owner, "Apollo").await;
    let id = project["id"].as_str().unwrap();
    assert_eq!(add_member(&app, &owner, id, &carol.id, "viewer").await.status(), StatusCode::CREATED);
    let mut carol_socket = connect(&app, &carol).await;
    let mut outsider_socket = connect(&app, &outsider).await;

    let patch = |description: &'static str| {
        let app = &app;
        let token = owner.access_token.clone();
        async move {
            let response =
                app.patch(&format!("/api/v1/projects/{id}"), Some(&token), &json!({"description": description})).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    };
    patch("first").await;
    let updated = next_event(&mut carol_socket, "project.updated").await;
    assert_eq!((updated["data"]["id"].as_str(), updated["data"]["description"].as_str()), (Some(id), Some("first")));

    // Removed mid-stream: told so, then nothing more of the project.
    let response = app.delete(&format!("/api/v1/projects/{id}/members/{}", carol.id), Some(&owner.access_token)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let removed = next_json(&mut carol_socket).await;
    assert_eq!(
        (removed["type"].as_str(), removed["data"]["user_id"].as_str()),
        (Some("project.member_removed"), Some(carol.id.as_str()))
    );
    patch("second").await;
    rename(&app, &carol, "Carol Fence").await;
    let next = next_json(&mut carol_socket).await;
    assert_eq!(next["type"], "account.updated", "no project event after the removal: {next}");

    rename(&app, &outsider, "Outsider Fence").await;
    let first = next_json(&mut outsider_socket).await;
    assert_eq!(first["type"], "account.updated", "a non-member sees nothing of the project: {first}");
}

#[tokio::test]
async fn ending_the_session_logging_out_everywhere_or_deactivating_closes_sockets_within_a_second() {
    let app = spawn_app().await;
    let admin = app.admin().await;

    // Logout ends the session: its socket closes, the user's other session's socket stays.
    let ada = app.member().await;
    let other = app.login(&ada.user).await;
    let mut ending = connect(&app, &ada).await;
    let mut staying = connect(&app, &other).await;
    let at = Instant::now();
    assert_eq!(
        app.post("/api/v1/auth/logout", Some(&ada.access_token), &json!({})).await.status(),
        StatusCode::NO_CONTENT
    );
    let (code, closed_at) = closed(&mut ending).await;
    assert_eq!(code, 4001);
    assert!(closed_at - at < Duration::from_secs(1), "closed {:?} after the logout", closed_at - at);
    staying.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    assert_eq!(next_json(&mut staying).await["type"], "pong", "another session's socket stays open");

    // Logging out everywhere closes every socket of the user.
    let again = app.login(&ada.user).await;
    let mut third = connect(&app, &again).await;
    let at = Instant::now();
    let response = app.post("/api/v1/auth/logout-all", Some(&again.access_token), &json!({})).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for socket in [&mut staying, &mut third] {
        let (code, closed_at) = closed(socket).await;
        assert_eq!(code, 4001);
        assert!(closed_at - at < Duration::from_secs(1));
    }

    // Deactivation by an admin closes the user's sockets.
    let bob = app.member().await;
    let mut socket = connect(&app, &bob).await;
    let at = Instant::now();
    let response =
        app.patch(&format!("/api/v1/users/{}", bob.id), Some(&admin.access_token), &json!({"is_active": false})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (code, closed_at) = closed(&mut socket).await;
    assert_eq!(code, 4001);
    assert!(closed_at - at < Duration::from_secs(1));
}

#[tokio::test]
async fn a_client_resumes_after_its_last_event_without_loss_or_duplicates() {
    let app = spawn_app().await;
    let ada = app.member().await;
    let mut socket = connect(&app, &ada).await;
    rename(&app, &ada, "one").await;
    let seen = next_event(&mut socket, "account.updated").await;
    drop(socket);

    for name in ["two", "three", "four"] {
        rename(&app, &ada, name).await;
    }
    let last = seen["id"].as_str().unwrap();
    let mut socket = open(&app, Credential::Bearer(&ada.access_token), Some(last), None).await.expect("resumed");
    let mut names = Vec::new();
    loop {
        let message = next_json(&mut socket).await;
        if message["type"] == "ready" {
            assert_eq!(message["data"]["resumed"], true);
            break;
        }
        names.push(message["data"]["full_name"].as_str().unwrap().to_owned());
    }
    assert_eq!(names, ["two", "three", "four"], "what was missed, in order, once");
    rename(&app, &ada, "five").await;
    assert_eq!(next_json(&mut socket).await["data"]["full_name"], "five", "then live, without a replayed duplicate");

    // An id the server does not know (or that is older than the window): reload.
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut socket = open(&app, Credential::Bearer(&ada.access_token), Some(&unknown), None).await.expect("connected");
    assert_eq!(next_json(&mut socket).await["type"], "resync");
    assert_eq!(next_json(&mut socket).await["type"], "ready");
}

#[tokio::test]
async fn connections_are_bounded_per_user_and_per_instance() {
    let app = spawn_app_with(|s| {
        s.realtime.max_connections_per_user = 2;
        s.realtime.max_connections = 3;
    })
    .await;
    let ada = app.member().await;
    let _one = connect(&app, &ada).await;
    let two = connect(&app, &ada).await;
    let (status, problem) = open(&app, Credential::Bearer(&ada.access_token), None, None).await.unwrap_err();
    assert_eq!((status, problem["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("TOO_MANY_CONNECTIONS")));

    let bob = app.member().await;
    let _three = connect(&app, &bob).await;
    let (status, problem) = open(&app, Credential::Bearer(&bob.access_token), None, None).await.unwrap_err();
    assert_eq!((status, problem["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("CONNECTIONS_FULL")));

    // A closed connection frees its place.
    drop(two);
    let started = Instant::now();
    loop {
        match open(&app, Credential::Bearer(&ada.access_token), None, None).await {
            Ok(_) => break,
            Err(_) if started.elapsed() < PATIENCE => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(refusal) => panic!("the place was not freed: {refusal:?}"),
        }
    }
}

#[tokio::test]
async fn a_client_that_answers_no_ping_is_closed() {
    let app = spawn_app_with(|s| {
        s.realtime.heartbeat_secs = 1;
        s.realtime.idle_timeout_secs = 2;
    })
    .await;
    let ada = app.member().await;
    let mut socket = connect(&app, &ada).await;
    // Not reading, so not answering the server's pings.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(closed(&mut socket).await.0, 4000);
}

#[tokio::test]
async fn a_session_ended_through_another_instance_closes_its_socket_here_too() {
    // With Redis the end is signalled to every instance at once; without it each instance checks
    // its sockets' sessions every `realtime.revalidate_secs`.
    let app = spawn_app_with(|s| s.realtime.revalidate_secs = 1).await;
    let other = app.another_instance().await;
    let ada = app.member().await;
    let mut socket = connect(&app, &ada).await;
    let at = Instant::now();
    let response =
        app.client.post(format!("{other}/api/v1/auth/logout")).bearer_auth(&ada.access_token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(closed(&mut socket).await.0, 4001);
    assert!(at.elapsed() < Duration::from_secs(3), "closed {:?} after the logout on the other instance", at.elapsed());
}
