//! Tests of one's own profile and of reading, creating, changing, deleting and restoring accounts.

use super::*;

// ---------------------------------------------------------------------------------------------
// me, get, list

#[test]
fn me_returns_the_account_the_actor_authenticated_as() {
    let user = a_user(Role::Member).build();

    let me = Mocks::new().service().me(&acting_as(&user));

    assert_eq!(me, user);
}

#[tokio::test]
async fn get_returns_the_actors_own_account() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);

    let found = m.service().get(&acting_as(&member), member.id()).await.unwrap();

    assert_eq!(found, member);
}

#[tokio::test]
async fn get_forbids_a_member_reading_someone_else_without_touching_storage() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.untouched();

    let result = m.service().get(&acting_as(&member), UserId::generate()).await;

    assert_forbidden(result);
}

#[tokio::test]
async fn get_lets_managers_and_admins_read_any_user() {
    for role in [Role::Manager, Role::Admin] {
        let other = a_user(Role::Member).build();
        let mut m = Mocks::new();
        m.stored(&other);

        let found = m.service().get(&acting_as(&a_user(role).build()), other.id()).await.unwrap();

        assert_eq!(found, other, "{role}");
    }
}

#[tokio::test]
async fn get_reports_a_deleted_user_as_not_found() {
    let deleted = a_user(Role::Member).deleted().build();
    let mut m = Mocks::new();
    m.stored(&deleted);

    let result = m.service().get(&acting_as(&a_user(Role::Admin).build()), deleted.id()).await;

    assert_not_found(result);
}

#[tokio::test]
async fn get_reports_an_unknown_user_as_not_found() {
    let mut m = Mocks::new();
    m.users.expect_by_id().times(1).returning(|_| Ok(None));

    let result = m.service().get(&acting_as(&a_user(Role::Manager).build()), UserId::generate()).await;

    assert_not_found(result);
}

#[tokio::test]
async fn get_propagates_a_storage_failure() {
    let mut m = Mocks::new();
    m.users.expect_by_id().returning(|_| Err(UnexpectedError::unavailable("storage is down")));

    let result = m.service().get(&acting_as(&a_user(Role::Admin).build()), UserId::generate()).await;

    assert!(matches!(result, Err(UserError::Unexpected(_))), "{result:?}");
}

#[tokio::test]
async fn list_forbids_members() {
    let mut m = Mocks::new();
    m.untouched();

    let result = m.service().list(&acting_as(&a_user(Role::Member).build()), &UserQuery::default()).await;

    assert_forbidden(result);
}

#[tokio::test]
async fn list_passes_the_query_through_for_managers_and_admins() {
    for role in [Role::Manager, Role::Admin] {
        let query = UserQuery {
            filter: UserFilter {
                search: Some("ada".into()),
                role: Some(Role::Member),
                is_active: Some(true),
                is_verified: None,
            },
            sort: UserSort::Username,
            order: SortOrder::Asc,
            page: PageRequest::new(2, 10).unwrap(),
        };
        let page = Page { items: vec![a_user(Role::Member).build()], total: 11, request: query.page };
        let mut m = Mocks::new();
        let (expected, answer) = (query.clone(), page.clone());
        m.users.expect_list().withf(move |q| *q == expected).times(1).returning(move |_| Ok(answer.clone()));

        let listed = m.service().list(&acting_as(&a_user(role).build()), &query).await.unwrap();

        assert_eq!(listed, page, "{role}");
    }
}

// ---------------------------------------------------------------------------------------------
// create, create_admin, ensure_admin

fn a_creation() -> CreateUserCommand {
    CreateUserCommand {
        email: "Grace@Example.com".into(),
        username: "grace_h".into(),
        password: PASSWORD.into(),
        full_name: Some("Grace Hopper".into()),
        role: None,
        is_active: None,
    }
}

#[tokio::test]
async fn create_forbids_anyone_but_an_admin() {
    for role in [Role::Manager, Role::Member] {
        let mut m = Mocks::new();
        m.untouched();

        let result = m.service().create(&acting_as(&a_user(role).build()), a_creation()).await;

        assert_forbidden(result);
    }
}

