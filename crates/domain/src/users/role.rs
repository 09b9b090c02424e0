use std::{fmt, str::FromStr};

use crate::FieldViolation;

/// A user's global role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Runs the installation: every permission.
    Admin,
    /// Oversees users: may read and list them and see statistics, not change them.
    Manager,
    /// An ordinary account: acts on its own profile and its own projects.
    Member,
}

/// Something a role may be allowed to do beyond acting on one's own account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// List and search every user.
    ListUsers,
    /// Read any user's profile.
    ReadAnyUser,
    /// Create users directly, with any role.
    CreateUsers,
    /// Change any user's profile, role and active flag.
    ManageUsers,
    /// Soft delete, restore and unlock users.
    DeleteUsers,
    /// Read the audit trail.
    ReadAuditLog,
    /// See installation-wide statistics.
    ViewDashboard,
    /// See every project, not only one's own.
    ReadAllProjects,
    /// Change, delete and manage the members of any project, as its owner could.
    ManageAllProjects,
    /// See operational figures of the installation (database pool, statement counts).
    ViewSystemMetrics,
    /// Export every user, and the audit trail, to a file.
    ExportData,
    /// List, retry and discard background jobs.
    ManageJobs,
    /// See and download anyone's exports.
    ReadAllExports,
}

impl Role {
    /// Every role, from most to least powerful.
    pub const ALL: [Self; 3] = [Self::Admin, Self::Manager, Self::Member];

    /// Whether this role grants `permission`.
    #[must_use]
    pub const fn grants(self, permission: Permission) -> bool {
        match self {
            Self::Admin => true,
            Self::Manager => {
                matches!(
                    permission,
                    Permission::ListUsers
                        | Permission::ReadAnyUser
                        | Permission::ViewDashboard
                        | Permission::ExportData
                )
            }
            Self::Member => false,
        }
    }

    /// The stable lower-case name used in storage and in the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Manager => "manager",
            Self::Member => "member",
        }
    }
}

/// A role name that is not one of `admin`, `manager`, `member`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: admin, manager, member")]
pub struct RoleError;

impl FieldViolation for RoleError {
    fn code(&self) -> &'static str {
        "INVALID_CHOICE"
    }
}

impl FromStr for Role {
    type Err = RoleError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw {
            "admin" => Ok(Self::Admin),
            "manager" => Ok(Self::Manager),
            "member" => Ok(Self::Member),
            _ => Err(RoleError),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_is_granted_everything() {
        for p in [
            Permission::ListUsers,
            Permission::ReadAnyUser,
            Permission::CreateUsers,
            Permission::ManageUsers,
            Permission::DeleteUsers,
            Permission::ReadAuditLog,
            Permission::ViewDashboard,
            Permission::ReadAllProjects,
            Permission::ManageAllProjects,
            Permission::ViewSystemMetrics,
            Permission::ExportData,
            Permission::ManageJobs,
            Permission::ReadAllExports,
        ] {
            assert!(Role::Admin.grants(p), "{p:?}");
        }
    }

    #[test]
    fn manager_reads_users_but_does_not_change_them() {
        assert!(Role::Manager.grants(Permission::ListUsers));
        assert!(Role::Manager.grants(Permission::ReadAnyUser));
        assert!(Role::Manager.grants(Permission::ViewDashboard));
        assert!(!Role::Manager.grants(Permission::CreateUsers));
        assert!(!Role::Manager.grants(Permission::ManageUsers));
        assert!(!Role::Manager.grants(Permission::DeleteUsers));
        assert!(!Role::Manager.grants(Permission::ReadAuditLog));
        assert!(!Role::Manager.grants(Permission::ReadAllProjects));
        assert!(!Role::Manager.grants(Permission::ManageAllProjects));
        assert!(!Role::Manager.grants(Permission::ViewSystemMetrics));
        assert!(Role::Manager.grants(Permission::ExportData));
        assert!(!Role::Manager.grants(Permission::ManageJobs));
        assert!(!Role::Manager.grants(Permission::ReadAllExports));
    }

    #[test]
    fn member_has_no_extra_permission() {
        assert!(!Role::Member.grants(Permission::ListUsers));
        assert!(!Role::Member.grants(Permission::ReadAnyUser));
    }

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("Admin".parse::<Role>(), Err(RoleError));
        assert_eq!("owner".parse::<Role>(), Err(RoleError));
    }
}
