use std::{error::Error, fmt};

use chrono::Duration;

/// Whether an unexpected failure is a dependency being unavailable (worth retrying: a 503), the
/// service being too busy to take the work on now (worth retrying later: a 503 saying when), or
/// a fault (a 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnexpectedKind {
    /// A dependency (database, cache) could not be reached or timed out.
    Unavailable,
    /// A bounded resource (the password-hashing queue) is full: the work was refused before it
    /// started, so nothing changed.
    Busy {
        /// About how long until there is room again.
        retry_after: Duration,
    },
    /// Anything else: a bug or corrupt data.
    Internal,
}

/// A failure no caller can act on, other than by retrying or reporting it. Its `Display` is safe
/// to log; its `Debug` walks the whole `source()` chain. Neither ever reaches a client.
pub struct UnexpectedError {
    kind: UnexpectedKind,
    source: Box<dyn Error + Send + Sync + 'static>,
}

impl UnexpectedError {
    /// A fault.
    pub fn internal(source: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        Self { kind: UnexpectedKind::Internal, source: source.into() }
    }

    /// An unavailable dependency.
    pub fn unavailable(source: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        Self { kind: UnexpectedKind::Unavailable, source: source.into() }
    }

    /// A bounded resource that refused the work; retrying after `retry_after` may succeed.
    pub fn busy(source: impl Into<Box<dyn Error + Send + Sync + 'static>>, retry_after: Duration) -> Self {
        Self { kind: UnexpectedKind::Busy { retry_after }, source: source.into() }
    }

    /// Which kind of failure this is.
    #[must_use]
    pub const fn kind(&self) -> UnexpectedKind {
        self.kind
    }
}

impl fmt::Display for UnexpectedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            UnexpectedKind::Unavailable => write!(f, "a dependency is unavailable: {}", self.source),
            UnexpectedKind::Busy { .. } => write!(f, "too busy: {}", self.source),
            UnexpectedKind::Internal => write!(f, "unexpected failure: {}", self.source),
        }
    }
}

impl fmt::Debug for UnexpectedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{self}")?;
        let mut current = self.source.source();
        while let Some(cause) = current {
            writeln!(f, "  caused by: {cause}")?;
            current = cause.source();
        }
        Ok(())
    }
}

impl Error for UnexpectedError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}