#[tokio::test]
async fn create_defaults_to_an_active_unverified_member() {
    let mut m = Mocks::new();
    m.free_to_insert();
    issue_account_tokens(&mut m.opaque_tokens);
    let outbox = record_mail(&mut m.mail_templates, &mut m.mail_queue);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let admin = a_user(Role::Admin).build();
    let created = m.service().create(&acting_as(&admin), a_creation()).await.unwrap();

    let stored = single_insert(&commits);
    assert_eq!(stored, created);
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!((audit.action, audit.actor_id), (AuditAction::UserCreated, Some(admin.id())));
    assert_eq!(audit.after.as_ref().and_then(|a| a.get("role")), Some(&AuditValue::Text("member".into())));
    assert_eq!(stored.role(), Role::Member);
    assert!(stored.is_active());
    assert!(!stored.is_verified());
    assert_eq!(stored.email().as_ref(), "grace@example.com");
    assert_eq!(stored.username().as_ref(), "grace_h");
    assert_eq!(stored.password_hash().expose(), "$argon2id$fresh");
    assert_eq!(stored.created_at(), now());
    let (tokens, _) = stored_tokens(&commits);
    let [token] = tokens.as_slice() else { panic!("expected one verification token, got {tokens:#?}") };
    assert_eq!(
        (token.user_id, token.purpose, token.email.as_ref()),
        (created.id(), TokenPurpose::VerifyEmail, "grace@example.com")
    );
    assert_eq!(token.digest.as_str(), ACCOUNT_DIGEST);
    assert_eq!(outbox.sent(), [("grace@example.com".to_owned(), "verify_email".to_owned())]);
}

#[tokio::test]
async fn create_honours_the_requested_role_and_active_flag() {
    let mut m = Mocks::new();
    m.free_to_insert();
    issue_account_tokens(&mut m.opaque_tokens);
    record_mail(&mut m.mail_templates, &mut m.mail_queue);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let cmd = CreateUserCommand { role: Some("manager".into()), is_active: Some(false), ..a_creation() };

    m.service().create(&acting_as(&a_user(Role::Admin).build()), cmd).await.unwrap();

    let stored = single_insert(&commits);
    assert_eq!(stored.role(), Role::Manager);
    assert!(!stored.is_active());
}

#[tokio::test]
async fn create_refuses_an_unknown_role_name_as_an_error_on_the_role_field() {
    let mut m = Mocks::new();
    m.untouched();
    let cmd = CreateUserCommand { role: Some("owner".into()), ..a_creation() };

    let result = m.service().create(&acting_as(&a_user(Role::Admin).build()), cmd).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("role", "INVALID_CHOICE")]);
}

#[tokio::test]
async fn create_lists_every_invalid_field_at_once() {
    let mut m = Mocks::new();
    m.untouched();
    let cmd = CreateUserCommand {
        email: "grace@".into(),
        full_name: Some("   ".into()),
        password: "Grace_h-1942!x".into(),
        role: Some("Admin".into()),
        ..a_creation()
    };

    let result = m.service().create(&acting_as(&a_user(Role::Admin).build()), cmd).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(
        fields_and_codes(&errors),
        [
            ("email", "INVALID_FORMAT"),
            ("full_name", "REQUIRED"),
            ("password", "CONTAINS_PERSONAL_INFO"),
            ("role", "INVALID_CHOICE")
        ]
    );
}

#[tokio::test]
async fn create_refuses_an_email_address_that_is_taken() {
    let existing = a_user(Role::Member).email("grace@example.com").build();
    let mut m = Mocks::new();
    m.users
        .expect_by_email()
        .withf(|e| e.as_ref() == "grace@example.com")
        .returning(move |_| Ok(Some(existing.clone())));
    m.hasher.expect_hash().never();
    m.nothing_stored();

    let result = m.service().create(&acting_as(&a_user(Role::Admin).build()), a_creation()).await;

    assert!(matches!(result, Err(UserError::Conflict(UserConflict::EmailTaken))), "{result:?}");
}

#[tokio::test]
async fn create_refuses_a_username_that_is_taken() {
    let existing = a_user(Role::Member).username("GRACE_H").build();
    let mut m = Mocks::new();
    m.users.expect_by_email().returning(|_| Ok(None));
    m.users.expect_by_username().withf(|u| u.as_ref() == "grace_h").returning(move |_| Ok(Some(existing.clone())));
    m.hasher.expect_hash().never();
    m.nothing_stored();

    let result = m.service().create(&acting_as(&a_user(Role::Admin).build()), a_creation()).await;

    assert!(matches!(result, Err(UserError::Conflict(UserConflict::UsernameTaken))), "{result:?}");
}

