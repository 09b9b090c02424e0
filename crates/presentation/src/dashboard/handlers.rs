//! Handler of the statistics. Who may see them is decided by [`DashboardService`].

use actix_web::{HttpRequest, HttpResponse, web};
use forge_application::dashboard::DashboardService;

use super::responses::DashboardStatsResponse;
use crate::{
    extract::Authenticated,
    openapi::responses as problems,
    problem::{OrProblem, Problem},
};

/// Installation statistics (admins and managers)
///
/// Users by state and role, new users today (since midnight UTC) and in the last seven days, and
/// projects, computed by one aggregate query per table. The figures are cached for up to 60
/// seconds; `generated_at` says when they were computed.
#[utoipa::path(
    get,
    path = "/api/v1/dashboard/stats",
    tag = "administration",
    operation_id = "dashboard_stats",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    responses(
        (status = 200, description = "The statistics", body = DashboardStatsResponse),
        (status = 403, response = problems::Forbidden),
    ),
)]
pub async fn stats(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    dashboard: web::Data<DashboardService>,
) -> Result<HttpResponse, Problem> {
    let stats = dashboard.stats(&actor).await.or_problem(&req)?;
    Ok(HttpResponse::Ok().json(DashboardStatsResponse::from(stats)))
}
