//! Handlers of the API-key endpoints. Who may do what is decided by [`ApiKeyService`]; these turn
//! HTTP into its calls and back.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use forge_application::api_keys::{ApiKeyService, ports::ApiKeyQuery};
use forge_domain::api_keys::ApiKeyId;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{
    query::ApiKeyListParams,
    requests::CreateApiKeyRequest,
    responses::{ApiKeyResponse, CreatedApiKeyResponse, api_key_path},
};
use crate::{
    extract::{Authenticated, ListQuery, ValidJson},
    middleware::idempotency::IdempotencyKeyHeader,
    openapi::responses as problems,
    pagination::{self, Paginated},
    problem::{OrProblem, Problem},
};

/// The caller's API keys
///
/// Revoked keys are not listed; expired ones are, until revoked. Never shows a key, only its
/// prefix.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    operation_id = "list_api_keys",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(ApiKeyListParams),
    responses(
        (status = 200, description = "One page of the caller's keys", body = Paginated<ApiKeyResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 403, response = problems::Forbidden),
    ),
)]
pub async fn list(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    api_keys: web::Data<ApiKeyService>,
) -> Result<HttpResponse, Problem> {
    // Permission first: an API key learns nothing about the list's parameters.
    api_keys.authorize_manage(&actor).or_problem(&req)?;
    let ListQuery(query) = ListQuery::<ApiKeyQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let page = api_keys.list(&actor, &query).await.or_problem(&req)?;
    Ok(pagination::respond(&req, page.map(|key| ApiKeyResponse::from(&key))))
}

/// Create an API key
///
/// The answer holds the key itself (`key`, `sk_…`), shown this once: only its SHA-256 digest is
/// stored. Use it as `Authorization: Bearer sk_…` or `X-API-Key: sk_…`. `scopes` defaults to
/// `["read", "write"]`. An API key cannot create keys.
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "api-keys",
    operation_id = "create_api_key",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(IdempotencyKeyHeader),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The key was created; `key` is shown this once", body = CreatedApiKeyResponse,
            headers(
                ("Location" = String, description = "The new key's path"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the kept response to an earlier request with the same `Idempotency-Key`"),
            )),
        (status = 403, response = problems::Forbidden),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn create(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    api_keys: web::Data<ApiKeyService>,
    ValidJson(body): ValidJson<CreateApiKeyRequest>,
) -> Result<HttpResponse, Problem> {
    let created = api_keys.create(&actor, body.into()).await.or_problem(&req)?;
    let body = CreatedApiKeyResponse::new(&created.api_key, created.secret.expose_secret().to_owned());
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, api_key_path(created.api_key.id())))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body))
}

/// One API key (its owner, admins)
#[utoipa::path(
    get,
    path = "/api/v1/api-keys/{id}",
    tag = "api-keys",
    operation_id = "get_api_key",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The key", body = ApiKeyResponse),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn get(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    api_keys: web::Data<ApiKeyService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let key = api_keys.get(&actor, ApiKeyId::from_uuid(*id)).await.or_problem(&req)?;
    Ok(HttpResponse::Ok().json(ApiKeyResponse::from(&key)))
}

/// Revoke an API key (its owner, admins)
///
/// The key stops working on the very next request. Anyone else's key, an unknown id and an
/// already revoked key are all 404.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    tag = "api-keys",
    operation_id = "revoke_api_key",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204, description = "The key was revoked"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn revoke(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    api_keys: web::Data<ApiKeyService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    api_keys.revoke(&actor, ApiKeyId::from_uuid(*id)).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}
