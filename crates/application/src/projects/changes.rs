//! The writes of projects and memberships, and the uniqueness rules they can break.

use forge_domain::{
    projects::{Membership, Project, ProjectId},
    users::UserId,
};

use crate::common::{Change, Constraint};

/// A write of a project or of one of its memberships, stored by the
/// [`UnitOfWork`](crate::common::UnitOfWork).
///
/// Storage keeps exactly one owner per project even if a use case were to get it wrong: a write
/// that would make a second owner is [`CommitError::Stale`](crate::common::CommitError::Stale),
/// since it was based on an owner who no longer is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectChange {
    /// Stores a new project. A live project of the same owner with the same name (ignoring case)
    /// is refused with [`ProjectConstraint::NameTaken`].
    Insert(Project),
    /// Stores every field of an existing project, provided the stored row is still at
    /// `expected_version`; otherwise `Stale`. A name (or, on transfer, an owner) that clashes
    /// with another live project of the owner is [`ProjectConstraint::NameTaken`].
    Update {
        /// The project as it should be stored.
        project: Project,
        /// The version the change was based on.
        expected_version: i64,
    },
    /// Stores a new membership. An existing membership of the same user is refused with
    /// [`ProjectConstraint::AlreadyMember`].
    AddMember(Membership),
    /// Stores a membership's role, provided the stored row is still at `expected_version`;
    /// otherwise `Stale`.
    UpdateMember {
        /// The membership as it should be stored.
        membership: Membership,
        /// The version the change was based on.
        expected_version: i64,
    },
    /// Ends a membership, provided it is still at `expected_version` and is not the owner's;
    /// otherwise `Stale`.
    RemoveMember {
        /// The project.
        project_id: ProjectId,
        /// The member.
        user_id: UserId,
        /// The version the removal was based on.
        expected_version: i64,
    },
}

impl Change for ProjectChange {}

/// The uniqueness rules of projects a [`ProjectChange`] can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProjectConstraint {
    /// The owner already has a live project with this name (ignoring case).
    #[error("the owner already has a project with this name")]
    NameTaken,
    /// The user already is a member of the project.
    #[error("the user is already a member of the project")]
    AlreadyMember,
}

impl Constraint for ProjectConstraint {}
