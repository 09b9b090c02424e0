//! Handlers of job administration, for admins ([`JobsService`] decides).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use forge_application::{
    common::PageRequest,
    jobs::{JobRecord, JobState, JobsError, JobsService, Queue},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    extract::Authenticated,
    extract::{
        ListQuery,
        query::{FromQuery, QueryParams},
    },
    openapi::responses as problems,
    pagination::{self, Paginated},
    problem::{OrProblem, Problem, ProblemCode},
};

impl From<JobsError> for Problem {
    fn from(e: JobsError) -> Self {
        match e {
            JobsError::Forbidden => Self::new(ProblemCode::Forbidden, "only admins manage jobs"),
            JobsError::NotFound => Self::not_found("no dead job with this id"),
            JobsError::Unexpected(e) => e.into(),
        }
    }
}

/// A queue's name.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiQueue {
    /// Anything without a queue of its own.
    Default,
    /// Mail.
    Mail,
    /// Exports.
    Exports,
    /// The scheduled purges.
    Maintenance,
}

/// A job's state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApiJobState {
    /// Waiting for a worker.
    Queued,
    /// Being run.
    Running,
    /// Done.
    Succeeded,
    /// An attempt failed; another will follow after its back-off.
    Failed,
    /// Every attempt failed: kept with its last error, to retry or discard.
    Dead,
}

/// One job.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobResponse {
    /// Its id (a ULID).
    pub id: String,
    /// Its queue.
    pub queue: String,
    /// Its kind: `send_mail`, `export` or `maintenance`.
    #[schema(required = true)]
    pub kind: Option<String>,
    /// Where it is.
    pub state: ApiJobState,
    /// Attempts made.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// The error of the last failed attempt.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// When it is (or was) due to run.
    #[schema(required = true)]
    pub run_at: Option<DateTime<Utc>>,
}

impl From<&JobRecord> for JobResponse {
    fn from(job: &JobRecord) -> Self {
        Self {
            id: job.id.clone(),
            queue: job.queue.clone(),
            kind: job.kind.clone(),
            state: match job.state {
                JobState::Queued => ApiJobState::Queued,
                JobState::Running => ApiJobState::Running,
                JobState::Succeeded => ApiJobState::Succeeded,
                JobState::Failed => ApiJobState::Failed,
                JobState::Dead => ApiJobState::Dead,
            },
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            last_error: job.last_error.clone(),
            run_at: job.run_at,
        }
    }
}

/// The query of `GET /jobs`.
#[derive(Debug)]
pub struct JobListQuery {
    queue: Option<Queue>,
    state: Option<JobState>,
    page: PageRequest,
}

impl FromQuery for JobListQuery {
    fn from_query(params: &mut QueryParams) -> Self {
        let page = params.page();
        let queue = params.choice("queue", &Queue::ALL.map(|q| (q.name(), q)));
        let state = params.choice("state", &JobState::ALL.map(|s| (s.name(), s)));
        Self { queue, state, page }
    }
}

/// The query parameters of `GET /jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "read only by the OpenAPI generator")]
pub struct JobListParams {
    /// The page, from 1.
    #[param(minimum = 1, default = 1)]
    page: Option<u32>,
    /// The page size, 1 to 100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// Only jobs of this queue.
    #[param(inline)]
    queue: Option<ApiQueue>,
    /// Only jobs in this state.
    #[param(inline)]
    state: Option<ApiJobState>,
}

/// List background jobs (admins)
///
/// Newest first, by queue and state, with their attempts and the last error.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "administration",
    operation_id = "list_jobs",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(JobListParams),
    responses(
        (status = 200, description = "One page of jobs", body = Paginated<JobResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 403, response = problems::Forbidden),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn list(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    jobs: Option<web::Data<JobsService>>,
) -> Result<HttpResponse, Problem> {
    let jobs = jobs.ok_or_else(|| crate::problem::Problem::jobs_off().at(&req))?;
    jobs.authorize(&actor).or_problem(&req)?;
    let ListQuery(query) = ListQuery::<JobListQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let page = jobs.list(&actor, query.queue, query.state, query.page).await.or_problem(&req)?;
    Ok(pagination::respond(&req, page.map(|job| JobResponse::from(&job))))
}

/// Retry a dead job (admins)
///
/// The job goes back on its queue with a fresh count of attempts.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/retry",
    tag = "administration",
    operation_id = "retry_job",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = String, Path, description = "The job's id", max_length = 26)),
    responses(
        (status = 204, description = "The job is queued again"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn retry(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    jobs: Option<web::Data<JobsService>>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let jobs = jobs.ok_or_else(|| crate::problem::Problem::jobs_off().at(&req))?;
    jobs.retry(&actor, &id).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Discard a dead job (admins)
#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{id}",
    tag = "administration",
    operation_id = "discard_job",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = String, Path, description = "The job's id", max_length = 26)),
    responses(
        (status = 204, description = "The job is gone"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn discard(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    jobs: Option<web::Data<JobsService>>,
    id: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let jobs = jobs.ok_or_else(|| crate::problem::Problem::jobs_off().at(&req))?;
    jobs.discard(&actor, &id).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}
