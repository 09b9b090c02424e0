//! Who may do what to a project and its members. The use cases enforce these rules; the HTTP
//! layer reads them (through [`ProjectActions`] and [`MemberActions`]) to advertise only the
//! actions a caller may take, so the two can never disagree.
//!
//! | action | allowed |
//! |---|---|
//! | read the project, list its members | members, admins |
//! | update (name, description, status) | owner, maintainer, admins |
//! | delete, transfer | owner, admins |
//! | add a member | owner, maintainer, admins |
//! | change a member's role | owner, admins |
//! | remove a member | owner, maintainer, admins, and any member removing itself (leaving) |
//!
//! Whoever may not see a project (not a member, not an admin: managers included) is told it does
//! not exist ([`Refusal::NotFound`]), so a project id reveals nothing. A member that may see the
//! project but lacks the right is told so ([`Refusal::Forbidden`]). The rules of the project
//! itself come after these checks and apply to everyone, admins included: the owner cannot be
//! removed, demoted or leave.
//!
//! A maintainer may remove any member but the owner (viewers and other maintainers alike): the
//! table above grants "remove a member" to maintainers without a restriction on the target.

use forge_domain::{
    projects::{Membership, Project, ProjectRole},
    users::{Permission, Role, UserId},
};

/// Someone looking at a project: the user, its global role, and its role in the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectViewer {
    id: UserId,
    role: Role,
    membership: Option<ProjectRole>,
}

impl ProjectViewer {
    /// The user `id` with the global `role` and the role `membership` in the project (none when
    /// it is not a member).
    #[must_use]
    pub const fn new(id: UserId, role: Role, membership: Option<ProjectRole>) -> Self {
        Self { id, role, membership }
    }

    /// The viewer's role in the project.
    #[must_use]
    pub const fn membership(self) -> Option<ProjectRole> {
        self.membership
    }

    fn manages_all(self) -> bool {
        self.role.grants(Permission::ManageAllProjects)
    }

    fn sees(self) -> bool {
        self.membership.is_some() || self.role.grants(Permission::ReadAllProjects)
    }

    fn holds(self, roles: &[ProjectRole]) -> bool {
        self.membership.is_some_and(|r| roles.contains(&r))
    }
}

/// Something one can do to a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectAction {
    /// Read the project.
    Read,
    /// Change its name, description or status.
    Update,
    /// Soft-delete it.
    Delete,
    /// List its members.
    ListMembers,
    /// Add a member.
    AddMember,
    /// Change a member's role.
    ChangeMemberRole,
    /// Remove the member `target` (which may be the viewer itself: leaving).
    RemoveMember {
        /// The member to remove.
        target: UserId,
    },
    /// Hand the project over to another member.
    Transfer,
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The viewer may not know the project exists.
    NotFound,
    /// The viewer sees the project but may not do this.
    Forbidden,
}

/// Whether `viewer` may take `action` (see the module notes).
#[must_use]
pub fn can(viewer: ProjectViewer, action: ProjectAction) -> bool {
    authorize(viewer, action).is_ok()
}

/// Decides `action` for `viewer`.
///
/// # Errors
/// [`Refusal::NotFound`] for whoever may not see the project, [`Refusal::Forbidden`] for a
/// member without the right.
pub fn authorize(viewer: ProjectViewer, action: ProjectAction) -> Result<(), Refusal> {
    use ProjectRole::{Maintainer, Owner};
    if !viewer.sees() {
        return Err(Refusal::NotFound);
    }
    let allowed = viewer.manages_all()
        || match action {
            ProjectAction::Read | ProjectAction::ListMembers => viewer.membership.is_some(),
            ProjectAction::Update | ProjectAction::AddMember => viewer.holds(&[Owner, Maintainer]),
            ProjectAction::Delete | ProjectAction::ChangeMemberRole | ProjectAction::Transfer => viewer.holds(&[Owner]),
            ProjectAction::RemoveMember { target } => viewer.holds(&[Owner, Maintainer]) || target == viewer.id,
        };
    if allowed { Ok(()) } else { Err(Refusal::Forbidden) }
}

