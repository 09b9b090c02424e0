use chrono::{DateTime, Utc};

use super::{ProjectId, ProjectRole};
use crate::{FieldViolation, users::UserId};

/// One user's membership of one project, with its role.
///
/// Roles change only through [`Project`](super::Project)'s methods, which keep the rules that
/// span the project and its members: exactly one owner, who is the project's `owner_id`, cannot
/// be removed or demoted and changes only by transfer. Every change moves `version` and
/// `updated_at` forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    project_id: ProjectId,
    user_id: UserId,
    role: ProjectRole,
    added_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i64,
}

/// Every field of a stored membership, for repositories rebuilding it from a row.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct MembershipParts {
    pub project_id: ProjectId,
    pub user_id: UserId,
    pub role: ProjectRole,
    pub added_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A change of the members that the project's rules do not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    /// The project is soft-deleted.
    #[error("the project is deleted")]
    ProjectDeleted,
    /// The membership belongs to another project.
    #[error("the membership is not of this project")]
    NotInProject,
    /// The user already is a member.
    #[error("the user is already a member of the project")]
    AlreadyMember,
    /// `owner` was asked of an add or a role change: ownership moves only by transfer.
    #[error("the owner role can only be given by transferring the project")]
    OwnerByTransferOnly,
    /// The owner cannot be removed, and cannot leave.
    #[error("the owner cannot be removed from the project; transfer it first")]
    OwnerCannotBeRemoved,
    /// The owner's role cannot be changed except by a transfer.
    #[error("the owner's role cannot be changed; transfer the project instead")]
    OwnerCannotBeDemoted,
    /// A transfer to the user who already owns the project.
    #[error("the user already owns the project")]
    AlreadyOwner,
    /// A transfer was given a membership that is not the owner's (it changed since it was read).
    #[error("the membership given as the owner's is not the owner's")]
    OwnerMismatch,
}

impl FieldViolation for MembershipError {
    fn code(&self) -> &'static str {
        match self {
            Self::ProjectDeleted => "PROJECT_DELETED",
            Self::NotInProject => "NOT_IN_PROJECT",
            Self::AlreadyMember => "ALREADY_MEMBER",
            Self::OwnerByTransferOnly => "NOT_ALLOWED",
            Self::OwnerCannotBeRemoved => "OWNER_CANNOT_BE_REMOVED",
            Self::OwnerCannotBeDemoted => "OWNER_CANNOT_BE_DEMOTED",
            Self::AlreadyOwner => "ALREADY_OWNER",
            Self::OwnerMismatch => "OWNER_MISMATCH",
        }
    }
}

impl Membership {
    /// A new membership at version 1. Crate-private: memberships are made by
    /// [`Project::create`](super::Project::create) (the owner) and
    /// [`Project::add_member`](super::Project::add_member) (everyone else).
    pub(super) const fn new(project_id: ProjectId, user_id: UserId, role: ProjectRole, now: DateTime<Utc>) -> Self {
        Self { project_id, user_id, role, added_at: now, updated_at: now, version: 1 }
    }

    /// Rebuilds a stored membership.
    #[must_use]
    pub const fn from_parts(p: MembershipParts) -> Self {
        Self {
            project_id: p.project_id,
            user_id: p.user_id,
            role: p.role,
            added_at: p.added_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }

    /// The project.
    #[must_use]
    pub const fn project_id(&self) -> ProjectId {
        self.project_id
    }
    /// The member.
    #[must_use]
    pub const fn user_id(&self) -> UserId {
        self.user_id
    }
    /// The member's role.
    #[must_use]
    pub const fn role(&self) -> ProjectRole {
        self.role
    }
    /// When the user became a member.
    #[must_use]
    pub const fn added_at(&self) -> DateTime<Utc> {
        self.added_at
    }
    /// When the membership last changed.
    #[must_use]
    pub const fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// A counter moved forward by every change; the basis of optimistic concurrency.
    #[must_use]
    pub const fn version(&self) -> i64 {
        self.version
    }
    /// Whether this is the owner's membership.
    #[must_use]
    pub fn is_owner(&self) -> bool {
        self.role == ProjectRole::Owner
    }

    pub(super) fn set_role(&mut self, role: ProjectRole, now: DateTime<Utc>) {
        self.role = role;
        self.updated_at = now;
        self.version += 1;
    }
}
