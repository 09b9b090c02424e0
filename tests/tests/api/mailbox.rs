//! Reading back what the server mailed: the embedded mailer writes one `.eml` file per message
//! under `<data dir>/mail/`, in the background. Tests wait for a message for a bounded time
//! (waiting for an asynchronous effect, not measuring time), and prove that nothing was mailed
//! from the queue being idle with no message to the address.

use std::time::{Duration, Instant};

use mail_parser::MessageParser;

use crate::harness::TestApp;

/// How long a test waits for a mail before failing.
const MAIL_WAIT: Duration = Duration::from_secs(60);

/// One message, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The token of the link to `page` (`verify-email`, `reset-password`) in the plain-text
    /// part, checking the link points at the app's public URL.
    pub fn token(&self, public_url: &str, page: &str) -> String {
        let prefix = format!("{}/{page}?token=", public_url.trim_end_matches('/'));
        let start =
            self.text.find(&prefix).unwrap_or_else(|| panic!("no {prefix} link in {:?}", self.text)) + prefix.len();
        let token: String =
            self.text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        assert!(token.len() >= 43, "a 256-bit token, got {token:?}");
        token
    }
}

impl TestApp {
    /// Every message written so far, oldest first (file names sort by time).
    pub fn mails(&self) -> Vec<Mail> {
        let Ok(entries) = std::fs::read_dir(self.mail_dir()) else { return Vec::new() };
        let mut paths: Vec<_> =
            entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect();
        paths.sort();
        paths
            .into_iter()
            .map(|path| {
                let raw = std::fs::read(&path).unwrap();
                let parsed =
                    MessageParser::default().parse(&raw).unwrap_or_else(|| panic!("{} is not mail", path.display()));
                Mail {
                    to: parsed.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_owned(),
                    subject: parsed.subject().unwrap_or_default().to_owned(),
                    text: parsed.body_text(0).unwrap_or_default().replace("\r\n", "\n"),
                    html: parsed.body_html(0).unwrap_or_default().into_owned(),
                }
            })
            .collect()
    }

    /// The messages to `to`, oldest first.
    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.to.eq_ignore_ascii_case(to)).collect()
    }

    /// Waits until `to` has received `count` messages whose subject contains `subject`, and
    /// returns the last of them.
    pub async fn wait_for_mails(&self, to: &str, subject: &str, count: usize) -> Mail {
        let deadline = Instant::now() + MAIL_WAIT;
        loop {
            let found: Vec<Mail> = self.mails_to(to).into_iter().filter(|m| m.subject.contains(subject)).collect();
            if found.len() >= count {
                return found.into_iter().last().unwrap();
            }
            if Instant::now() >= deadline {
                // The jobs say where the mail is stuck (queued, running, dead with its error).
                let jobs = match self.services.jobs() {
                    Some(engine) => format!("{:#?}", engine.jobs(None, None, 100, 0).await),
                    None => "no job engine".into(),
                };
                panic!("no mail {subject:?} #{count} to {to} within {MAIL_WAIT:?}; got {found:#?}; jobs: {jobs}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the first message to `to` whose subject contains `subject`.
    pub async fn wait_for_mail(&self, to: &str, subject: &str) -> Mail {
        self.wait_for_mails(to, subject, 1).await
    }

    /// Waits (up to [`MAIL_WAIT`]) until every queued mail has been delivered: no mail job is
    /// queued, running or waiting for another attempt.
    pub async fn wait_until_mail_delivered(&self) {
        let deadline = Instant::now() + MAIL_WAIT;
        while self.services.mail_in_flight().await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "the queued mail was not delivered within {MAIL_WAIT:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts that nothing was mailed to `to`. Use cases queue their mail (a job) before they
    /// answer, so once every queued mail has been delivered (waited for, up to [`MAIL_WAIT`]),
    /// the absence of a file for `to` is conclusive.
    pub async fn assert_no_mail_to(&self, to: &str) {
        self.wait_until_mail_delivered().await;
        assert!(self.mails_to(to).is_empty(), "unexpected mail to {to}: {:#?}", self.mails_to(to));
    }
}