#[tokio::test]
async fn create_reports_a_username_taken_by_a_concurrent_write() {
    let mut m = Mocks::new();
    m.free_to_insert();
    issue_account_tokens(&mut m.opaque_tokens);
    // Nothing stored, nothing mailed: the mail mocks have no expectations.
    record_commits(&mut m.unit_of_work, |_| Err(refused(UserConstraint::UsernameTaken)));

    let result = m.service().create(&acting_as(&a_user(Role::Admin).build()), a_creation()).await;

    assert!(matches!(result, Err(UserError::Conflict(UserConflict::UsernameTaken))), "{result:?}");
}

fn an_operator_admin() -> NewAdminCommand {
    NewAdminCommand { email: "root@example.com".into(), username: "root_admin".into(), password: PASSWORD.into() }
}

#[tokio::test]
async fn create_admin_stores_a_verified_active_admin() {
    let mut m = Mocks::new();
    m.free_to_insert();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let created = m.service().create_admin(an_operator_admin()).await.unwrap();

    let stored = single_insert(&commits);
    assert_eq!(stored, created);
    assert_eq!(stored.role(), Role::Admin);
    assert!(stored.is_active());
    assert!(stored.is_verified());
    assert_eq!(stored.username().as_ref(), "root_admin");
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!((audit.action, audit.actor_id), (AuditAction::UserCreated, None));
}

#[tokio::test]
async fn create_admin_refuses_a_password_against_the_policy() {
    let mut m = Mocks::new();
    m.untouched();
    let cmd = NewAdminCommand { password: "password".into(), ..an_operator_admin() };

    let result = m.service().create_admin(cmd).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("password", "MISSING_UPPERCASE")]);
}

#[tokio::test]
async fn ensure_admin_does_nothing_when_an_admin_exists() {
    let mut m = Mocks::new();
    m.users.expect_admin_exists().times(1).returning(|| Ok(true));
    m.untouched();

    let created = m.service().ensure_admin(an_operator_admin()).await.unwrap();

    assert_eq!(created, None);
}

#[tokio::test]
async fn ensure_admin_creates_the_admin_when_there_is_none() {
    let mut m = Mocks::new();
    m.users.expect_admin_exists().times(1).returning(|| Ok(false));
    m.free_to_insert();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let created = m.service().ensure_admin(an_operator_admin()).await.unwrap();

    let stored = single_insert(&commits);
    assert_eq!(created, Some(stored.clone()));
    assert_eq!(stored.role(), Role::Admin);
}

// ---------------------------------------------------------------------------------------------
// update, update_me

#[tokio::test]
async fn update_lets_a_member_change_its_own_profile() {
    let member = a_user(Role::Member).full_name("Ada").build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_username().withf(|u| u.as_ref() == "countess").times(1).returning(|_| Ok(None));
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = UserUpdate {
        profile: ProfileUpdate {
            username: Some("countess".into()),
            full_name: Some(Some("Ada Lovelace".into())),
            email: None,
            current_password: None,
        },
        expected_version: Some(member.version()),
        ..UserUpdate::default()
    };

    let updated = m.service().update(&acting_as(&member), member.id(), update).await.unwrap();

    let (stored, expected_version) = single_update(&commits);
    assert_eq!(stored, updated);
    assert_eq!(expected_version, member.version());
    assert_eq!(stored.username().as_ref(), "countess");
    assert_eq!(stored.full_name().map(AsRef::as_ref), Some("Ada Lovelace"));
    assert!(stored.version() > member.version());
    assert_eq!(stored.updated_at(), now());
    assert_eq!((stored.email(), stored.role(), stored.is_verified()), (member.email(), Role::Member, true));
}

#[tokio::test]
async fn update_me_clears_the_actors_display_name() {
    let member = a_user(Role::Member).full_name("Ada Lovelace").build();
    let mut m = Mocks::new();
    m.stored(&member);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let updated = m
        .service()
        .update_me(&acting_as(&member), ProfileUpdate { full_name: Some(None), ..ProfileUpdate::default() }, None)
        .await
        .unwrap();

    let (stored, _) = single_update(&commits);
    assert_eq!(stored.id(), member.id());
    assert_eq!(stored.full_name(), None);
    assert_eq!(updated, stored);
}

