use std::sync::Arc;

use chrono::{DateTime, Utc};
use forge_domain::{
    projects::{
        Membership, MembershipError, NewProject, Project, ProjectDescription, ProjectId, ProjectName, ProjectRole,
        ProjectStatus,
    },
    users::{Email, User, UserId},
};

use super::{
    ProjectChange,
    errors::{ProjectConflict, ProjectError},
    policy::{self, ProjectAction, ProjectViewer, Refusal},
    ports::{Member, MemberQuery, ProjectQuery, ProjectRepository, ProjectView},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditRecord, EventType, OutboxEvent, Snapshot},
    common::{
        Actor, Changes, Clock, FieldError, Fields, Page, Parsed, Staleness, UnexpectedError, UnitOfWork,
        ValidationErrors,
    },
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

/// The user a new membership is for: by id or by e-mail address, exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    /// By id (reported as the field `user_id`).
    Id(UserId),
    /// By raw e-mail address (reported as the field `email`).
    Email(String),
}

/// A new member.
#[derive(Debug, Clone)]
pub struct AddMemberCommand {
    /// Who.
    pub member: MemberRef,
    /// Raw role name: `maintainer` or `viewer`.
    pub role: String,
}

/// A new role for a member.
#[derive(Debug, Clone)]
pub struct ChangeRoleCommand {
    /// Raw role name: `maintainer` or `viewer`.
    pub role: String,
    /// When set, the change applies only if the membership is still at this version.
    pub expected_version: Option<i64>,
}

/// A hand-over of a project.
#[derive(Debug, Clone)]
pub struct TransferCommand {
    /// The member who becomes the owner.
    pub user_id: UserId,
    /// When set, the transfer applies only if the project is still at this version.
    pub expected_version: Option<i64>,
}

/// One membership as the caller sees it, with the project it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// The project.
    pub project: Project,
    /// The membership and the member's username.
    pub member: Member,
    /// The caller's role in the project.
    pub viewer_role: Option<ProjectRole>,
}

/// A page of a project's members as the caller sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    /// The project.
    pub project: Project,
    /// The caller's role in the project.
    pub viewer_role: Option<ProjectRole>,
    /// The members.
    pub members: Page<Member>,
}

/// Projects and their members.
#[derive(Clone)]
pub struct ProjectService {
    ports: ProjectPorts,
}

/// A live project the caller was allowed to act on, with the caller's own membership.
struct Access {
    project: Project,
    own: Option<Member>,
}

