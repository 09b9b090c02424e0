//! Reading and writing users, and the mapping between a `users` row and a [`User`].

use std::sync::Arc;

use async_trait::async_trait;
use forge_application::{
    Page, SortOrder, UnexpectedError,
    auth::ports::{Principal, PrincipalRepository},
    common::{AnyConstraint, CommitError},
    users::{
        UserChange, UserConstraint,
        ports::{TakenIdentities, UserFilter, UserQuery, UserRepository, UserSort},
    },
};
use forge_domain::sessions::SessionId;
use forge_domain::users::{Email, FullName, PasswordHash, Role, User, UserId, UserParts, Username};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Statement,
    sea_query::{Expr, ExprTrait, LikeExpr, NullOrdering},
};

use super::{
    BATCH_ROWS, Database, FetchUnique, QueryStats,
    direct::{self, UserWith},
    entities::users::{self, Column},
    errors::{CorruptRow, Unique, constrained_write_error, guard, unexpected, write_error},
    local::LocalConnections,
    stored,
    unit_of_work::Store,
};

#[async_trait]
impl PrincipalRepository for SeaUserRepository {
    #[tracing::instrument(skip_all, fields(user_id = %user_id))]
    async fn principal(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Principal>, UnexpectedError> {
        let Some(row) = self.principal_row(user_id, session_id).await? else { return Ok(None) };
        Ok(Some(Principal { user: to_domain(row.user)?, session_live: row.extra == Some(true) }))
    }
}

impl SeaUserRepository {
    /// The row of `user_id` and, when `session_id` is a session of that account, whether the
    /// session is live (not revoked): one statement, run on sqlx directly
    /// ([`direct::PRINCIPAL_SQL`]).
    pub(crate) async fn principal_row(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<Option<UserWith<Option<bool>>>, UnexpectedError> {
        direct::principal_row(self.direct(), user_id.as_uuid(), session_id.as_uuid()).await.map_err(unexpected)
    }

    /// The row of `id`, as stored.
    pub(crate) async fn row_by_id(&self, id: UserId) -> Result<Option<users::Model>, UnexpectedError> {
        users::Entity::find_by_id(id.as_uuid()).unique(&self.db).await.map_err(unexpected)
    }
}

/// The character that makes the next `%`, `_` or itself literal in a LIKE pattern.
pub(super) const LIKE_ESCAPE: char = '\\';

/// [`UserRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaUserRepository {
    db: DatabaseConnection,
    /// Counts the statements run on sqlx directly, as SeaORM's metric callback counts the others.
    stats: Option<Arc<QueryStats>>,
    /// The connections each thread keeps for those statements.
    local: Arc<LocalConnections>,
}

impl SeaUserRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone(), stats: database.stats.clone(), local: database.local.clone() }
    }

    /// Where the statements run on sqlx directly run.
    fn direct(&self) -> direct::Direct<'_> {
        direct::Direct { db: &self.db, stats: self.stats.as_deref(), local: &self.local }
    }

    /// The rows of `stmt`, run on sqlx directly ([`direct::fetch_all`]).
    async fn fetch_all<T: direct::FromAnyRow>(&self, stmt: Statement) -> Result<Vec<T>, UnexpectedError> {
        direct::fetch_all(self.direct(), stmt).await.map_err(unexpected)
    }

    async fn one(&self, select: Select<users::Entity>) -> Result<Option<User>, UnexpectedError> {
        select.unique(&self.db).await.map_err(unexpected)?.map(to_domain).transpose()
    }
}

#[async_trait]
impl UserRepository for SeaUserRepository {
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    async fn by_id(&self, id: UserId) -> Result<Option<User>, UnexpectedError> {
        self.one(users::Entity::find_by_id(id.as_uuid())).await
    }

    #[tracing::instrument(skip_all)]
    async fn by_email(&self, email: &Email) -> Result<Option<User>, UnexpectedError> {
        self.one(users::Entity::find().filter(Column::Email.eq(email.as_ref()))).await
    }

    #[tracing::instrument(skip_all)]
    async fn by_username(&self, username: &Username) -> Result<Option<User>, UnexpectedError> {
        self.one(users::Entity::find().filter(Column::UsernameLower.eq(username.normalized()))).await
    }

