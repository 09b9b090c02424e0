use chrono::{DateTime, Utc};

use super::{Email, FullName, PasswordHash, Role, UserId, Username};

/// A user account.
///
/// Fields are private: every change goes through a method that keeps the invariants (a deleted
/// account cannot be changed until restored, changing the e-mail un-verifies it, every change
/// moves `updated_at` and `version` forward).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    id: UserId,
    email: Email,
    username: Username,
    full_name: Option<FullName>,
    role: Role,
    password_hash: PasswordHash,
    is_active: bool,
    is_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
    version: i64,
}

/// What is needed to open a new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The account's address.
    pub email: Email,
    /// The account's handle.
    pub username: Username,
    /// The display name, if any.
    pub full_name: Option<FullName>,
    /// The global role.
    pub role: Role,
    /// The hashed password.
    pub password_hash: PasswordHash,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Whether the address has been verified.
    pub is_verified: bool,
}

/// Every field of a stored user, for repositories rebuilding an entity from a row. Values are
/// trusted to have been valid when written; the repository re-parses them on the way in.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct UserParts {
    pub id: UserId,
    pub email: Email,
    pub username: Username,
    pub full_name: Option<FullName>,
    pub role: Role,
    pub password_hash: PasswordHash,
    pub is_active: bool,
    pub is_verified: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// A state change that the account's current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserStateError {
    /// The account is soft-deleted; restore it first.
    #[error("the user is deleted")]
    Deleted,
    /// Restore was asked of an account that is not deleted.
    #[error("the user is not deleted")]
    NotDeleted,
}

/// Why an account may not log in or act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefusal {
    /// The account is soft-deleted.
    #[error("the account is deleted")]
    Deleted,
    /// The account is deactivated.
    #[error("the account is disabled")]
    Disabled,
}

impl User {
    /// Opens a new account at `now`.
    #[must_use]
    pub fn register(new: NewUser, now: DateTime<Utc>) -> Self {
        Self {
            id: UserId::generate(),
            email: new.email,
            username: new.username,
            full_name: new.full_name,
            role: new.role,
            password_hash: new.password_hash,
            is_active: new.is_active,
            is_verified: new.is_verified,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            deleted_at: None,
            version: 1,
        }
    }

    /// Rebuilds a stored user.
    #[must_use]
    pub fn from_parts(p: UserParts) -> Self {
        Self {
            id: p.id,
            email: p.email,
            username: p.username,
            full_name: p.full_name,
            role: p.role,
            password_hash: p.password_hash,
            is_active: p.is_active,
            is_verified: p.is_verified,
            created_at: p.created_at,
            updated_at: p.updated_at,
            last_login_at: p.last_login_at,
            deleted_at: p.deleted_at,
            version: p.version,
        }
    }

