//! How projects and memberships look in responses: timestamps in RFC 3339 UTC; `_links` to the
//! resource and to what the caller may do with it, as the application's project policy allows.

use chrono::{DateTime, Utc};
use forge_application::{
    Actor,
    projects::{
        MemberView,
        policy::{MemberActions, ProjectActions, ProjectViewer},
        ports::{Member, ProjectView},
    },
};
use forge_domain::{
    projects::{Project, ProjectId, ProjectRole, ProjectStatus},
    users::UserId,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::links::{API_BASE, Link};

/// A project's status as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiProjectStatus {
    /// In use.
    Active,
    /// Kept for reference.
    Archived,
}

impl From<ProjectStatus> for ApiProjectStatus {
    fn from(status: ProjectStatus) -> Self {
        match status {
            ProjectStatus::Active => Self::Active,
            ProjectStatus::Archived => Self::Archived,
        }
    }
}

/// A member's role as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiProjectRole {
    /// The one owner: everything, including deleting and transferring the project.
    Owner,
    /// Edits the project and manages its members.
    Maintainer,
    /// Reads the project and its members.
    Viewer,
}

impl From<ProjectRole> for ApiProjectRole {
    fn from(role: ProjectRole) -> Self {
        match role {
            ProjectRole::Owner => Self::Owner,
            ProjectRole::Maintainer => Self::Maintainer,
            ProjectRole::Viewer => Self::Viewer,
        }
    }
}

/// A role that can be given by adding a member or changing a member's role (ownership moves
/// only by transfer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GrantableRole {
    /// Edits the project and manages its members.
    Maintainer,
    /// Reads the project and its members.
    Viewer,
}

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectResponse {
    /// The identifier (UUID v7).
    pub id: Uuid,
    /// The name, unique among the owner's live projects ignoring case.
    #[schema(example = "Apollo")]
    pub name: String,
    /// The description, if any.
    #[schema(required = true, example = "Land on the moon and return")]
    pub description: Option<String>,
    /// Active or archived.
    pub status: ApiProjectStatus,
    /// The owner (the one member with the role `owner`).
    pub owner_id: Uuid,
    /// How many members the project has, the owner included.
    pub member_count: u64,
    /// When the project was started.
    pub created_at: DateTime<Utc>,
    /// When the project last changed.
    pub updated_at: DateTime<Utc>,
    /// The project, and what the caller may do with it.
    #[serde(rename = "_links")]
    pub links: ProjectLinks,
}

/// Links of a project: `self`, and the actions open to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProjectLinks {
    /// The project (`GET`).
    #[serde(rename = "self")]
    pub this: Link,
    /// Partial update (`PATCH`): owner, maintainers, admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub update: Option<Link>,
    /// Replacement of the editable fields (`PUT`): owner, maintainers, admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub replace: Option<Link>,
    /// Soft delete (`DELETE`): owner, admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub delete: Option<Link>,
    /// The members (`GET`): members, admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub members: Option<Link>,
    /// Add a member (`POST`): owner, maintainers, admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub add_member: Option<Link>,
    /// Hand the project over (`POST`): owner, admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub transfer: Option<Link>,
}

/// The canonical path of a project.
#[must_use]
pub fn project_path(id: ProjectId) -> String {
    format!("{API_BASE}/projects/{id}")
}

/// The path of a membership.
#[must_use]
pub fn member_path(project: ProjectId, user: UserId) -> String {
    format!("{API_BASE}/projects/{project}/members/{user}")
}

/// Who is looking: the caller, with its role in the project.
fn viewer(actor: &Actor, role: Option<ProjectRole>) -> ProjectViewer {
    ProjectViewer::new(actor.id(), actor.role(), role)
}

impl ProjectLinks {
    /// The links of `project` for `viewer`.
    #[must_use]
    pub fn new(project: &Project, viewer: ProjectViewer) -> Self {
        let path = project_path(project.id());
        let allowed = ProjectActions::of(viewer, project);
        Self {
            this: Link::get(path.clone()),
            update: allowed.update.then(|| Link::new("PATCH", path.clone())),
            replace: allowed.update.then(|| Link::new("PUT", path.clone())),
            delete: allowed.delete.then(|| Link::new("DELETE", path.clone())),
            members: allowed.list_members.then(|| Link::get(format!("{path}/members"))),
            add_member: allowed.add_member.then(|| Link::new("POST", format!("{path}/members"))),
            transfer: allowed.transfer.then(|| Link::new("POST", format!("{path}/transfer"))),
        }
    }
}

impl ProjectResponse {
    /// `view` as seen by `actor` (whose role in the project the view carries).
    #[must_use]
    pub fn new(view: &ProjectView, actor: &Actor) -> Self {
        let project = &view.project;
        Self {
            id: project.id().as_uuid(),
            name: project.name().to_string(),
            description: project.description().map(ToString::to_string),
            status: project.status().into(),
            owner_id: project.owner_id().as_uuid(),
            member_count: view.member_count,
            created_at: project.created_at(),
            updated_at: project.updated_at(),
            links: ProjectLinks::new(project, viewer(actor, view.viewer_role)),
        }
    }
}

