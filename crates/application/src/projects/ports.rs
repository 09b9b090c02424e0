//! What the projects capability needs from the outside world, and the read models it returns.

use async_trait::async_trait;
use forge_domain::{
    projects::{Membership, Project, ProjectId, ProjectName, ProjectRole, ProjectStatus},
    users::{UserId, Username},
};

use crate::common::{Page, PageRequest, SortOrder, UnexpectedError};

/// A project as one user sees it: the project, how many members it has, and that user's role in
/// it (none when the user is not a member, e.g. an admin looking at every project).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    /// The project.
    pub project: Project,
    /// How many members it has, the owner included.
    pub member_count: u64,
    /// The role in the project of the user the view was made for.
    pub viewer_role: Option<ProjectRole>,
}

/// A membership with the member's username, as member lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The membership.
    pub membership: Membership,
    /// The member's username.
    pub username: Username,
}

/// Fields a project list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProjectSort {
    /// Creation time (the default, newest first).
    #[default]
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
    /// Name, case-insensitively.
    Name,
}

/// Filters of a project list. Soft-deleted projects never appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFilter {
    /// Case-insensitive substring of the name. Matched literally: `%` and `_` are not wildcards.
    pub search: Option<String>,
    /// Only projects in this status.
    pub status: Option<ProjectStatus>,
    /// Only projects owned by this user.
    pub owner_id: Option<UserId>,
    /// Only projects this user is a member of; `None` for every project. Set by the use case from
    /// the caller and the scope it asked for, never taken from a request as is.
    pub member: Option<UserId>,
}

/// A complete project list query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectQuery {
    /// Which projects.
    pub filter: ProjectFilter,
    /// In which order (ties broken by id, so pages never overlap).
    pub sort: ProjectSort,
    /// Ascending or descending.
    pub order: SortOrder,
    /// Which page.
    pub page: PageRequest,
}

/// Fields a member list can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberSort {
    /// When the member joined (the default).
    #[default]
    AddedAt,
    /// Username, case-insensitively.
    Username,
}

/// A member list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberQuery {
    /// Only members with this role.
    pub role: Option<ProjectRole>,
    /// In which order (ties broken by user id).
    pub sort: MemberSort,
    /// Ascending (the default: the first members first) or descending.
    pub order: SortOrder,
    /// Which page.
    pub page: PageRequest,
}

impl Default for MemberQuery {
    fn default() -> Self {
        Self { role: None, sort: MemberSort::AddedAt, order: SortOrder::Asc, page: PageRequest::default() }
    }
}

/// Reads projects and their members. Writes go through [`UnitOfWork`](crate::common::UnitOfWork).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// The project with this id, soft-deleted or not.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_id(&self, id: ProjectId) -> Result<Option<Project>, UnexpectedError>;

    /// The live (not deleted) project of `owner` whose name equals `name` ignoring case.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn owned_with_name(&self, owner: UserId, name: &ProjectName) -> Result<Option<Project>, UnexpectedError>;

    /// One page of live projects matching the query, with the total count, each with its member
    /// count and the role of `viewer` in it.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn list(&self, query: &ProjectQuery, viewer: UserId) -> Result<Page<ProjectView>, UnexpectedError>;

    /// How many members the project has, the owner included.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn member_count(&self, project: ProjectId) -> Result<u64, UnexpectedError>;

    /// The membership of `user` in `project`, with the member's username.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn member(&self, project: ProjectId, user: UserId) -> Result<Option<Member>, UnexpectedError>;

    /// One page of the members of `project` matching the query, with the total count.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn members(&self, project: ProjectId, query: &MemberQuery) -> Result<Page<Member>, UnexpectedError>;
}
