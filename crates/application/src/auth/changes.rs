//! The writes of sessions and refresh tokens.

use chrono::{DateTime, Utc};
use forge_domain::sessions::{RefreshToken, Session, SessionId, TokenDigest};

use crate::common::Change;

/// A write of a session or of its refresh tokens, stored by the
/// [`UnitOfWork`](crate::common::UnitOfWork). None breaks a uniqueness rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    /// Stores a new session.
    Open(Session),
    /// Moves a session's `last_used_at` forward (never back).
    Touch {
        /// The session.
        id: SessionId,
        /// When it was used.
        at: DateTime<Utc>,
    },
    /// Ends one session (a no-op if it already ended).
    Revoke {
        /// The session.
        id: SessionId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Stores a new refresh token.
    IssueRefreshToken(RefreshToken),
    /// Marks a refresh token used, provided it is still unused; otherwise
    /// [`CommitError::Stale`](crate::common::CommitError::Stale). This is what makes a refresh
    /// token single-use when two requests race with it.
    ConsumeRefreshToken {
        /// The token's digest.
        digest: TokenDigest,
        /// When.
        at: DateTime<Utc>,
    },
}

impl Change for SessionChange {}