#[tokio::test]
async fn update_forbids_members_and_managers_changing_someone_else_without_touching_storage() {
    for role in [Role::Member, Role::Manager] {
        let mut m = Mocks::new();
        m.untouched();
        let update = UserUpdate {
            profile: ProfileUpdate { full_name: Some(Some("Mallory".into())), ..ProfileUpdate::default() },
            ..UserUpdate::default()
        };

        let result = m.service().update(&acting_as(&a_user(role).build()), UserId::generate(), update).await;

        assert_forbidden(result);
    }
}

#[tokio::test]
async fn update_forbids_a_member_changing_its_own_role() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.nothing_stored();
    let update = UserUpdate { role: Some("admin".into()), ..UserUpdate::default() };

    let result = m.service().update(&acting_as(&member), member.id(), update).await;

    assert_forbidden(result);
}

#[tokio::test]
async fn update_forbids_a_manager_changing_its_own_role() {
    let manager = a_user(Role::Manager).build();
    let mut m = Mocks::new();
    m.stored(&manager);
    m.nothing_stored();
    let update = UserUpdate { role: Some("admin".into()), ..UserUpdate::default() };

    let result = m.service().update(&acting_as(&manager), manager.id(), update).await;

    assert_forbidden(result);
}

#[tokio::test]
async fn update_forbids_a_member_deactivating_itself() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.nothing_stored();
    let update = UserUpdate { is_active: Some(false), ..UserUpdate::default() };

    let result = m.service().update(&acting_as(&member), member.id(), update).await;

    assert_forbidden(result);
}

#[tokio::test]
async fn update_accepts_a_member_sending_back_its_unchanged_role_and_active_flag() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = UserUpdate {
        profile: ProfileUpdate { full_name: Some(Some("Ada Lovelace".into())), ..ProfileUpdate::default() },
        role: Some("member".into()),
        is_active: Some(true),
        expected_version: None,
    };

    let updated = m.service().update(&acting_as(&member), member.id(), update).await.unwrap();

    let (stored, _) = single_update(&commits);
    assert_eq!(stored, updated);
    assert_eq!(stored.full_name().map(AsRef::as_ref), Some("Ada Lovelace"));
    assert_eq!(stored.role(), Role::Member);
}

#[tokio::test]
async fn update_refuses_an_admin_demoting_itself() {
    let admin = a_user(Role::Admin).build();
    let mut m = Mocks::new();
    m.stored(&admin);
    m.nothing_stored();
    let update = UserUpdate { role: Some("member".into()), ..UserUpdate::default() };

    let result = m.service().update(&acting_as(&admin), admin.id(), update).await;

    assert_conflict(result, UserConflict::SelfDemotion);
}

#[tokio::test]
async fn update_refuses_an_admin_deactivating_itself() {
    let admin = a_user(Role::Admin).build();
    let mut m = Mocks::new();
    m.stored(&admin);
    m.sessions.expect_active_for_user().never();
    m.nothing_stored();
    let update = UserUpdate { is_active: Some(false), ..UserUpdate::default() };

    let result = m.service().update(&acting_as(&admin), admin.id(), update).await;

    assert_conflict(result, UserConflict::SelfDemotion);
}

#[tokio::test]
async fn update_lets_an_admin_change_another_users_role() {
    let admin = a_user(Role::Admin).build();
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.sessions.expect_active_for_user().never();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = UserUpdate { role: Some("manager".into()), ..UserUpdate::default() };

    let updated = m.service().update(&acting_as(&admin), member.id(), update).await.unwrap();

    let (stored, expected_version) = single_update(&commits);
    assert_eq!(stored, updated);
    assert_eq!(stored.id(), member.id());
    assert_eq!(stored.role(), Role::Manager);
    assert_eq!(expected_version, member.version());
    let [audit] = commits.audits().try_into().expect("one audit entry");
    assert_eq!((audit.action, audit.actor_id), (AuditAction::UserUpdated, Some(admin.id())));
    let (before, after) = (audit.before.expect("before"), audit.after.expect("after"));
    assert_eq!(before.get("role"), Some(&AuditValue::Text("member".into())));
    assert_eq!(after.get("role"), Some(&AuditValue::Text("manager".into())));
    assert_eq!(before.get("email"), None, "unchanged fields are left out");
}