/// A member of a project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberResponse {
    /// The member's user id.
    pub user_id: Uuid,
    /// The member's username.
    #[schema(example = "grace")]
    pub username: String,
    /// The member's role in the project.
    pub role: ApiProjectRole,
    /// When the user became a member.
    pub added_at: DateTime<Utc>,
    /// The project, and what the caller may do with this membership.
    #[serde(rename = "_links")]
    pub links: MemberLinks,
}

/// Links of a membership: its project, and the actions open to the caller (never on the owner's
/// membership: the owner is neither removed nor demoted, only replaced by a transfer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberLinks {
    /// The project (`GET`).
    pub project: Link,
    /// Change the role (`PATCH`): owner, admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub update: Option<Link>,
    /// Remove the member (`DELETE`): owner, maintainers, admins, and the member itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub remove: Option<Link>,
}

impl MemberResponse {
    /// `member` of `project` as seen by `actor`, whose role in the project is `actor_role`.
    #[must_use]
    pub fn new(project: &Project, member: &Member, actor: &Actor, actor_role: Option<ProjectRole>) -> Self {
        let membership = &member.membership;
        let path = member_path(project.id(), membership.user_id());
        let allowed = MemberActions::of(viewer(actor, actor_role), project, membership);
        Self {
            user_id: membership.user_id().as_uuid(),
            username: member.username.to_string(),
            role: membership.role().into(),
            added_at: membership.added_at(),
            links: MemberLinks {
                project: Link::get(project_path(project.id())),
                update: allowed.change_role.then(|| Link::new("PATCH", path.clone())),
                remove: allowed.remove.then(|| Link::new("DELETE", path)),
            },
        }
    }

    /// The membership of a [`MemberView`].
    #[must_use]
    pub fn of_view(view: &MemberView, actor: &Actor) -> Self {
        Self::new(&view.project, &view.member, actor, view.viewer_role)
    }
}

#[cfg(test)]
mod tests {
    use forge_application::ClientContext;
    use forge_domain::{
        projects::{NewProject, ProjectName},
        users::Role,
    };

    use super::*;
    use crate::testing::{user_with_role, utc};

    fn actor(role: Role) -> Actor {
        Actor::new(user_with_role("ada", role), None, ClientContext::default())
    }

    fn view_for(actor: &Actor, role: Option<ProjectRole>) -> ProjectView {
        let owner = if role == Some(ProjectRole::Owner) { actor.id() } else { UserId::generate() };
        let (project, _) = Project::create(
            owner,
            NewProject { name: ProjectName::parse("Apollo").unwrap(), description: None },
            utc(),
        );
        ProjectView { project, member_count: 2, viewer_role: role }
    }

    #[test]
    fn the_json_has_the_contract_fields() {
        let ada = actor(Role::Member);
        let json = serde_json::to_value(ProjectResponse::new(&view_for(&ada, Some(ProjectRole::Owner)), &ada)).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["_links", "created_at", "description", "id", "member_count", "name", "owner_id", "status", "updated_at"]
        );
        assert_eq!((json["status"].as_str(), json["member_count"].as_u64()), (Some("active"), Some(2)));
        assert_eq!(json["description"], serde_json::Value::Null);
        assert_eq!(json["owner_id"], ada.id().to_string());
    }

    #[test]
    fn an_owner_sees_every_action_and_a_viewer_only_the_members() {
        let ada = actor(Role::Member);
        let owner = ProjectResponse::new(&view_for(&ada, Some(ProjectRole::Owner)), &ada).links;
        assert!(owner.update.is_some() && owner.replace.is_some() && owner.delete.is_some());
        assert!(owner.members.is_some() && owner.add_member.is_some() && owner.transfer.is_some());
        assert_eq!(owner.transfer.unwrap().href, format!("{}/transfer", owner.this.href));

        let viewer = ProjectResponse::new(&view_for(&ada, Some(ProjectRole::Viewer)), &ada).links;
        assert_eq!(viewer.members.map(|l| l.method), Some("GET".to_owned()));
        assert!(viewer.update.is_none() && viewer.delete.is_none() && viewer.add_member.is_none());
        assert!(viewer.transfer.is_none());
    }

    #[test]
    fn a_maintainer_edits_and_adds_members_but_neither_deletes_nor_transfers() {
        let ada = actor(Role::Member);
        let links = ProjectResponse::new(&view_for(&ada, Some(ProjectRole::Maintainer)), &ada).links;
        assert!(links.update.is_some() && links.add_member.is_some());
        assert!(links.delete.is_none() && links.transfer.is_none());
    }

    #[test]
    fn a_member_link_offers_nothing_on_the_owner() {
        let admin = actor(Role::Admin);
        let owner = user_with_role("owner", Role::Member);
        let (project, membership) = Project::create(
            owner.id(),
            NewProject { name: ProjectName::parse("Apollo").unwrap(), description: None },
            utc(),
        );
        let member = Member { membership, username: owner.username().clone() };
        let json = serde_json::to_value(MemberResponse::new(&project, &member, &admin, None)).unwrap();
        assert_eq!(json["role"], "owner");
        assert_eq!(json["username"], "owner");
        assert_eq!(
            json["_links"],
            serde_json::json!({"project": {"href": project_path(project.id()), "method": "GET"}})
        );
    }
}
