//! Projects in memory: the [`ProjectRepository`] of the store, and how it applies
//! [`ProjectChange`]s with the rules the schema keeps by itself (one owner per project, one live
//! name per owner).

use async_trait::async_trait;
use forge_domain::{
    projects::{Membership, MembershipParts, Project, ProjectId, ProjectName},
    users::UserId,
};

use super::store::{Apply, InMemoryStore, Tables, constraint, count, directed, guard, page_of, refused, search_term};
use crate::{
    common::{CommitError, Page, UnexpectedError},
    projects::{
        ProjectChange, ProjectConstraint,
        ports::{
            Member, MemberQuery, MemberSort, ProjectFilter, ProjectQuery, ProjectRepository, ProjectSort, ProjectView,
        },
    },
};

impl Apply for ProjectChange {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        match self {
            Self::Insert(project) => {
                if tables.projects.contains(&project.id()) {
                    return Err(refused("PRIMARY KEY projects.id"));
                }
                tables.require_user(project.owner_id(), "FOREIGN KEY projects.owner_id")?;
                check_name(tables, &project)?;
                tables.projects.put(project.id(), project);
            }
            Self::Update { project, expected_version } => {
                // `UPDATE ... WHERE id = ? AND version = ?`: no row matched, nothing was checked.
                guard(tables.projects.get(&project.id()).is_some_and(|stored| stored.version() == expected_version))?;
                tables.require_user(project.owner_id(), "FOREIGN KEY projects.owner_id")?;
                check_name(tables, &project)?;
                tables.projects.put(project.id(), project);
            }
            Self::AddMember(membership) => {
                let key = (membership.project_id(), membership.user_id());
                if !tables.projects.contains(&key.0) {
                    return Err(refused("FOREIGN KEY project_members.project_id"));
                }
                tables.require_user(key.1, "FOREIGN KEY project_members.user_id")?;
                if tables.members.contains(&key) {
                    return Err(constraint(ProjectConstraint::AlreadyMember));
                }
                check_one_owner(tables, &membership)?;
                tables.members.put(key, membership);
            }
            Self::UpdateMember { membership, expected_version } => {
                let key = (membership.project_id(), membership.user_id());
                let Some(stored) = tables.members.get(&key).filter(|stored| stored.version() == expected_version)
                else {
                    return Err(CommitError::Stale);
                };
                // What the adapter writes: the role, the version and `updated_at`.
                let updated = Membership::from_parts(MembershipParts {
                    project_id: key.0,
                    user_id: key.1,
                    role: membership.role(),
                    added_at: stored.added_at(),
                    updated_at: membership.updated_at(),
                    version: membership.version(),
                });
                check_one_owner(tables, &updated)?;
                tables.members.put(key, updated);
            }
            Self::RemoveMember { project_id, user_id, expected_version } => {
                let key = (project_id, user_id);
                // Never the owner's: whatever a use case asks, a project keeps its owner.
                guard(
                    tables
                        .members
                        .get(&key)
                        .is_some_and(|stored| stored.version() == expected_version && !stored.is_owner()),
                )?;
                tables.members.delete(&key);
            }
        }
        Ok(())
    }
}

/// The partial unique index on `(owner_id, name_lower)` of live projects: a live project's name
/// must not be another live project's of the same owner, ignoring case.
fn check_name(tables: &Tables, project: &Project) -> Result<(), CommitError> {
    if project.is_deleted() {
        return Ok(());
    }
    let name = project.name().normalized();
    let clash = tables.projects.values().any(|other| {
        other.id() != project.id()
            && !other.is_deleted()
            && other.owner_id() == project.owner_id()
            && other.name().normalized() == name
    });
    if clash { Err(constraint(ProjectConstraint::NameTaken)) } else { Ok(()) }
}

/// The partial unique index on the owner memberships of a project: a second owner is stale, since
/// the write was based on an owner who no longer is one.
fn check_one_owner(tables: &Tables, membership: &Membership) -> Result<(), CommitError> {
    if !membership.is_owner() {
        return Ok(());
    }
    let another = tables.members.values().any(|other| {
        other.project_id() == membership.project_id() && other.user_id() != membership.user_id() && other.is_owner()
    });
    guard(!another)
}

