//! Handlers of the users endpoints: one's own profile, and administration of every account.
//! Who may do what is decided by [`UserService`]; these turn HTTP into its calls and back.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use forge_application::users::{MAX_BULK_USERS, ProfileUpdate, UserService, UserUpdate, ports::UserQuery};
use forge_domain::users::UserId;
use uuid::Uuid;

use super::{
    query::UserListParams,
    requests::{CreateUserRequest, ReplaceUserRequest, UpdateMeRequest, UpdateUserRequest},
    responses::{BulkUsersResponse, UserResponse, Viewer, user_path},
};
use crate::{
    conditional::{self, IfMatch},
    extract::{AllowUnverified, Authenticated, ListQuery, ValidJson, ValidJsonList},
    middleware::idempotency::IdempotencyKeyHeader,
    openapi::responses as problems,
    pagination::{self, Paginated},
    problem::{OrProblem, Problem},
};

/// The caller's own account
///
/// Allowed to accounts whose address is not verified yet.
#[utoipa::path(
    get,
    path = "/api/v1/users/me",
    tag = "users",
    operation_id = "get_me",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier read: 304 when it is still current")),
    responses(
        (status = 200, description = "The caller's account", body = UserResponse, headers(("ETag" = String, description = "The strong validator of this representation"))),
        (status = 304, response = problems::NotModified),
    ),
)]
pub async fn me(
    req: HttpRequest,
    AllowUnverified(actor): AllowUnverified,
    users: web::Data<UserService>,
) -> Result<HttpResponse, Problem> {
    let user = users.me(&actor);
    conditional::respond(&req, StatusCode::OK, user.version(), &UserResponse::new(&user, Viewer::actor(&actor)))
}

/// Change the caller's own profile
///
/// Changing the e-mail address needs `current_password` (422 `REQUIRED` or `INVALID_PASSWORD` on
/// it otherwise) and marks the address unverified: a verification link is mailed to the new
/// address and the old one is told. `role`, `is_active` and `is_verified` cannot be set here:
/// sending them is a 422 naming each, and nothing changes.
#[utoipa::path(
    patch,
    path = "/api/v1/users/me",
    tag = "users",
    operation_id = "update_me",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("If-Match" = Option<String>, Header, description = "Change only if the account is still at this ETag (412 otherwise)")),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The account as it is now", body = UserResponse, headers(("ETag" = String, description = "The strong validator of this representation"))),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn update_me(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
    IfMatch(expected_version): IfMatch,
    ValidJson(body): ValidJson<UpdateMeRequest>,
) -> Result<HttpResponse, Problem> {
    let user = users.update_me(&actor, ProfileUpdate::from(body), expected_version).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, user.version(), &UserResponse::new(&user, Viewer::actor(&actor)))
}

