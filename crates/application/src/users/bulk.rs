//! Bulk creation of accounts by an admin: every item checked, the list checked as a whole, the
//! passwords hashed together and every account stored in one transaction.

use std::collections::HashMap;

use forge_domain::users::{Email, NewUser, Role, User, Username};
use secrecy::SecretString;

use super::{
    UserChange, UserService,
    draft::AccountDraft,
    errors::UserError,
    policy,
    service::{CreateUserCommand, parse_new_user, viewer},
};
use crate::{
    audit::{AuditAction, AuditEntity, AuditRecord, Snapshot},
    common::{Actor, Changes, FieldError, UnexpectedError, ValidationErrors},
};

/// The most accounts one bulk creation may hold.
pub const MAX_BULK_USERS: usize = 1000;

impl UserService {
    /// Creates many accounts at once (admins only): all of them in one transaction, or none.
    ///
    /// Every item is checked as [`UserService::create`] checks one, and the list as a whole: an
    /// address or username that repeats an earlier item's is refused as `DUPLICATE`, one that
    /// belongs to an existing account as `TAKEN`. Errors name their item by index, as
    /// `[12].email`; the list itself is named `.` (1 to [`MAX_BULK_USERS`] items). Passwords are
    /// hashed together, spread over the cores by the hasher. Each account gets its own
    /// `user.created` audit entry.
    ///
    /// # Errors
    /// [`UserError::Forbidden`]; [`UserError::Validation`] listing every bad item; a taken address
    /// or username found only when storing (a concurrent creation) as
    /// [`UserConflict::EmailTaken`] / [`UserConflict::UsernameTaken`].
    #[tracing::instrument(skip_all, fields(actor = %actor.id(), count = commands.len()))]
    pub async fn create_many(&self, actor: &Actor, commands: Vec<CreateUserCommand>) -> Result<Vec<User>, UserError> {
        if !policy::can_create(viewer(actor)) {
            return Err(UserError::Forbidden);
        }
        if commands.is_empty() || commands.len() > MAX_BULK_USERS {
            let (code, message) = if commands.is_empty() {
                ("TOO_SHORT", "must hold at least one user".to_owned())
            } else {
                ("TOO_LONG", format!("must hold at most {MAX_BULK_USERS} users"))
            };
            return Err(ValidationErrors::single(".", code, message).into());
        }

        // Each item on its own, then the list: repeats within it and accounts already stored.
        let mut errors: Vec<Vec<FieldError>> = Vec::with_capacity(commands.len());
        let mut drafts: Vec<Option<(AccountDraft, Role)>> = Vec::with_capacity(commands.len());
        for cmd in &commands {
            let (draft, item_errors) = match parse_new_user(cmd, &self.settings.password_policy).finish() {
                Ok(draft) => (Some(draft), Vec::new()),
                Err(e) => (None, e.into_errors()),
            };
            errors.push(item_errors);
            drafts.push(draft);
        }
        let mut first_email: HashMap<&str, usize> = HashMap::new();
        let mut first_username: HashMap<String, usize> = HashMap::new();
        for (i, (draft, _)) in drafts.iter().enumerate().filter_map(|(i, d)| d.as_ref().map(|d| (i, d))) {
            if let Some(first) = first_email.get(draft.email.as_ref()) {
                errors[i].push(repeat("email", "e-mail address", *first));
            } else {
                first_email.insert(draft.email.as_ref(), i);
            }
            match first_username.get(&draft.username.normalized()) {
                Some(first) => errors[i].push(repeat("username", "username", *first)),
                None => {
                    first_username.insert(draft.username.normalized(), i);
                }
            }
        }
        let emails: Vec<Email> = drafts.iter().flatten().map(|(d, _)| d.email.clone()).collect();
        let usernames: Vec<Username> = drafts.iter().flatten().map(|(d, _)| d.username.clone()).collect();
        if !emails.is_empty() {
            let taken = self.ports.users.taken_identities(&emails, &usernames).await?;
            for (i, (draft, _)) in drafts.iter().enumerate().filter_map(|(i, d)| d.as_ref().map(|d| (i, d))) {
                if taken.emails.contains(&draft.email) {
                    errors[i].push(FieldError::new("email", "TAKEN", "belongs to another account"));
                }
                if taken.usernames.contains(&draft.username.normalized()) {
                    errors[i].push(FieldError::new("username", "TAKEN", "belongs to another account"));
                }
            }
        }
        let bad: Vec<FieldError> = errors
            .into_iter()
            .enumerate()
            .flat_map(|(i, item)| {
                item.into_iter().map(move |e| FieldError { field: format!("[{i}].{}", e.field), ..e })
            })
            .collect();
        if !bad.is_empty() {
            return Err(ValidationErrors::new(bad).into());
        }

        let accounts: Vec<(AccountDraft, Role)> = drafts.into_iter().flatten().collect();
        let (passwords, flags): (Vec<SecretString>, Vec<bool>) =
            commands.into_iter().map(|cmd| (cmd.password, cmd.is_active.unwrap_or(true))).unzip();
        let hashes = self.ports.hasher.hash_many(passwords).await?;
        if hashes.len() != accounts.len() {
            return Err(UnexpectedError::internal("the hasher returned a different number of hashes").into());
        }
        let now = self.ports.clock.now();
        let users: Vec<User> = accounts
            .into_iter()
            .zip(hashes)
            .zip(flags)
            .map(|(((draft, role), password_hash), is_active)| {
                User::register(
                    NewUser {
                        email: draft.email,
                        username: draft.username,
                        full_name: draft.full_name,
                        role,
                        password_hash,
                        is_active,
                        is_verified: false,
                    },
                    now,
                )
            })
            .collect();
        // Every insert, then every audit entry: runs of one kind, which the unit of work may store
        // a batch at a time.
        let audits = users.iter().map(|user| {
            AuditRecord::new(
                AuditAction::UserCreated,
                AuditEntity::User,
                user.id(),
                Some(actor.id()),
                actor.context(),
                now,
            )
            .after(Snapshot::of_user(user))
        });
        let mut changes: Changes = users.iter().cloned().map(UserChange::Insert).collect();
        changes.extend(audits);
        self.ports.unit_of_work.commit(changes).await.map_err(|e| UserError::of_commit(e, None))?;
        tracing::info!(count = users.len(), "users created in bulk");
        Ok(users)
    }
}

/// The error of an item repeating the `what` of an earlier item.
fn repeat(field: &str, what: &str, first: usize) -> FieldError {
    FieldError::new(field, "DUPLICATE", format!("repeats the {what} of item [{first}]"))
}
