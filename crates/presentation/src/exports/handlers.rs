//! Handlers of the export endpoints. Who may export what, and see which export, is decided by
//! [`ExportService`].

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use forge_application::exports::{ExportId, ExportService};
use uuid::Uuid;

use super::{requests::CreateExportRequest, responses::ExportResponse};
use crate::{
    conditional,
    extract::{Authenticated, ValidJson},
    middleware::idempotency::IdempotencyKeyHeader,
    openapi::responses as problems,
    problem::{OrProblem, Problem},
};

/// Ask for an export
///
/// The export is written in the background, in batches, by a worker of the `exports` queue;
/// follow it at its `self` link. Users and the audit trail: admins and managers. Projects:
/// anyone; an admin exports every project, anyone else the projects it is a member of.
#[utoipa::path(
    post,
    path = "/api/v1/exports",
    tag = "exports",
    operation_id = "create_export",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(IdempotencyKeyHeader),
    request_body = CreateExportRequest,
    responses(
        (status = 202, description = "The export is queued", body = ExportResponse,
            headers(
                ("Location" = String, description = "The export's path"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the kept response to an earlier request with the same `Idempotency-Key`"),
            )),
        (status = 403, response = problems::Forbidden),
        (status = 422, response = problems::ValidationFailed),
        (status = 503, response = problems::ServiceUnavailable),
    ),
)]
pub async fn create(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    exports: Option<web::Data<ExportService>>,
    ValidJson(body): ValidJson<CreateExportRequest>,
) -> Result<HttpResponse, Problem> {
    let exports = exports.ok_or_else(|| crate::problem::Problem::jobs_off().at(&req))?;
    let (filters, format) = body.into_parts().map_err(|errors| Problem::validation(errors).at(&req))?;
    let export = exports.request(&actor, filters, format).await.or_problem(&req)?;
    let response = ExportResponse::from(&export);
    let location =
        header::HeaderValue::from_str(&response.links.self_.href).map_err(|_| Problem::internal().at(&req))?;
    let mut res = conditional::respond(&req, StatusCode::ACCEPTED, i64::from(export.chunks), &response)?;
    res.headers_mut().insert(header::LOCATION, location);
    Ok(res)
}

/// An export, with its progress (its creator, admins)
///
/// Anyone else gets 404, as does everyone once the export has expired.
#[utoipa::path(
    get,
    path = "/api/v1/exports/{id}",
    tag = "exports",
    operation_id = "get_export",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The export", body = ExportResponse,
            headers(("ETag" = String, description = "The representation's strong entity tag"))),
        (status = 304, response = problems::NotModified),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn get(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    exports: Option<web::Data<ExportService>>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let exports = exports.ok_or_else(|| crate::problem::Problem::jobs_off().at(&req))?;
    let export = exports.get(&actor, ExportId::from_uuid(*id)).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, i64::from(export.chunks), &ExportResponse::from(&export))
}

/// Download an export's file (its creator, admins)
///
/// Streamed, chunk by chunk: `text/csv` or `application/x-ndjson`, as an attachment named
/// after the resource and the export's id. 409 until the export has completed.
#[utoipa::path(
    get,
    path = "/api/v1/exports/{id}/download",
    tag = "exports",
    operation_id = "download_export",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The file",
            content((String = "text/csv"), (String = "application/x-ndjson")),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"<resource>-<id>.<format>\"`"))),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
    ),
)]
pub async fn download(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    exports: Option<web::Data<ExportService>>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let exports = exports.ok_or_else(|| crate::problem::Problem::jobs_off().at(&req))?;
    let export = exports.download(&actor, ExportId::from_uuid(*id)).await.or_problem(&req)?;
    let disposition = format!("attachment; filename=\"{}\"", export.file_name());
    let content_type = export.format.content_type();
    let length = export.bytes;
    let service = exports.into_inner();
    // One chunk in memory at a time, read when the client is ready for it.
    let body = futures::stream::try_unfold(0_u32, move |seq| {
        let (service, export) = (service.clone(), export.clone());
        async move {
            if seq >= export.chunks {
                return Ok(None);
            }
            let bytes = service.chunk(&export, seq).await.map_err(|e| {
                tracing::error!(error = %e, export_id = %export.id, "an export's file could not be read");
                actix_web::error::ErrorInternalServerError("the file could not be read")
            })?;
            Ok::<_, actix_web::Error>(Some((web::Bytes::from(bytes), seq + 1)))
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .no_chunking(length)
        .streaming(body))
}