    /// The identifier.
    #[must_use]
    pub const fn id(&self) -> UserId {
        self.id
    }
    /// The address.
    #[must_use]
    pub const fn email(&self) -> &Email {
        &self.email
    }
    /// The handle.
    #[must_use]
    pub const fn username(&self) -> &Username {
        &self.username
    }
    /// The display name.
    #[must_use]
    pub const fn full_name(&self) -> Option<&FullName> {
        self.full_name.as_ref()
    }
    /// The global role.
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }
    /// The hashed password.
    #[must_use]
    pub const fn password_hash(&self) -> &PasswordHash {
        &self.password_hash
    }
    /// Whether the account may log in.
    #[must_use]
    pub const fn is_active(&self) -> bool {
        self.is_active
    }
    /// Whether the address is verified.
    #[must_use]
    pub const fn is_verified(&self) -> bool {
        self.is_verified
    }
    /// When the account was opened.
    #[must_use]
    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When the account last changed.
    #[must_use]
    pub const fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// When the account last logged in.
    #[must_use]
    pub const fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.last_login_at
    }
    /// When the account was soft-deleted, if it is.
    #[must_use]
    pub const fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.deleted_at
    }
    /// Whether the account is soft-deleted.
    #[must_use]
    pub const fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
    /// A counter moved forward by every change; the basis of optimistic concurrency.
    #[must_use]
    pub const fn version(&self) -> i64 {
        self.version
    }

    /// Whether the account may log in or act now.
    ///
    /// # Errors
    /// [`LoginRefusal`] when it is deleted or disabled.
    pub const fn ensure_can_act(&self) -> Result<(), LoginRefusal> {
        if self.deleted_at.is_some() {
            Err(LoginRefusal::Deleted)
        } else if !self.is_active {
            Err(LoginRefusal::Disabled)
        } else {
            Ok(())
        }
    }

    fn touch(&mut self, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if self.deleted_at.is_some() {
            return Err(UserStateError::Deleted);
        }
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }

    /// Changes the address; a new address is no longer verified.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn change_email(&mut self, email: Email, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if email == self.email {
            return Ok(());
        }
        self.touch(now)?;
        self.email = email;
        self.is_verified = false;
        Ok(())
    }

    /// Changes the handle.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn rename(&mut self, username: Username, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if username == self.username {
            return Ok(());
        }
        self.touch(now)?;
        self.username = username;
        Ok(())
    }

    /// Sets or clears the display name.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn set_full_name(&mut self, full_name: Option<FullName>, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if full_name == self.full_name {
            return Ok(());
        }
        self.touch(now)?;
        self.full_name = full_name;
        Ok(())
    }

    /// Changes the global role.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn change_role(&mut self, role: Role, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if role == self.role {
            return Ok(());
        }
        self.touch(now)?;
        self.role = role;
        Ok(())
    }

    /// Lets the account log in again.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn activate(&mut self, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if self.is_active {
            return Ok(());
        }
        self.touch(now)?;
        self.is_active = true;
        Ok(())
    }

    /// Stops the account from logging in; its sessions must end.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn deactivate(&mut self, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if !self.is_active {
            return Ok(());
        }
        self.touch(now)?;
        self.is_active = false;
        Ok(())
    }

    /// Marks the address as verified.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn verify_email(&mut self, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if self.is_verified {
            return Ok(());
        }
        self.touch(now)?;
        self.is_verified = true;
        Ok(())
    }

    /// Replaces the password hash.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] on a deleted account.
    pub fn change_password(&mut self, hash: PasswordHash, now: DateTime<Utc>) -> Result<(), UserStateError> {
        self.touch(now)?;
        self.password_hash = hash;
        Ok(())
    }

    /// Records a successful login. Not a change of the account's data: `updated_at` and
    /// `version` stay as they are.
    pub fn record_login(&mut self, now: DateTime<Utc>) {
        self.last_login_at = Some(now);
    }

    /// Soft-deletes the account: it can no longer log in and reads as absent.
    ///
    /// # Errors
    /// [`UserStateError::Deleted`] if it already is.
    pub fn soft_delete(&mut self, now: DateTime<Utc>) -> Result<(), UserStateError> {
        self.touch(now)?;
        self.deleted_at = Some(now);
        Ok(())
    }

    /// Brings a soft-deleted account back.
    ///
    /// # Errors
    /// [`UserStateError::NotDeleted`] if it is not deleted.
    pub fn restore(&mut self, now: DateTime<Utc>) -> Result<(), UserStateError> {
        if self.deleted_at.is_none() {
            return Err(UserStateError::NotDeleted);
        }
        self.deleted_at = None;
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn user() -> User {
        User::register(
            NewUser {
                email: Email::parse("ada@example.com").unwrap(),
                username: Username::parse("ada").unwrap(),
                full_name: None,
                role: Role::Member,
                password_hash: PasswordHash::new("$argon2id$x".into()),
                is_active: true,
                is_verified: true,
            },
            t0(),
        )
    }

    #[test]
    fn register_starts_at_version_one_and_never_logged_in() {
        let u = user();
        assert_eq!(u.version(), 1);
        assert_eq!(u.created_at(), t0());
        assert_eq!(u.updated_at(), t0());
        assert_eq!(u.last_login_at(), None);
        assert!(!u.is_deleted());
    }

    #[test]
    fn changing_the_email_unverifies_it_and_bumps_the_version() {
        let mut u = user();
        let later = t0() + Duration::minutes(5);
        u.change_email(Email::parse("ada@new.example.com").unwrap(), later).unwrap();
        assert!(!u.is_verified());
        assert_eq!(u.version(), 2);
        assert_eq!(u.updated_at(), later);
    }

    #[test]
    fn setting_the_same_value_changes_nothing() {
        let mut u = user();
        u.change_email(Email::parse("ADA@example.com").unwrap(), t0() + Duration::minutes(1)).unwrap();
        u.change_role(Role::Member, t0() + Duration::minutes(1)).unwrap();
        assert!(u.is_verified());
        assert_eq!(u.version(), 1);
    }

    #[test]
    fn a_deleted_user_cannot_act_or_be_changed_until_restored() {
        let mut u = user();
        u.soft_delete(t0()).unwrap();
        assert_eq!(u.ensure_can_act(), Err(LoginRefusal::Deleted));
        assert_eq!(u.change_role(Role::Admin, t0()), Err(UserStateError::Deleted));
        assert_eq!(u.soft_delete(t0()), Err(UserStateError::Deleted));
        u.restore(t0()).unwrap();
        assert_eq!(u.ensure_can_act(), Ok(()));
        assert_eq!(u.restore(t0()), Err(UserStateError::NotDeleted));
    }

    #[test]
    fn a_deactivated_user_cannot_act() {
        let mut u = user();
        u.deactivate(t0()).unwrap();
        assert_eq!(u.ensure_can_act(), Err(LoginRefusal::Disabled));
        u.activate(t0()).unwrap();
        assert_eq!(u.ensure_can_act(), Ok(()));
    }

    #[test]
    fn recording_a_login_is_not_a_change_of_the_account() {
        let mut u = user();
        u.record_login(t0() + Duration::hours(1));
        assert_eq!(u.last_login_at(), Some(t0() + Duration::hours(1)));
        assert_eq!(u.version(), 1);
    }
}