impl Access {
    fn role(&self) -> Option<ProjectRole> {
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
        let audit = AuditRecord::new(
            AuditAction::ProjectCreated,
            AuditEntity::Project,
            project.id(),
            Some(actor.id()),
            actor.context(),
            now,
        )
        .after(project_snapshot(&project));
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

    /// A page of a project's members: for its members and admins.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`] as for [`ProjectService::get`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id))]
    pub async fn members(&self, actor: &Actor, id: ProjectId, query: &MemberQuery) -> Result<MemberList, ProjectError> {
        let access = self.access(actor, id, ProjectAction::ListMembers).await?;
        let members = self.ports.projects.members(id, query).await?;
        let viewer_role = access.role();
        Ok(MemberList { project: access.project, viewer_role, members })
    }

    /// Adds a member, by user id or e-mail address, as maintainer or viewer: owner, maintainers,
    /// admins. The new member is notified (an outbox event stored with the change).
    ///
    /// # Errors
    /// [`ProjectError::NotFound`], [`ProjectError::Forbidden`]; every invalid field, an unknown
    /// or deleted user (naming `user_id` or `email`) and `owner` as the role (ownership moves only
    /// by transfer) as [`ProjectError::Validation`]; [`ProjectError::Conflict`] when the user
    /// already is a member.
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id))]
    pub async fn add_member(
        &self,
        actor: &Actor,
        id: ProjectId,
        cmd: AddMemberCommand,
    ) -> Result<MemberView, ProjectError> {
        let access = self.access(actor, id, ProjectAction::AddMember).await?;
        let role = grantable_role(&cmd.role);
        let member = match &cmd.member {
            MemberRef::Id(user_id) => Parsed::valid(MemberKey::Id(*user_id)),
            MemberRef::Email(raw) => Parsed::field("email", Email::parse(raw)).map(MemberKey::Email),
        };
        let (role, member) = (role, member).finish()?;
        let user = match member {
            MemberKey::Id(user_id) => self.ports.users.by_id(user_id).await?,
            MemberKey::Email(email) => self.ports.users.by_email(&email).await?,
        };
        let Some(user) = user.filter(|u| !u.is_deleted()) else {
            let field = match cmd.member {
                MemberRef::Id(_) => "user_id",
                MemberRef::Email(_) => "email",
            };
            return Err(unknown_user(field).into());
        };

        let project = access.project;
        let existing = self.ports.projects.member(id, user.id()).await?;
        let now = self.ports.clock.now();
        let membership = project
            .add_member(user.id(), role, existing.as_ref().map(|m| &m.membership), now)
            .map_err(|e| ProjectError::of_membership(e, None))?;
        let audit = membership_audit(AuditAction::ProjectMemberAdded, actor, &membership, now)
            .after(membership_snapshot(&membership));
        let event = OutboxEvent::new(
            EventType::ProjectMemberAdded,
            user.id(),
            Snapshot::new()
                .with("project_id", project.id().to_string())
                .with("project_name", project.name().as_ref())
                .with("role", role.as_str())
                .with("added_by", actor.id().to_string()),
            now,
        );
        self.ports
            .unit_of_work
            .commit(Changes::new().with(ProjectChange::AddMember(membership.clone())).with(audit).with(event))
            .await
            .map_err(|e| ProjectError::of_commit(e, None))?;
        tracing::info!(project_id = %id, user_id = %user.id(), role = %role, "member added");
        let viewer_role = access.own.map(|m| m.membership.role());
        Ok(MemberView { project, member: member_of(membership, &user), viewer_role })
    }

    /// Changes a member's role to maintainer or viewer: owner, admins. The owner's role cannot be
    /// changed (transfer the project instead).
    ///
    /// # Errors
    /// [`ProjectError::NotFound`], [`ProjectError::Forbidden`], [`ProjectError::MemberNotFound`],
    /// [`ProjectError::Validation`] for a role that is not `maintainer` or `viewer`,
    /// [`ProjectError::Conflict`] for the owner, [`ProjectError::Stale`] as for
    /// [`ProjectService::update`] (against the membership's version).
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id, user_id = %user))]
    pub async fn change_member_role(
        &self,
        actor: &Actor,
        id: ProjectId,
        user: UserId,
        cmd: ChangeRoleCommand,
    ) -> Result<MemberView, ProjectError> {
        let access = self.access(actor, id, ProjectAction::ChangeMemberRole).await?;
        let target = self.target(&access, id, user).await?;
        let current = &target.membership;
        Staleness::check(cmd.expected_version, current.version()).map_err(ProjectError::Stale)?;
        let role = grantable_role(&cmd.role).finish()?;

        let now = self.ports.clock.now();
        let mut membership = current.clone();
        access
            .project
            .change_member_role(&mut membership, role, now)
            .map_err(|e| ProjectError::of_membership(e, cmd.expected_version))?;
        let viewer_role = if actor.is(user) { Some(membership.role()) } else { access.role() };
        if membership.version() == current.version() {
            return Ok(MemberView { project: access.project, member: target, viewer_role });
        }
        let audit = membership_audit(AuditAction::ProjectMemberRoleChanged, actor, &membership, now)
            .changed(&membership_snapshot(current), &membership_snapshot(&membership));
        let event = OutboxEvent::new(
            EventType::ProjectMemberRoleChanged,
            user,
            Snapshot::new()
                .with("project_id", id.to_string())
                .with("project_name", access.project.name().as_ref())
                .with("role", role.as_str())
                .with("changed_by", actor.id().to_string()),
            now,
        );
        self.ports
            .unit_of_work
            .commit(
                Changes::new()
                    .with(ProjectChange::UpdateMember {
                        membership: membership.clone(),
                        expected_version: current.version(),
                    })
                    .with(audit)
                    .with(event),
            )
            .await
            .map_err(|e| ProjectError::of_commit(e, cmd.expected_version))?;
        let member = Member { membership, username: target.username };
        Ok(MemberView { project: access.project, member, viewer_role })
    }

    /// Removes a member: owner, maintainers, admins, or the member itself (leaving). The owner
    /// cannot be removed and cannot leave.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`], [`ProjectError::Forbidden`], [`ProjectError::MemberNotFound`],
    /// [`ProjectError::Conflict`] for the owner, [`ProjectError::Stale`] as for
    /// [`ProjectService::update`] (against the membership's version).
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id, user_id = %user))]
    pub async fn remove_member(
        &self,
        actor: &Actor,
        id: ProjectId,
        user: UserId,
        expected_version: Option<i64>,
    ) -> Result<(), ProjectError> {
        let access = self.access(actor, id, ProjectAction::RemoveMember { target: user }).await?;
        let target = self.target(&access, id, user).await?;
        let membership = &target.membership;
        Staleness::check(expected_version, membership.version()).map_err(ProjectError::Stale)?;
        access.project.remove_member(membership).map_err(|e| ProjectError::of_membership(e, expected_version))?;
        let now = self.ports.clock.now();
        let audit = membership_audit(AuditAction::ProjectMemberRemoved, actor, membership, now)
            .before(membership_snapshot(membership));
        let mut changes = Changes::new()
            .with(ProjectChange::RemoveMember { project_id: id, user_id: user, expected_version: membership.version() })
            .with(audit);
        if !actor.is(user) {
            changes.push(OutboxEvent::new(
                EventType::ProjectMemberRemoved,
                user,
                Snapshot::new()
                    .with("project_id", id.to_string())
                    .with("project_name", access.project.name().as_ref())
                    .with("removed_by", actor.id().to_string()),
                now,
            ));
        }
        self.ports.unit_of_work.commit(changes).await.map_err(|e| ProjectError::of_commit(e, expected_version))?;
        tracing::info!(project_id = %id, user_id = %user, "member removed");
        Ok(())
    }

    /// Hands a project over to one of its members: owner, admins. The member becomes the owner,
    /// the old owner a maintainer, in one commit.
    ///
    /// # Errors
    /// [`ProjectError::NotFound`], [`ProjectError::Forbidden`]; [`ProjectError::Validation`]
    /// naming `user_id` when the user is not a member; [`ProjectError::Conflict`] when it already
    /// owns the project; [`ProjectConflict::NameTaken`] when it already owns a live project of the
    /// same name; [`ProjectError::Stale`] as for [`ProjectService::update`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), project_id = %id, to = %cmd.user_id))]
    pub async fn transfer(
        &self,
        actor: &Actor,
        id: ProjectId,
        cmd: TransferCommand,
    ) -> Result<ProjectView, ProjectError> {
        let access = self.access(actor, id, ProjectAction::Transfer).await?;
        let current = &access.project;
        Staleness::check(cmd.expected_version, current.version()).map_err(ProjectError::Stale)?;
        let target = match self.target(&access, id, cmd.user_id).await {
            Ok(target) => target,
            Err(ProjectError::MemberNotFound) => {
                return Err(
                    ValidationErrors::single("user_id", "NOT_A_MEMBER", "must be a member of the project").into()
                );
            }
            Err(e) => return Err(e),
        };
        if target.membership.user_id() == current.owner_id() {
            return Err(ProjectConflict::AlreadyOwner.into());
        }
        let owner = match self.target(&access, id, current.owner_id()).await {
            Ok(owner) => owner,
            Err(ProjectError::MemberNotFound) => {
                return Err(UnexpectedError::internal("the project's owner has no membership").into());
            }
            Err(e) => return Err(e),
        };
        if self.ports.projects.owned_with_name(cmd.user_id, current.name()).await?.is_some() {
            return Err(ProjectConflict::NameTaken.into());
        }

        let now = self.ports.clock.now();
        let mut project = current.clone();
        let (mut from, mut to) = (owner.membership.clone(), target.membership.clone());
        project.transfer(&mut from, &mut to, now).map_err(|e| ProjectError::of_membership(e, cmd.expected_version))?;
        let audit = project_audit(AuditAction::ProjectTransferred, actor, current, &project, now);
        let event = OutboxEvent::new(
            EventType::ProjectOwnershipTransferred,
            cmd.user_id,
            Snapshot::new()
                .with("project_id", id.to_string())
                .with("project_name", project.name().as_ref())
                .with("previous_owner_id", current.owner_id().to_string())
                .with("transferred_by", actor.id().to_string()),
            now,
        );
        // The old owner steps down before the new one steps up: storage never holds two owners,
        // not even in the middle of the transaction.
        let changes = Changes::new()
            .with(ProjectChange::UpdateMember {
                membership: from.clone(),
                expected_version: owner.membership.version(),
            })
            .with(ProjectChange::UpdateMember { membership: to.clone(), expected_version: target.membership.version() })
            .with(ProjectChange::Update { project: project.clone(), expected_version: current.version() })
            .with(audit)
            .with(event);
        self.ports.unit_of_work.commit(changes).await.map_err(|e| ProjectError::of_commit(e, cmd.expected_version))?;
        tracing::info!(project_id = %id, to = %cmd.user_id, "project transferred");
        let viewer_role = [&from, &to].into_iter().find(|m| actor.is(m.user_id())).map(|m| m.role()).or(access.role());
        self.view(project, viewer_role).await
    }

    /// Loads the live project `id` and the caller's membership, and decides `action`.
    async fn access(&self, actor: &Actor, id: ProjectId, action: ProjectAction) -> Result<Access, ProjectError> {
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
    async fn target(&self, access: &Access, id: ProjectId, user: UserId) -> Result<Member, ProjectError> {
        if let Some(own) = access.own.as_ref().filter(|m| m.membership.user_id() == user) {
            return Ok(own.clone());
        }
        self.ports.projects.member(id, user).await?.ok_or(ProjectError::MemberNotFound)
    }

    async fn view(&self, project: Project, viewer_role: Option<ProjectRole>) -> Result<ProjectView, ProjectError> {
        let member_count = self.ports.projects.member_count(project.id()).await?;
        Ok(ProjectView { project, member_count, viewer_role })
    }
}

