//! Tests of creating accounts in bulk.

use super::*;

// ---------------------------------------------------------------------------------------------
// create_many

/// Item `i` of a batch: `bulk{i}@example.com`, `bulk_{i}`.
fn item(i: usize) -> CreateUserCommand {
    CreateUserCommand {
        email: format!("bulk{i}@example.com"),
        username: format!("bulk_{i}"),
        password: PASSWORD.into(),
        full_name: None,
        role: None,
        is_active: None,
    }
}

impl Mocks {
    /// Nothing of the batch is taken, and `n` passwords hash (in one call).
    fn free_batch(&mut self, n: usize) {
        self.users.expect_taken_identities().times(1).returning(|_, _| Ok(TakenIdentities::default()));
        self.hasher
            .expect_hash_many()
            .withf(move |passwords| passwords.len() == n && passwords.iter().all(|p| p.expose_secret() == PASSWORD))
            .times(1)
            .returning(|passwords| {
                Ok((0..passwords.len()).map(|i| PasswordHash::new(format!("$argon2id$bulk{i}"))).collect())
            });
        self.hasher.expect_hash().never();
    }
}

#[tokio::test]
async fn create_many_stores_every_account_and_its_audit_entry_in_one_commit() {
    let admin = a_user(Role::Admin).build();
    let mut m = Mocks::new();
    m.free_batch(3);
    let commits = record_commits(&mut m.unit_of_work, |_| Ok(()));
    let batch =
        vec![item(0), CreateUserCommand { role: Some("manager".into()), is_active: Some(false), ..item(1) }, item(2)];

    let created = m.service().create_many(&acting_as(&admin), batch).await.unwrap();

    let changes = commits.single();
    let stored: Vec<User> = changes
        .iter()
        .map(|c| match c {
            Written::User(UserChange::Insert(user)) => user.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(stored, created);
    let usernames: Vec<&str> = created.iter().map(|u| u.username().as_ref()).collect();
    assert_eq!(usernames, ["bulk_0", "bulk_1", "bulk_2"], "in the order given");
    assert_eq!((created[1].role(), created[1].is_active()), (Role::Manager, false));
    assert_eq!((created[0].role(), created[0].is_active(), created[0].is_verified()), (Role::Member, true, false));
    assert_eq!(created[2].password_hash().expose(), "$argon2id$bulk2", "each account gets its own hash");
    let audits = commits.audits();
    assert_eq!(audits.len(), 3);
    assert!(audits.iter().all(|a| a.action == AuditAction::UserCreated && a.actor_id == Some(admin.id())));
    let audited: Vec<String> = audits.iter().map(|a| a.entity_id.clone()).collect();
    let ids: Vec<String> = created.iter().map(|u| u.id().to_string()).collect();
    assert_eq!(audited, ids);
}

#[tokio::test]
async fn create_many_forbids_anyone_but_an_admin() {
    for role in [Role::Manager, Role::Member] {
        let mut m = Mocks::new();
        m.users.expect_taken_identities().never();
        m.hasher.expect_hash_many().never();
        m.nothing_stored();

        let result = m.service().create_many(&acting_as(&a_user(role).build()), vec![item(0)]).await;

        assert_forbidden(result);
    }
}

#[tokio::test]
async fn create_many_takes_one_to_a_thousand_users() {
    for (batch, code) in [(vec![], "TOO_SHORT"), ((0..=MAX_BULK_USERS).map(item).collect(), "TOO_LONG")] {
        let mut m = Mocks::new();
        m.users.expect_taken_identities().never();
        m.hasher.expect_hash_many().never();
        m.nothing_stored();

        let result = m.service().create_many(&acting_as(&a_user(Role::Admin).build()), batch).await;

        let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
        assert_eq!(fields_and_codes(&errors), [(".", code)]);
    }
}

#[tokio::test]
async fn create_many_names_each_bad_item_by_index_and_stores_nothing() {
    let existing_email = Email::parse("bulk3@example.com").unwrap();
    let mut m = Mocks::new();
    m.users
        .expect_taken_identities()
        .withf(|emails, usernames| emails.len() == 4 && usernames.len() == 4)
        .times(1)
        .returning(move |_, _| {
            Ok(TakenIdentities { emails: vec![existing_email.clone()], usernames: vec!["bulk_4".into()] })
        });
    m.hasher.expect_hash_many().never();
    m.nothing_stored();
    let batch = vec![
        item(0),
        CreateUserCommand { email: "nope".into(), role: Some("owner".into()), ..item(1) },
        CreateUserCommand { email: "BULK0@example.com".into(), username: "BULK_0".into(), ..item(2) },
        item(3),
        item(4),
    ];

    let result = m.service().create_many(&acting_as(&a_user(Role::Admin).build()), batch).await;

    let Err(UserError::Validation(errors)) = result else { panic!("expected a validation error, got {result:?}") };
    assert_eq!(
        fields_and_codes(&errors),
        [
            ("[1].email", "INVALID_FORMAT"),
            ("[1].role", "INVALID_CHOICE"),
            ("[2].email", "DUPLICATE"),
            ("[2].username", "DUPLICATE"),
            ("[3].email", "TAKEN"),
            ("[4].username", "TAKEN"),
        ]
    );
    assert_eq!(errors.errors()[2].message, "repeats the e-mail address of item [0]");
}

#[tokio::test]
async fn create_many_reports_an_address_taken_by_a_concurrent_write() {
    let mut m = Mocks::new();
    m.free_batch(2);
    record_commits(&mut m.unit_of_work, |_| Err(refused(UserConstraint::EmailTaken)));

    let result = m.service().create_many(&acting_as(&a_user(Role::Admin).build()), vec![item(0), item(1)]).await;

    assert!(matches!(result, Err(UserError::Conflict(UserConflict::EmailTaken))), "{result:?}");
}
