//! The queries of the project lists (`GET /projects`, `GET /users/{id}/projects`) and of the
//! member list (`GET /projects/{id}/members`).
//!
//! Projects: paging, sort (`created_at` by default, `updated_at`, `name`), order (`desc` by
//! default), filters `search`, `status`, `owner_id`, and on `/projects` the `scope` (`member` by
//! default, `all` for admins). Members: paging, sort (`added_at` by default, `username`), order
//! (`asc` by default: the first members first), filter `role`.

use forge_application::{
    common::{FieldError, SortOrder},
    projects::{
        ProjectScope,
        ports::{MemberQuery, MemberSort, ProjectFilter, ProjectQuery, ProjectSort},
    },
};
use forge_domain::{
    projects::{ProjectRole, ProjectStatus},
    users::UserId,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::responses::{ApiProjectRole, ApiProjectStatus};
use crate::{
    extract::query::{FromQuery, QueryParams},
    users::query::SortDirection,
};

/// The longest search text accepted.
const MAX_SEARCH_CHARS: usize = 100;

/// The project sort fields, by their names in the query.
const PROJECT_SORTS: [(&str, ProjectSort); 3] =
    [("created_at", ProjectSort::CreatedAt), ("updated_at", ProjectSort::UpdatedAt), ("name", ProjectSort::Name)];

/// The member sort fields, by their names in the query.
const MEMBER_SORTS: [(&str, MemberSort); 2] = [("added_at", MemberSort::AddedAt), ("username", MemberSort::Username)];

/// The scopes, by their names in the query.
const SCOPES: [(&str, ProjectScope); 2] = [("member", ProjectScope::Member), ("all", ProjectScope::All)];

impl FromQuery for ProjectQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let page = params.page();
        let sort = params.choice("sort", &PROJECT_SORTS).unwrap_or_default();
        let order = params.order();
        let filter = ProjectFilter {
            search: params.text("search", MAX_SEARCH_CHARS),
            status: params.choice("status", &ProjectStatus::ALL.map(|s| (s.as_str(), s))),
            owner_id: uuid(params, "owner_id").map(UserId::from_uuid),
            // Decided by the use case from the caller and the scope.
            member: None,
        };
        Self { filter, sort, order, page }
    }
}

/// The query of `GET /projects`: a project query and its scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectListQuery {
    /// Whose projects.
    pub scope: ProjectScope,
    /// Filters, sort and page.
    pub query: ProjectQuery,
}

impl FromQuery for ProjectListQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let scope = params.choice("scope", &SCOPES).unwrap_or_default();
        Self { scope, query: ProjectQuery::from_query(params) }
    }
}

/// The scope a raw query string asks for, read before anything else so that a caller who may
/// not list every project is refused whatever the rest of its query says.
#[must_use]
pub fn requested_scope(query: &str) -> ProjectScope {
    let all = form_urlencoded::parse(query.as_bytes()).any(|(name, value)| name == "scope" && value == "all");
    if all { ProjectScope::All } else { ProjectScope::Member }
}

impl FromQuery for MemberQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let page = params.page();
        let sort = params.choice("sort", &MEMBER_SORTS).unwrap_or_default();
        let order =
            params.choice("order", &[("asc", SortOrder::Asc), ("desc", SortOrder::Desc)]).unwrap_or(SortOrder::Asc);
        let role = params.choice("role", &ProjectRole::ALL.map(|r| (r.as_str(), r)));
        Self { role, sort, order, page }
    }
}

/// A UUID parameter.
fn uuid(params: &mut QueryParams, name: &str) -> Option<Uuid> {
    let raw = params.take(name)?;
    match Uuid::parse_str(raw.trim()) {
        Ok(id) => Some(id),
        Err(_) => {
            params.reject(FieldError::new(name, "INVALID_FORMAT", "must be a UUID"));
            None
        }
    }
}

/// A field projects can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectSortField {
    /// Creation time (the default).
    CreatedAt,
    /// Time of the last change.
    UpdatedAt,
    /// Name, ignoring case.
    Name,
}

/// A field members can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberSortField {
    /// When the member joined (the default).
    AddedAt,
    /// Username, ignoring case.
    Username,
}

/// Whose projects a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectScopeName {
    /// The projects the caller is a member of (the default).
    Member,
    /// Every project: admins only; anyone else gets 403.
    All,
}

/// The query parameters of `GET /projects`, as documented. Parsing is done by
/// [`FromQuery for ProjectListQuery`](ProjectListQuery); a test keeps the two in step.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct ProjectListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// The sort field; `created_at` by default.
    #[param(inline)]
    sort: Option<ProjectSortField>,
    /// The order; `desc` by default.
    #[param(inline)]
    order: Option<SortDirection>,
    /// Case-insensitive text to find in the name (at most 100 characters, matched literally).
    #[param(max_length = 100)]
    search: Option<String>,
    /// Only projects in this status.
    #[param(inline)]
    status: Option<ApiProjectStatus>,
    /// Only projects owned by this user.
    owner_id: Option<Uuid>,
    /// `member` (the default): the caller's projects; `all`: every project (admins only).
    #[param(inline)]
    scope: Option<ProjectScopeName>,
}

/// The query parameters of `GET /users/{id}/projects`, as documented. Parsing is done by
/// [`FromQuery for ProjectQuery`](ProjectQuery); a test keeps the two in step.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct UserProjectListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// The sort field; `created_at` by default.
    #[param(inline)]
    sort: Option<ProjectSortField>,
    /// The order; `desc` by default.
    #[param(inline)]
    order: Option<SortDirection>,
    /// Case-insensitive text to find in the name (at most 100 characters, matched literally).
    #[param(max_length = 100)]
    search: Option<String>,
    /// Only projects in this status.
    #[param(inline)]
    status: Option<ApiProjectStatus>,
    /// Only projects owned by this user.
    owner_id: Option<Uuid>,
}