/// The member count of `project`, the owner included.
fn members_of(tables: &Tables, project: ProjectId) -> u64 {
    count(tables.members.values().filter(|m| m.project_id() == project))
}

/// A membership with its member's username, or nothing when the user is not stored (the
/// repository joins `users`, which the foreign key makes impossible anyway).
fn with_username(tables: &Tables, membership: &Membership) -> Option<Member> {
    let user = tables.users.get(&membership.user_id())?;
    Some(Member { membership: membership.clone(), username: user.username().clone() })
}

#[async_trait]
impl ProjectRepository for InMemoryStore {
    async fn by_id(&self, id: ProjectId) -> Result<Option<Project>, UnexpectedError> {
        Ok(self.tables().projects.get(&id).cloned())
    }

    async fn owned_with_name(&self, owner: UserId, name: &ProjectName) -> Result<Option<Project>, UnexpectedError> {
        let name = name.normalized();
        let tables = self.tables();
        let found = tables
            .projects
            .values()
            .find(|p| p.owner_id() == owner && !p.is_deleted() && p.name().normalized() == name)
            .cloned();
        Ok(found)
    }

    async fn list(&self, query: &ProjectQuery, viewer: UserId) -> Result<Page<ProjectView>, UnexpectedError> {
        let tables = self.tables();
        let search = search_term(query.filter.search.as_deref());
        let mut rows: Vec<&Project> = tables
            .projects
            .values()
            .filter(|p| !p.is_deleted() && matches(&tables, &query.filter, search.as_deref(), p))
            .collect();
        let order = query.order;
        rows.sort_by(|a, b| {
            let by_field = match query.sort {
                ProjectSort::CreatedAt => a.created_at().cmp(&b.created_at()),
                ProjectSort::UpdatedAt => a.updated_at().cmp(&b.updated_at()),
                ProjectSort::Name => a.name().normalized().cmp(&b.name().normalized()),
            };
            directed(by_field.then_with(|| a.id().cmp(&b.id())), order)
        });
        let page = page_of(&rows, query.page);
        Ok(page.map(|project| ProjectView {
            member_count: members_of(&tables, project.id()),
            viewer_role: tables.members.get(&(project.id(), viewer)).map(Membership::role),
            project,
        }))
    }

    async fn member_count(&self, project: ProjectId) -> Result<u64, UnexpectedError> {
        Ok(members_of(&self.tables(), project))
    }

    async fn member(&self, project: ProjectId, user: UserId) -> Result<Option<Member>, UnexpectedError> {
        let tables = self.tables();
        Ok(tables.members.get(&(project, user)).and_then(|membership| with_username(&tables, membership)))
    }

    async fn members(&self, project: ProjectId, query: &MemberQuery) -> Result<Page<Member>, UnexpectedError> {
        let tables = self.tables();
        let mut rows: Vec<Member> = tables
            .members
            .values()
            .filter(|m| m.project_id() == project && query.role.is_none_or(|role| m.role() == role))
            .filter_map(|m| with_username(&tables, m))
            .collect();
        rows.sort_by(|a, b| {
            let by_field = match query.sort {
                MemberSort::AddedAt => a.membership.added_at().cmp(&b.membership.added_at()),
                MemberSort::Username => a.username.normalized().cmp(&b.username.normalized()),
            };
            directed(by_field.then_with(|| a.membership.user_id().cmp(&b.membership.user_id())), query.order)
        });
        Ok(page_of(&rows.iter().collect::<Vec<_>>(), query.page))
    }
}

/// Whether `project` passes every filter that is set. The search term is lower-cased already and
/// matched as a substring of the lower-cased name.
fn matches(tables: &Tables, filter: &ProjectFilter, search: Option<&str>, project: &Project) -> bool {
    filter.status.is_none_or(|status| project.status() == status)
        && filter.owner_id.is_none_or(|owner| project.owner_id() == owner)
        && filter.member.is_none_or(|member| tables.members.contains(&(project.id(), member)))
        && search.is_none_or(|term| project.name().normalized().contains(term))
}
