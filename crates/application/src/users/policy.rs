//! Who may do what to a user account. The use cases enforce these rules; the HTTP layer reads
//! them (through [`UserActions`]) to advertise only the actions a caller may take, so the two can
//! never disagree.

use forge_domain::users::{Permission, Role, User, UserId};

/// Someone looking at an account: an authenticated user, or nobody (right after registering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    id: Option<UserId>,
    role: Option<Role>,
}

impl Viewer {
    /// The user `id` with `role`.
    #[must_use]
    pub const fn user(id: UserId, role: Role) -> Self {
        Self { id: Some(id), role: Some(role) }
    }

    /// Nobody authenticated.
    #[must_use]
    pub const fn anonymous() -> Self {
        Self { id: None, role: None }
    }

    fn is(self, id: UserId) -> bool {
        self.id == Some(id)
    }

    fn can(self, permission: Permission) -> bool {
        self.role.is_some_and(|role| role.grants(permission))
    }
}

/// May `viewer` read the account `target`? Itself, or anyone with [`Permission::ReadAnyUser`].
#[must_use]
pub fn can_read(viewer: Viewer, target: UserId) -> bool {
    viewer.is(target) || viewer.can(Permission::ReadAnyUser)
}

/// May `viewer` change the profile fields of `target`? Itself, or an account manager.
#[must_use]
pub fn can_edit(viewer: Viewer, target: UserId) -> bool {
    viewer.is(target) || viewer.can(Permission::ManageUsers)
}

/// May `viewer` change roles and active flags?
#[must_use]
pub fn can_manage(viewer: Viewer) -> bool {
    viewer.can(Permission::ManageUsers)
}

/// May `viewer` list and search every account?
#[must_use]
pub fn can_list(viewer: Viewer) -> bool {
    viewer.can(Permission::ListUsers)
}

/// May `viewer` create accounts directly?
#[must_use]
pub fn can_create(viewer: Viewer) -> bool {
    viewer.can(Permission::CreateUsers)
}

/// May `viewer` delete and restore accounts at all?
#[must_use]
pub fn can_manage_lifecycle(viewer: Viewer) -> bool {
    viewer.can(Permission::DeleteUsers)
}

/// May `viewer` soft-delete `target`? Admins, but not their own account.
#[must_use]
pub fn can_delete(viewer: Viewer, target: UserId) -> bool {
    can_manage_lifecycle(viewer) && !viewer.is(target)
}

/// May `viewer` restore deleted accounts?
#[must_use]
pub fn can_restore(viewer: Viewer) -> bool {
    can_manage_lifecycle(viewer)
}

/// May `viewer` lift a lock left on an account by repeated failed logins?
#[must_use]
pub fn can_unlock(viewer: Viewer) -> bool {
    can_manage_lifecycle(viewer)
}

/// The actions `viewer` may take on `target` as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserActions {
    /// `PATCH` / `PUT` the account.
    pub update: bool,
    /// Soft-delete it.
    pub delete: bool,
    /// Restore it.
    pub restore: bool,
}

impl UserActions {
    /// The actions `viewer` may take on `target`.
    #[must_use]
    pub fn of(viewer: Viewer, target: &User) -> Self {
        let live = !target.is_deleted();
        Self {
            update: live && can_edit(viewer, target.id()),
            delete: live && can_delete(viewer, target.id()),
            restore: !live && can_restore(viewer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::a_user;

    #[test]
    fn a_member_may_edit_itself_only_and_never_delete() {
        let me = a_user(Role::Member).build();
        let other = a_user(Role::Member).build();
        let viewer = Viewer::user(me.id(), Role::Member);
        assert_eq!(UserActions::of(viewer, &me), UserActions { update: true, delete: false, restore: false });
        assert_eq!(UserActions::of(viewer, &other), UserActions::default());
        assert!(!can_read(viewer, other.id()));
    }

    #[test]
    fn a_manager_reads_everyone_but_changes_no_one_else() {
        let other = a_user(Role::Member).build();
        let viewer = Viewer::user(UserId::generate(), Role::Manager);
        assert!(can_read(viewer, other.id()));
        assert_eq!(UserActions::of(viewer, &other), UserActions::default());
        assert!(!can_manage(viewer));
    }

    #[test]
    fn an_admin_may_delete_others_not_itself_and_restore_the_deleted() {
        let me = a_user(Role::Admin).build();
        let other = a_user(Role::Member).build();
        let deleted = a_user(Role::Member).deleted().build();
        let viewer = Viewer::user(me.id(), Role::Admin);
        assert_eq!(UserActions::of(viewer, &other), UserActions { update: true, delete: true, restore: false });
        assert_eq!(UserActions::of(viewer, &me), UserActions { update: true, delete: false, restore: false });
        assert_eq!(UserActions::of(viewer, &deleted), UserActions { update: false, delete: false, restore: true });
    }

    #[test]
    fn nobody_may_do_anything() {
        let user = a_user(Role::Member).build();
        assert_eq!(UserActions::of(Viewer::anonymous(), &user), UserActions::default());
    }
}
