//! Tests of managing a project's members.

use super::*;

// ---------------------------------------------------------------------------------------------
// members

#[tokio::test]
async fn members_are_listed_for_members_and_admins_with_the_callers_role() {
    for (who, role) in [("viewer", Some(ProjectRole::Viewer)), ("admin", None)] {
        let (c, project, mut m, members) = scene();
        let id = project.id();
        m.projects
            .expect_members()
            .withf(move |p, query| *p == id && *query == MemberQuery::default())
            .times(1)
            .returning(move |_, query| Ok(Page { items: members.clone(), total: 3, request: query.page }));
        let actor = if who == "viewer" { &c.viewer } else { &c.admin };

        let list = m.service().members(&acting_as(actor), project.id(), &MemberQuery::default()).await.unwrap();

        assert_eq!((list.members.total, list.viewer_role, list.project.id()), (3, role, project.id()));
    }
}

#[tokio::test]
async fn members_are_hidden_from_outsiders_and_managers() {
    for who in ["outsider", "manager"] {
        let (c, project, mut m, _) = scene();
        m.projects.expect_members().never();
        let actor = if who == "outsider" { &c.outsider } else { &c.manager };
        assert_err(m.service().members(&acting_as(actor), project.id(), &MemberQuery::default()).await, "NotFound");
    }
}

// ---------------------------------------------------------------------------------------------
// add_member

fn adding(member: MemberRef, role: &str) -> AddMemberCommand {
    AddMemberCommand { member, role: role.to_owned() }
}

#[tokio::test]
async fn add_member_stores_the_membership_its_audit_entry_and_the_notification_in_one_commit() {
    for who in ["owner", "maintainer", "admin"] {
        let (c, project, mut m, _) = scene();
        let newcomer = a_user(Role::Member).build();
        let found = newcomer.clone();
        let id = newcomer.id();
        m.users.expect_by_id().withf(move |u| *u == id).times(1).returning(move |_| Ok(Some(found.clone())));
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.admin,
        };

        let view = m
            .service()
            .add_member(&acting_as(actor), project.id(), adding(MemberRef::Id(newcomer.id()), "maintainer"))
            .await
            .unwrap();

        let membership = &view.member.membership;
        assert_eq!(
            (membership.user_id(), membership.role(), membership.version()),
            (newcomer.id(), ProjectRole::Maintainer, 1)
        );
        assert_eq!((membership.added_at(), &view.member.username), (now(), newcomer.username()));
        let changes = commits.all().concat();
        let [Written::Project(ProjectChange::AddMember(stored)), Written::Event(event)] = changes.as_slice() else {
            panic!("{changes:#?}");
        };
        assert_eq!(stored, membership);
        assert_eq!(
            (event.event_type, event.recipient, event.occurred_at),
            (EventType::ProjectMemberAdded, newcomer.id(), now())
        );
        assert_eq!(event.data.get("project_id"), Some(&text(&project.id().to_string())));
        assert_eq!(event.data.get("project_name"), Some(&text("Apollo")));
        assert_eq!(event.data.get("role"), Some(&text("maintainer")));
        assert_eq!(event.data.get("added_by"), Some(&text(&actor.id().to_string())));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectMemberAdded, AuditEntity::Membership));
        assert_eq!(audit.entity_id, format!("{}:{}", project.id(), newcomer.id()));
        assert_eq!(audit.project_id, Some(project.id()), "the entry is in the project's trail");
        assert_eq!(audit.after.unwrap().get("role"), Some(&text("maintainer")));
        assert_eq!(commits.everything().len(), 1, "one commit");
    }
}

#[tokio::test]
async fn add_member_finds_the_user_by_email() {
    let (c, project, mut m, _) = scene();
    let newcomer = a_user(Role::Member).email("grace@example.com").build();
    let found = newcomer.clone();
    m.users
        .expect_by_email()
        .withf(|e| e.as_ref() == "grace@example.com")
        .times(1)
        .returning(move |_| Ok(Some(found.clone())));
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let view = m
        .service()
        .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Email("Grace@Example.com".into()), "viewer"))
        .await
        .unwrap();

    assert_eq!((view.member.membership.user_id(), view.viewer_role), (newcomer.id(), Some(ProjectRole::Owner)));
    assert_eq!(events(&commits)[0].recipient, newcomer.id());
}