/// The error for a user to add that does not exist (or is deleted), on the field that named it.
fn unknown_user(field: &str) -> ValidationErrors {
    ValidationErrors::single(field, "UNKNOWN_USER", "no such user")
}

/// A role that may be granted: `maintainer` or `viewer`; `owner` is refused as not allowed here.
fn grantable_role(raw: &str) -> Parsed<ProjectRole> {
    match raw.parse::<ProjectRole>() {
        Ok(ProjectRole::Owner) => {
            Parsed::invalid(FieldError::from_violation("role", &MembershipError::OwnerByTransferOnly))
        }
        Ok(role) => Parsed::valid(role),
        Err(_) => Parsed::invalid(FieldError::new("role", "INVALID_CHOICE", "must be one of: maintainer, viewer")),
    }
}

/// A description: blank clears it.
fn parse_description(raw: &str) -> Parsed<Option<ProjectDescription>> {
    if raw.trim().is_empty() {
        return Parsed::valid(None);
    }
    Parsed::field("description", ProjectDescription::parse(raw)).map(Some)
}

/// The user a [`MemberRef`] names, once its address (if any) has parsed.
enum MemberKey {
    Id(UserId),
    Email(Email),
}

fn member_of(membership: Membership, user: &User) -> Member {
    Member { membership, username: user.username().clone() }
}

