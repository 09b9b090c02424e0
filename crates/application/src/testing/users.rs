//! Users in memory: the [`UserRepository`] of the store, and how it applies [`UserChange`]s.

use async_trait::async_trait;
use forge_domain::users::{Email, Role, User, UserId, Username};

use super::{
    store::{Apply, InMemoryStore, Tables, constraint, directed, guard, nulls_last, page_of, refused, search_term},
    table::Table,
};
use crate::{
    common::{CommitError, Page, UnexpectedError},
    users::{
        UserChange, UserConstraint,
        ports::{TakenIdentities, UserFilter, UserQuery, UserRepository, UserSort},
    },
};

impl Apply for UserChange {
    fn apply(self, tables: &mut Tables) -> Result<(), CommitError> {
        match self {
            Self::Insert(user) => {
                if tables.users.contains(&user.id()) {
                    return Err(refused("PRIMARY KEY users.id"));
                }
                check_unique(&tables.users, &user)?;
                tables.users.put(user.id(), user);
            }
            Self::Update { user, expected_version } => {
                // `UPDATE ... WHERE id = ? AND version = ?`: no row matched, nothing was checked.
                guard(tables.users.get(&user.id()).is_some_and(|stored| stored.version() == expected_version))?;
                check_unique(&tables.users, &user)?;
                tables.users.put(user.id(), user);
            }
            Self::RecordLogin { user_id, at } => {
                // Not a change of the account: no version check, no bump. A user gone meanwhile
                // leaves nothing to record.
                if let Some(mut user) = tables.users.get(&user_id).cloned() {
                    user.record_login(at);
                    tables.users.put(user_id, user);
                }
            }
        }
        Ok(())
    }
}

/// The unique indexes of `users`: one account per e-mail address, one per username ignoring
/// case, soft-deleted accounts included.
fn check_unique(users: &Table<UserId, User>, user: &User) -> Result<(), CommitError> {
    let others = || users.values().filter(|other| other.id() != user.id());
    if others().any(|other| other.email() == user.email()) {
        return Err(constraint(UserConstraint::EmailTaken));
    }
    if others().any(|other| same_username(other.username(), user.username())) {
        return Err(constraint(UserConstraint::UsernameTaken));
    }
    Ok(())
}

/// Whether two usernames are one under [`Username::normalized`] (ASCII case folding).
fn same_username(a: &Username, b: &Username) -> bool {
    a.as_ref().eq_ignore_ascii_case(b.as_ref())
}

#[async_trait]
impl UserRepository for InMemoryStore {
    async fn by_id(&self, id: UserId) -> Result<Option<User>, UnexpectedError> {
        Ok(self.tables().users.get(&id).cloned())
    }

    async fn by_email(&self, email: &Email) -> Result<Option<User>, UnexpectedError> {
        Ok(self.tables().users.values().find(|user| user.email() == email).cloned())
    }

    async fn by_username(&self, username: &Username) -> Result<Option<User>, UnexpectedError> {
        Ok(self.tables().users.values().find(|user| same_username(user.username(), username)).cloned())
    }

    async fn list(&self, query: &UserQuery) -> Result<Page<User>, UnexpectedError> {
        let tables = self.tables();
        let search = search_term(query.filter.search.as_deref());
        let mut rows: Vec<&User> = tables
            .users
            .values()
            .filter(|user| !user.is_deleted() && matches(&query.filter, search.as_deref(), user))
            .collect();
        let order = query.order;
        rows.sort_by(|a, b| {
            let by_field = match query.sort {
                UserSort::CreatedAt => directed(a.created_at().cmp(&b.created_at()), order),
                UserSort::Username => directed(a.username().normalized().cmp(&b.username().normalized()), order),
                UserSort::Email => directed(a.email().as_ref().cmp(b.email().as_ref()), order),
                UserSort::LastLoginAt => nulls_last(a.last_login_at(), b.last_login_at(), order),
            };
            by_field.then_with(|| directed(a.id().cmp(&b.id()), order))
        });
        Ok(page_of(&rows, query.page))
    }

    async fn admin_exists(&self) -> Result<bool, UnexpectedError> {
        Ok(self.tables().users.values().any(|user| user.role() == Role::Admin && !user.is_deleted()))
    }

    async fn taken_identities(
        &self,
        emails: &[Email],
        usernames: &[Username],
    ) -> Result<TakenIdentities, UnexpectedError> {
        let tables = self.tables();
        let users = &tables.users;
        Ok(TakenIdentities {
            emails: emails.iter().filter(|email| users.values().any(|user| user.email() == *email)).cloned().collect(),
            // As the database answers: the stored names, normalized, that were asked about.
            usernames: users
                .values()
                .map(|user| user.username().normalized())
                .filter(|stored| usernames.iter().any(|asked| asked.as_ref().eq_ignore_ascii_case(stored)))
                .collect(),
        })
    }
}

/// Whether `user` passes every filter that is set. The search term is lower-cased already and
/// matched as a substring of the lower-cased e-mail, username or full name.
fn matches(filter: &UserFilter, search: Option<&str>, user: &User) -> bool {
    filter.role.is_none_or(|role| user.role() == role)
        && filter.is_active.is_none_or(|active| user.is_active() == active)
        && filter.is_verified.is_none_or(|verified| user.is_verified() == verified)
        && search.is_none_or(|term| {
            user.email().as_ref().to_lowercase().contains(term)
                || user.username().normalized().contains(term)
                || user.full_name().is_some_and(|name| name.as_ref().to_lowercase().contains(term))
        })
}
