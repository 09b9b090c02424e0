//! Reading and writing projects and memberships, and the mapping between their rows and the
//! domain's [`Project`] and [`Membership`].

use std::collections::HashMap;

use async_trait::async_trait;
use forge_application::{
    Page, SortOrder, UnexpectedError,
    common::{AnyConstraint, CommitError},
    projects::{
        ProjectChange, ProjectConstraint,
        ports::{
            Member, MemberQuery, MemberSort, ProjectFilter, ProjectQuery, ProjectRepository, ProjectSort, ProjectView,
        },
    },
};
use forge_domain::{
    projects::{
        Membership, MembershipParts, Project, ProjectDescription, ProjectId, ProjectName, ProjectParts, ProjectRole,
        ProjectStatus,
    },
    users::{UserId, Username},
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    FromQueryResult, JoinType, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait, Select,
    prelude::{DateTimeUtc, Uuid},
    sea_query::{Expr, ExprTrait, LikeExpr, Query},
};

use super::{
    Database, FetchUnique,
    entities::{
        project_members::{self, Column as MemberColumn},
        projects::{self, Column},
        users,
    },
    errors::{CorruptRow, Unique, constrained_write_error, guard, unexpected},
    stored,
    unit_of_work::Store,
    users::{LIKE_ESCAPE, escape_like},
};

/// [`ProjectRepository`] over SeaORM.
#[derive(Debug, Clone)]
pub struct SeaProjectRepository {
    db: DatabaseConnection,
}

impl SeaProjectRepository {
    /// A repository reading through `db`.
    #[must_use]
    pub fn new(database: &Database) -> Self {
        Self { db: database.connection().clone() }
    }

    async fn one(&self, select: Select<projects::Entity>) -> Result<Option<Project>, UnexpectedError> {
        select.unique(&self.db).await.map_err(unexpected)?.map(to_domain).transpose()
    }

