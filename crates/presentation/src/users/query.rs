//! The query of `GET /users`: paging, sort (`created_at` by default, `username`, `email`,
//! `last_login_at`), order (`desc` by default), and the filters `search`, `role`, `is_active`,
//! `is_verified`.

use forge_application::users::ports::{UserFilter, UserQuery, UserSort};
use forge_domain::users::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::responses::ApiRole;
use crate::extract::query::{FromQuery, QueryParams};

/// The longest search text accepted.
const MAX_SEARCH_CHARS: usize = 100;

/// The sort fields, by their names in the query.
const SORTS: [(&str, UserSort); 4] = [
    ("created_at", UserSort::CreatedAt),
    ("username", UserSort::Username),
    ("email", UserSort::Email),
    ("last_login_at", UserSort::LastLoginAt),
];

impl FromQuery for UserQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let page = params.page();
        let sort = params.choice("sort", &SORTS).unwrap_or_default();
        let order = params.order();
        let filter = UserFilter {
            search: params.text("search", MAX_SEARCH_CHARS),
            role: params.choice("role", &Role::ALL.map(|role| (role.as_str(), role))),
            is_active: params.boolean("is_active"),
            is_verified: params.boolean("is_verified"),
        };
        Self { filter, sort, order, page }
    }
}

/// A field users can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserSortField {
    /// Creation time (the default).
    CreatedAt,
    /// Username, ignoring case.
    Username,
    /// E-mail address.
    Email,
    /// Last login; users who never logged in come last in either order.
    LastLoginAt,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    /// Smallest first.
    Asc,
    /// Largest first (the default).
    Desc,
}

/// The query parameters of `GET /users`, as documented. Parsing is done by
/// [`FromQuery for UserQuery`](UserQuery), which reports every bad parameter; this type only
/// describes them (a test keeps the two in step).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct UserListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// The sort field; `created_at` by default.
    #[param(inline)]
    sort: Option<UserSortField>,
    /// The order; `desc` by default.
    #[param(inline)]
    order: Option<SortDirection>,
    /// Case-insensitive text to find in e-mail address, username or full name (at most 100
    /// characters, matched literally).
    #[param(max_length = 100)]
    search: Option<String>,
    /// Only users with this role.
    #[param(inline)]
    role: Option<ApiRole>,
    /// Only active (`true`) or inactive (`false`) users.
    is_active: Option<bool>,
    /// Only verified (`true`) or unverified (`false`) users.
    is_verified: Option<bool>,
}

#[cfg(test)]
mod tests {
    use forge_application::common::SortOrder;
    use utoipa::IntoParams;

    use super::*;
    use crate::extract::ListQuery;

    #[test]
    fn the_documented_parameters_are_the_ones_parsed() {
        let documented: Vec<String> = UserListParams::into_params(|| None).into_iter().map(|p| p.name).collect();
        assert_eq!(documented, ["page", "limit", "sort", "order", "search", "role", "is_active", "is_verified"]);
        // Each documented parameter is accepted by the parser.
        let ListQuery(query) = ListQuery::<UserQuery>::parse(
            "page=2&limit=5&sort=email&order=asc&search=ada&role=manager&is_active=true&is_verified=false",
        )
        .unwrap();
        assert_eq!((query.page.page(), query.page.limit()), (2, 5));
        assert_eq!(query.sort, UserSort::Email);
        assert_eq!(query.order, SortOrder::Asc);
        assert_eq!(
            query.filter,
            UserFilter {
                search: Some("ada".into()),
                role: Some(Role::Manager),
                is_active: Some(true),
                is_verified: Some(false)
            }
        );
    }

    #[test]
    fn the_documented_sort_names_are_the_ones_parsed() {
        let documented: Vec<String> =
            [UserSortField::CreatedAt, UserSortField::Username, UserSortField::Email, UserSortField::LastLoginAt]
                .iter()
                .map(|f| serde_json::to_value(f).unwrap().as_str().unwrap().to_owned())
                .collect();
        let parsed: Vec<&str> = SORTS.iter().map(|(name, _)| *name).collect();
        assert_eq!(documented, parsed);
    }

    #[test]
    fn the_defaults_are_newest_first_page_one_of_twenty() {
        let ListQuery(query) = ListQuery::<UserQuery>::parse("").unwrap();
        assert_eq!(query, UserQuery::default());
        assert_eq!(query.sort, UserSort::CreatedAt);
        assert_eq!(query.order, SortOrder::Desc);
    }

    #[test]
    fn every_bad_parameter_is_listed_and_none_reaches_the_use_case() {
        let problem = ListQuery::<UserQuery>::parse(
            "page=0&limit=101&sort=password_hash&order=sideways&role=owner&is_active=1&is_verified=maybe&drop=table",
        )
        .unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(
            fields,
            [
                "page:OUT_OF_RANGE",
                "limit:OUT_OF_RANGE",
                "sort:INVALID_CHOICE",
                "order:INVALID_CHOICE",
                "role:INVALID_CHOICE",
                "is_active:INVALID_CHOICE",
                "is_verified:INVALID_CHOICE",
                "drop:UNKNOWN_FIELD",
            ]
        );
        assert_eq!(problem.detail(), "8 fields are invalid");
    }
}
