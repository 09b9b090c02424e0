//! From database failures to the errors the ports promise.

use std::fmt;

use forge_application::{UnexpectedError, common::CommitError};
use sea_orm::{DbErr, RuntimeErr, SqlErr, SqlxError};

/// Database error codes that mean "try again later" rather than "this is a bug": SQLite's busy
/// and locked codes (primary and extended), PostgreSQL's serialization failure, deadlock,
/// statement timeout, shutdown and connection-limit codes.
const TRANSIENT_CODES: &[&str] = &[
    "5", "261", "517", "773", "6", "262", "518", // SQLITE_BUSY*, SQLITE_LOCKED*
    "40001", "40P01", "57014", "57P01", "57P02", "57P03", "53300",
];

/// A storage failure no caller can act on: "unavailable" when the database could not be
/// reached in time, "internal" for everything else.
pub(crate) fn unexpected(error: DbErr) -> UnexpectedError {
    if is_unavailable(&error) { UnexpectedError::unavailable(error) } else { UnexpectedError::internal(error) }
}

/// A failed write: a taken e-mail or username is an outcome the use case handles; anything
/// else is unexpected. Decided from the constraint's name, which both databases put in their
/// message (`uq_users_email` on PostgreSQL, `users.email` on SQLite).
///
/// For projects: a name the owner already uses is [`CommitError::ProjectNameTaken`]
/// (`uq_projects_owner_name`, or `projects.name_lower` on SQLite); a second membership of one user
/// is [`CommitError::AlreadyMember`] (`pk_project_members`, or `project_members.user_id`); a second
/// owner of a project is [`CommitError::Stale`] (`uq_project_members_owner`, or
/// `project_members.role`): the write was based on an owner who no longer is one.
pub(crate) fn commit_error(error: DbErr) -> CommitError {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err() {
        if message.contains("uq_users_email") || message.contains("users.email") {
            return CommitError::EmailTaken;
        }
        if message.contains("uq_users_username_lower") || message.contains("users.username_lower") {
            return CommitError::UsernameTaken;
        }
        if message.contains("uq_projects_owner_name") || message.contains("projects.name_lower") {
            return CommitError::ProjectNameTaken;
        }
        if message.contains("uq_project_members_owner") || message.contains("project_members.role") {
            return CommitError::Stale;
        }
        if message.contains("pk_project_members") || message.contains("project_members.user_id") {
            return CommitError::AlreadyMember;
        }
    }
    CommitError::Unexpected(unexpected(error))
}

fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            SqlxError::Io(_)
            | SqlxError::Tls(_)
            | SqlxError::PoolTimedOut
            | SqlxError::PoolClosed
            | SqlxError::WorkerCrashed => true,
            SqlxError::Database(db) => db.code().is_some_and(|code| TRANSIENT_CODES.contains(&code.as_ref())),
            _ => false,
        },
        _ => false,
    }
}

/// A stored row holding a value the domain no longer accepts (edited by hand, or written under
/// older rules). Reported as an internal error rather than turned into a value that cannot
/// exist.
#[derive(Debug)]
pub(crate) struct CorruptRow {
    pub(crate) table: &'static str,
    pub(crate) key: String,
    pub(crate) column: &'static str,
    pub(crate) reason: String,
}

impl fmt::Display for CorruptRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the stored {} row {} has an invalid {}: {}", self.table, self.key, self.column, self.reason)
    }
}

impl std::error::Error for CorruptRow {}

impl CorruptRow {
    /// The error for `column` of the row `key` of `table`.
    pub(crate) fn error(
        table: &'static str,
        key: impl fmt::Display,
        column: &'static str,
        reason: impl fmt::Display,
    ) -> UnexpectedError {
        UnexpectedError::internal(Self { table, key: key.to_string(), column, reason: reason.to_string() })
    }
}