/// List users (admins and managers)
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    operation_id = "list_users",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(UserListParams),
    responses(
        (status = 200, description = "One page of users", body = Paginated<UserResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 403, response = problems::Forbidden),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn list(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
) -> Result<HttpResponse, Problem> {
    // Permission first: a member learns nothing about the list's parameters.
    users.authorize_list(&actor).or_problem(&req)?;
    let ListQuery(query) = ListQuery::<UserQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let page = users.list(&actor, &query).await.or_problem(&req)?;
    let viewer = Viewer::actor(&actor);
    Ok(pagination::respond(&req, page.map(|user| UserResponse::new(&user, viewer))))
}

/// Create a user (admins)
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "users",
    operation_id = "create_user",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(IdempotencyKeyHeader),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The account was created", body = UserResponse,
            headers(
                ("Location" = String, description = "The new user's path"),
                ("ETag" = String, description = "The strong validator of this representation"),
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
    users: web::Data<UserService>,
    ValidJson(body): ValidJson<CreateUserRequest>,
) -> Result<HttpResponse, Problem> {
    let user = users.create(&actor, body.into()).await.or_problem(&req)?;
    let mut res = conditional::respond(
        &req,
        StatusCode::CREATED,
        user.version(),
        &UserResponse::new(&user, Viewer::actor(&actor)),
    )?;
    res.headers_mut().insert(
        header::LOCATION,
        header::HeaderValue::from_str(&user_path(user.id())).map_err(|_| Problem::internal().at(&req))?,
    );
    Ok(res)
}

/// Create many users at once (admins)
///
/// An array of 1 to 1000 bodies like those of `POST /users`. Either every account is created, in
/// one transaction, or none is: a 422 then names each bad item by index (`[12].email`),
/// including addresses and usernames repeated within the list (`DUPLICATE`) or already taken
/// (`TAKEN`); a list of the wrong length is named `.`. Each account gets its own `user.created`
/// audit entry. The body may be up to `server.bulk_body_limit_bytes` (4 MiB by default) and the
/// request may run for `server.bulk_request_timeout_secs` (120 s by default): hashing the
/// passwords takes about 20 s for 1000 accounts on two cores.
#[utoipa::path(
    post,
    path = "/api/v1/users/bulk",
    tag = "users",
    operation_id = "create_users_in_bulk",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(IdempotencyKeyHeader),
    request_body(content = Vec<CreateUserRequest>, description = "1 to 1000 accounts"),
    responses(
        (status = 201, description = "Every account was created, in the order given", body = BulkUsersResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is the kept response to an earlier request with the same `Idempotency-Key`"))),
        (status = 403, response = problems::Forbidden),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn create_many(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
    ValidJsonList(items): ValidJsonList<CreateUserRequest, MAX_BULK_USERS>,
) -> Result<HttpResponse, Problem> {
    let created = users.create_many(&actor, items.into_iter().map(Into::into).collect()).await.or_problem(&req)?;
    let viewer = Viewer::actor(&actor);
    let items = created.iter().map(|user| UserResponse::new(user, viewer)).collect();
    Ok(HttpResponse::Created().json(BulkUsersResponse { items }))
}

/// One user (the user itself, admins and managers)
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "users",
    operation_id = "get_user",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier read: 304 when it is still current"),
    ),
    responses(
        (status = 200, description = "The user", body = UserResponse, headers(("ETag" = String, description = "The strong validator of this representation"))),
        (status = 304, response = problems::NotModified),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn get(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let user = users.get(&actor, UserId::from_uuid(*id)).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, user.version(), &UserResponse::new(&user, Viewer::actor(&actor)))
}

/// Replace a user's editable fields (the user itself, admins)
///
/// `email` and `username` are required; a missing or `null` `full_name` clears the name; a
/// missing `role` or `is_active` stays as it is. Only admins change `role` and `is_active`. A user
/// changing its own e-mail address must send `current_password`.
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}",
    tag = "users",
    operation_id = "replace_user",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Change only if the user is still at this ETag (412 otherwise)"),
    ),
    request_body = ReplaceUserRequest,
    responses(
        (status = 200, description = "The user as it is now", body = UserResponse, headers(("ETag" = String, description = "The strong validator of this representation"))),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn replace(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
    id: web::Path<Uuid>,
    IfMatch(expected_version): IfMatch,
    ValidJson(body): ValidJson<ReplaceUserRequest>,
) -> Result<HttpResponse, Problem> {
    let update = UserUpdate { expected_version, ..UserUpdate::from(body) };
    let user = users.update(&actor, UserId::from_uuid(*id), update).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, user.version(), &UserResponse::new(&user, Viewer::actor(&actor)))
}

/// Change some of a user's fields (the user itself, admins)
///
/// Only admins change `role` and `is_active`; deactivating an account ends its sessions. A user
/// changing its own e-mail address must send `current_password`; an admin changing someone
/// else's does not.
#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "users",
    operation_id = "update_user",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Change only if the user is still at this ETag (412 otherwise)"),
    ),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user as it is now", body = UserResponse, headers(("ETag" = String, description = "The strong validator of this representation"))),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn update(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
    id: web::Path<Uuid>,
    IfMatch(expected_version): IfMatch,
    ValidJson(body): ValidJson<UpdateUserRequest>,
) -> Result<HttpResponse, Problem> {
    let update = UserUpdate { expected_version, ..UserUpdate::from(body) };
    let user = users.update(&actor, UserId::from_uuid(*id), update).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, user.version(), &UserResponse::new(&user, Viewer::actor(&actor)))
}

/// Soft-delete a user (admins)
///
/// The user can no longer log in, its sessions end, and it reads as 404 until restored.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "users",
    operation_id = "delete_user",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "Change only if the user is still at this ETag (412 otherwise)"),
    ),
    responses(
        (status = 204, description = "The user was deleted"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
    ),
)]
pub async fn delete(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
    id: web::Path<Uuid>,
    IfMatch(expected_version): IfMatch,
) -> Result<HttpResponse, Problem> {
    users.delete(&actor, UserId::from_uuid(*id), expected_version).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Restore a soft-deleted user (admins)
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/restore",
    tag = "users",
    operation_id = "restore_user",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user, restored", body = UserResponse, headers(("ETag" = String, description = "The strong validator of this representation"))),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
    ),
)]
pub async fn restore(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    users: web::Data<UserService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let user = users.restore(&actor, UserId::from_uuid(*id)).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, user.version(), &UserResponse::new(&user, Viewer::actor(&actor)))
}