#[tokio::test]
async fn add_member_names_the_field_of_an_unknown_or_deleted_user() {
    let gone = a_user(Role::Member).deleted().build();
    for (member, field) in
        [(MemberRef::Id(UserId::generate()), "user_id"), (MemberRef::Email("nobody@example.com".into()), "email")]
    {
        for stored in [None, Some(gone.clone())] {
            let (c, project, mut m, _) = scene();
            let (by_id, by_email) = (stored.clone(), stored);
            m.users.expect_by_id().returning(move |_| Ok(by_id.clone()));
            m.users.expect_by_email().returning(move |_| Ok(by_email.clone()));
            m.nothing_stored();

            let result =
                m.service().add_member(&acting_as(&c.owner), project.id(), adding(member.clone(), "viewer")).await;

            let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
            assert_eq!(fields_and_codes(&errors), [(field, "UNKNOWN_USER")]);
        }
    }
}

#[tokio::test]
async fn add_member_refuses_the_owner_role_and_unknown_roles_without_looking_the_user_up() {
    for (role, code) in [("owner", "NOT_ALLOWED"), ("admin", "INVALID_CHOICE"), ("", "INVALID_CHOICE")] {
        let (c, project, mut m, _) = scene();
        m.users.expect_by_id().never();
        m.nothing_stored();

        let result = m
            .service()
            .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Id(c.outsider.id()), role))
            .await;

        let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
        assert_eq!(fields_and_codes(&errors), [("role", code)], "{role}");
    }
}

#[tokio::test]
async fn add_member_lists_a_bad_email_and_a_bad_role_together() {
    let (c, project, mut m, _) = scene();
    m.users.expect_by_email().never();
    m.nothing_stored();

    let result = m
        .service()
        .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Email("not-an-address".into()), "boss"))
        .await;

    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    let fields: Vec<&str> = fields_and_codes(&errors).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["role", "email"]);
}

#[tokio::test]
async fn adding_someone_who_already_is_a_member_is_a_conflict() {
    for who in ["viewer", "owner"] {
        let (c, project, mut m, _) = scene();
        let existing = if who == "viewer" { c.viewer.clone() } else { c.owner.clone() };
        m.users.expect_by_id().returning(move |_| Ok(Some(existing.clone())));
        m.nothing_stored();
        let target = if who == "viewer" { c.viewer.id() } else { c.owner.id() };

        let result = m
            .service()
            .add_member(&acting_as(&c.maintainer), project.id(), adding(MemberRef::Id(target), "viewer"))
            .await;

        assert_err(result, "Conflict(AlreadyMember");
    }
}

#[tokio::test]
async fn add_member_reports_the_same_user_added_concurrently_as_a_conflict() {
    let (c, project, mut m, _) = scene();
    let newcomer = c.outsider.clone();
    m.users.expect_by_id().returning(move |_| Ok(Some(newcomer.clone())));
    record_commits(&mut m.unit_of_work, |_| Err(refused(ProjectConstraint::AlreadyMember)));

    let result = m
        .service()
        .add_member(&acting_as(&c.owner), project.id(), adding(MemberRef::Id(c.outsider.id()), "viewer"))
        .await;

    assert_err(result, "Conflict(AlreadyMember");
}

