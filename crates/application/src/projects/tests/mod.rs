//! Unit tests of the projects use cases, every port mocked.
//!
//! The fixtures are here; the tests sit in one file per source file of the capability.

mod members;
mod service;
mod transfer;

use crate::projects::ProjectChange;
use crate::projects::ProjectConstraint;
use crate::test_support::Written;
use crate::test_support::refused;
use std::sync::Arc;

use chrono::Duration;
use forge_domain::{
    projects::{
        Membership, MembershipParts, Project, ProjectDescription, ProjectId, ProjectName, ProjectParts, ProjectRole,
        ProjectStatus,
    },
    users::{Role, User, UserId},
};

use super::{
    AddMemberCommand, ChangeRoleCommand, CreateProjectCommand, MemberRef, ProjectError, ProjectPorts, ProjectScope,
    ProjectService, ProjectUpdate, TransferCommand,
    ports::{Member, MemberQuery, MockProjectRepository, ProjectFilter, ProjectQuery, ProjectView},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditValue, EventType, OutboxEvent},
    common::{CommitError, MockUnitOfWork, Page, UnexpectedError},
    test_support::{Commits, a_user, acting_as, fields_and_codes, fixed_clock, now, record_commits},
    users::ports::MockUserRepository,
};

/// Every port of [`ProjectService`], as mocks; the clock is stopped at [`now`].
struct Mocks {
    projects: MockProjectRepository,
    users: MockUserRepository,
    unit_of_work: MockUnitOfWork,
}

impl Mocks {
    fn new() -> Self {
        Self {
            projects: MockProjectRepository::new(),
            users: MockUserRepository::new(),
            unit_of_work: MockUnitOfWork::new(),
        }
    }

    fn service(self) -> ProjectService {
        ProjectService::new(ProjectPorts {
            projects: Arc::new(self.projects),
            users: Arc::new(self.users),
            unit_of_work: Arc::new(self.unit_of_work),
            clock: Arc::new(fixed_clock()),
        })
    }

    /// Storage holds `project` (deleted or not) under its id.
    fn stored(&mut self, project: &Project) {
        let (id, found) = (project.id(), project.clone());
        self.projects.expect_by_id().withf(move |i| *i == id).returning(move |_| Ok(Some(found.clone())));
    }

    /// Storage holds exactly these memberships.
    fn memberships(&mut self, members: &[Member]) {
        let members = members.to_vec();
        self.projects.expect_member().returning(move |project, user| {
            Ok(members.iter().find(|m| m.membership.project_id() == project && m.membership.user_id() == user).cloned())
        });
    }

    /// Every project has `n` members.
    fn counts(&mut self, n: u64) {
        self.projects.expect_member_count().returning(move |_| Ok(n));
    }

    /// No live project of anyone has a clashing name.
    fn names_free(&mut self) {
        self.projects.expect_owned_with_name().returning(|_, _| Ok(None));
    }

    /// Nothing is to be written.
    fn nothing_stored(&mut self) {
        self.unit_of_work.expect_commit().never();
    }
}

/// The people around one project.
struct Cast {
    owner: User,
    maintainer: User,
    viewer: User,
    outsider: User,
    manager: User,
    admin: User,
}

fn cast() -> Cast {
    Cast {
        owner: a_user(Role::Member).build(),
        maintainer: a_user(Role::Member).build(),
        viewer: a_user(Role::Member).build(),
        outsider: a_user(Role::Member).build(),
        manager: a_user(Role::Manager).build(),
        admin: a_user(Role::Admin).build(),
    }
}

/// An active project of `owner` named Apollo, at version 4.
fn a_project(owner: &User) -> Project {
    Project::from_parts(ProjectParts {
        id: ProjectId::generate(),
        owner_id: owner.id(),
        name: ProjectName::parse("Apollo").unwrap(),
        description: Some(ProjectDescription::parse("To the moon").unwrap()),
        status: ProjectStatus::Active,
        created_at: now() - Duration::days(30),
        updated_at: now() - Duration::days(3),
        deleted_at: None,
        version: 4,
    })
}

fn deleted(project: &Project) -> Project {
    let mut p = project.clone();
    p.soft_delete(now() - Duration::days(1)).unwrap();
    p
}

/// `user`'s membership of `project` with `role`, at version 2.
fn member(project: &Project, user: &User, role: ProjectRole) -> Member {
    Member {
        membership: Membership::from_parts(MembershipParts {
            project_id: project.id(),
            user_id: user.id(),
            role,
            added_at: now() - Duration::days(20),
            updated_at: now() - Duration::days(20),
            version: 2,
        }),
        username: user.username().clone(),
    }
}

/// A project of the cast's owner, with the owner, the maintainer and the viewer as members, stored.
fn scene() -> (Cast, Project, Mocks, Vec<Member>) {
    let c = cast();
    let project = a_project(&c.owner);
    let members = vec![
        member(&project, &c.owner, ProjectRole::Owner),
        member(&project, &c.maintainer, ProjectRole::Maintainer),
        member(&project, &c.viewer, ProjectRole::Viewer),
    ];
    let mut m = Mocks::new();
    m.stored(&project);
    m.memberships(&members);
    (c, project, m, members)
}

fn assert_err(result: Result<impl std::fmt::Debug, ProjectError>, expected: &str) {
    let text = format!("{result:?}");
    assert!(text.starts_with(&format!("Err({expected}")), "expected {expected}, got {text}");
}

fn single_update_project(commits: &Commits) -> (Project, i64) {
    let changes = commits.single();
    let [Written::Project(ProjectChange::Update { project, expected_version })] = changes.as_slice() else {
        panic!("expected a single UpdateProject, got {changes:#?}");
    };
    (project.clone(), *expected_version)
}

fn events(commits: &Commits) -> Vec<OutboxEvent> {
    commits
        .everything()
        .into_iter()
        .flatten()
        .filter_map(|c| match c {
            Written::Event(event) => Some(event),
            _ => None,
        })
        .collect()
}

fn text(value: &str) -> AuditValue {
    AuditValue::Text(value.to_owned())
}