#[tokio::test]
async fn update_unverifies_a_changed_email_address_and_mails_both_addresses() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    verify_current_password(&mut m, PASSWORD, true);
    m.users.expect_by_email().withf(|e| e.as_ref() == "ada@new.example.com").times(1).returning(|_| Ok(None));
    issue_account_tokens(&mut m.opaque_tokens);
    let outbox = record_mail(&mut m.mail_templates, &mut m.mail_queue);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = ProfileUpdate {
        email: Some("Ada@New.Example.com".into()),
        current_password: Some(SecretString::from(PASSWORD)),
        ..ProfileUpdate::default()
    };

    m.service().update_me(&acting_as(&member), update, None).await.unwrap();

    let (stored, _) = single_update(&commits);
    assert_eq!(stored.email().as_ref(), "ada@new.example.com");
    assert!(!stored.is_verified());
    let (tokens, discarded) = stored_tokens(&commits);
    let [token] = tokens.as_slice() else { panic!("expected one verification token, got {tokens:#?}") };
    assert_eq!((token.purpose, token.email.as_ref()), (TokenPurpose::VerifyEmail, "ada@new.example.com"));
    assert_eq!(token.expires_at, now() + Duration::hours(24));
    assert_eq!(discarded, [TokenPurpose::ResetPassword, TokenPurpose::VerifyEmail]);
    assert_eq!(
        outbox.sent(),
        [
            ("ada@new.example.com".to_owned(), "verify_email".to_owned()),
            (member.email().as_ref().to_owned(), "email_changed".to_owned()),
        ]
    );
    assert_eq!(outbox.all()[1].text, "address changed to ada@new.example.com");
}

#[tokio::test]
async fn update_me_needs_the_current_password_to_change_the_email_address() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_email().never();
    m.hasher.expect_verify().never();
    m.nothing_stored();
    let update = ProfileUpdate { email: Some("ada@new.example.com".into()), ..ProfileUpdate::default() };

    let result = m.service().update_me(&acting_as(&member), update, None).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("current_password", "REQUIRED")]);
}

#[tokio::test]
async fn update_me_refuses_a_wrong_current_password_before_looking_at_the_new_address() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    verify_current_password(&mut m, "not-it", false);
    m.users.expect_by_email().never();
    m.nothing_stored();
    let update = ProfileUpdate {
        email: Some("ada@new.example.com".into()),
        current_password: Some(SecretString::from("not-it")),
        ..ProfileUpdate::default()
    };

    let result = m.service().update_me(&acting_as(&member), update, None).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("current_password", "INVALID_PASSWORD")]);
}

#[tokio::test]
async fn an_admin_changing_its_own_email_address_needs_its_password_too() {
    let admin = a_user(Role::Admin).build();
    let mut m = Mocks::new();
    m.stored(&admin);
    m.nothing_stored();
    let update = UserUpdate {
        profile: ProfileUpdate { email: Some("root@new.example.com".into()), ..ProfileUpdate::default() },
        ..UserUpdate::default()
    };

    let result = m.service().update(&acting_as(&admin), admin.id(), update).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(fields_and_codes(&errors), [("current_password", "REQUIRED")]);
}

#[tokio::test]
async fn an_admin_changes_someone_elses_email_address_without_a_password() {
    let admin = a_user(Role::Admin).build();
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.hasher.expect_verify().never();
    m.users.expect_by_email().times(1).returning(|_| Ok(None));
    issue_account_tokens(&mut m.opaque_tokens);
    let outbox = record_mail(&mut m.mail_templates, &mut m.mail_queue);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = UserUpdate {
        profile: ProfileUpdate { email: Some("moved@example.com".into()), ..ProfileUpdate::default() },
        ..UserUpdate::default()
    };

    m.service().update(&acting_as(&admin), member.id(), update).await.unwrap();

    assert_eq!(single_update(&commits).0.email().as_ref(), "moved@example.com");
    let recipients: Vec<String> = outbox.sent().into_iter().map(|(to, _)| to).collect();
    assert_eq!(recipients, ["moved@example.com".to_owned(), member.email().as_ref().to_owned()]);
}

#[tokio::test]
async fn an_address_change_that_is_not_stored_mails_nothing() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    verify_current_password(&mut m, PASSWORD, true);
    m.users.expect_by_email().returning(|_| Ok(None));
    issue_account_tokens(&mut m.opaque_tokens);
    m.mail_queue.expect_enqueue().never();
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
    let update = ProfileUpdate {
        email: Some("ada@new.example.com".into()),
        current_password: Some(SecretString::from(PASSWORD)),
        ..ProfileUpdate::default()
    };

    let result = m.service().update_me(&acting_as(&member), update, None).await;

    assert_lost_race(result);
}

