//! The projects service: its ports, and starting, listing, reading, changing and deleting
//! projects. Members are managed in [`super::members`], hand-overs in [`super::transfer`]; the
//! loading and authorization every use case starts with is here.

use std::sync::Arc;

use forge_domain::{
    projects::{NewProject, Project, ProjectDescription, ProjectId, ProjectName, ProjectRole, ProjectStatus},
    users::UserId,
};

use super::{
    ProjectChange,
    audit_trail::{project_audit, project_created_audit},
    errors::{ProjectConflict, ProjectError},
    policy::{self, ProjectAction, ProjectViewer, Refusal},
    ports::{Member, ProjectQuery, ProjectRepository, ProjectView},
};
use crate::{
    audit::AuditAction,
    common::{Actor, Changes, Clock, Fields, Page, Parsed, Staleness, UnitOfWork},
    users::ports::UserRepository,
};

/// The ports the projects capability needs.
#[derive(Clone)]
#[allow(missing_docs)]
pub struct ProjectPorts {
    pub projects: Arc<dyn ProjectRepository>,
    pub users: Arc<dyn UserRepository>,
    pub unit_of_work: Arc<dyn UnitOfWork>,
    pub clock: Arc<dyn Clock>,
}

/// A new project.
#[derive(Debug, Clone)]
pub struct CreateProjectCommand {
    /// Raw name.
    pub name: String,
    /// Raw description; blank means none.
    pub description: Option<String>,
}

/// Changes to a project. `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectUpdate {
    /// New raw name.
    pub name: Option<String>,
    /// New raw description, or `Some(None)` (or a blank one) to clear it.
    pub description: Option<Option<String>>,
    /// New raw status name (`active` or `archived`).
    pub status: Option<String>,
    /// When set, the change applies only if the project is still at this version.
    pub expected_version: Option<i64>,
}

/// Which projects a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProjectScope {
    /// The projects the caller is a member of (the default).
    #[default]
    Member,
    /// Every project (admins only).
    All,
}

/// Projects and their members.
#[derive(Clone)]
pub struct ProjectService {
    pub(super) ports: ProjectPorts,
}

/// A live project the caller was allowed to act on, with the caller's own membership.
pub(super) struct Access {
    pub(super) project: Project,
    pub(super) own: Option<Member>,
}

impl Access {
    pub(super) fn role(&self) -> Option<ProjectRole> {
        self.own.as_ref().map(|m| m.membership.role())
    }
}

impl ProjectService {
    /// Builds the service.
    #[must_use]
    pub const fn new(ports: ProjectPorts) -> Self {
        Self { ports }
    }

    /// Starts a project owned by the caller.
    ///
    /// # Errors
    /// Every invalid field; [`ProjectConflict::NameTaken`] when the caller already owns a live project
    /// with this name (ignoring case).
    #[tracing::instrument(skip_all, fields(actor = %actor.id()))]
    pub async fn create(&self, actor: &Actor, cmd: CreateProjectCommand) -> Result<ProjectView, ProjectError> {
        let name = Parsed::field("name", ProjectName::parse(&cmd.name));
        let description = match cmd.description.as_deref() {
            Some(raw) => parse_description(raw),
            None => Parsed::valid(None),
        };
        let (name, description) = (name, description).finish()?;
        if self.ports.projects.owned_with_name(actor.id(), &name).await?.is_some() {
            return Err(ProjectConflict::NameTaken.into());
        }
        let now = self.ports.clock.now();
        let (project, owner) = Project::create(actor.id(), NewProject { name, description }, now);
        let audit = project_created_audit(actor, &project, now);
        self.ports
            .unit_of_work
            .commit(
                Changes::new()
                    .with(ProjectChange::Insert(project.clone()))
                    .with(ProjectChange::AddMember(owner))
                    .with(audit),
            )
            .await
            .map_err(|e| ProjectError::of_commit(e, None))?;
        tracing::info!(project_id = %project.id(), "project created");
        Ok(ProjectView { project, member_count: 1, viewer_role: Some(ProjectRole::Owner) })
    }