/// May a user with global role `role` list every project (`scope=all`)?
#[must_use]
pub const fn can_list_all(role: Role) -> bool {
    role.grants(Permission::ReadAllProjects)
}

/// May user `viewer` with global role `role` list the projects of user `target`? Itself, or
/// anyone who may read any user (admins and managers).
#[must_use]
pub fn can_list_projects_of(viewer: UserId, role: Role, target: UserId) -> bool {
    viewer == target || role.grants(Permission::ReadAnyUser)
}

/// The actions `viewer` may take on `project` as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProjectActions {
    /// `PATCH` / `PUT` the project.
    pub update: bool,
    /// Soft-delete it.
    pub delete: bool,
    /// List its members.
    pub list_members: bool,
    /// Add a member.
    pub add_member: bool,
    /// Transfer it.
    pub transfer: bool,
}

impl ProjectActions {
    /// The actions `viewer` may take on `project`; none on a deleted project.
    #[must_use]
    pub fn of(viewer: ProjectViewer, project: &Project) -> Self {
        if project.is_deleted() {
            return Self::default();
        }
        Self {
            update: can(viewer, ProjectAction::Update),
            delete: can(viewer, ProjectAction::Delete),
            list_members: can(viewer, ProjectAction::ListMembers),
            add_member: can(viewer, ProjectAction::AddMember),
            transfer: can(viewer, ProjectAction::Transfer),
        }
    }
}

/// The actions `viewer` may take on one membership of `project`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberActions {
    /// Change the member's role (never the owner's).
    pub change_role: bool,
    /// Remove the member (never the owner).
    pub remove: bool,
}

