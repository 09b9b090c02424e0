//! Projects and memberships through the cache.

use std::sync::Arc;

use async_trait::async_trait;
use forge_application::{
    Page, UnexpectedError,
    projects::ports::{Member, MemberQuery, ProjectQuery, ProjectRepository, ProjectView},
    users::ports::UserRepository,
};
use forge_domain::{
    projects::{Membership, Project, ProjectId, ProjectName},
    users::UserId,
};

use super::{CacheKey, ReadCache};
use crate::persistence::{
    SeaProjectRepository,
    entities::{project_members, projects as rows},
    projects::{membership_to_domain, to_domain},
};

/// [`ProjectRepository`] reading projects by id and memberships through the [`ReadCache`] (a
/// member's username comes from the cached account); every other read goes to the database.
pub struct CachedProjects {
    database: SeaProjectRepository,
    users: Arc<dyn UserRepository>,
    cache: Arc<ReadCache>,
}

impl std::fmt::Debug for CachedProjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedProjects").finish_non_exhaustive()
    }
}

impl CachedProjects {
    /// Reads through `cache`, then `database`; usernames through `users`.
    #[must_use]
    pub fn new(database: SeaProjectRepository, users: Arc<dyn UserRepository>, cache: Arc<ReadCache>) -> Self {
        Self { database, users, cache }
    }

    async fn membership(&self, project: ProjectId, user: UserId) -> Result<Option<Membership>, UnexpectedError> {
        let key = (project.as_uuid(), user.as_uuid());
        let load = self.cache.shared_or::<project_members::Model, _>(
            CacheKey::Member(key.0, key.1),
            self.database.membership_row(project, user),
            membership_to_domain,
        );
        self.cache.through(&self.cache.memberships, key, load).await
    }
}

#[async_trait]
impl ProjectRepository for CachedProjects {
    async fn by_id(&self, id: ProjectId) -> Result<Option<Project>, UnexpectedError> {
        let load = self.cache.shared_or::<rows::Model, _>(
            CacheKey::Project(id.as_uuid()),
            self.database.row_by_id(id),
            to_domain,
        );
        self.cache.through(&self.cache.projects, id.as_uuid(), load).await
    }

    async fn owned_with_name(&self, owner: UserId, name: &ProjectName) -> Result<Option<Project>, UnexpectedError> {
        self.database.owned_with_name(owner, name).await
    }

    async fn list(&self, query: &ProjectQuery, viewer: UserId) -> Result<Page<ProjectView>, UnexpectedError> {
        self.database.list(query, viewer).await
    }

    async fn member_count(&self, project: ProjectId) -> Result<u64, UnexpectedError> {
        self.database.member_count(project).await
    }

    async fn member(&self, project: ProjectId, user: UserId) -> Result<Option<Member>, UnexpectedError> {
        let Some(membership) = self.membership(project, user).await? else { return Ok(None) };
        match self.users.by_id(user).await? {
            Some(account) => Ok(Some(Member { membership, username: account.username().clone() })),
            // A membership row always has its account (a foreign key); read it whole if not.
            None => self.database.member(project, user).await,
        }
    }

    async fn members(&self, project: ProjectId, query: &MemberQuery) -> Result<Page<Member>, UnexpectedError> {
        self.database.members(project, query).await
    }
}
