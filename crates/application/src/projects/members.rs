//! A project's members: listing them, adding one, changing a role and removing one (or leaving).

use forge_domain::{
    projects::{Membership, MembershipError, Project, ProjectId, ProjectRole},
    users::{Email, User, UserId},
};

use super::{
    ProjectChange, ProjectService,
    audit_trail::{membership_audit, membership_snapshot},
    errors::ProjectError,
    policy::ProjectAction,
    ports::{Member, MemberQuery},
};
use crate::{
    audit::{AuditAction, EventType, OutboxEvent, Snapshot},
    common::{Actor, Changes, FieldError, Fields, Page, Parsed, Staleness, ValidationErrors},
};

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

impl ProjectService {
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

/// The user a [`MemberRef`] names, once its address (if any) has parsed.
enum MemberKey {
    Id(UserId),
    Email(Email),
}

fn member_of(membership: Membership, user: &User) -> Member {
    Member { membership, username: user.username().clone() }
}
