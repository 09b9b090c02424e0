//! The query of `GET /api-keys`: paging, sort (`created_at` by default, `name`, `last_used_at`)
//! and order (`desc` by default).

use forge_application::api_keys::ports::{ApiKeyQuery, ApiKeySort};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    extract::query::{FromQuery, QueryParams},
    users::query::SortDirection,
};

/// The sort fields, by their names in the query.
const SORTS: [(&str, ApiKeySort); 3] =
    [("created_at", ApiKeySort::CreatedAt), ("name", ApiKeySort::Name), ("last_used_at", ApiKeySort::LastUsedAt)];

impl FromQuery for ApiKeyQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let page = params.page();
        let sort = params.choice("sort", &SORTS).unwrap_or_default();
        let order = params.order();
        Self { sort, order, page }
    }
}

/// A field keys can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeySortField {
    /// Creation time (the default).
    CreatedAt,
    /// Name.
    Name,
    /// Last use; never-used keys come last in either order.
    LastUsedAt,
}

/// The query parameters of `GET /api-keys`, as documented (parsed by
/// [`FromQuery for ApiKeyQuery`](ApiKeyQuery)).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct ApiKeyListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// The sort field; `created_at` by default.
    #[param(inline)]
    sort: Option<ApiKeySortField>,
    /// The order; `desc` by default.
    #[param(inline)]
    order: Option<SortDirection>,
}

#[cfg(test)]
mod tests {
    use forge_application::common::SortOrder;

    use super::*;
    use crate::extract::ListQuery;

    #[test]
    fn the_documented_parameters_and_sort_names_are_the_ones_parsed() {
        let documented: Vec<String> = ApiKeyListParams::into_params(|| None).into_iter().map(|p| p.name).collect();
        assert_eq!(documented, ["page", "limit", "sort", "order"]);
        let ListQuery(query) = ListQuery::<ApiKeyQuery>::parse("page=3&limit=10&sort=name&order=asc").unwrap();
        assert_eq!((query.page.page(), query.page.limit()), (3, 10));
        assert_eq!((query.sort, query.order), (ApiKeySort::Name, SortOrder::Asc));
        let names: Vec<String> = [ApiKeySortField::CreatedAt, ApiKeySortField::Name, ApiKeySortField::LastUsedAt]
            .iter()
            .map(|f| serde_json::to_value(f).unwrap().as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, SORTS.map(|(name, _)| name.to_owned()));
        assert_eq!(ListQuery::<ApiKeyQuery>::parse("").unwrap().0, ApiKeyQuery::default());
    }

    #[test]
    fn bad_parameters_are_listed() {
        let problem = ListQuery::<ApiKeyQuery>::parse("sort=digest&order=up").unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(fields, ["sort:INVALID_CHOICE", "order:INVALID_CHOICE"]);
    }
}
