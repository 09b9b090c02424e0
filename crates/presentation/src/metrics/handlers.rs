//! Handler of the operational figures. Who may see them is decided by [`MetricsService`].

use actix_web::{HttpRequest, HttpResponse, web};
use forge_application::metrics::MetricsService;

use super::responses::DatabaseMetricsResponse;
use crate::{
    extract::Authenticated,
    openapi::responses as problems,
    problem::{OrProblem, Problem},
};

/// Database connection pool figures (admins)
///
/// The backend, the pool of this instance (open, idle, in use, maximum) and the statements it has
/// run since start-up, failed ones counted apart.
#[utoipa::path(
    get,
    path = "/api/v1/metrics/database",
    tag = "administration",
    operation_id = "database_metrics",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    responses(
        (status = 200, description = "The figures", body = DatabaseMetricsResponse),
        (status = 403, response = problems::Forbidden),
    ),
)]
pub async fn database(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    metrics: web::Data<MetricsService>,
) -> Result<HttpResponse, Problem> {
    let figures = metrics.database(&actor).or_problem(&req)?;
    Ok(HttpResponse::Ok().json(DatabaseMetricsResponse::from(figures)))
}
