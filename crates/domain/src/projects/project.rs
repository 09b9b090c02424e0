use chrono::{DateTime, Utc};

use super::{Membership, MembershipError, ProjectDescription, ProjectId, ProjectName, ProjectRole, ProjectStatus};
use crate::users::UserId;

/// A project: a named piece of work with an owner and members.
///
/// Fields are private: every change goes through a method that keeps the invariants. A deleted
/// project cannot be changed; every change moves `updated_at` and `version` forward. The rules
/// about members are methods here too, because they need the project: there is always exactly
/// one owner, the user named by [`Project::owner_id`], holding the only
/// [`ProjectRole::Owner`] membership; the owner cannot be removed, demoted or leave; only a
/// [`transfer`](Project::transfer) makes someone else owner, and it makes the old owner a
/// maintainer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    id: ProjectId,
    owner_id: UserId,
    name: ProjectName,
    description: Option<ProjectDescription>,
    status: ProjectStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    version: i64,
}

/// What is needed to start a project.
#[derive(Debug, Clone)]
pub struct NewProject {
    /// The name.
    pub name: ProjectName,
    /// The description, if any.
    pub description: Option<ProjectDescription>,
}

/// Every field of a stored project, for repositories rebuilding an entity from a row.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct ProjectParts {
    pub id: ProjectId,
    pub owner_id: UserId,
    pub name: ProjectName,
    pub description: Option<ProjectDescription>,
    pub status: ProjectStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// A change of the project itself that its state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProjectStateError {
    /// The project is soft-deleted.
    #[error("the project is deleted")]
    Deleted,
}

impl Project {
    /// Starts a project owned by `owner` at `now`, active, at version 1, together with the
    /// owner's membership (the only way besides a transfer to get an owner membership).
    #[must_use]
    pub fn create(owner: UserId, new: NewProject, now: DateTime<Utc>) -> (Self, Membership) {
        let project = Self {
            id: ProjectId::generate(),
            owner_id: owner,
            name: new.name,
            description: new.description,
            status: ProjectStatus::Active,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        };
        let membership = Membership::new(project.id, owner, ProjectRole::Owner, now);
        (project, membership)
    }

    /// Rebuilds a stored project.
    #[must_use]
    pub fn from_parts(p: ProjectParts) -> Self {
        Self {
            id: p.id,
            owner_id: p.owner_id,
            name: p.name,
            description: p.description,
            status: p.status,
            created_at: p.created_at,
            updated_at: p.updated_at,
            deleted_at: p.deleted_at,
            version: p.version,
        }
    }

