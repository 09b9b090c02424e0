//! The caller's own sessions: `GET /auth/sessions`, `DELETE /auth/sessions/{id}` and
//! `POST /auth/logout-all`. Only from a session: with an API key these answer 403.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use forge_application::auth::{AuthService, SessionQuery, SessionSort, SessionSummary};
use forge_domain::sessions::SessionId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::handlers::no_content_clearing_cookie;
use crate::{
    extract::{
        Authenticated, ListQuery,
        query::{FromQuery, QueryParams},
    },
    openapi::responses as problems,
    pagination::{self, Paginated},
    problem::{OrProblem, Problem},
    users::query::SortDirection,
};

/// A live session of the caller's.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    /// The session's id (the `sid` claim of its access tokens).
    pub id: Uuid,
    /// When it was opened by a login.
    pub created_at: DateTime<Utc>,
    /// When it was last refreshed.
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless refreshed: the earlier of its absolute expiry and the end of its idle
    /// timeout.
    pub expires_at: DateTime<Utc>,
    /// The address it was opened from.
    #[schema(required = true, example = "203.0.113.7")]
    pub ip: Option<String>,
    /// The user agent it was opened with.
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// Whether the access token of this request belongs to it.
    pub current: bool,
}

impl From<SessionSummary> for SessionResponse {
    fn from(summary: SessionSummary) -> Self {
        let session = summary.session;
        Self {
            id: session.id.as_uuid(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: summary.expires_at,
            ip: session.ip,
            user_agent: session.user_agent,
            current: summary.current,
        }
    }
}

/// The sort fields, by their names in the query.
const SORTS: [(&str, SessionSort); 2] =
    [("created_at", SessionSort::CreatedAt), ("last_used_at", SessionSort::LastUsedAt)];

impl FromQuery for SessionQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let page = params.page();
        let sort = params.choice("sort", &SORTS).unwrap_or_default();
        let order = params.order();
        Self { sort, order, page }
    }
}

/// A field sessions can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionSortField {
    /// When it was opened (the default).
    CreatedAt,
    /// When it was last refreshed.
    LastUsedAt,
}

/// The query parameters of `GET /auth/sessions`, as documented (parsed by
/// [`FromQuery for SessionQuery`](SessionQuery)).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct SessionListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// The sort field; `created_at` by default.
    #[param(inline)]
    sort: Option<SessionSortField>,
    /// The order; `desc` by default.
    #[param(inline)]
    order: Option<SortDirection>,
}

/// The caller's live sessions
///
/// Sessions that were ended or are past their absolute or idle limit are not listed. `current`
/// marks the session of the access token used for this request.
#[utoipa::path(
    get,
    path = "/api/v1/auth/sessions",
    tag = "auth",
    operation_id = "list_sessions",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(SessionListParams),
    responses(
        (status = 200, description = "One page of the caller's live sessions", body = Paginated<SessionResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 403, response = problems::Forbidden),
    ),
)]
pub async fn list(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    auth: web::Data<AuthService>,
) -> Result<HttpResponse, Problem> {
    // Permission first: an API key learns nothing about the list's parameters.
    auth.authorize_session_management(&actor).or_problem(&req)?;
    let ListQuery(query) = ListQuery::<SessionQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let page = auth.list_sessions(&actor, &query).await.or_problem(&req)?;
    Ok(pagination::respond(&req, page.map(SessionResponse::from)))
}

/// End one of the caller's sessions
///
/// Its access and refresh tokens stop working on the very next request. Another user's session,
/// an unknown id and an already ended session are all 404.
#[utoipa::path(
    delete,
    path = "/api/v1/auth/sessions/{id}",
    tag = "auth",
    operation_id = "revoke_session",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The session's id")),
    responses(
        (status = 204, description = "The session was ended"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn revoke(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    auth: web::Data<AuthService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    auth.revoke_session(&actor, SessionId::from(*id)).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the caller's
///
/// The current session included: every access and refresh token of the user stops working on
/// the very next request. In cookie mode the refresh cookie is cleared.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-all",
    tag = "auth",
    operation_id = "logout_all",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    responses(
        (status = 204, description = "Every session was ended",
            headers(("Set-Cookie" = String, description = "Clears `__Host-forge_refresh`, in cookie mode only"))),
        (status = 403, response = problems::Forbidden),
    ),
)]
pub async fn logout_all(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    auth: web::Data<AuthService>,
) -> Result<HttpResponse, Problem> {
    auth.logout_all(&actor).await.or_problem(&req)?;
    Ok(no_content_clearing_cookie(&req))
}

#[cfg(test)]
mod tests {
    use forge_application::common::SortOrder;

    use super::*;

    #[test]
    fn the_documented_parameters_and_sort_names_are_the_ones_parsed() {
        let documented: Vec<String> = SessionListParams::into_params(|| None).into_iter().map(|p| p.name).collect();
        assert_eq!(documented, ["page", "limit", "sort", "order"]);
        let ListQuery(query) = ListQuery::<SessionQuery>::parse("page=2&limit=5&sort=last_used_at&order=asc").unwrap();
        assert_eq!((query.page.page(), query.page.limit()), (2, 5));
        assert_eq!((query.sort, query.order), (SessionSort::LastUsedAt, SortOrder::Asc));
        let names: Vec<String> = [SessionSortField::CreatedAt, SessionSortField::LastUsedAt]
            .iter()
            .map(|f| serde_json::to_value(f).unwrap().as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, SORTS.map(|(name, _)| name.to_owned()));
    }

    #[test]
    fn bad_parameters_are_listed() {
        let problem = ListQuery::<SessionQuery>::parse("sort=ip&limit=0&x=1").unwrap_err();
        let fields: Vec<String> =
            problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(fields, ["limit:OUT_OF_RANGE", "sort:INVALID_CHOICE", "x:UNKNOWN_FIELD"]);
    }
}
