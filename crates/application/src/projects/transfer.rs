//! Handing a project over to one of its members.

use forge_domain::{projects::ProjectId, users::UserId};

use super::{
    ProjectChange, ProjectService,
    audit_trail::project_audit,
    errors::{ProjectConflict, ProjectError},
    policy::ProjectAction,
    ports::ProjectView,
};
use crate::{
    audit::{AuditAction, EventType, OutboxEvent, Snapshot},
    common::{Actor, Changes, Staleness, UnexpectedError, ValidationErrors},
};

/// A hand-over of a project.
#[derive(Debug, Clone)]
pub struct TransferCommand {
    /// The member who becomes the owner.
    pub user_id: UserId,
    /// When set, the transfer applies only if the project is still at this version.
    pub expected_version: Option<i64>,
}

impl ProjectService {
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
}