#[tokio::test]
async fn update_refuses_an_email_address_of_another_user() {
    let member = a_user(Role::Member).build();
    let other = a_user(Role::Member).email("taken@example.com").build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_email().withf(|e| e.as_ref() == "taken@example.com").returning(move |_| Ok(Some(other.clone())));
    verify_current_password(&mut m, PASSWORD, true);
    m.nothing_stored();
    let update = ProfileUpdate {
        email: Some("taken@example.com".into()),
        current_password: Some(SecretString::from(PASSWORD)),
        ..ProfileUpdate::default()
    };

    let result = m.service().update_me(&acting_as(&member), update, None).await;

    assert!(matches!(result, Err(UserError::Conflict(UserConflict::EmailTaken))), "{result:?}");
}

#[tokio::test]
async fn update_refuses_a_username_of_another_user() {
    let member = a_user(Role::Member).build();
    let other = a_user(Role::Member).username("Taken").build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_username().withf(|u| u.as_ref() == "taken").returning(move |_| Ok(Some(other.clone())));
    m.nothing_stored();
    let update = ProfileUpdate { username: Some("taken".into()), ..ProfileUpdate::default() };

    let result = m.service().update_me(&acting_as(&member), update, None).await;

    assert!(matches!(result, Err(UserError::Conflict(UserConflict::UsernameTaken))), "{result:?}");
}

#[tokio::test]
async fn update_lets_a_user_respell_its_own_username_without_a_uniqueness_check() {
    let member = a_user(Role::Member).username("ada_l").build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_username().never();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = ProfileUpdate { username: Some("Ada_L".into()), ..ProfileUpdate::default() };

    m.service().update_me(&acting_as(&member), update, None).await.unwrap();

    let (stored, _) = single_update(&commits);
    assert_eq!(stored.username().as_ref(), "Ada_L");
}

#[tokio::test]
async fn update_with_the_values_already_stored_stores_nothing() {
    let admin = a_user(Role::Admin).build();
    let member = a_user(Role::Member).email("ada@example.com").username("ada_l").full_name("Ada Lovelace").build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_email().never();
    m.users.expect_by_username().never();
    m.nothing_stored();
    let update = UserUpdate {
        profile: ProfileUpdate {
            email: Some("ADA@example.com".into()),
            username: Some("ada_l".into()),
            full_name: Some(Some("Ada Lovelace".into())),
            current_password: None,
        },
        role: Some("member".into()),
        is_active: Some(true),
        expected_version: Some(member.version()),
    };

    let updated = m.service().update(&acting_as(&admin), member.id(), update).await.unwrap();

    assert_eq!(updated, member);
}

#[tokio::test]
async fn update_refuses_a_change_based_on_an_older_version() {
    let member = a_user(Role::Member).version(7).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.nothing_stored();
    let update = UserUpdate {
        profile: ProfileUpdate { full_name: Some(Some("Ada".into())), ..ProfileUpdate::default() },
        expected_version: Some(6),
        ..UserUpdate::default()
    };

    let result = m.service().update(&acting_as(&member), member.id(), update).await;

    assert!(matches!(result, Err(UserError::Stale(Staleness::Precondition))), "{result:?}");
}

#[tokio::test]
async fn update_reports_a_conditional_write_that_lost_a_race_as_stale() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
    let update = ProfileUpdate { full_name: Some(Some("Ada".into())), ..ProfileUpdate::default() };

    let result = m.service().update_me(&acting_as(&member), update, Some(member.version())).await;

    assert!(matches!(result, Err(UserError::Stale(Staleness::Precondition))), "{result:?}");
}

#[tokio::test]
async fn update_reports_a_concurrent_change_as_a_lost_race() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));
    let update = ProfileUpdate { full_name: Some(Some("Ada".into())), ..ProfileUpdate::default() };

    let result = m.service().update_me(&acting_as(&member), update, None).await;

    assert_lost_race(result);
}

#[tokio::test]
async fn update_reports_an_email_address_taken_by_a_concurrent_write() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_email().returning(|_| Ok(None));
    verify_current_password(&mut m, PASSWORD, true);
    issue_account_tokens(&mut m.opaque_tokens);
    record_commits(&mut m.unit_of_work, |_| Err(refused(UserConstraint::EmailTaken)));
    let update = ProfileUpdate {
        email: Some("fresh@example.com".into()),
        current_password: Some(SecretString::from(PASSWORD)),
        ..ProfileUpdate::default()
    };

    let result = m.service().update_me(&acting_as(&member), update, None).await;

    assert!(matches!(result, Err(UserError::Conflict(UserConflict::EmailTaken))), "{result:?}");
}

