//! What the users capability needs from the outside world.

use async_trait::async_trait;
use forge_domain::users::{Email, Role, User, UserId, Username};

use crate::common::{Page, PageRequest, SortOrder, UnexpectedError};

/// Fields a user list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    /// Creation time (the default, newest first).
    #[default]
    CreatedAt,
    /// Username, case-insensitively.
    Username,
    /// E-mail address.
    Email,
    /// Last login (never-logged-in users last in either order).
    LastLoginAt,
}

/// Filters of a user list. Soft-deleted users never appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Case-insensitive substring of e-mail, username or full name. Matched literally: `%` and
    /// `_` are not wildcards.
    pub search: Option<String>,
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (or inactive) users.
    pub is_active: Option<bool>,
    /// Only verified (or unverified) users.
    pub is_verified: Option<bool>,
}

/// A complete list query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Which users.
    pub filter: UserFilter,
    /// In which order (ties broken by id, so pages never overlap).
    pub sort: UserSort,
    /// Ascending or descending.
    pub order: SortOrder,
    /// Which page.
    pub page: PageRequest,
}

/// Which of some e-mail addresses and usernames already belong to an account (deleted or not).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TakenIdentities {
    /// The taken addresses among those asked about.
    pub emails: Vec<Email>,
    /// The taken usernames among those asked about, [normalized](Username::normalized).
    pub usernames: Vec<String>,
}

/// Reads users. Writes go through [`UnitOfWork`](crate::common::UnitOfWork).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// The user with this id, soft-deleted or not.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_id(&self, id: UserId) -> Result<Option<User>, UnexpectedError>;

    /// The user with this e-mail address, soft-deleted or not.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_email(&self, email: &Email) -> Result<Option<User>, UnexpectedError>;

    /// The user with this username, compared case-insensitively, soft-deleted or not.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_username(&self, username: &Username) -> Result<Option<User>, UnexpectedError>;

    /// One page of non-deleted users matching the query, with the total count.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn list(&self, query: &UserQuery) -> Result<Page<User>, UnexpectedError>;

    /// Whether any non-deleted admin exists.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn admin_exists(&self) -> Result<bool, UnexpectedError>;

    /// Which of `emails` and `usernames` (compared case-insensitively) belong to an account,
    /// soft-deleted or not: one round trip per list, whatever their length.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn taken_identities(
        &self,
        emails: &[Email],
        usernames: &[Username],
    ) -> Result<TakenIdentities, UnexpectedError>;
}
