//! The mailers against the real thing: files on disk, parsed back as mail, and a real (if
//! small) SMTP server listening on a local port.

use std::time::Duration;

use forge_application::{
    common::UnexpectedKind,
    mail::{MailMessage, Mailer},
};
use forge_domain::users::Email;
use forge_infrastructure::mail::{FileMailer, Sender, SmtpConfig, SmtpMailer, SmtpSecurity};
use mail_parser::MessageParser;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::TcpListener,
    sync::mpsc,
};

/// A message with a long link (long enough to be wrapped by the transfer encoding) and
/// characters that need encoding.
fn a_message(to: &str) -> MailMessage {
    let link = format!("https://app.example.com/verify-email?token={}", "Ab0-_".repeat(12));
    MailMessage {
        to: Email::parse(to).unwrap(),
        subject: "Confirm your e-mail address for Forge".into(),
        text: format!("Hello ada,\n\nOpen this link:\n\n{link}\n\nMerci, déjà vu.\n.\nA line with only a dot above."),
        html: format!("<p>Hello ada,</p><p><a href=\"{link}\">Confirm</a></p>"),
    }
}

/// A body as sent, with mail's CRLF line ends back to LF and the final line end dropped.
fn lf(body: &str) -> String {
    body.replace("\r\n", "\n").trim_end().to_owned()
}

fn sender() -> Sender {
    Sender::parse("Forge <no-reply@forge.test>").unwrap()
}

// ---------------------------------------------------------------------------------------------
// file

#[tokio::test]
async fn the_file_mailer_writes_one_parseable_eml_per_message_with_both_parts() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::new(dir.path().join("mail"), sender());
    let message = a_message("ada@example.com");

    mailer.send(&message).await.unwrap();

    let files: Vec<_> = std::fs::read_dir(dir.path().join("mail")).unwrap().map(|e| e.unwrap().path()).collect();
    let [file] = files.as_slice() else { panic!("expected one file, got {files:?}") };
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("eml"));
    let raw = std::fs::read(file).unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("multipart/alternative"));
    let parsed = MessageParser::default().parse(&raw).expect("an RFC 5322 message");
    assert_eq!(parsed.subject(), Some("Confirm your e-mail address for Forge"));
    assert_eq!(parsed.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("ada@example.com"));
    assert_eq!(parsed.from().and_then(|a| a.first()).and_then(|a| a.address()), Some("no-reply@forge.test"));
    assert!(parsed.message_id().is_some() && parsed.date().is_some());
    assert_eq!((parsed.text_body_count(), parsed.html_body_count()), (1, 1));
    assert_eq!(lf(&parsed.body_text(0).unwrap()), message.text);
    assert_eq!(lf(&parsed.body_html(0).unwrap()), message.html);
}

#[tokio::test]
async fn file_names_sort_by_time_never_collide_and_no_temporary_file_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::new(dir.path(), sender());
    for n in 0..5 {
        let mut message = a_message("ada@example.com");
        message.subject = format!("message {n}");
        mailer.send(&message).await.unwrap();
    }

    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names.len(), 5);
    assert!(names.iter().all(|n| n.ends_with(".eml") && !n.starts_with('.')), "{names:?}");
    let subjects: Vec<String> = names
        .iter()
        .map(|n| {
            let raw = std::fs::read(dir.path().join(n)).unwrap();
            MessageParser::default().parse(&raw).unwrap().subject().unwrap().to_owned()
        })
        .collect();
    assert_eq!(subjects, ["message 0", "message 1", "message 2", "message 3", "message 4"]);
}

// ---------------------------------------------------------------------------------------------
// SMTP

/// What the sink received in one mail transaction.
#[derive(Debug, Clone)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: Vec<u8>,
}

/// A local SMTP server speaking just enough of the protocol (greeting, EHLO/HELO, MAIL, RCPT,
/// DATA, RSET, NOOP, QUIT). With `reject_recipients`, every RCPT gets a permanent 550.
async fn smtp_sink(reject_recipients: bool) -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read);
                write.write_all(b"220 sink.test ESMTP ready\r\n").await.unwrap();
                let mut current = Received { mail_from: String::new(), rcpt_to: Vec::new(), data: Vec::new() };
                let mut line = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let command = line.trim_end().to_owned();
                    let verb = command.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink.test greets you\r\n250 8BITMIME\r\n",
                        "HELO" => b"250 sink.test\r\n",
                        "MAIL" => {
                            current.mail_from = angle(&command);
                            b"250 OK\r\n"
                        }
                        "RCPT" if reject_recipients => b"550 5.1.1 no such mailbox\r\n",
                        "RCPT" => {
                            current.rcpt_to.push(angle(&command));
                            b"250 OK\r\n"
                        }
                        "DATA" => {
                            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.unwrap();
                            let mut data = Vec::new();
                            loop {
                                let mut raw = Vec::new();
                                lines.read_until(b'\n', &mut raw).await.unwrap();
                                if raw == b".\r\n" {
                                    break;
                                }
                                // Dot-stuffing undone.
                                data.extend_from_slice(
                                    raw.strip_prefix(b".").filter(|r| r.starts_with(b".")).unwrap_or(&raw),
                                );
                            }
                            current.data = data;
                            let _ = tx.send(current.clone());
                            current.rcpt_to.clear();
                            b"250 OK queued\r\n"
                        }
                        "RSET" | "NOOP" => b"250 OK\r\n",
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 command not implemented\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

/// The address between angle brackets of `MAIL FROM:<a@b>` or `RCPT TO:<a@b>`.
fn angle(command: &str) -> String {
    command.split_once('<').and_then(|(_, rest)| rest.split_once('>')).map(|(a, _)| a.to_owned()).unwrap_or_default()
}

fn smtp_mailer(port: u16) -> SmtpMailer {
    SmtpMailer::new(
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            username: None,
            password: None,
            security: SmtpSecurity::None,
            timeout: Duration::from_secs(10),
        },
        sender(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_smtp_mailer_delivers_to_a_real_smtp_server() {
    let (port, mut received) = smtp_sink(false).await;
    let message = a_message("grace@example.com");

    smtp_mailer(port).send(&message).await.unwrap();

    let got = received.recv().await.expect("the server received a message");
    assert_eq!(got.mail_from, "no-reply@forge.test");
    assert_eq!(got.rcpt_to, ["grace@example.com"]);
    let parsed = MessageParser::default().parse(&got.data).expect("an RFC 5322 message");
    assert_eq!(parsed.subject(), Some("Confirm your e-mail address for Forge"));
    assert_eq!(parsed.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("grace@example.com"));
    assert_eq!(lf(&parsed.body_text(0).unwrap()), message.text);
    assert_eq!(lf(&parsed.body_html(0).unwrap()), message.html);
}

#[tokio::test]
async fn a_recipient_the_server_refuses_is_a_permanent_failure() {
    let (port, _received) = smtp_sink(true).await;

    let err = smtp_mailer(port).send(&a_message("nobody@example.com")).await.unwrap_err();

    assert_eq!(err.kind(), UnexpectedKind::Internal, "{err:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_temporary_failure() {
    // A port that was free a moment ago: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();

    let err = smtp_mailer(port).send(&a_message("ada@example.com")).await.unwrap_err();

    assert_eq!(err.kind(), UnexpectedKind::Unavailable, "{err:?}");
}