#[tokio::test]
async fn add_member_is_forbidden_to_viewers_and_hidden_from_outsiders_and_managers() {
    for (who, expected) in [("viewer", "Forbidden"), ("outsider", "NotFound"), ("manager", "NotFound")] {
        let (c, project, mut m, _) = scene();
        m.users.expect_by_id().never();
        m.nothing_stored();
        let actor = match who {
            "viewer" => &c.viewer,
            "outsider" => &c.outsider,
            _ => &c.manager,
        };
        let result = m
            .service()
            .add_member(&acting_as(actor), project.id(), adding(MemberRef::Id(UserId::generate()), "viewer"))
            .await;
        assert_err(result, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// change_member_role

fn to_role(role: &str, expected_version: Option<i64>) -> ChangeRoleCommand {
    ChangeRoleCommand { role: role.to_owned(), expected_version }
}

#[tokio::test]
async fn change_member_role_by_the_owner_or_an_admin_stores_it_audits_it_and_tells_the_member() {
    for who in ["owner", "admin"] {
        let (c, project, mut m, _) = scene();
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = if who == "owner" { &c.owner } else { &c.admin };

        let view = m
            .service()
            .change_member_role(&acting_as(actor), project.id(), c.viewer.id(), to_role("maintainer", Some(2)))
            .await
            .unwrap();

        assert_eq!((view.member.membership.role(), view.member.membership.version()), (ProjectRole::Maintainer, 3));
        let changes = commits.all().concat();
        let [Written::Project(ProjectChange::UpdateMember { membership, expected_version }), Written::Event(event)] =
            changes.as_slice()
        else {
            panic!("{changes:#?}");
        };
        assert_eq!((membership, *expected_version), (&view.member.membership, 2));
        assert_eq!((event.event_type, event.recipient), (EventType::ProjectMemberRoleChanged, c.viewer.id()));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectMemberRoleChanged, AuditEntity::Membership));
        assert_eq!(audit.entity_id, format!("{}:{}", project.id(), c.viewer.id()));
        assert_eq!(audit.project_id, Some(project.id()));
        assert_eq!(audit.before.unwrap().get("role"), Some(&text("viewer")));
        assert_eq!(audit.after.unwrap().get("role"), Some(&text("maintainer")));
    }
}

#[tokio::test]
async fn change_member_role_is_forbidden_to_maintainers_and_viewers_and_hidden_from_others() {
    for (who, expected) in
        [("maintainer", "Forbidden"), ("viewer", "Forbidden"), ("outsider", "NotFound"), ("manager", "NotFound")]
    {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = match who {
            "maintainer" => &c.maintainer,
            "viewer" => &c.viewer,
            "outsider" => &c.outsider,
            _ => &c.manager,
        };
        let result = m
            .service()
            .change_member_role(&acting_as(actor), project.id(), c.viewer.id(), to_role("maintainer", None))
            .await;
        assert_err(result, expected);
    }
}

#[tokio::test]
async fn the_owners_role_cannot_be_changed_by_itself_or_an_admin() {
    for who in ["owner", "admin"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = if who == "owner" { &c.owner } else { &c.admin };
        let result = m
            .service()
            .change_member_role(&acting_as(actor), project.id(), c.owner.id(), to_role("maintainer", None))
            .await;
        assert_err(result, "Conflict(OwnerCannotBeDemoted");
    }
}

#[tokio::test]
async fn no_role_change_makes_an_owner() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result =
        m.service().change_member_role(&acting_as(&c.owner), project.id(), c.viewer.id(), to_role("owner", None)).await;
    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    assert_eq!(fields_and_codes(&errors), [("role", "NOT_ALLOWED")]);
}

#[tokio::test]
async fn change_member_role_of_a_non_member_is_member_not_found() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m
        .service()
        .change_member_role(&acting_as(&c.owner), project.id(), c.outsider.id(), to_role("viewer", None))
        .await;
    assert_err(result, "MemberNotFound");
}

#[tokio::test]
async fn change_member_role_checks_the_memberships_version() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m
        .service()
        .change_member_role(&acting_as(&c.owner), project.id(), c.viewer.id(), to_role("maintainer", Some(1)))
        .await;
    assert_err(result, "Stale(Precondition");

    for (expected_version, outcome) in [(Some(2), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        let result = m
            .service()
            .change_member_role(
                &acting_as(&c.owner),
                project.id(),
                c.viewer.id(),
                to_role("maintainer", expected_version),
            )
            .await;
        assert_err(result, outcome);
    }
}

#[tokio::test]
async fn change_member_role_to_the_role_held_stores_nothing() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let view = m
        .service()
        .change_member_role(&acting_as(&c.owner), project.id(), c.viewer.id(), to_role("viewer", Some(2)))
        .await
        .unwrap();
    assert_eq!(view.member.membership.version(), 2);
}

// ---------------------------------------------------------------------------------------------
// remove_member

