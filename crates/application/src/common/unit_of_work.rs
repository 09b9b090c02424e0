use async_trait::async_trait;
use chrono::{DateTime, Utc};
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    api_keys::{ApiKey, ApiKeyId},
    projects::{Membership, Project, ProjectId},
    sessions::{RefreshToken, Session, SessionId, TokenDigest},
    users::{User, UserId},
};

use super::UnexpectedError;
use crate::audit::{AuditRecord, OutboxEvent};
use crate::limits::ports::LoginThrottle;

/// One write, applied by the [`UnitOfWork`] inside its transaction.
///
/// New capabilities add variants. Audit entries and outbox events are changes too, so they are
/// stored in the same transaction as the change they describe, or not at all.
#[derive(Debug, Clone)]
pub enum Change {
    /// Stores a new user. A taken e-mail or username is refused with
    /// [`CommitError::EmailTaken`] / [`CommitError::UsernameTaken`].
    InsertUser(User),
    /// Stores every field of an existing user, provided the stored row is still at
    /// `expected_version`; otherwise [`CommitError::Stale`]. `user.version()` is the new version.
    UpdateUser {
        /// The user as it should be stored.
        user: User,
        /// The version the change was based on.
        expected_version: i64,
    },
    /// Sets `last_login_at` alone (not a change of the account: no version check or bump).
    RecordLogin {
        /// Who logged in.
        user_id: UserId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Stores a new session.
    InsertSession(Session),
    /// Moves a session's `last_used_at` forward.
    TouchSession {
        /// The session.
        id: SessionId,
        /// When it was used.
        at: DateTime<Utc>,
    },
    /// Ends one session (a no-op if it already ended).
    RevokeSession {
        /// The session.
        id: SessionId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Stores a new refresh token.
    InsertRefreshToken(RefreshToken),
    /// Marks a refresh token used, provided it is still unused; otherwise [`CommitError::Stale`].
    /// This is what makes a refresh token single-use when two requests race with it.
    ConsumeRefreshToken {
        /// The token's digest.
        digest: TokenDigest,
        /// When.
        at: DateTime<Utc>,
    },
    /// Appends an entry to the audit trail (entries are never changed or deleted).
    Audit(AuditRecord),
    /// Stores an event in the outbox, for delivery once the transaction has committed.
    Publish(OutboxEvent),
    /// Stores a new API key (its digest and visible prefix, never the key).
    InsertApiKey(ApiKey),
    /// Revokes an API key, provided it is not revoked yet; otherwise [`CommitError::Stale`].
    RevokeApiKey {
        /// The key.
        id: ApiKeyId,
        /// When.
        at: DateTime<Utc>,
    },
    /// Moves an API key's `last_used_at` forward (a no-op if it is already later).
    TouchApiKey {
        /// The key.
        id: ApiKeyId,
        /// When it was used.
        at: DateTime<Utc>,
    },
    /// Stores the failed logins of an account, provided the stored ones are still `expected`
    /// (`None`: none are stored); otherwise [`CommitError::Stale`]. Two failures at once are
    /// thereby counted twice, never once.
    SaveLoginThrottle {
        /// The throttle as it should be stored.
        throttle: LoginThrottle,
        /// The throttle the change was based on, as it was read.
        expected: Option<LoginThrottle>,
    },
    /// Forgets the failed logins and any lock of an account (a no-op when there are none).
    ClearLoginThrottle {
        /// The account.
        user_id: UserId,
    },
    /// Stores a new account token (e-mail verification or password reset).
    InsertAccountToken(AccountToken),
    /// Uses an account token up by deleting it, provided it is still there; otherwise
    /// [`CommitError::Stale`]. This is what makes the token single-use when two requests race.
    ConsumeAccountToken {
        /// The token's digest.
        digest: TokenDigest,
    },
    /// Deletes every token of `purpose` of the account (issuing a new one invalidates the
    /// earlier ones); none is fine.
    DiscardAccountTokens {
        /// The account.
        user_id: UserId,
        /// Which tokens.
        purpose: TokenPurpose,
    },
    /// Stores a new project. A live project of the same owner with the same name (ignoring case)
    /// is refused with [`CommitError::ProjectNameTaken`].
    InsertProject(Project),
    /// Stores every field of an existing project, provided the stored row is still at
    /// `expected_version`; otherwise [`CommitError::Stale`]. A name (or, on transfer, an owner)
    /// that clashes with another live project of the owner is [`CommitError::ProjectNameTaken`].
    UpdateProject {
        /// The project as it should be stored.
        project: Project,
        /// The version the change was based on.
        expected_version: i64,
    },
    /// Stores a new membership. An existing membership of the same user is refused with
    /// [`CommitError::AlreadyMember`]; a second owner of the project with [`CommitError::Stale`]
    /// (the storage keeps exactly one owner even if a use case were to get it wrong).
    InsertMembership(Membership),
    /// Stores a membership's role, provided the stored row is still at `expected_version`;
    /// otherwise [`CommitError::Stale`]. A second owner of the project is [`CommitError::Stale`]
    /// too: the change was based on an owner that is no longer the owner.
    UpdateMembership {
        /// The membership as it should be stored.
        membership: Membership,
        /// The version the change was based on.
        expected_version: i64,
    },
    /// Ends a membership, provided it is still at `expected_version` and is not the owner's;
    /// otherwise [`CommitError::Stale`].
    DeleteMembership {
        /// The project.
        project_id: ProjectId,
        /// The member.
        user_id: UserId,
        /// The version the removal was based on.
        expected_version: i64,
    },
}

/// Why a unit of work stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// A user with this e-mail already exists.
    #[error("the e-mail address is taken")]
    EmailTaken,
    /// A user with this username (ignoring case) already exists.
    #[error("the username is taken")]
    UsernameTaken,
    /// A guarded write found the row changed (or gone) since it was read.
    #[error("the data changed since it was read")]
    Stale,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
    /// The owner already has a live project with this name (ignoring case).
    #[error("the owner already has a project with this name")]
    ProjectNameTaken,
    /// The user already is a member of the project.
    #[error("the user is already a member of the project")]
    AlreadyMember,
}

/// Applies a list of changes atomically: all of them are stored, in order, or none is.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// Stores `changes` in one transaction.
    ///
    /// # Errors
    /// [`CommitError`]: the first change that could not be applied decides the variant, and the
    /// transaction is rolled back.
    async fn commit(&self, changes: Vec<Change>) -> Result<(), CommitError>;
}