    /// Whether the caller may list projects in `scope`: lets a caller refuse before even parsing
    /// the rest of a query.
    ///
    /// # Errors
    /// [`ProjectError::Forbidden`] for `scope=all` by anyone but an admin.
    pub fn authorize_list(&self, actor: &Actor, scope: ProjectScope) -> Result<(), ProjectError> {
        match scope {
            ProjectScope::Member => Ok(()),
            ProjectScope::All if policy::can_list_all(actor.role()) => Ok(()),
            ProjectScope::All => Err(ProjectError::Forbidden),
        }
    }

    /// A page of the projects the caller belongs to, or of every project (admins, `scope=all`).
    /// Whatever `query.filter.member` holds is replaced according to the scope.
    ///
    /// # Errors
    /// As [`ProjectService::authorize_list`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), scope = ?scope))]
    pub async fn list(
        &self,
        actor: &Actor,
        scope: ProjectScope,
        mut query: ProjectQuery,
    ) -> Result<Page<ProjectView>, ProjectError> {
        self.authorize_list(actor, scope)?;
        query.filter.member = match scope {
            ProjectScope::Member => Some(actor.id()),
            ProjectScope::All => None,
        };
        Ok(self.ports.projects.list(&query, actor.id()).await?)
    }

    /// Whether the caller may list the projects of `user`: itself, admins and managers.
    ///
    /// # Errors
    /// [`ProjectError::Forbidden`] for anyone else.
    pub fn authorize_list_of(&self, actor: &Actor, user: UserId) -> Result<(), ProjectError> {
        if policy::can_list_projects_of(actor.id(), actor.role(), user) { Ok(()) } else { Err(ProjectError::Forbidden) }
    }

    /// A page of the projects `user` belongs to. Each carries the caller's role in it, not the
    /// user's.
    ///
    /// # Errors
    /// [`ProjectError::Forbidden`] (checked before existence, so ids reveal nothing);
    /// [`ProjectError::UserNotFound`] for unknown or deleted users.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), user_id = %user))]
    pub async fn list_of_user(
        &self,
        actor: &Actor,
        user: UserId,
        mut query: ProjectQuery,
    ) -> Result<Page<ProjectView>, ProjectError> {
        self.authorize_list_of(actor, user)?;
        if self.ports.users.by_id(user).await?.is_none_or(|u| u.is_deleted()) {
            return Err(ProjectError::UserNotFound);
        }
        query.filter.member = Some(user);
        Ok(self.ports.projects.list(&query, actor.id()).await?)
    }

    /// One project: for its members and admins.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`] for unknown or deleted projects, and for anyone who may not see
    /// the project.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id))]
    pub async fn get(&self, actor: &Actor, id: ProjectId) -> Result<ProjectView, ProjectError> {
        let access = self.access(actor, id, ProjectAction::Read).await?;
        self.view(access.project, access.own.map(|m| m.membership.role())).await
    }

