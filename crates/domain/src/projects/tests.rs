//! The rules of a project and its members: unit tests for each, and a property test that no
//! sequence of operations ever leaves a project with other than exactly one owner.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;
use crate::users::UserId;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn later(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn new_project(name: &str) -> NewProject {
    NewProject { name: ProjectName::parse(name).unwrap(), description: None }
}

fn started() -> (Project, Membership) {
    Project::create(UserId::generate(), new_project("Apollo"), t0())
}

// ---------------------------------------------------------------------------------------------
// The project itself

#[test]
fn create_starts_an_active_project_at_version_one_owned_by_its_creator() {
    let owner = UserId::generate();
    let (project, membership) = Project::create(owner, new_project("Apollo"), t0());
    assert_eq!(project.owner_id(), owner);
    assert_eq!(project.status(), ProjectStatus::Active);
    assert_eq!((project.version(), project.created_at(), project.updated_at()), (1, t0(), t0()));
    assert!(!project.is_deleted());
    assert_eq!(membership.project_id(), project.id());
    assert_eq!(membership.user_id(), owner);
    assert_eq!(membership.role(), ProjectRole::Owner);
    assert_eq!((membership.version(), membership.added_at()), (1, t0()));
}

#[test]
fn every_change_moves_the_version_and_updated_at() {
    let (mut project, _) = started();
    project.rename(ProjectName::parse("Gemini").unwrap(), later(1)).unwrap();
    assert_eq!((project.version(), project.updated_at()), (2, later(1)));
    project.set_description(Some(ProjectDescription::parse("two seats").unwrap()), later(2)).unwrap();
    assert_eq!(project.version(), 3);
    project.set_status(ProjectStatus::Archived, later(3)).unwrap();
    assert_eq!((project.version(), project.status()), (4, ProjectStatus::Archived));
    project.set_description(None, later(4)).unwrap();
    assert_eq!((project.version(), project.description()), (5, None));
    assert_eq!(project.created_at(), t0());
}

#[test]
fn setting_the_values_already_held_changes_nothing() {
    let (mut project, _) = started();
    project.rename(ProjectName::parse(" Apollo ").unwrap(), later(1)).unwrap();
    project.set_description(None, later(1)).unwrap();
    project.set_status(ProjectStatus::Active, later(1)).unwrap();
    assert_eq!((project.version(), project.updated_at()), (1, t0()));
}

#[test]
fn a_deleted_project_cannot_be_changed_or_deleted_again() {
    let (mut project, _) = started();
    project.soft_delete(later(1)).unwrap();
    assert_eq!(project.deleted_at(), Some(later(1)));
    assert_eq!(project.version(), 2);
    assert_eq!(project.rename(ProjectName::parse("Other").unwrap(), later(2)), Err(ProjectStateError::Deleted));
    assert_eq!(project.set_status(ProjectStatus::Archived, later(2)), Err(ProjectStateError::Deleted));
    assert_eq!(project.soft_delete(later(2)), Err(ProjectStateError::Deleted));
    assert_eq!(project.version(), 2);
}

// ---------------------------------------------------------------------------------------------
// Members

#[test]
fn add_member_gives_a_new_membership_at_version_one() {
    let (project, _) = started();
    let user = UserId::generate();
    let m = project.add_member(user, ProjectRole::Viewer, None, later(1)).unwrap();
    assert_eq!((m.project_id(), m.user_id(), m.role()), (project.id(), user, ProjectRole::Viewer));
    assert_eq!((m.version(), m.added_at(), m.updated_at()), (1, later(1), later(1)));
    assert_eq!(project.version(), 1, "adding a member is not a change of the project");
}

#[test]
fn add_member_refuses_the_owner_role() {
    let (project, _) = started();
    let err = project.add_member(UserId::generate(), ProjectRole::Owner, None, t0()).unwrap_err();
    assert_eq!(err, MembershipError::OwnerByTransferOnly);
    assert_eq!(crate::FieldViolation::code(&err), "NOT_ALLOWED");
}

#[test]
fn adding_an_existing_member_or_the_owner_is_a_conflict() {
    let (project, owner) = started();
    let user = UserId::generate();
    let existing = project.add_member(user, ProjectRole::Viewer, None, t0()).unwrap();
    assert_eq!(
        project.add_member(user, ProjectRole::Maintainer, Some(&existing), t0()),
        Err(MembershipError::AlreadyMember)
    );
    assert_eq!(
        project.add_member(owner.user_id(), ProjectRole::Viewer, None, t0()),
        Err(MembershipError::AlreadyMember),
        "the owner is a member even when its membership is not passed"
    );
}

#[test]
fn nothing_about_members_changes_on_a_deleted_project() {
    let (mut project, mut owner) = started();
    let mut member = project.add_member(UserId::generate(), ProjectRole::Viewer, None, t0()).unwrap();
    project.soft_delete(later(1)).unwrap();
    let deleted = Err(MembershipError::ProjectDeleted);
    assert_eq!(project.add_member(UserId::generate(), ProjectRole::Viewer, None, t0()).map(|_| ()), deleted);
    assert_eq!(project.change_member_role(&mut member, ProjectRole::Maintainer, t0()), deleted);
    assert_eq!(project.remove_member(&member), deleted);
    assert_eq!(project.transfer(&mut owner, &mut member, t0()), deleted);
}

#[test]
fn change_member_role_moves_the_membership_version() {
    let (project, _) = started();
    let mut m = project.add_member(UserId::generate(), ProjectRole::Viewer, None, t0()).unwrap();
    project.change_member_role(&mut m, ProjectRole::Maintainer, later(1)).unwrap();
    assert_eq!((m.role(), m.version(), m.updated_at(), m.added_at()), (ProjectRole::Maintainer, 2, later(1), t0()));
    project.change_member_role(&mut m, ProjectRole::Maintainer, later(2)).unwrap();
    assert_eq!(m.version(), 2, "the same role changes nothing");
}

#[test]
fn the_owner_role_is_never_granted_by_a_role_change() {
    let (project, _) = started();
    let mut m = project.add_member(UserId::generate(), ProjectRole::Maintainer, None, t0()).unwrap();
    assert_eq!(
        project.change_member_role(&mut m, ProjectRole::Owner, later(1)),
        Err(MembershipError::OwnerByTransferOnly)
    );
    assert_eq!((m.role(), m.version()), (ProjectRole::Maintainer, 1));
}

#[test]
fn the_owner_cannot_be_demoted() {
    let (project, mut owner) = started();
    for role in ProjectRole::GRANTABLE {
        assert_eq!(project.change_member_role(&mut owner, role, later(1)), Err(MembershipError::OwnerCannotBeDemoted));
    }
    assert_eq!((owner.role(), owner.version()), (ProjectRole::Owner, 1));
}

#[test]
fn the_owner_cannot_be_removed_or_leave_but_others_can() {
    let (project, owner) = started();
    assert_eq!(project.remove_member(&owner), Err(MembershipError::OwnerCannotBeRemoved));
    let m = project.add_member(UserId::generate(), ProjectRole::Maintainer, None, t0()).unwrap();
    assert_eq!(project.remove_member(&m), Ok(()));
}

#[test]
fn a_membership_of_another_project_is_refused() {
    let (project, _) = started();
    let (other, _) = started();
    let mut foreign = other.add_member(UserId::generate(), ProjectRole::Viewer, None, t0()).unwrap();
    assert_eq!(project.remove_member(&foreign), Err(MembershipError::NotInProject));
    assert_eq!(
        project.change_member_role(&mut foreign, ProjectRole::Maintainer, t0()),
        Err(MembershipError::NotInProject)
    );
}

#[test]
fn transfer_makes_the_target_owner_and_the_old_owner_a_maintainer() {
    let (mut project, mut owner) = started();
    let old_owner = owner.user_id();
    let mut target = project.add_member(UserId::generate(), ProjectRole::Viewer, None, t0()).unwrap();

    project.transfer(&mut owner, &mut target, later(5)).unwrap();

    assert_eq!(project.owner_id(), target.user_id());
    assert_eq!((project.version(), project.updated_at()), (2, later(5)));
    assert_eq!((target.role(), target.version()), (ProjectRole::Owner, 2));
    assert_eq!((owner.user_id(), owner.role(), owner.version()), (old_owner, ProjectRole::Maintainer, 2));
    // The old owner is now an ordinary member: it can be demoted and removed.
    assert_eq!(project.remove_member(&owner), Ok(()));
    assert_eq!(project.remove_member(&target), Err(MembershipError::OwnerCannotBeRemoved));
}

#[test]
fn transfer_to_the_owner_is_refused() {
    let (mut project, mut owner) = started();
    let mut same = owner.clone();
    assert_eq!(project.transfer(&mut owner, &mut same, later(1)), Err(MembershipError::AlreadyOwner));
    assert_eq!(project.version(), 1);
}

#[test]
fn transfer_with_a_membership_that_is_not_the_owners_changes_nothing() {
    let (mut project, _) = started();
    let mut not_owner = project.add_member(UserId::generate(), ProjectRole::Maintainer, None, t0()).unwrap();
    let mut target = project.add_member(UserId::generate(), ProjectRole::Viewer, None, t0()).unwrap();
    let before = (project.clone(), not_owner.clone(), target.clone());

    assert_eq!(project.transfer(&mut not_owner, &mut target, later(1)), Err(MembershipError::OwnerMismatch));

    assert_eq!((project, not_owner, target), before);
}

// ---------------------------------------------------------------------------------------------
// Exactly one owner, whatever happens

#[derive(Debug, Clone)]
enum Op {
    Add(usize, ProjectRole),
    ChangeRole(usize, ProjectRole),
    Remove(usize),
    Transfer(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..6usize;
    let role = prop::sample::select(ProjectRole::ALL.to_vec());
    prop_oneof![
        (user.clone(), role.clone()).prop_map(|(u, r)| Op::Add(u, r)),
        (user.clone(), role).prop_map(|(u, r)| Op::ChangeRole(u, r)),
        user.clone().prop_map(Op::Remove),
        user.prop_map(Op::Transfer),
    ]
}

/// The members as storage would hold them, with the rules applied by the entity only.
struct World {
    project: Project,
    members: BTreeMap<UserId, Membership>,
    users: Vec<UserId>,
}

impl World {
    fn new() -> Self {
        let users: Vec<UserId> = (0..6).map(|_| UserId::generate()).collect();
        let (project, owner) = Project::create(users[0], new_project("Apollo"), t0());
        Self { project, members: BTreeMap::from([(users[0], owner)]), users }
    }

    fn apply(&mut self, op: &Op, now: DateTime<Utc>) -> Result<(), MembershipError> {
        match *op {
            Op::Add(u, role) => {
                let user = self.users[u];
                let m = self.project.add_member(user, role, self.members.get(&user), now)?;
                self.members.insert(user, m);
            }
            Op::ChangeRole(u, role) => {
                let Some(mut m) = self.members.get(&self.users[u]).cloned() else { return Ok(()) };
                self.project.change_member_role(&mut m, role, now)?;
                self.members.insert(m.user_id(), m);
            }
            Op::Remove(u) => {
                let Some(m) = self.members.get(&self.users[u]).cloned() else { return Ok(()) };
                self.project.remove_member(&m)?;
                self.members.remove(&m.user_id());
            }
            Op::Transfer(u) => {
                let Some(mut target) = self.members.get(&self.users[u]).cloned() else { return Ok(()) };
                let mut owner = self.members[&self.project.owner_id()].clone();
                let mut project = self.project.clone();
                project.transfer(&mut owner, &mut target, now)?;
                self.project = project;
                self.members.insert(owner.user_id(), owner);
                self.members.insert(target.user_id(), target);
            }
        }
        Ok(())
    }
}

proptest! {
    #[test]
    fn no_sequence_of_member_operations_breaks_the_single_owner_rule(ops in prop::collection::vec(op(), 1..40)) {
        let mut world = World::new();
        for (i, op) in ops.iter().enumerate() {
            let before_versions: BTreeMap<UserId, i64> =
                world.members.iter().map(|(u, m)| (*u, m.version())).collect();
            let project_version = world.project.version();
            let result = world.apply(op, later(i64::try_from(i).unwrap() + 1));

            let owners: Vec<&Membership> = world.members.values().filter(|m| m.is_owner()).collect();
            prop_assert_eq!(owners.len(), 1, "after {:?}", op);
            prop_assert_eq!(owners[0].user_id(), world.project.owner_id());
            prop_assert!(world.members.contains_key(&world.project.owner_id()));
            for (user, version) in before_versions {
                if let Some(m) = world.members.get(&user) {
                    prop_assert!(m.version() >= version, "versions only move forward");
                }
            }
            prop_assert!(world.project.version() >= project_version);

            match op {
                Op::Add(_, ProjectRole::Owner) => prop_assert_eq!(result, Err(MembershipError::OwnerByTransferOnly)),
                Op::ChangeRole(u, ProjectRole::Owner) if world.members.contains_key(&world.users[*u]) => {
                    prop_assert_eq!(result, Err(MembershipError::OwnerByTransferOnly));
                }
                Op::Remove(u) if world.users[*u] == world.project.owner_id() => {
                    prop_assert_eq!(result, Err(MembershipError::OwnerCannotBeRemoved));
                }
                Op::ChangeRole(u, _) if world.users[*u] == world.project.owner_id() => {
                    prop_assert_eq!(result, Err(MembershipError::OwnerCannotBeDemoted));
                }
                _ => {}
            }
        }
    }
}
