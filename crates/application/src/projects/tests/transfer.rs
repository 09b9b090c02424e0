//! Tests of handing a project over.

use super::*;

// ---------------------------------------------------------------------------------------------
// transfer

fn transfer_to(user: &User, expected_version: Option<i64>) -> TransferCommand {
    TransferCommand { user_id: user.id(), expected_version }
}

#[tokio::test]
async fn transfer_makes_the_member_owner_and_the_old_owner_a_maintainer_in_one_commit() {
    for who in ["owner", "admin"] {
        let (c, project, mut m, _) = scene();
        m.names_free();
        m.counts(3);
        let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
        let actor = if who == "owner" { &c.owner } else { &c.admin };

        let view =
            m.service().transfer(&acting_as(actor), project.id(), transfer_to(&c.viewer, Some(4))).await.unwrap();

        assert_eq!((view.project.owner_id(), view.project.version()), (c.viewer.id(), 5));
        let expected_role = if who == "owner" { Some(ProjectRole::Maintainer) } else { None };
        assert_eq!(view.viewer_role, expected_role);
        let changes = commits.all().concat();
        let [
            Written::Project(ProjectChange::UpdateMember { membership: from, expected_version: from_version }),
            Written::Project(ProjectChange::UpdateMember { membership: to, expected_version: to_version }),
            Written::Project(ProjectChange::Update { project: stored, expected_version: project_version }),
            Written::Event(event),
        ] = changes.as_slice()
        else {
            panic!("{changes:#?}");
        };
        assert_eq!((from.user_id(), from.role(), *from_version), (c.owner.id(), ProjectRole::Maintainer, 2));
        assert_eq!((to.user_id(), to.role(), *to_version), (c.viewer.id(), ProjectRole::Owner, 2));
        assert_eq!((stored, *project_version), (&view.project, 4));
        assert_eq!((event.event_type, event.recipient), (EventType::ProjectOwnershipTransferred, c.viewer.id()));
        let [audit] = commits.audits().try_into().unwrap();
        assert_eq!((audit.action, audit.entity_type), (AuditAction::ProjectTransferred, AuditEntity::Project));
        assert_eq!(audit.project_id, Some(project.id()));
        assert_eq!(audit.before.unwrap().get("owner_id"), Some(&text(&c.owner.id().to_string())));
        assert_eq!(audit.after.unwrap().get("owner_id"), Some(&text(&c.viewer.id().to_string())));
        assert_eq!(commits.everything().len(), 1);
    }
}

#[tokio::test]
async fn transfer_is_forbidden_to_maintainers_and_viewers_and_hidden_from_others() {
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
        assert_err(
            m.service().transfer(&acting_as(actor), project.id(), transfer_to(&c.maintainer, None)).await,
            expected,
        );
    }
}

#[tokio::test]
async fn transfer_to_a_non_member_names_user_id() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    let result = m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.outsider, None)).await;
    let Err(ProjectError::Validation(errors)) = result else { panic!("{result:?}") };
    assert_eq!(fields_and_codes(&errors), [("user_id", "NOT_A_MEMBER")]);
}

#[tokio::test]
async fn transfer_to_the_owner_is_a_conflict() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    assert_err(
        m.service().transfer(&acting_as(&c.admin), project.id(), transfer_to(&c.owner, None)).await,
        "Conflict(AlreadyOwner",
    );
}

#[tokio::test]
async fn transfer_to_a_member_who_owns_a_project_of_that_name_is_refused() {
    let (c, project, mut m, _) = scene();
    let theirs = a_project(&c.maintainer);
    let target = c.maintainer.id();
    m.projects
        .expect_owned_with_name()
        .withf(move |owner, name| *owner == target && name.as_ref() == "Apollo")
        .returning(move |_, _| Ok(Some(theirs.clone())));
    m.nothing_stored();

    let result = m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.maintainer, None)).await;

    assert_err(result, "Conflict(NameTaken");
}

#[tokio::test]
async fn transfer_checks_the_projects_version() {
    let (c, project, mut m, _) = scene();
    m.nothing_stored();
    assert_err(
        m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.viewer, Some(3))).await,
        "Stale(Precondition",
    );

    for (expected_version, outcome) in [(Some(4), "Stale(Precondition"), (None, "Stale(LostRace")] {
        let (c, project, mut m, _) = scene();
        m.names_free();
        record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
        let result =
            m.service().transfer(&acting_as(&c.owner), project.id(), transfer_to(&c.viewer, expected_version)).await;
        assert_err(result, outcome);
    }
}

#[tokio::test]
async fn transfer_of_a_project_whose_owner_has_no_membership_is_an_internal_error() {
    let c = cast();
    let project = a_project(&c.owner);
    let mut m = Mocks::new();
    m.stored(&project);
    m.memberships(&[member(&project, &c.viewer, ProjectRole::Viewer)]);
    m.nothing_stored();

    let result = m.service().transfer(&acting_as(&c.admin), project.id(), transfer_to(&c.viewer, None)).await;

    assert_err(result, "Unexpected");
}