/// The query parameters of `GET /projects/{id}/members`, as documented. Parsing is done by
/// [`FromQuery for MemberQuery`](MemberQuery); a test keeps the two in step.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct MemberListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// The sort field; `added_at` by default.
    #[param(inline)]
    sort: Option<MemberSortField>,
    /// The order; `asc` by default (the first members first).
    #[param(inline)]
    order: Option<SortDirection>,
    /// Only members with this role.
    #[param(inline)]
    role: Option<ApiProjectRole>,
}

#[cfg(test)]
mod tests {
    use utoipa::IntoParams;

    use super::*;
    use crate::extract::ListQuery;

    fn names<T: IntoParams>() -> Vec<String> {
        T::into_params(|| None).into_iter().map(|p| p.name).collect()
    }

    fn errors(problem: &crate::problem::Problem) -> Vec<String> {
        problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect()
    }

    #[test]
    fn the_documented_project_parameters_are_the_ones_parsed() {
        assert_eq!(
            names::<ProjectListParams>(),
            ["page", "limit", "sort", "order", "search", "status", "owner_id", "scope"]
        );
        assert_eq!(
            names::<UserProjectListParams>(),
            ["page", "limit", "sort", "order", "search", "status", "owner_id"]
        );
        let owner = Uuid::now_v7();
        let ListQuery(parsed) = ListQuery::<ProjectListQuery>::parse(&format!(
            "page=2&limit=5&sort=name&order=asc&search=apo&status=archived&owner_id={owner}&scope=all"
        ))
        .unwrap();
        assert_eq!(parsed.scope, ProjectScope::All);
        assert_eq!((parsed.query.page.page(), parsed.query.page.limit()), (2, 5));
        assert_eq!((parsed.query.sort, parsed.query.order), (ProjectSort::Name, SortOrder::Asc));
        assert_eq!(
            parsed.query.filter,
            ProjectFilter {
                search: Some("apo".into()),
                status: Some(ProjectStatus::Archived),
                owner_id: Some(UserId::from_uuid(owner)),
                member: None,
            }
        );
        assert!(ListQuery::<ProjectQuery>::parse("scope=all").is_err(), "no scope on a user's projects");
    }

    #[test]
    fn the_documented_sort_names_are_the_ones_parsed() {
        let documented: Vec<String> =
            [ProjectSortField::CreatedAt, ProjectSortField::UpdatedAt, ProjectSortField::Name]
                .iter()
                .map(|f| serde_json::to_value(f).unwrap().as_str().unwrap().to_owned())
                .collect();
        assert_eq!(documented, PROJECT_SORTS.map(|(name, _)| name));
        let documented: Vec<String> = [MemberSortField::AddedAt, MemberSortField::Username]
            .iter()
            .map(|f| serde_json::to_value(f).unwrap().as_str().unwrap().to_owned())
            .collect();
        assert_eq!(documented, MEMBER_SORTS.map(|(name, _)| name));
    }

    #[test]
    fn project_defaults_are_my_projects_newest_first() {
        let ListQuery(parsed) = ListQuery::<ProjectListQuery>::parse("").unwrap();
        assert_eq!(parsed, ProjectListQuery::default());
        assert_eq!(
            (parsed.scope, parsed.query.sort, parsed.query.order),
            (ProjectScope::Member, ProjectSort::CreatedAt, SortOrder::Desc)
        );
    }

    #[test]
    fn every_bad_project_parameter_is_listed() {
        let problem = ListQuery::<ProjectListQuery>::parse(
            "scope=everything&page=0&sort=owner&order=up&status=deleted&owner_id=42&search=a%00b&x=1",
        )
        .unwrap_err();
        assert_eq!(
            errors(&problem),
            [
                "scope:INVALID_CHOICE",
                "page:OUT_OF_RANGE",
                "sort:INVALID_CHOICE",
                "order:INVALID_CHOICE",
                "search:INVALID_CHARACTER",
                "status:INVALID_CHOICE",
                "owner_id:INVALID_FORMAT",
                "x:UNKNOWN_FIELD",
            ]
        );
    }

    #[test]
    fn the_scope_is_read_from_the_raw_query() {
        assert_eq!(requested_scope("page=0&scope=all&sort=nope"), ProjectScope::All);
        assert_eq!(requested_scope("scope=member"), ProjectScope::Member);
        assert_eq!(requested_scope(""), ProjectScope::Member);
    }

    #[test]
    fn members_are_first_come_first_listed_by_default_and_filtered_by_role() {
        assert_eq!(names::<MemberListParams>(), ["page", "limit", "sort", "order", "role"]);
        let ListQuery(parsed) = ListQuery::<MemberQuery>::parse("").unwrap();
        assert_eq!(parsed, MemberQuery::default());
        assert_eq!((parsed.sort, parsed.order), (MemberSort::AddedAt, SortOrder::Asc));
        let ListQuery(parsed) =
            ListQuery::<MemberQuery>::parse("role=viewer&sort=username&order=desc&limit=3").unwrap();
        assert_eq!(
            (parsed.role, parsed.sort, parsed.order),
            (Some(ProjectRole::Viewer), MemberSort::Username, SortOrder::Desc)
        );
        let problem = ListQuery::<MemberQuery>::parse("role=admin&sort=role").unwrap_err();
        assert_eq!(errors(&problem), ["sort:INVALID_CHOICE", "role:INVALID_CHOICE"]);
    }
}