    #[tracing::instrument(skip_all, fields(page = query.page.page(), limit = query.page.limit(), sort = ?query.sort, order = ?query.order))]
    async fn list(&self, query: &UserQuery) -> Result<Page<User>, UnexpectedError> {
        let condition = matching(&query.filter);
        let backend = self.db.get_database_backend();
        let count = users::Entity::find().select_only().expr(Expr::cust("COUNT(*)")).filter(condition.clone());
        // The page and, in a sixteenth column of each row, the count of every match: one
        // statement (both databases evaluate the uncorrelated sub-query once).
        let select = users::Entity::find()
            .filter(condition)
            .expr_as(Expr::SubQuery(None, Box::new(count.clone().into_query().into())), "total");

        let order = match query.order {
            SortOrder::Asc => Order::Asc,
            SortOrder::Desc => Order::Desc,
        };
        let select = match query.sort {
            UserSort::CreatedAt => select.order_by(Column::CreatedAt, order.clone()),
            // Stored lower-cased: sorting by it is sorting case-insensitively.
            UserSort::Username => select.order_by(Column::UsernameLower, order.clone()),
            UserSort::Email => select.order_by(Column::Email, order.clone()),
            // Spelled out because the databases disagree on the default: PostgreSQL puts NULLs
            // first when descending, SQLite first when ascending.
            UserSort::LastLoginAt => select.order_by_with_nulls(Column::LastLoginAt, order.clone(), NullOrdering::Last),
        };
        let page = select
            .order_by(Column::Id, order)
            .limit(u64::from(query.page.limit()))
            .offset(query.page.offset())
            .build(backend);
        let rows: Vec<UserWith<i64>> = self.fetch_all(page).await?;
        let total = match rows.first() {
            Some(row) => row.extra,
            // No rows on the first page: nothing matches.
            None if query.page.offset() == 0 => 0,
            // A page past the last one: the count on its own.
            None => self.fetch_all::<(i64,)>(count.build(backend)).await?.first().map_or(0, |(n,)| *n),
        };
        let items = rows.into_iter().map(|row| to_domain(row.user)).collect::<Result<_, _>>()?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or(0), request: query.page })
    }

    #[tracing::instrument(skip_all)]
    async fn admin_exists(&self) -> Result<bool, UnexpectedError> {
        let found: Option<uuid::Uuid> = users::Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Role.eq(Role::Admin.as_str()))
            .filter(Column::DeletedAt.is_null())
            .limit(1)
            .into_tuple()
            .unique(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(found.is_some())
    }

    #[tracing::instrument(skip_all, fields(emails = emails.len(), usernames = usernames.len()))]
    async fn taken_identities(
        &self,
        emails: &[Email],
        usernames: &[Username],
    ) -> Result<TakenIdentities, UnexpectedError> {
        let mut taken = TakenIdentities::default();
        // Each list is one statement with one parameter per value: 1000 of them are well within
        // both databases' limits (32766 on SQLite, 65535 on PostgreSQL).
        if !emails.is_empty() {
            let found: Vec<String> = users::Entity::find()
                .select_only()
                .column(Column::Email)
                .filter(Column::Email.is_in(emails.iter().map(|e| e.as_ref().to_owned())))
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(unexpected)?;
            taken.emails = emails.iter().filter(|e| found.iter().any(|f| f == e.as_ref())).cloned().collect();
        }
        if !usernames.is_empty() {
            taken.usernames = users::Entity::find()
                .select_only()
                .column(Column::UsernameLower)
                .filter(Column::UsernameLower.is_in(usernames.iter().map(Username::normalized)))
                .into_tuple()
                .all(&self.db)
                .await
                .map_err(unexpected)?;
        }
        Ok(taken)
    }
}

/// The `WHERE` clause of a list: never a deleted user, then each filter that is set.
pub(crate) fn matching(filter: &UserFilter) -> Condition {
    let mut condition = Condition::all().add(Column::DeletedAt.is_null());
    if let Some(role) = filter.role {
        condition = condition.add(Column::Role.eq(role.as_str()));
    }
    if let Some(is_active) = filter.is_active {
        condition = condition.add(Column::IsActive.eq(is_active));
    }
    if let Some(is_verified) = filter.is_verified {
        condition = condition.add(Column::IsVerified.eq(is_verified));
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        // Lower-cased on both sides, in Rust, so that the match ignores case in every script on
        // PostgreSQL as on SQLite: e-mail, `username_lower` and `full_name_lower` are stored so.
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        let like = || LikeExpr::new(pattern.clone()).escape(LIKE_ESCAPE);
        condition = condition.add(
            Condition::any()
                .add(Expr::col(Column::Email).like(like()))
                .add(Expr::col(Column::UsernameLower).like(like()))
                .add(Expr::col(Column::FullNameLower).like(like())),
        );
    }
    condition
}

/// `raw` with the LIKE wildcards and the escape character made literal.
pub(super) fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            escaped.push(LIKE_ESCAPE);
        }
        escaped.push(c);
    }
    escaped
}