    /// The member counts of `ids`, in one grouped query.
    pub(crate) async fn member_counts(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, u64>, UnexpectedError> {
        let counts: Vec<(Uuid, i64)> = project_members::Entity::find()
            .select_only()
            .column(MemberColumn::ProjectId)
            .column_as(Expr::col(MemberColumn::UserId).count(), "members")
            .filter(MemberColumn::ProjectId.is_in(ids.iter().copied()))
            .group_by(MemberColumn::ProjectId)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        Ok(counts.into_iter().map(|(id, n)| (id, u64::try_from(n).unwrap_or_default())).collect())
    }

    /// The roles of `viewer` in `ids`, in one query.
    pub(crate) async fn roles_of(
        &self,
        viewer: UserId,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ProjectRole>, UnexpectedError> {
        let roles: Vec<(Uuid, String)> = project_members::Entity::find()
            .select_only()
            .column(MemberColumn::ProjectId)
            .column(MemberColumn::Role)
            .filter(MemberColumn::UserId.eq(viewer.as_uuid()))
            .filter(MemberColumn::ProjectId.is_in(ids.iter().copied()))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        roles
            .into_iter()
            .map(|(id, role)| {
                let role = role
                    .parse::<ProjectRole>()
                    .map_err(|e| CorruptRow::error("project_members", format!("{id}:{viewer}"), "role", e))?;
                Ok((id, role))
            })
            .collect()
    }

    /// Memberships joined with their users' usernames.
    fn member_rows() -> Select<project_members::Entity> {
        project_members::Entity::find()
            .select_only()
            .columns([
                MemberColumn::ProjectId,
                MemberColumn::UserId,
                MemberColumn::Role,
                MemberColumn::Version,
                MemberColumn::AddedAt,
                MemberColumn::UpdatedAt,
            ])
            .column_as(users::Column::Username, "username")
            .join(JoinType::InnerJoin, project_members::Relation::User.def())
    }
}

#[async_trait]
impl ProjectRepository for SeaProjectRepository {
    #[tracing::instrument(skip_all, fields(project_id = %id))]
    async fn by_id(&self, id: ProjectId) -> Result<Option<Project>, UnexpectedError> {
        self.one(projects::Entity::find_by_id(id.as_uuid())).await
    }

    #[tracing::instrument(skip_all, fields(owner_id = %owner))]
    async fn owned_with_name(&self, owner: UserId, name: &ProjectName) -> Result<Option<Project>, UnexpectedError> {
        self.one(
            projects::Entity::find()
                .filter(Column::OwnerId.eq(owner.as_uuid()))
                .filter(Column::NameLower.eq(name.normalized()))
                .filter(Column::DeletedAt.is_null()),
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(page = query.page.page(), limit = query.page.limit(), sort = ?query.sort, order = ?query.order))]
    async fn list(&self, query: &ProjectQuery, viewer: UserId) -> Result<Page<ProjectView>, UnexpectedError> {
        let select = projects::Entity::find().filter(matching(&query.filter));
        let total = select.clone().count(&self.db).await.map_err(unexpected)?;

        let order = order_of(query.order);
        let select = match query.sort {
            ProjectSort::CreatedAt => select.order_by(Column::CreatedAt, order.clone()),
            ProjectSort::UpdatedAt => select.order_by(Column::UpdatedAt, order.clone()),
            // Stored lower-cased: sorting by it is sorting case-insensitively.
            ProjectSort::Name => select.order_by(Column::NameLower, order.clone()),
        };
        let rows = select
            .order_by(Column::Id, order)
            .limit(u64::from(query.page.limit()))
            .offset(query.page.offset())
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let (counts, roles) = if ids.is_empty() {
            (HashMap::new(), HashMap::new())
        } else {
            (self.member_counts(&ids).await?, self.roles_of(viewer, &ids).await?)
        };
        let items = rows
            .into_iter()
            .map(|row| {
                let id = row.id;
                Ok(ProjectView {
                    project: to_domain(row)?,
                    member_count: counts.get(&id).copied().unwrap_or_default(),
                    viewer_role: roles.get(&id).copied(),
                })
            })
            .collect::<Result<_, UnexpectedError>>()?;
        Ok(Page { items, total, request: query.page })
    }

    #[tracing::instrument(skip_all, fields(project_id = %project))]
    async fn member_count(&self, project: ProjectId) -> Result<u64, UnexpectedError> {
        project_members::Entity::find()
            .filter(MemberColumn::ProjectId.eq(project.as_uuid()))
            .count(&self.db)
            .await
            .map_err(unexpected)
    }

    #[tracing::instrument(skip_all, fields(project_id = %project, user_id = %user))]
    async fn member(&self, project: ProjectId, user: UserId) -> Result<Option<Member>, UnexpectedError> {
        Self::member_rows()
            .filter(MemberColumn::ProjectId.eq(project.as_uuid()))
            .filter(MemberColumn::UserId.eq(user.as_uuid()))
            .into_model::<MemberRow>()
            .unique(&self.db)
            .await
            .map_err(unexpected)?
            .map(member_to_domain)
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(project_id = %project, page = query.page.page(), limit = query.page.limit()))]
    async fn members(&self, project: ProjectId, query: &MemberQuery) -> Result<Page<Member>, UnexpectedError> {
        let mut condition = Condition::all().add(MemberColumn::ProjectId.eq(project.as_uuid()));
        if let Some(role) = query.role {
            condition = condition.add(MemberColumn::Role.eq(role.as_str()));
        }
        let total =
            project_members::Entity::find().filter(condition.clone()).count(&self.db).await.map_err(unexpected)?;

        let order = order_of(query.order);
        let select = Self::member_rows().filter(condition);
        let select = match query.sort {
            MemberSort::AddedAt => select.order_by(MemberColumn::AddedAt, order.clone()),
            MemberSort::Username => select.order_by(users::Column::UsernameLower, order.clone()),
        };
        let rows = select
            .order_by(MemberColumn::UserId, order)
            .limit(u64::from(query.page.limit()))
            .offset(query.page.offset())
            .into_model::<MemberRow>()
            .all(&self.db)
            .await
            .map_err(unexpected)?;
        let items = rows.into_iter().map(member_to_domain).collect::<Result<_, _>>()?;
        Ok(Page { items, total, request: query.page })
    }
}

const fn order_of(order: SortOrder) -> Order {
    match order {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    }
}

/// The `WHERE` clause of a list: never a deleted project, then each filter that is set.
pub(crate) fn matching(filter: &ProjectFilter) -> Condition {
    let mut condition = Condition::all().add(Column::DeletedAt.is_null());
    if let Some(status) = filter.status {
        condition = condition.add(Column::Status.eq(status.as_str()));
    }
    if let Some(owner) = filter.owner_id {
        condition = condition.add(Column::OwnerId.eq(owner.as_uuid()));
    }
    if let Some(member) = filter.member {
        condition = condition.add(
            Column::Id.in_subquery(
                Query::select()
                    .column(MemberColumn::ProjectId)
                    .from(project_members::Entity)
                    .and_where(Expr::col(MemberColumn::UserId).eq(member.as_uuid()))
                    // The partial index of live memberships: a member's list never reads the
                    // memberships of the deleted projects the member once belonged to.
                    .and_where(Expr::col(ProjectDeletedColumn).eq(false))
                    .to_owned(),
            ),
        );
    }
    if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
        // Lower-cased in Rust on both sides, so the match ignores case in every script on
        // PostgreSQL as on SQLite.
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        condition = condition.add(Expr::col(Column::NameLower).like(LikeExpr::new(pattern).escape(LIKE_ESCAPE)));
    }
    condition
}

