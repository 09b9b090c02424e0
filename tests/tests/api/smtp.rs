//! A real SMTP server for the tests, on a free local port: it speaks enough ESMTP for lettre,
//! answers `RCPT` with a temporary failure (`451`) while told to, and records what it accepted.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicI64, AtomicUsize, Ordering},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// What the server does and has seen.
#[derive(Default)]
pub struct SmtpSink {
    /// How many more `RCPT` commands fail with `451`; negative: every one.
    failures_left: AtomicI64,
    /// Every `RCPT` command received, failed or not: one per delivery attempt.
    pub attempts: AtomicUsize,
    /// The recipient of every message accepted.
    pub delivered: Mutex<Vec<String>>,
}

impl SmtpSink {
    /// Starts a server failing the first `failures` attempts (negative: all of them); returns it
    /// and its port.
    pub async fn start(failures: i64) -> (Arc<Self>, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = Arc::new(Self { failures_left: AtomicI64::new(failures), ..Self::default() });
        let server = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(server.clone().converse(stream));
            }
        });
        (sink, port)
    }

    /// From now on, accept every message.
    pub fn fix(&self) {
        self.failures_left.store(0, Ordering::SeqCst);
    }

    async fn converse(self: Arc<Self>, stream: tokio::net::TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        let _ = write.write_all(b"220 sink.test ESMTP\r\n").await;
        let mut recipient = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let verb = line.split([' ', ':', '\r']).next().unwrap_or_default().to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
                "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                "RCPT" => {
                    self.attempts.fetch_add(1, Ordering::SeqCst);
                    let left = self.failures_left.load(Ordering::SeqCst);
                    if left != 0 {
                        if left > 0 {
                            self.failures_left.fetch_sub(1, Ordering::SeqCst);
                        }
                        b"451 4.3.0 try again later\r\n"
                    } else {
                        recipient = line.split('<').nth(1).and_then(|r| r.split('>').next()).unwrap_or_default().into();
                        b"250 OK\r\n"
                    }
                }
                "DATA" => {
                    let _ = write.write_all(b"354 go ahead\r\n").await;
                    let mut raw = Vec::new();
                    loop {
                        raw.clear();
                        if lines.read_until(b'\n', &mut raw).await.unwrap_or(0) == 0 || raw == b".\r\n" {
                            break;
                        }
                    }
                    self.delivered.lock().unwrap().push(std::mem::take(&mut recipient));
                    b"250 OK queued\r\n"
                }
                "QUIT" => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    return;
                }
                _ => b"502 not implemented\r\n",
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }
}
