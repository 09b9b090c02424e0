//! The embedded default: each message written as one `.eml` file.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use chrono::Utc;
use forge_application::{
    UnexpectedError,
    mail::{MailMessage, Mailer},
};
use uuid::Uuid;

use super::message::{Sender, build, recipient_domain};

/// [`Mailer`] writing each message, as RFC 5322 text (what an SMTP server would receive), to
/// `<dir>/<UTC time>-<UUID v7>.eml`. Names sort by time and never collide. Each file is written
/// under a hidden temporary name, flushed to disk and renamed, so a reader of the directory sees
/// whole messages only.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: Sender,
}

impl FileMailer {
    /// A mailer writing into `dir` (created when needed), as `from`.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>, from: Sender) -> Self {
        Self { dir: dir.into(), from }
    }

    /// Where the files go.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    #[tracing::instrument(skip_all, fields(recipient_domain = recipient_domain(message)))]
    async fn send(&self, message: &MailMessage) -> Result<(), UnexpectedError> {
        let bytes = build(&self.from, message)?.formatted();
        let name = format!("{}-{}.eml", Utc::now().format("%Y%m%dT%H%M%S%.6fZ"), Uuid::now_v7().simple());
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &bytes))
            .await
            .map_err(UnexpectedError::internal)?;
        // A full or read-only disk may recover: worth retrying.
        let path = written.map_err(UnexpectedError::unavailable)?;
        tracing::debug!(file = %path.display(), "mail written");
        Ok(())
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &target)
    })();
    if let Err(e) = written {
        // Best effort: the temporary file is hidden and ignored anyway.
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    Ok(target)
}
