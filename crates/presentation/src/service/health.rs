//! Health endpoints for orchestrators: liveness (the process answers) and readiness (every
//! dependency answers, with its latency). A failing readiness check is a 503 with its own JSON
//! report rather than a problem document, because load balancers and people read it as is.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::header, web};
use forge_application::health::{HealthReport, HealthService};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Seconds a client should wait before asking again when not ready.
const RETRY_AFTER_SECONDS: &str = "5";

/// `{"status": "live"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LiveResponse {
    /// Always `live`.
    #[schema(example = "live")]
    pub status: String,
}

/// Whether the service is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    /// Every dependency answers.
    Ready,
    /// At least one does not.
    Unavailable,
}

/// Whether one dependency answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// It answered.
    Up,
    /// It did not, and the service is not ready without it.
    Down,
    /// It did not, and the service works on without it (a cache: reads go to the database).
    Degraded,
}

/// The outcome of one dependency's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckResponse {
    /// Whether it answered.
    pub status: CheckStatus,
    /// How long the check took, in milliseconds.
    pub latency_ms: u64,
    /// Why it did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
}

/// The readiness report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "ready", "checks": {"database": {"status": "up", "latency_ms": 2}}}))]
pub struct ReadinessResponse {
    /// `ready` when every check is up or degraded.
    pub status: Readiness,
    /// Each dependency's check, by name (`database`, `cache`, ...).
    pub checks: BTreeMap<String, CheckResponse>,
}

impl From<HealthReport> for ReadinessResponse {
    fn from(report: HealthReport) -> Self {
        let status = if report.is_ready() { Readiness::Ready } else { Readiness::Unavailable };
        let checks = report
            .checks
            .into_iter()
            .map(|check| {
                let latency_ms = u64::try_from(check.latency.as_millis()).unwrap_or(u64::MAX);
                let status = match (&check.error, check.required) {
                    (None, _) => CheckStatus::Up,
                    (Some(_), true) => CheckStatus::Down,
                    (Some(_), false) => CheckStatus::Degraded,
                };
                (check.name.to_owned(), CheckResponse { status, latency_ms, error: check.error })
            })
            .collect();
        Self { status, checks }
    }
}

/// Whether the process runs
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "service",
    operation_id = "live",
    responses((status = 200, description = "The process answers", body = LiveResponse)),
)]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(LiveResponse { status: "live".to_owned() })
}

/// Whether every dependency answers
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "service",
    operation_id = "ready",
    responses(
        (status = 200, description = "Every dependency answers", body = ReadinessResponse),
        (status = 503, description = "A dependency does not answer; the failing check says why",
            body = ReadinessResponse,
            headers(("Retry-After" = u32, description = "Seconds to wait before asking again"))),
    ),
)]
pub async fn ready(health: web::Data<HealthService>) -> HttpResponse {
    let report = ReadinessResponse::from(health.check().await);
    match report.status {
        Readiness::Ready => HttpResponse::Ok().json(report),
        Readiness::Unavailable => {
            tracing::warn!(checks = ?report.checks, "not ready");
            HttpResponse::ServiceUnavailable().insert_header((header::RETRY_AFTER, RETRY_AFTER_SECONDS)).json(report)
        }
    }
}