#[tokio::test]
async fn remove_member_by_the_owner_a_maintainer_or_an_admin_deletes_it_audits_it_and_tells_the_member() {
    for who in ["owner", "maintainer", "admin"] {
        let (c, project, mut m, _) = scene();
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.admin,
        };

        m.service().remove_member(&acting_as(actor), project.id(), c.viewer.id(), Some(2)).await.unwrap();

        let changes = commits.all().concat();
        let [
            Written::Project(ProjectChange::RemoveMember { project_id, user_id, expected_version }),
            Written::Event(event),
        ] = changes.as_slice()
        else {
            panic!("{changes:#?}");
        };
        assert_eq!((*project_id, *user_id, *expected_version), (project.id(), c.viewer.id(), 2));
        assert_eq!((event.event_type, event.recipient), (EventType::ProjectMemberRemoved, c.viewer.id()));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectMemberRemoved, AuditEntity::Membership));
        assert_eq!(audit.project_id, Some(project.id()));
        assert_eq!(audit.before.unwrap().get("role"), Some(&text("viewer")));
        assert_eq!(audit.after, None);
    }
}

#[tokio::test]
async fn a_maintainer_may_remove_another_maintainer() {
    let c = cast();
    let project = a_project(&c.owner);
    let second = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&project);
    m.memberships(&[
        member(&project, &c.owner, ProjectRole::Owner),
        member(&project, &c.maintainer, ProjectRole::Maintainer),
        member(&project, &second, ProjectRole::Maintainer),
    ]);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().remove_member(&acting_as(&c.maintainer), project.id(), second.id(), None).await.unwrap();

    assert!(matches!(commits.single()[0], Written::Project(ProjectChange::RemoveMember { .. })));
}

#[tokio::test]
async fn any_member_but_the_owner_may_leave_and_is_not_notified_of_it() {
    for who in ["viewer", "maintainer"] {
        let (c, project, mut m, _) = scene();
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = if who == "viewer" { &c.viewer } else { &c.maintainer };

        m.service().remove_member(&acting_as(actor), project.id(), actor.id(), None).await.unwrap();

        assert!(events(&commits).is_empty());
        assert_eq!(commits.audit_actions(), [AuditAction::ProjectMemberRemoved]);
    }
}

#[tokio::test]
async fn a_viewer_may_not_remove_anyone_else() {
    for target in ["maintainer", "owner", "stranger"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let target = match target {
            "maintainer" => c.maintainer.id(),
            "owner" => c.owner.id(),
            _ => UserId::generate(),
        };
        let result = m.service().remove_member(&acting_as(&c.viewer), project.id(), target, None).await;
        assert_err(result, "Forbidden");
    }
}

#[tokio::test]
async fn the_owner_can_neither_leave_nor_be_removed_by_anyone() {
    for who in ["owner", "maintainer", "admin"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = match who {
            "owner" => &c.owner,
            "maintainer" => &c.maintainer,
            _ => &c.admin,
        };
        let result = m.service().remove_member(&acting_as(actor), project.id(), c.owner.id(), None).await;
        assert_err(result, "Conflict(OwnerCannotLeave");
    }
}

#[tokio::test]
async fn removing_from_a_project_one_cannot_see_is_not_found() {
    for who in ["outsider", "manager"] {
        let (c, project, mut m, _) = scene();
        m.nothing_stored();
        let actor = if who == "outsider" { &c.outsider } else { &c.manager };
        assert_err(m.service().remove_member(&acting_as(actor), project.id(), c.viewer.id(), None).await, "NotFound");
    }
}

#[tokio::test]
async fn removing_a_non_member_is_member_not_found() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m.service().remove_member(&acting_as(&c.owner), project.id(), c.outsider.id(), None).await;
    assert_err(result, "MemberNotFound");
}

#[tokio::test]
async fn remove_member_checks_the_memberships_version() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    assert_err(
        m.service().remove_member(&acting_as(&c.owner), project.id(), c.viewer.id(), Some(9)).await,
        "Stale(Precondition",
    );

    for (expected_version, outcome) in [(Some(2), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        let result =
            m.service().remove_member(&acting_as(&c.owner), project.id(), c.viewer.id(), expected_version).await;
        assert_err(result, outcome);
    }
}