/// Rebuilds a [`Project`] from its row, re-parsing every value: a row the domain no longer
/// accepts is a [`CorruptRow`] (an internal error).
pub(crate) fn to_domain(row: projects::Model) -> Result<Project, UnexpectedError> {
    let corrupt = |column, reason: &dyn std::fmt::Display| CorruptRow::error("projects", row.id, column, reason);
    let name = ProjectName::parse(&row.name).map_err(|e| corrupt("name", &e))?;
    let description = row
        .description
        .as_deref()
        .map(ProjectDescription::parse)
        .transpose()
        .map_err(|e| corrupt("description", &e))?;
    let status = row.status.parse::<ProjectStatus>().map_err(|e| corrupt("status", &e))?;
    Ok(Project::from_parts(ProjectParts {
        id: ProjectId::from_uuid(row.id),
        owner_id: UserId::from_uuid(row.owner_id),
        name,
        description,
        status,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deleted_at: row.deleted_at,
        version: row.version,
    }))
}

impl SeaProjectRepository {
    /// The row of project `id`, as stored.
    pub(crate) async fn row_by_id(&self, id: ProjectId) -> Result<Option<projects::Model>, UnexpectedError> {
        projects::Entity::find_by_id(id.as_uuid()).unique(&self.db).await.map_err(unexpected)
    }

    /// The membership row of `user` in `project`, without the user's name.
    pub(crate) async fn membership_row(
        &self,
        project: ProjectId,
        user: UserId,
    ) -> Result<Option<project_members::Model>, UnexpectedError> {
        project_members::Entity::find_by_id((project.as_uuid(), user.as_uuid()))
            .unique(&self.db)
            .await
            .map_err(unexpected)
    }
}

/// A membership row as the domain knows it.
pub(crate) fn membership_to_domain(row: project_members::Model) -> Result<Membership, UnexpectedError> {
    let key = format!("{}:{}", row.project_id, row.user_id);
    let role = row.role.parse::<ProjectRole>().map_err(|e| CorruptRow::error("project_members", &key, "role", e))?;
    Ok(Membership::from_parts(MembershipParts {
        project_id: ProjectId::from_uuid(row.project_id),
        user_id: UserId::from_uuid(row.user_id),
        role,
        added_at: row.added_at,
        updated_at: row.updated_at,
        version: row.version,
    }))
}

