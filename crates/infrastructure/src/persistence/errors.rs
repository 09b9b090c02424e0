//! From database failures to the errors the ports promise.

use std::fmt;

use forge_application::{UnexpectedError, common::CommitError};
use sea_orm::{DbErr, RuntimeErr, SqlErr, SqlxError};

/// Database error codes that mean "try again later" rather than "this is a bug": SQLite's busy
/// and locked codes (primary and extended), PostgreSQL's serialization failure, deadlock,
/// statement timeout, shutdown and connection-limit codes; and storage the database cannot write
/// to: SQLite's full disk, read-only file and I/O error codes (primary and the extended codes of
/// writing), PostgreSQL's disk full, out of memory and read-only transaction (a standby).
const TRANSIENT_CODES: &[&str] = &[
    "5", "261", "517", "773", "6", "262", "518", // SQLITE_BUSY*, SQLITE_LOCKED*
    "13",  // SQLITE_FULL
    "8", "264", "520", "776", "1032", "1288", "1544", // SQLITE_READONLY*
    "10", "266", "522", "778", "1034", "1290", "1546", "3338", "3594", "4618", "4874", // SQLITE_IOERR*
    "40001", "40P01", "57014", "57P01", "57P02", "57P03", "53300", //
    "53100", "53200", "25006", // disk_full, out_of_memory, read_only_sql_transaction
];

/// A storage failure no caller can act on: "unavailable" when the database could not be
/// reached in time, "internal" for everything else.
pub(crate) fn unexpected(error: DbErr) -> UnexpectedError {
    if is_unavailable(&error) { UnexpectedError::unavailable(error) } else { UnexpectedError::internal(error) }
}

/// A failed write that breaks no uniqueness rule of its capability: always unexpected.
pub(crate) fn write_error(error: DbErr) -> CommitError {
    CommitError::Unexpected(unexpected(error))
}

/// A commit that cannot go on for a reason of the adapter's own (not the database's).
pub(crate) fn unexpected_commit(reason: &'static str) -> CommitError {
    CommitError::Unexpected(UnexpectedError::internal(reason))
}

/// A uniqueness rule of a table and what breaking it means for a commit. Both databases name the
/// rule in their message: PostgreSQL the index (`uq_users_email`), SQLite the columns
/// (`users.email`), so a rule lists both.
pub(crate) struct Unique {
    pub(crate) names: &'static [&'static str],
    pub(crate) outcome: fn() -> CommitError,
}

/// A failed write that may have broken one of `rules`: a unique-constraint violation naming a
/// rule is that rule's outcome, decided from the database error itself, identically on SQLite
/// and PostgreSQL; anything else is unexpected.
pub(crate) fn constrained_write_error(error: DbErr, rules: &[Unique]) -> CommitError {
    if let Some(SqlErr::UniqueConstraintViolation(message)) = error.sql_err()
        && let Some(rule) = rules.iter().find(|rule| rule.names.iter().any(|name| message.contains(name)))
    {
        return (rule.outcome)();
    }
    write_error(error)
}

/// A guarded write that matched no row lost a race (or its row is gone).
pub(crate) const fn guard(rows_affected: u64) -> Result<(), CommitError> {
    if rows_affected == 0 { Err(CommitError::Stale) } else { Ok(()) }
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