/// The state of a project in the audit trail.
fn project_snapshot(project: &Project) -> Snapshot {
    Snapshot::new()
        .with("name", project.name().as_ref())
        .with("description", project.description().map(|d| d.as_ref().to_owned()))
        .with("status", project.status().as_str())
        .with("owner_id", project.owner_id().to_string())
        .with("deleted_at", project.deleted_at())
        .with("version", project.version())
}

/// The state of a membership in the audit trail.
fn membership_snapshot(membership: &Membership) -> Snapshot {
    Snapshot::new()
        .with("project_id", membership.project_id().to_string())
        .with("user_id", membership.user_id().to_string())
        .with("role", membership.role().as_str())
        .with("version", membership.version())
}

fn project_audit(
    action: AuditAction,
    actor: &Actor,
    before: &Project,
    after: &Project,
    at: DateTime<Utc>,
) -> AuditRecord {
    AuditRecord::new(action, AuditEntity::Project, after.id(), Some(actor.id()), actor.context(), at)
        .changed(&project_snapshot(before), &project_snapshot(after))
}

/// An entry about a membership, identified as `project_id:user_id`.
fn membership_audit(action: AuditAction, actor: &Actor, membership: &Membership, at: DateTime<Utc>) -> AuditRecord {
    let id = format!("{}:{}", membership.project_id(), membership.user_id());
    AuditRecord::new(action, AuditEntity::Membership, id, Some(actor.id()), actor.context(), at)
}
