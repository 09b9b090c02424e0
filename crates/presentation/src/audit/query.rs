//! The query of `GET /audit-logs`: paging, sort (`created_at`, the only one), order (`desc` by
//! default), and the filters `actor_id`, `entity_type`, `entity_id`, `project_id`, `action`,
//! `from`, `to`.

use forge_application::audit::{
    AuditAction, AuditEntity,
    ports::{AuditLogFilter, AuditLogQuery, AuditLogSort},
};
use forge_domain::{projects::ProjectId, users::UserId};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::responses::{AuditActionName, AuditEntityName};
use crate::{
    extract::query::{FromQuery, QueryParams},
    users::query::SortDirection,
};

/// The longest `entity_id` stored (and so worth looking for).
pub(crate) const MAX_ENTITY_ID_CHARS: usize = 80;

impl FromQuery for AuditLogQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let page = params.page();
        let sort = params.choice("sort", &[("created_at", AuditLogSort::CreatedAt)]).unwrap_or_default();
        let order = params.order();
        let filter = AuditLogFilter {
            actor_id: params.uuid("actor_id").map(UserId::from_uuid),
            entity_type: params.choice("entity_type", &AuditEntity::ALL.map(|e| (e.as_str(), e))),
            entity_id: params.text("entity_id", MAX_ENTITY_ID_CHARS),
            project_id: params.uuid("project_id").map(ProjectId::from_uuid),
            action: params.choice("action", &AuditAction::ALL.map(|a| (a.as_str(), a))),
            from: params.timestamp("from"),
            to: params.timestamp("to"),
        };
        Self { filter, sort, order, page }
    }
}

/// The sort fields of the trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditLogSortField {
    /// When the entry was written (the default).
    CreatedAt,
}

/// The query parameters of `GET /audit-logs`, as documented. Parsing is done by
/// [`FromQuery for AuditLogQuery`](AuditLogQuery), which reports every bad parameter; a test keeps
/// the two in step.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct AuditLogListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// The sort field: `created_at`, the default.
    #[param(inline)]
    sort: Option<AuditLogSortField>,
    /// The order; `desc` (newest first) by default.
    #[param(inline)]
    order: Option<SortDirection>,
    /// Only entries by this user.
    actor_id: Option<Uuid>,
    /// Only entries about this kind of thing.
    #[param(inline)]
    entity_type: Option<AuditEntityName>,
    /// Only entries about this one thing (its id, compared exactly; at most 80 characters).
    entity_id: Option<String>,
    /// Only entries about this project: the project itself (`entity_type` `project`) and its
    /// memberships (`membership`).
    project_id: Option<Uuid>,
    /// Only this action.
    #[param(inline)]
    action: Option<AuditActionName>,
    /// Only entries written at or after this instant (RFC 3339; encode a `+` offset as `%2B`).
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only entries written at or before this instant (RFC 3339); not before `from`.
    to: Option<chrono::DateTime<chrono::Utc>>,
}

#[cfg(test)]
mod tests {
    use forge_application::common::SortOrder;
    use utoipa::IntoParams;

    use super::*;
    use crate::extract::ListQuery;

    #[test]
    fn the_documented_parameters_are_the_ones_parsed() {
        let documented: Vec<String> = AuditLogListParams::into_params(|| None).into_iter().map(|p| p.name).collect();
        assert_eq!(
            documented,
            [
                "page",
                "limit",
                "sort",
                "order",
                "actor_id",
                "entity_type",
                "entity_id",
                "project_id",
                "action",
                "from",
                "to"
            ]
        );
        let ListQuery(query) = ListQuery::<AuditLogQuery>::parse(
            "page=2&limit=5&sort=created_at&order=asc&actor_id=0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d\
             &entity_type=user&entity_id=abc&project_id=0192f0c4-6a1b-7d2e-8f3a-5c9d0e1f2a3b&action=user.updated\
             &from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z",
        )
        .unwrap();
        assert_eq!((query.page.page(), query.page.limit(), query.order), (2, 5, SortOrder::Asc));
        let filter = query.filter;
        assert_eq!(filter.actor_id.map(|id| id.to_string()).as_deref(), Some("0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d"));
        assert_eq!(filter.entity_type, Some(AuditEntity::User));
        assert_eq!(filter.entity_id.as_deref(), Some("abc"));
        assert_eq!(filter.project_id.map(|id| id.to_string()).as_deref(), Some("0192f0c4-6a1b-7d2e-8f3a-5c9d0e1f2a3b"));
        assert_eq!(filter.action, Some(AuditAction::UserUpdated));
        assert_eq!(filter.from.map(|t| t.to_rfc3339()).as_deref(), Some("2026-11-01T00:00:00+00:00"));
        assert_eq!(filter.to.map(|t| t.to_rfc3339()).as_deref(), Some("2026-11-02T00:00:00+00:00"));
    }

    #[test]
    fn the_defaults_are_newest_first_page_one_of_twenty_unfiltered() {
        let ListQuery(query) = ListQuery::<AuditLogQuery>::parse("").unwrap();
        assert_eq!(query, AuditLogQuery::default());
        assert_eq!(query.order, SortOrder::Desc);
    }

    #[test]
    fn every_bad_parameter_is_listed() {
        let problem = ListQuery::<AuditLogQuery>::parse(
            "sort=action&actor_id=42&entity_type=robot&project_id=apollo&action=user.exploded&from=yesterday\
             &to=2026-11-02&ip=1",
        )
        .unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(
            fields,
            [
                "sort:INVALID_CHOICE",
                "actor_id:INVALID_FORMAT",
                "entity_type:INVALID_CHOICE",
                "project_id:INVALID_FORMAT",
                "action:INVALID_CHOICE",
                "from:INVALID_FORMAT",
                "to:INVALID_FORMAT",
                "ip:UNKNOWN_FIELD",
            ]
        );
    }
}