/// A membership row joined with its user's username.
#[derive(Debug, FromQueryResult)]
struct MemberRow {
    project_id: Uuid,
    user_id: Uuid,
    role: String,
    version: i64,
    added_at: DateTimeUtc,
    updated_at: DateTimeUtc,
    username: String,
}

fn member_to_domain(row: MemberRow) -> Result<Member, UnexpectedError> {
    let username =
        Username::parse(&row.username).map_err(|e| CorruptRow::error("users", row.user_id, "username", e))?;
    let membership = membership_to_domain(project_members::Model {
        project_id: row.project_id,
        user_id: row.user_id,
        role: row.role,
        version: row.version,
        added_at: row.added_at,
        updated_at: row.updated_at,
    })?;
    Ok(Member { membership, username })
}

/// Every column of `project`, as written by an insert or a full update.
fn project_to_active_model(project: &Project) -> projects::ActiveModel {
    projects::ActiveModel {
        id: Set(project.id().as_uuid()),
        owner_id: Set(project.owner_id().as_uuid()),
        name: Set(project.name().as_ref().to_owned()),
        name_lower: Set(project.name().normalized()),
        description: Set(project.description().map(|d| d.as_ref().to_owned())),
        status: Set(project.status().as_str().to_owned()),
        version: Set(project.version()),
        created_at: Set(stored(project.created_at())),
        updated_at: Set(stored(project.updated_at())),
        deleted_at: Set(project.deleted_at().map(stored)),
    }
}

/// Every column of `project` but its id, for `UPDATE ... WHERE id = ?`.
fn project_to_update_model(project: &Project) -> projects::ActiveModel {
    projects::ActiveModel { id: NotSet, ..project_to_active_model(project) }
}

/// Every column of `membership`, as written by an insert.
fn membership_to_active_model(membership: &Membership) -> project_members::ActiveModel {
    project_members::ActiveModel {
        project_id: Set(membership.project_id().as_uuid()),
        user_id: Set(membership.user_id().as_uuid()),
        role: Set(membership.role().as_str().to_owned()),
        version: Set(membership.version()),
        added_at: Set(stored(membership.added_at())),
        updated_at: Set(stored(membership.updated_at())),
    }
}

/// What a change of a membership writes: its role, version and `updated_at`.
fn membership_to_update_model(membership: &Membership) -> project_members::ActiveModel {
    project_members::ActiveModel {
        project_id: NotSet,
        user_id: NotSet,
        added_at: NotSet,
        ..membership_to_active_model(membership)
    }
}

/// `project_members.project_deleted`: whether the membership's project is soft-deleted. Not a
/// field of the entity (no reader needs it, and the cache keeps memberships as JSON): only the
/// list filter and [`mark_memberships_deleted`] use it.
#[derive(Debug, Clone, Copy)]
struct ProjectDeletedColumn;

impl sea_orm::Iden for ProjectDeletedColumn {
    fn unquoted(&self) -> &str {
        "project_deleted"
    }
}

/// Takes the memberships of a project that was just soft-deleted out of its members' lists. The
/// rows stay: the project's last events are delivered to its members of the moment.
async fn mark_memberships_deleted(project: ProjectId, tx: &DatabaseTransaction) -> Result<(), CommitError> {
    let statement = Query::update()
        .table(project_members::Entity)
        .value(ProjectDeletedColumn, true)
        .and_where(Expr::col(MemberColumn::ProjectId).eq(project.as_uuid()))
        .and_where(Expr::col(ProjectDeletedColumn).eq(false))
        .to_owned();
    tx.execute(&statement).await.map_err(project_write_error)?;
    Ok(())
}

