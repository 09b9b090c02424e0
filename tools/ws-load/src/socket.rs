//! Opening connections: one handshake and its `ready`, and many of them with a bounded number
//! in flight.

use std::{
    borrow::Cow,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use serde::Deserialize;
use tokio::{
    net::TcpStream,
    sync::{Semaphore, mpsc},
    task::JoinHandle,
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async_with_config,
    tungstenite::{
        self, Message,
        client::IntoClientRequest as _,
        http::{HeaderValue, header::AUTHORIZATION},
        protocol::WebSocketConfig,
    },
};

/// An open connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a handshake, and then the wait for `ready`, may each take.
const PATIENCE: Duration = Duration::from_secs(30);

/// The client's read buffer per connection: the server's messages are a few hundred bytes, and
/// tungstenite's default (128 KiB) would make the client, not the server, the memory hog.
const READ_BUFFER: usize = 4096;

/// How many distinct failures are kept to be printed.
const KEPT_ERRORS: usize = 5;

/// The server under load.
#[derive(Debug)]
pub struct Target {
    /// `http://host:port`, without a trailing slash.
    pub http_base: String,
    ws_url: String,
    authorization: HeaderValue,
    /// The bearer token, for the HTTP requests.
    pub token: String,
}

impl Target {
    /// The server at `base` (`http://host:port`), authenticated with `token`.
    ///
    /// # Errors
    /// A message when the URL is not `http://…` or the token cannot be a header value.
    pub fn new(base: &str, token: &str) -> Result<Self, String> {
        let http_base = base.trim_end_matches('/').to_owned();
        let Some(authority) = http_base.strip_prefix("http://") else {
            return Err(format!("the URL must start with http:// (this tool speaks no TLS): {base}"));
        };
        let ws_url = format!("ws://{authority}/api/v1/ws");
        let authorization = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the token cannot be sent in an Authorization header".to_owned())?;
        Ok(Self { http_base, ws_url, authorization, token: token.to_owned() })
    }

    /// Opens one connection and waits for the server's `{"type": "ready"}`.
    ///
    /// # Errors
    /// Why the connection could not be opened or was closed before it was ready.
    pub async fn open(&self) -> Result<Socket, String> {
        let mut request = self.ws_url.as_str().into_client_request().map_err(|e| e.to_string())?;
        request.headers_mut().insert(AUTHORIZATION, self.authorization.clone());
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER).write_buffer_size(0);
        let (mut socket, _) = tokio::time::timeout(PATIENCE, connect_async_with_config(request, Some(config), true))
            .await
            .map_err(|_| "the handshake timed out".to_owned())?
            .map_err(describe)?;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let message = tokio::time::timeout_at(deadline, socket.next())
                .await
                .map_err(|_| "no `ready` message within the patience".to_owned())?;
            match message {
                Some(Ok(Message::Text(text))) if is_ready(&text) => return Ok(socket),
                Some(Ok(Message::Close(frame))) => {
                    return Err(format!(
                        "closed before `ready`: {}",
                        frame.map_or_else(|| "no close frame".to_owned(), |f| format!("{} {}", f.code, f.reason))
                    ));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(describe(e)),
                None => return Err("the connection ended before `ready`".into()),
            }
        }
    }
}

/// A refused handshake names its status and problem; anything else its error.
fn describe(error: tungstenite::Error) -> String {
    match error {
        tungstenite::Error::Http(response) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            format!("HTTP {}: {body}", response.status())
        }
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

fn is_ready(text: &str) -> bool {
    serde_json::from_str::<Typed<'_>>(text).is_ok_and(|m| m.kind == "ready")
}

/// Connections opened by [`open_all`].
pub struct Opened<T> {
    /// One task per connection attempt; `None` for an attempt that failed.
    pub tasks: Vec<JoinHandle<Option<T>>>,
    /// Connections that got their `ready`.
    pub ready: usize,
    /// Attempts that failed.
    pub failed: usize,
    /// The first few distinct reasons of the failures.
    pub errors: Vec<String>,
    /// From the first attempt to the last `ready` or failure.
    pub elapsed: Duration,
}

/// Opens `count` connections, at most `concurrency` handshakes at a time, and runs `then` on
/// each one once it is ready (in its own task, for as long as `then` runs). Returns when every
/// attempt is ready or failed.
pub async fn open_all<F, Fut, T>(target: &Arc<Target>, count: usize, concurrency: usize, then: F) -> Opened<T>
where
    F: Fn(Socket) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(concurrency));
    let (report, mut reports) = mpsc::unbounded_channel::<Result<(), String>>();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let (target, permits, report, then) = (Arc::clone(target), Arc::clone(&permits), report.clone(), then.clone());
        tasks.push(tokio::spawn(async move {
            let opened = match permits.acquire_owned().await {
                Ok(_permit) => target.open().await,
                Err(_) => Err("the handshake limiter closed".to_owned()),
            };
            match opened {
                Ok(socket) => {
                    let _ = report.send(Ok(()));
                    Some(then(socket).await)
                }
                Err(e) => {
                    let _ = report.send(Err(e));
                    None
                }
            }
        }));
    }
    drop(report);

    let (mut ready, mut failed, mut errors) = (0, 0, Vec::new());
    let mut progress = tokio::time::interval(Duration::from_secs(5));
    progress.tick().await;
    while ready + failed < count {
        tokio::select! {
            reported = reports.recv() => match reported {
                Some(Ok(())) => ready += 1,
                Some(Err(e)) => {
                    failed += 1;
                    if errors.len() < KEPT_ERRORS && !errors.contains(&e) {
                        errors.push(e);
                    }
                }
                None => break,
            },
            _ = progress.tick() => {
                eprintln!("opening: {ready} ready, {failed} failed of {count} after {:.1} s", started.elapsed().as_secs_f64());
            }
        }
    }
    Opened { tasks, ready, failed, errors, elapsed: started.elapsed() }
}

/// Prints the `ready` line of an opening.
pub fn print_opened<T>(opened: &Opened<T>, count: usize) {
    println!(
        "ready connections={} failed={} of={count} secs={:.2} per_sec={:.0}",
        opened.ready,
        opened.failed,
        opened.elapsed.as_secs_f64(),
        per_second(opened.ready + opened.failed, opened.elapsed),
    );
    for error in &opened.errors {
        println!("error {error}");
    }
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { f64::from(u32::try_from(count).unwrap_or(u32::MAX)) / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ws_url_comes_from_the_base_url() {
        let target = Target::new("http://127.0.0.1:8000/", "abc").unwrap();
        assert_eq!(target.http_base, "http://127.0.0.1:8000");
        assert_eq!(target.ws_url, "ws://127.0.0.1:8000/api/v1/ws");
        assert_eq!(target.authorization, "Bearer abc");
        assert!(Target::new("https://example.com", "abc").is_err());
    }

    #[test]
    fn ready_is_recognised_whatever_the_key_order() {
        assert!(is_ready(r#"{"data":{"connection_id":"x","resumed":false},"type":"ready"}"#));
        assert!(is_ready(r#"{"type":"ready"}"#));
        assert!(!is_ready(r#"{"type":"pong"}"#));
        assert!(!is_ready("not json"));
    }
}