/// Rebuilds a [`User`] from its row. Every value is parsed again by the domain's constructors:
/// a row that no longer satisfies them is a [`CorruptRow`] (an internal error), never a user
/// holding a value that cannot exist.
pub(crate) fn to_domain(row: users::Model) -> Result<User, UnexpectedError> {
    let corrupt = |column, reason: &dyn std::fmt::Display| CorruptRow::error("users", row.id, column, reason);
    let email = Email::parse(&row.email).map_err(|e| corrupt("email", &e))?;
    let username = Username::parse(&row.username).map_err(|e| corrupt("username", &e))?;
    let full_name = row.full_name.as_deref().map(FullName::parse).transpose().map_err(|e| corrupt("full_name", &e))?;
    let role = row.role.parse::<Role>().map_err(|e| corrupt("role", &e))?;
    Ok(User::from_parts(UserParts {
        id: UserId::from_uuid(row.id),
        email,
        username,
        full_name,
        role,
        // Opaque here: the password hasher judges it when it is used.
        password_hash: PasswordHash::new(row.password_hash),
        is_active: row.is_active,
        is_verified: row.is_verified,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_login_at: row.last_login_at,
        deleted_at: row.deleted_at,
        version: row.version,
    }))
}

/// Every column of `user`, as written by an insert or a full update.
fn to_active_model(user: &User) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(user.id().as_uuid()),
        email: Set(user.email().as_ref().to_owned()),
        username: Set(user.username().as_ref().to_owned()),
        username_lower: Set(user.username().normalized()),
        full_name: Set(user.full_name().map(|name| name.as_ref().to_owned())),
        full_name_lower: Set(user.full_name().map(|name| name.as_ref().to_lowercase())),
        role: Set(user.role().as_str().to_owned()),
        password_hash: Set(user.password_hash().expose().to_owned()),
        is_active: Set(user.is_active()),
        is_verified: Set(user.is_verified()),
        created_at: Set(stored(user.created_at())),
        updated_at: Set(stored(user.updated_at())),
        last_login_at: Set(user.last_login_at().map(stored)),
        deleted_at: Set(user.deleted_at().map(stored)),
        version: Set(user.version()),
    }
}

/// Every column of `user` but its id, for `UPDATE ... WHERE id = ?`.
fn to_update_model(user: &User) -> users::ActiveModel {
    users::ActiveModel { id: NotSet, ..to_active_model(user) }
}

/// The uniqueness rules of `users`: one account per e-mail address, one per username (ignoring
/// case).
const USER_RULES: &[Unique] = &[
    Unique {
        names: &["uq_users_email", "users.email"],
        outcome: || CommitError::Constraint(AnyConstraint::new(UserConstraint::EmailTaken)),
    },
    Unique {
        names: &["uq_users_username_lower", "users.username_lower"],
        outcome: || CommitError::Constraint(AnyConstraint::new(UserConstraint::UsernameTaken)),
    },
];

fn user_write_error(error: DbErr) -> CommitError {
    constrained_write_error(error, USER_RULES)
}

#[async_trait]
impl Store for UserChange {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        let mut inserts = Vec::new();
        for change in run {
            if let Self::Insert(user) = change {
                inserts.push(user);
                continue;
            }
            insert_users(&std::mem::take(&mut inserts), tx).await?;
            match change {
                Self::Insert(_) => {}
                Self::Update { user, expected_version } => {
                    tracing::debug!(user_id = %user.id(), expected_version, version = user.version(), "update user");
                    let updated = users::Entity::update_many()
                        .set(to_update_model(&user))
                        .filter(Column::Id.eq(user.id().as_uuid()))
                        .filter(Column::Version.eq(expected_version))
                        .exec(tx)
                        .await
                        .map_err(user_write_error)?;
                    guard(updated.rows_affected)?;
                }
                Self::RecordLogin { user_id, at } => {
                    tracing::debug!(%user_id, "record login");
                    // Not a change of the account: no version check, no bump. A user gone
                    // meanwhile leaves nothing to record.
                    users::Entity::update_many()
                        .col_expr(Column::LastLoginAt, Expr::value(stored(at)))
                        .filter(Column::Id.eq(user_id.as_uuid()))
                        .exec(tx)
                        .await
                        .map_err(write_error)?;
                }
            }
        }
        insert_users(&inserts, tx).await
    }
}

/// Consecutive new users as multi-row `INSERT`s: a bulk creation is a few statements instead of
/// thousands of round trips, with the same outcome.
async fn insert_users(users: &[User], tx: &DatabaseTransaction) -> Result<(), CommitError> {
    if !users.is_empty() {
        tracing::debug!(count = users.len(), "insert users");
    }
    for chunk in users.chunks(BATCH_ROWS) {
        users::Entity::insert_many(chunk.iter().map(to_active_model))
            .exec_without_returning(tx)
            .await
            .map_err(user_write_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_and_the_escape_character_are_escaped() {
        assert_eq!(escape_like("50%_off\\now"), "50\\%\\_off\\\\now");
        assert_eq!(escape_like("plain"), "plain");
    }
}