/// The uniqueness rules of `projects` and `project_members`. A name the owner already uses among
/// its live projects is [`ProjectConstraint::NameTaken`]; a second membership of one user is
/// [`ProjectConstraint::AlreadyMember`]; a second owner of a project is `Stale`: the write was
/// based on an owner who no longer is one.
const PROJECT_RULES: &[Unique] = &[
    Unique {
        names: &["uq_projects_owner_name", "projects.name_lower"],
        outcome: || CommitError::Constraint(AnyConstraint::new(ProjectConstraint::NameTaken)),
    },
    Unique { names: &["uq_project_members_owner", "project_members.role"], outcome: || CommitError::Stale },
    Unique {
        names: &["pk_project_members", "project_members.user_id"],
        outcome: || CommitError::Constraint(AnyConstraint::new(ProjectConstraint::AlreadyMember)),
    },
];

fn project_write_error(error: DbErr) -> CommitError {
    constrained_write_error(error, PROJECT_RULES)
}

#[async_trait]
impl Store for ProjectChange {
    async fn store(run: Vec<Self>, tx: &DatabaseTransaction) -> Result<(), CommitError> {
        for change in run {
            match change {
                Self::Insert(project) => {
                    tracing::debug!(project_id = %project.id(), "insert project");
                    projects::Entity::insert(project_to_active_model(&project))
                        .exec_without_returning(tx)
                        .await
                        .map_err(project_write_error)?;
                }
                Self::Update { project, expected_version } => {
                    tracing::debug!(
                        project_id = %project.id(), expected_version, version = project.version(), "update project"
                    );
                    let updated = projects::Entity::update_many()
                        .set(project_to_update_model(&project))
                        .filter(Column::Id.eq(project.id().as_uuid()))
                        .filter(Column::Version.eq(expected_version))
                        .exec(tx)
                        .await
                        .map_err(project_write_error)?;
                    guard(updated.rows_affected)?;
                    if project.deleted_at().is_some() {
                        mark_memberships_deleted(project.id(), tx).await?;
                    }
                }
                Self::AddMember(membership) => {
                    tracing::debug!(
                        project_id = %membership.project_id(), user_id = %membership.user_id(), "insert membership"
                    );
                    project_members::Entity::insert(membership_to_active_model(&membership))
                        .exec_without_returning(tx)
                        .await
                        .map_err(project_write_error)?;
                }
                Self::UpdateMember { membership, expected_version } => {
                    tracing::debug!(
                        project_id = %membership.project_id(),
                        user_id = %membership.user_id(),
                        expected_version,
                        role = membership.role().as_str(),
                        "update membership"
                    );
                    let updated = project_members::Entity::update_many()
                        .set(membership_to_update_model(&membership))
                        .filter(MemberColumn::ProjectId.eq(membership.project_id().as_uuid()))
                        .filter(MemberColumn::UserId.eq(membership.user_id().as_uuid()))
                        .filter(MemberColumn::Version.eq(expected_version))
                        .exec(tx)
                        .await
                        .map_err(project_write_error)?;
                    guard(updated.rows_affected)?;
                }
                Self::RemoveMember { project_id, user_id, expected_version } => {
                    tracing::debug!(%project_id, %user_id, expected_version, "delete membership");
                    // Never the owner's: whatever a use case asks, a project keeps its owner.
                    let deleted = project_members::Entity::delete_many()
                        .filter(MemberColumn::ProjectId.eq(project_id.as_uuid()))
                        .filter(MemberColumn::UserId.eq(user_id.as_uuid()))
                        .filter(MemberColumn::Version.eq(expected_version))
                        .filter(MemberColumn::Role.ne(ProjectRole::Owner.as_str()))
                        .exec(tx)
                        .await
                        .map_err(project_write_error)?;
                    guard(deleted.rows_affected)?;
                }
            }
        }
        Ok(())
    }
}