#[tokio::test]
async fn update_lists_every_invalid_field_at_once_without_looking_anything_up() {
    let admin = a_user(Role::Admin).build();
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.users.expect_by_email().never();
    m.users.expect_by_username().never();
    m.nothing_stored();
    let update = UserUpdate {
        profile: ProfileUpdate {
            email: Some("nope".into()),
            username: Some("a b".into()),
            full_name: Some(Some("\u{7}".into())),
            current_password: None,
        },
        role: Some("root".into()),
        ..UserUpdate::default()
    };

    let result = m.service().update(&acting_as(&admin), member.id(), update).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(
        fields_and_codes(&errors),
        [
            ("email", "INVALID_FORMAT"),
            ("username", "INVALID_CHARACTER"),
            ("full_name", "INVALID_CHARACTER"),
            ("role", "INVALID_CHOICE")
        ]
    );
}

#[tokio::test]
async fn update_of_a_deleted_or_unknown_user_is_not_found() {
    let admin = a_user(Role::Admin).build();
    let deleted = a_user(Role::Member).deleted().build();
    let unknown = UserId::generate();
    let mut m = Mocks::new();
    m.stored(&deleted);
    m.users.expect_by_id().withf(move |id| *id == unknown).returning(|_| Ok(None));
    m.nothing_stored();
    let service = m.service();
    let update = || UserUpdate { role: Some("manager".into()), ..UserUpdate::default() };

    assert_not_found(service.update(&acting_as(&admin), deleted.id(), update()).await);
    assert_not_found(service.update(&acting_as(&admin), unknown, update()).await);
}

#[tokio::test]
async fn update_that_deactivates_a_user_ends_every_active_session_in_the_same_commit() {
    let admin = a_user(Role::Admin).build();
    let member = a_user(Role::Member).build();
    let sessions = vec![a_session(member.id()), a_session(member.id())];
    let ids: Vec<_> = sessions.iter().map(|s| s.id).collect();
    let mut m = Mocks::new();
    m.stored(&member);
    m.active_sessions(member.id(), sessions);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = UserUpdate { is_active: Some(false), ..UserUpdate::default() };

    let updated = m.service().update(&acting_as(&admin), member.id(), update).await.unwrap();

    assert!(!updated.is_active());
    let changes = commits.single();
    let [
        Written::User(UserChange::Update { user, expected_version }),
        Written::Session(SessionChange::Revoke { id: first, at: first_at }),
        Written::Session(SessionChange::Revoke { id: second, at: second_at }),
    ] = changes.as_slice()
    else {
        panic!("expected UpdateUser then a RevokeSession per session, got {changes:#?}");
    };
    assert_eq!((user, *expected_version), (&updated, member.version()));
    assert_eq!([(*first, *first_at), (*second, *second_at)], [(ids[0], now()), (ids[1], now())]);
}

#[tokio::test]
async fn update_that_reactivates_a_user_ends_no_session() {
    let admin = a_user(Role::Admin).build();
    let member = a_user(Role::Member).inactive().build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.sessions.expect_active_for_user().never();
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let update = UserUpdate { is_active: Some(true), ..UserUpdate::default() };

    m.service().update(&acting_as(&admin), member.id(), update).await.unwrap();

    let (stored, _) = single_update(&commits);
    assert!(stored.is_active());
}

// ---------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_forbids_anyone_but_an_admin() {
    for role in [Role::Manager, Role::Member] {
        let mut m = Mocks::new();
        m.untouched();

        let result = m.service().delete(&acting_as(&a_user(role).build()), UserId::generate(), None).await;

        assert_forbidden(result);
    }
}

#[tokio::test]
async fn delete_refuses_an_admin_deleting_itself() {
    let admin = a_user(Role::Admin).build();
    let mut m = Mocks::new();
    m.untouched();

    let result = m.service().delete(&acting_as(&admin), admin.id(), None).await;

    assert_conflict(result, UserConflict::SelfDeletion);
}