    /// Changes a project's name, description or status: owner, maintainers, admins.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`], [`ProjectError::Forbidden`], every invalid field,
    /// [`ProjectConflict::NameTaken`], [`ProjectError::Stale`] when `expected_version` is not the
    /// current one or the write lost a race ([`Staleness::for_request`]).
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id))]
    pub async fn update(
        &self,
        actor: &Actor,
        id: ProjectId,
        update: ProjectUpdate,
    ) -> Result<ProjectView, ProjectError> {
        let access = self.access(actor, id, ProjectAction::Update).await?;
        let current = &access.project;
        Staleness::check(update.expected_version, current.version()).map_err(ProjectError::Stale)?;

        let name = Parsed::field("name", update.name.as_deref().map(ProjectName::parse).transpose());
        let description = match &update.description {
            Some(Some(raw)) => parse_description(raw).map(Some),
            Some(None) => Parsed::valid(Some(None)),
            None => Parsed::valid(None),
        };
        let status = Parsed::field("status", update.status.as_deref().map(str::parse::<ProjectStatus>).transpose());
        let (name, description, status) = (name, description, status).finish()?;

        if let Some(name) = &name
            && name.normalized() != current.name().normalized()
            && self.ports.projects.owned_with_name(current.owner_id(), name).await?.is_some_and(|p| p.id() != id)
        {
            return Err(ProjectConflict::NameTaken.into());
        }

        let now = self.ports.clock.now();
        let mut project = current.clone();
        let applied = (|| {
            if let Some(name) = name {
                project.rename(name, now)?;
            }
            if let Some(description) = description {
                project.set_description(description, now)?;
            }
            if let Some(status) = status {
                project.set_status(status, now)?;
            }
            Ok::<_, forge_domain::projects::ProjectStateError>(())
        })();
        applied.map_err(|_| ProjectError::NotFound)?;
        let role = access.role();
        if project.version() == current.version() {
            return self.view(project, role).await;
        }
        let audit = project_audit(AuditAction::ProjectUpdated, actor, current, &project, now);
        self.ports
            .unit_of_work
            .commit(
                Changes::new()
                    .with(ProjectChange::Update { project: project.clone(), expected_version: current.version() })
                    .with(audit),
            )
            .await
            .map_err(|e| ProjectError::of_commit(e, update.expected_version))?;
        self.view(project, role).await
    }

    /// Soft-deletes a project: owner, admins. It reads as absent and leaves every list.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`], [`ProjectError::Forbidden`], [`ProjectError::Stale`],
    /// [`ProjectError::Conflict`] as for [`ProjectService::update`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id))]
    pub async fn delete(
        &self,
        actor: &Actor,
        id: ProjectId,
        expected_version: Option<i64>,
    ) -> Result<(), ProjectError> {
        let access = self.access(actor, id, ProjectAction::Delete).await?;
        let current = &access.project;
        Staleness::check(expected_version, current.version()).map_err(ProjectError::Stale)?;
        let now = self.ports.clock.now();
        let mut project = current.clone();
        project.soft_delete(now).map_err(|_| ProjectError::NotFound)?;
        let audit = project_audit(AuditAction::ProjectDeleted, actor, current, &project, now);
        self.ports
            .unit_of_work
            .commit(
                Changes::new()
                    .with(ProjectChange::Update { project: project.clone(), expected_version: current.version() })
                    .with(audit),
            )
            .await
            .map_err(|e| ProjectError::of_commit(e, expected_version))?;
        tracing::info!(project_id = %id, "project deleted");
        Ok(())
    }

    /// Loads the live project `id` and the caller's membership, and decides `action`.
    pub(super) async fn access(
        &self,
        actor: &Actor,
        id: ProjectId,
        action: ProjectAction,
    ) -> Result<Access, ProjectError> {
        let project = match self.ports.projects.by_id(id).await? {
            Some(project) if !project.is_deleted() => project,
            _ => return Err(ProjectError::NotFound),
        };
        let own = self.ports.projects.member(id, actor.id()).await?;
        let viewer = ProjectViewer::new(actor.id(), actor.role(), own.as_ref().map(|m| m.membership.role()));
        policy::authorize(viewer, action).map_err(|refusal| match refusal {
            Refusal::NotFound => ProjectError::NotFound,
            Refusal::Forbidden => ProjectError::Forbidden,
        })?;
        Ok(Access { project, own })
    }

    /// The membership of `user` in the project of `access` (the caller's own without a lookup).
    pub(super) async fn target(&self, access: &Access, id: ProjectId, user: UserId) -> Result<Member, ProjectError> {
        if let Some(own) = access.own.as_ref().filter(|m| m.membership.user_id() == user) {
            return Ok(own.clone());
        }
        self.ports.projects.member(id, user).await?.ok_or(ProjectError::MemberNotFound)
    }

    pub(super) async fn view(
        &self,
        project: Project,
        viewer_role: Option<ProjectRole>,
    ) -> Result<ProjectView, ProjectError> {
        let member_count = self.ports.projects.member_count(project.id()).await?;
        Ok(ProjectView { project, member_count, viewer_role })
    }
}

/// A description: blank clears it.
fn parse_description(raw: &str) -> Parsed<Option<ProjectDescription>> {
    if raw.trim().is_empty() {
        return Parsed::valid(None);
    }
    Parsed::field("description", ProjectDescription::parse(raw)).map(Some)
}
