//! Handler of the audit trail. Who may read it is decided by [`AuditLogService`].

use actix_web::{HttpRequest, HttpResponse, web};
use forge_application::audit::{AuditLogService, ports::AuditLogQuery};

use super::{query::AuditLogListParams, responses::AuditLogResponse};
use crate::{
    extract::{Authenticated, ListQuery},
    openapi::responses as problems,
    pagination::{self, Paginated},
    problem::{OrProblem, Problem},
};

/// List the audit trail (admins)
///
/// Every recorded change, newest first: who did what to which entity, the fields before and
/// after, and where the request came from. Entries cannot be changed or deleted through the API.
#[utoipa::path(
    get,
    path = "/api/v1/audit-logs",
    tag = "administration",
    operation_id = "list_audit_logs",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(AuditLogListParams),
    responses(
        (status = 200, description = "One page of the trail", body = Paginated<AuditLogResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 403, response = problems::Forbidden),
        (status = 405, response = problems::MethodNotAllowed),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn list(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    audit: web::Data<AuditLogService>,
) -> Result<HttpResponse, Problem> {
    // Permission first: a non-admin learns nothing about the query's parameters.
    audit.authorize(&actor).or_problem(&req)?;
    let ListQuery(query) = ListQuery::<AuditLogQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let page = audit.list(&actor, &query).await.or_problem(&req)?;
    Ok(pagination::respond(&req, page.map(|entry| AuditLogResponse::from(&entry))))
}