    /// The identifier.
    #[must_use]
    pub const fn id(&self) -> ProjectId {
        self.id
    }
    /// The owner: the one member with [`ProjectRole::Owner`].
    #[must_use]
    pub const fn owner_id(&self) -> UserId {
        self.owner_id
    }
    /// The name.
    #[must_use]
    pub const fn name(&self) -> &ProjectName {
        &self.name
    }
    /// The description.
    #[must_use]
    pub const fn description(&self) -> Option<&ProjectDescription> {
        self.description.as_ref()
    }
    /// Active or archived.
    #[must_use]
    pub const fn status(&self) -> ProjectStatus {
        self.status
    }
    /// When the project was started.
    #[must_use]
    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When the project last changed.
    #[must_use]
    pub const fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// When the project was soft-deleted, if it is.
    #[must_use]
    pub const fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.deleted_at
    }
    /// Whether the project is soft-deleted.
    #[must_use]
    pub const fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
    /// A counter moved forward by every change; the basis of optimistic concurrency.
    #[must_use]
    pub const fn version(&self) -> i64 {
        self.version
    }

    fn touch(&mut self, now: DateTime<Utc>) -> Result<(), ProjectStateError> {
        if self.deleted_at.is_some() {
            return Err(ProjectStateError::Deleted);
        }
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }

    /// Renames the project.
    ///
    /// # Errors
    /// [`ProjectStateError::Deleted`] on a deleted project.
    pub fn rename(&mut self, name: ProjectName, now: DateTime<Utc>) -> Result<(), ProjectStateError> {
        if name == self.name {
            return Ok(());
        }
        self.touch(now)?;
        self.name = name;
        Ok(())
    }

    /// Sets or clears the description.
    ///
    /// # Errors
    /// [`ProjectStateError::Deleted`] on a deleted project.
    pub fn set_description(
        &mut self,
        description: Option<ProjectDescription>,
        now: DateTime<Utc>,
    ) -> Result<(), ProjectStateError> {
        if description == self.description {
            return Ok(());
        }
        self.touch(now)?;
        self.description = description;
        Ok(())
    }

    /// Archives the project or makes it active again.
    ///
    /// # Errors
    /// [`ProjectStateError::Deleted`] on a deleted project.
    pub fn set_status(&mut self, status: ProjectStatus, now: DateTime<Utc>) -> Result<(), ProjectStateError> {
        if status == self.status {
            return Ok(());
        }
        self.touch(now)?;
        self.status = status;
        Ok(())
    }

    /// Soft-deletes the project: it reads as absent and leaves every list. Its memberships stay
    /// as they are.
    ///
    /// # Errors
    /// [`ProjectStateError::Deleted`] if it already is.
    pub fn soft_delete(&mut self, now: DateTime<Utc>) -> Result<(), ProjectStateError> {
        self.touch(now)?;
        self.deleted_at = Some(now);
        Ok(())
    }

    const fn ensure_live(&self) -> Result<(), MembershipError> {
        if self.deleted_at.is_some() { Err(MembershipError::ProjectDeleted) } else { Ok(()) }
    }

    fn ensure_own(&self, membership: &Membership) -> Result<(), MembershipError> {
        if membership.project_id() == self.id { Ok(()) } else { Err(MembershipError::NotInProject) }
    }

    /// Whether `membership` is the owner's. Judged by both the project's `owner_id` and the
    /// membership's role, so inconsistent inputs are never taken for a plain member.
    fn owns(&self, membership: &Membership) -> bool {
        membership.user_id() == self.owner_id || membership.is_owner()
    }

    /// Makes `user` a member with `role`. `existing` is the user's current membership of this
    /// project, if any.
    ///
    /// # Errors
    /// [`MembershipError::OwnerByTransferOnly`] for `owner`; [`MembershipError::AlreadyMember`]
    /// when `existing` is a membership; [`MembershipError::ProjectDeleted`].
    pub fn add_member(
        &self,
        user: UserId,
        role: ProjectRole,
        existing: Option<&Membership>,
        now: DateTime<Utc>,
    ) -> Result<Membership, MembershipError> {
        self.ensure_live()?;
        if role == ProjectRole::Owner {
            return Err(MembershipError::OwnerByTransferOnly);
        }
        if existing.is_some_and(|m| m.project_id() == self.id && m.user_id() == user) || user == self.owner_id {
            return Err(MembershipError::AlreadyMember);
        }
        Ok(Membership::new(self.id, user, role, now))
    }

    /// Changes a member's role. Asking for the role it already has changes nothing.
    ///
    /// # Errors
    /// [`MembershipError::OwnerByTransferOnly`] for `owner`; [`MembershipError::OwnerCannotBeDemoted`]
    /// for the owner's membership; [`MembershipError::NotInProject`];
    /// [`MembershipError::ProjectDeleted`].
    pub fn change_member_role(
        &self,
        membership: &mut Membership,
        role: ProjectRole,
        now: DateTime<Utc>,
    ) -> Result<(), MembershipError> {
        self.ensure_live()?;
        self.ensure_own(membership)?;
        if role == ProjectRole::Owner {
            return Err(MembershipError::OwnerByTransferOnly);
        }
        if self.owns(membership) {
            return Err(MembershipError::OwnerCannotBeDemoted);
        }
        if membership.role() != role {
            membership.set_role(role, now);
        }
        Ok(())
    }

    /// Checks that `membership` may end (by removal, or by the member leaving).
    ///
    /// # Errors
    /// [`MembershipError::OwnerCannotBeRemoved`] for the owner's membership;
    /// [`MembershipError::NotInProject`]; [`MembershipError::ProjectDeleted`].
    pub fn remove_member(&self, membership: &Membership) -> Result<(), MembershipError> {
        self.ensure_live()?;
        self.ensure_own(membership)?;
        if self.owns(membership) {
            return Err(MembershipError::OwnerCannotBeRemoved);
        }
        Ok(())
    }

    /// Hands the project over: the member `target` becomes its owner and the old owner (whose
    /// membership is `owner`) a maintainer. The project and both memberships move to their next
    /// version.
    ///
    /// # Errors
    /// [`MembershipError::AlreadyOwner`] when `target` is the owner;
    /// [`MembershipError::OwnerMismatch`] when `owner` is not the owner's membership;
    /// [`MembershipError::NotInProject`]; [`MembershipError::ProjectDeleted`].
    pub fn transfer(
        &mut self,
        owner: &mut Membership,
        target: &mut Membership,
        now: DateTime<Utc>,
    ) -> Result<(), MembershipError> {
        self.ensure_live()?;
        self.ensure_own(owner)?;
        self.ensure_own(target)?;
        if self.owns(target) {
            return Err(MembershipError::AlreadyOwner);
        }
        if owner.user_id() != self.owner_id || !owner.is_owner() {
            return Err(MembershipError::OwnerMismatch);
        }
        self.touch(now).map_err(|_| MembershipError::ProjectDeleted)?;
        self.owner_id = target.user_id();
        owner.set_role(ProjectRole::Maintainer, now);
        target.set_role(ProjectRole::Owner, now);
        Ok(())
    }
}