impl MemberActions {
    /// The actions `viewer` may take on `member`, a membership of `project`.
    #[must_use]
    pub fn of(viewer: ProjectViewer, project: &Project, member: &Membership) -> Self {
        if project.is_deleted() || member.user_id() == project.owner_id() || member.is_owner() {
            return Self::default();
        }
        Self {
            change_role: can(viewer, ProjectAction::ChangeMemberRole),
            remove: can(viewer, ProjectAction::RemoveMember { target: member.user_id() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ROLES: [Option<ProjectRole>; 4] =
        [None, Some(ProjectRole::Owner), Some(ProjectRole::Maintainer), Some(ProjectRole::Viewer)];

    fn viewer(role: Role, membership: Option<ProjectRole>) -> ProjectViewer {
        ProjectViewer::new(UserId::generate(), role, membership)
    }

    /// What `action` answers for each membership of a `member` (global role) and of a manager.
    fn outcomes(action: impl Fn(&ProjectViewer) -> ProjectAction) -> Vec<Result<(), Refusal>> {
        let mut all = Vec::new();
        for global in [Role::Member, Role::Manager] {
            for membership in ALL_ROLES {
                let v = viewer(global, membership);
                all.push(authorize(v, action(&v)));
            }
        }
        all
    }

    const NF: Result<(), Refusal> = Err(Refusal::NotFound);
    const FB: Result<(), Refusal> = Err(Refusal::Forbidden);
    const OK: Result<(), Refusal> = Ok(());

    #[test]
    fn reading_and_listing_members_is_for_members_and_hidden_from_everyone_else() {
        // Order: outsider, owner, maintainer, viewer; first as members, then as managers.
        let expected = [NF, OK, OK, OK, NF, OK, OK, OK];
        assert_eq!(outcomes(|_| ProjectAction::Read), expected);
        assert_eq!(outcomes(|_| ProjectAction::ListMembers), expected);
    }

    #[test]
    fn updating_and_adding_members_is_for_owners_and_maintainers() {
        let expected = [NF, OK, OK, FB, NF, OK, OK, FB];
        assert_eq!(outcomes(|_| ProjectAction::Update), expected);
        assert_eq!(outcomes(|_| ProjectAction::AddMember), expected);
    }

    #[test]
    fn deleting_transferring_and_changing_roles_is_for_the_owner() {
        let expected = [NF, OK, FB, FB, NF, OK, FB, FB];
        assert_eq!(outcomes(|_| ProjectAction::Delete), expected);
        assert_eq!(outcomes(|_| ProjectAction::Transfer), expected);
        assert_eq!(outcomes(|_| ProjectAction::ChangeMemberRole), expected);
    }

    #[test]
    fn removing_someone_else_is_for_owners_and_maintainers_and_anyone_may_remove_itself() {
        let others = outcomes(|_| ProjectAction::RemoveMember { target: UserId::generate() });
        assert_eq!(others, [NF, OK, OK, FB, NF, OK, OK, FB]);
        let itself = outcomes(|v| ProjectAction::RemoveMember { target: v.id });
        assert_eq!(itself, [NF, OK, OK, OK, NF, OK, OK, OK]);
    }

    #[test]
    fn an_admin_may_do_everything_member_or_not() {
        for membership in ALL_ROLES {
            let v = viewer(Role::Admin, membership);
            for action in [
                ProjectAction::Read,
                ProjectAction::Update,
                ProjectAction::Delete,
                ProjectAction::ListMembers,
                ProjectAction::AddMember,
                ProjectAction::ChangeMemberRole,
                ProjectAction::RemoveMember { target: UserId::generate() },
                ProjectAction::Transfer,
            ] {
                assert_eq!(authorize(v, action), OK, "{membership:?} {action:?}");
            }
        }
    }

    #[test]
    fn only_admins_list_every_project_and_managers_list_anyones_projects() {
        assert!(can_list_all(Role::Admin));
        assert!(!can_list_all(Role::Manager));
        assert!(!can_list_all(Role::Member));
        let (me, other) = (UserId::generate(), UserId::generate());
        assert!(can_list_projects_of(me, Role::Member, me));
        assert!(!can_list_projects_of(me, Role::Member, other));
        assert!(can_list_projects_of(me, Role::Manager, other));
        assert!(can_list_projects_of(me, Role::Admin, other));
    }

    fn project() -> (Project, Membership) {
        Project::create(
            UserId::generate(),
            forge_domain::projects::NewProject {
                name: forge_domain::projects::ProjectName::parse("Apollo").unwrap(),
                description: None,
            },
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        )
    }

    #[test]
    fn project_actions_follow_the_role_and_vanish_once_deleted() {
        let (mut p, _) = project();
        let maintainer = viewer(Role::Member, Some(ProjectRole::Maintainer));
        assert_eq!(
            ProjectActions::of(maintainer, &p),
            ProjectActions { update: true, delete: false, list_members: true, add_member: true, transfer: false }
        );
        let owner = viewer(Role::Member, Some(ProjectRole::Owner));
        assert_eq!(
            ProjectActions::of(owner, &p),
            ProjectActions { update: true, delete: true, list_members: true, add_member: true, transfer: true }
        );
        assert_eq!(ProjectActions::of(viewer(Role::Manager, None), &p), ProjectActions::default());
        p.soft_delete(p.created_at()).unwrap();
        assert_eq!(ProjectActions::of(owner, &p), ProjectActions::default());
    }

    #[test]
    fn member_actions_never_offer_to_remove_or_demote_the_owner() {
        let (p, owner_membership) = project();
        let admin = viewer(Role::Admin, None);
        assert_eq!(MemberActions::of(admin, &p, &owner_membership), MemberActions::default());
        let m = p.add_member(UserId::generate(), ProjectRole::Viewer, None, p.created_at()).unwrap();
        assert_eq!(MemberActions::of(admin, &p, &m), MemberActions { change_role: true, remove: true });
        let maintainer = viewer(Role::Member, Some(ProjectRole::Maintainer));
        assert_eq!(MemberActions::of(maintainer, &p, &m), MemberActions { change_role: false, remove: true });
        let itself = ProjectViewer::new(m.user_id(), Role::Member, Some(ProjectRole::Viewer));
        assert_eq!(MemberActions::of(itself, &p, &m), MemberActions { change_role: false, remove: true });
        let other_viewer = viewer(Role::Member, Some(ProjectRole::Viewer));
        assert_eq!(MemberActions::of(other_viewer, &p, &m), MemberActions::default());
    }
}