#[tokio::test]
async fn delete_soft_deletes_the_user_and_ends_its_sessions_in_one_commit() {
    let admin = a_user(Role::Admin).build();
    let member = a_user(Role::Member).build();
    let session = a_session(member.id());
    let mut m = Mocks::new();
    m.stored(&member);
    m.active_sessions(member.id(), vec![session.clone()]);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    m.service().delete(&acting_as(&admin), member.id(), Some(member.version())).await.unwrap();

    let changes = commits.single();
    let [
        Written::User(UserChange::Update { user, expected_version }),
        Written::Session(SessionChange::Revoke { id, at }),
    ] = changes.as_slice()
    else {
        panic!("expected UpdateUser then RevokeSession, got {changes:#?}");
    };
    assert_eq!(user.id(), member.id());
    assert_eq!(user.deleted_at(), Some(now()));
    assert_eq!(*expected_version, member.version());
    assert_eq!((*id, *at), (session.id, now()));
    assert_eq!(commits.audit_actions(), [AuditAction::UserDeleted, AuditAction::SessionRevoked]);
    assert!(commits.audits().iter().all(|a| a.actor_id == Some(admin.id())));
}

#[tokio::test]
async fn delete_of_an_already_deleted_user_is_not_found() {
    let deleted = a_user(Role::Member).deleted().build();
    let mut m = Mocks::new();
    m.stored(&deleted);
    m.sessions.expect_active_for_user().never();
    m.nothing_stored();

    let result = m.service().delete(&acting_as(&a_user(Role::Admin).build()), deleted.id(), None).await;

    assert_not_found(result);
}

#[tokio::test]
async fn delete_of_an_unknown_user_is_not_found() {
    let mut m = Mocks::new();
    m.users.expect_by_id().returning(|_| Ok(None));
    m.nothing_stored();

    let result = m.service().delete(&acting_as(&a_user(Role::Admin).build()), UserId::generate(), None).await;

    assert_not_found(result);
}

#[tokio::test]
async fn delete_refuses_a_deletion_based_on_an_older_version() {
    let member = a_user(Role::Member).version(4).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.sessions.expect_active_for_user().never();
    m.nothing_stored();

    let result = m.service().delete(&acting_as(&a_user(Role::Admin).build()), member.id(), Some(3)).await;

    assert!(matches!(result, Err(UserError::Stale(Staleness::Precondition))), "{result:?}");
}

#[tokio::test]
async fn delete_reports_a_concurrent_change_as_a_conflict_and_revokes_nothing() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.active_sessions(member.id(), vec![a_session(member.id())]);
    record_commits(&mut m.unit_of_work, |_| Err(CommitError::Stale));

    let result = m.service().delete(&acting_as(&a_user(Role::Admin).build()), member.id(), None).await;

    assert_lost_race(result);
}

// ---------------------------------------------------------------------------------------------
// restore

#[tokio::test]
async fn restore_forbids_anyone_but_an_admin() {
    for role in [Role::Manager, Role::Member] {
        let mut m = Mocks::new();
        m.untouched();

        let result = m.service().restore(&acting_as(&a_user(role).build()), UserId::generate()).await;

        assert_forbidden(result);
    }
}

#[tokio::test]
async fn restore_brings_a_deleted_user_back() {
    let deleted = a_user(Role::Member).deleted().build();
    let mut m = Mocks::new();
    m.stored(&deleted);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));

    let restored = m.service().restore(&acting_as(&a_user(Role::Admin).build()), deleted.id()).await.unwrap();

    let (stored, expected_version) = single_update(&commits);
    assert_eq!(stored, restored);
    assert!(!stored.is_deleted());
    assert_eq!(stored.version(), deleted.version() + 1);
    assert_eq!(expected_version, deleted.version());
    assert_eq!(commits.audit_actions(), [AuditAction::UserRestored]);
}

#[tokio::test]
async fn restore_refuses_a_user_that_is_not_deleted() {
    let member = a_user(Role::Member).build();
    let mut m = Mocks::new();
    m.stored(&member);
    m.nothing_stored();

    let result = m.service().restore(&acting_as(&a_user(Role::Admin).build()), member.id()).await;

    assert_conflict(result, UserConflict::NotDeleted);
}

#[tokio::test]
async fn restore_of_an_unknown_user_is_not_found() {
    let mut m = Mocks::new();
    m.users.expect_by_id().times(1).returning(|_| Ok(None));
    m.nothing_stored();

    let result = m.service().restore(&acting_as(&a_user(Role::Admin).build()), UserId::generate()).await;

    assert_not_found(result);
}
