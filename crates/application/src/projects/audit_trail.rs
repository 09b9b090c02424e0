//! How projects and memberships appear in the audit trail: their snapshots, and the entries
//! the projects use cases record. Every one of these entries names its project, so the trail
//! can be read project by project.

use chrono::{DateTime, Utc};
use forge_domain::projects::{Membership, Project, ProjectId};

use crate::{
    audit::{AuditAction, AuditEntity, AuditRecord, Snapshot},
    common::Actor,
};

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
pub(super) fn membership_snapshot(membership: &Membership) -> Snapshot {
    Snapshot::new()
        .with("project_id", membership.project_id().to_string())
        .with("user_id", membership.user_id().to_string())
        .with("role", membership.role().as_str())
        .with("version", membership.version())
}

/// The entry of a new project.
pub(super) fn project_created_audit(actor: &Actor, project: &Project, at: DateTime<Utc>) -> AuditRecord {
    project_entry(AuditAction::ProjectCreated, actor, project.id(), at).after(project_snapshot(project))
}

/// An entry about a change of a project from `before` to `after`.
pub(super) fn project_audit(
    action: AuditAction,
    actor: &Actor,
    before: &Project,
    after: &Project,
    at: DateTime<Utc>,
) -> AuditRecord {
    project_entry(action, actor, after.id(), at).changed(&project_snapshot(before), &project_snapshot(after))
}

/// An entry about the project `id` itself.
fn project_entry(action: AuditAction, actor: &Actor, id: ProjectId, at: DateTime<Utc>) -> AuditRecord {
    AuditRecord::new(action, AuditEntity::Project, id, Some(actor.id()), actor.context(), at).in_project(id)
}

/// An entry about a membership, identified as `project_id:user_id`, in its project.
pub(super) fn membership_audit(
    action: AuditAction,
    actor: &Actor,
    membership: &Membership,
    at: DateTime<Utc>,
) -> AuditRecord {
    let id = format!("{}:{}", membership.project_id(), membership.user_id());
    AuditRecord::new(action, AuditEntity::Membership, id, Some(actor.id()), actor.context(), at)
        .in_project(membership.project_id())
}
