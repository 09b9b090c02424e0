//! Handlers of the projects endpoints. Who may do what is decided by [`ProjectService`]; these
//! turn HTTP into its calls and back, with a strong `ETag` on every single project and membership,
//! `If-None-Match` (304) on reads and `If-Match` (412) on writes.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use forge_application::projects::{ProjectService, ProjectUpdate, TransferCommand, ports::MemberQuery};
use forge_domain::{projects::ProjectId, users::UserId};
use uuid::Uuid;

use super::{
    query::{MemberListParams, ProjectListParams, ProjectListQuery, UserProjectListParams, requested_scope},
    requests::{
        AddMemberRequest, ChangeRoleRequest, CreateProjectRequest, ReplaceProjectRequest, TransferRequest,
        UpdateProjectRequest,
    },
    responses::{MemberResponse, ProjectResponse, member_path, project_path},
};
use crate::{
    conditional::{self, IfMatch},
    extract::ValidJson,
    extract::{Authenticated, ListQuery},
    middleware::idempotency::IdempotencyKeyHeader,
    openapi::responses as problems,
    pagination::{self, Paginated},
    problem::{OrProblem, Problem},
};
use forge_application::projects::ports::ProjectQuery;

/// The caller's projects, or every project (admins, `scope=all`)
#[utoipa::path(
    get,
    path = "/api/v1/projects",
    tag = "projects",
    operation_id = "list_projects",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(ProjectListParams),
    responses(
        (status = 200, description = "One page of projects", body = Paginated<ProjectResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 403, response = problems::Forbidden),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn list(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
) -> Result<HttpResponse, Problem> {
    // Permission first: a caller who may not list every project learns nothing about the rest
    // of its query.
    projects.authorize_list(&actor, requested_scope(req.query_string())).or_problem(&req)?;
    let ListQuery(ProjectListQuery { scope, query }) =
        ListQuery::<ProjectListQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let page = projects.list(&actor, scope, query).await.or_problem(&req)?;
    Ok(pagination::respond(&req, page.map(|view| ProjectResponse::new(&view, &actor))))
}

/// Start a project, owned by the caller
#[utoipa::path(
    post,
    path = "/api/v1/projects",
    tag = "projects",
    operation_id = "create_project",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(IdempotencyKeyHeader),
    request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "The project was created; the caller is its owner", body = ProjectResponse,
            headers(
                ("Location" = String, description = "The new project's path"),
                ("ETag" = String, description = "The project's strong entity tag"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the kept response to an earlier request with the same `Idempotency-Key`"),
            )),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn create(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    ValidJson(body): ValidJson<CreateProjectRequest>,
) -> Result<HttpResponse, Problem> {
    let view = projects.create(&actor, body.into()).await.or_problem(&req)?;
    let mut res =
        conditional::respond(&req, StatusCode::CREATED, view.project.version(), &ProjectResponse::new(&view, &actor))?;
    insert_location(&req, &mut res, &project_path(view.project.id()))?;
    Ok(res)
}

/// One project (its members, admins)
///
/// Anyone else, managers included, gets 404: a project id reveals nothing.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{id}",
    tag = "projects",
    operation_id = "get_project",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of an earlier response: 304 if the project is unchanged"),
    ),
    responses(
        (status = 200, description = "The project", body = ProjectResponse,
            headers(("ETag" = String, description = "The project's strong entity tag"))),
        (status = 304, description = "Not modified: `If-None-Match` names the current representation",
            headers(("ETag" = String, description = "The project's strong entity tag"))),
        (status = 404, response = problems::NotFound),
    ),
)]
pub async fn get(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let view = projects.get(&actor, ProjectId::from_uuid(*id)).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, view.project.version(), &ProjectResponse::new(&view, &actor))
}

/// Replace a project's editable fields (owner, maintainers, admins)
///
/// `name` is required; an absent or `null` `description` clears it; an absent `status` stays as
/// it is.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{id}",
    tag = "projects",
    operation_id = "replace_project",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = Option<String>, Header, description = "The project's ETag as read: 412 if it changed since"),
    ),
    request_body = ReplaceProjectRequest,
    responses(
        (status = 200, description = "The project as it is now", body = ProjectResponse,
            headers(("ETag" = String, description = "The project's strong entity tag"))),
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
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
    IfMatch(expected_version): IfMatch,
    ValidJson(body): ValidJson<ReplaceProjectRequest>,
) -> Result<HttpResponse, Problem> {
    let update = ProjectUpdate { expected_version, ..ProjectUpdate::from(body) };
    let view = projects.update(&actor, ProjectId::from_uuid(*id), update).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, view.project.version(), &ProjectResponse::new(&view, &actor))
}

/// Change some of a project's fields (owner, maintainers, admins)
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{id}",
    tag = "projects",
    operation_id = "update_project",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = Option<String>, Header, description = "The project's ETag as read: 412 if it changed since"),
    ),
    request_body = UpdateProjectRequest,
    responses(
        (status = 200, description = "The project as it is now", body = ProjectResponse,
            headers(("ETag" = String, description = "The project's strong entity tag"))),
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
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
    IfMatch(expected_version): IfMatch,
    ValidJson(body): ValidJson<UpdateProjectRequest>,
) -> Result<HttpResponse, Problem> {
    let update = ProjectUpdate { expected_version, ..ProjectUpdate::from(body) };
    let view = projects.update(&actor, ProjectId::from_uuid(*id), update).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, view.project.version(), &ProjectResponse::new(&view, &actor))
}

/// Soft-delete a project (owner, admins)
///
/// It reads as 404 and leaves every list.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{id}",
    tag = "projects",
    operation_id = "delete_project",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = Option<String>, Header, description = "The project's ETag as read: 412 if it changed since"),
    ),
    responses(
        (status = 204, description = "The project was deleted"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
    ),
)]
pub async fn delete(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
    IfMatch(expected_version): IfMatch,
) -> Result<HttpResponse, Problem> {
    projects.delete(&actor, ProjectId::from_uuid(*id), expected_version).await.or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// A project's members (its members, admins)
#[utoipa::path(
    get,
    path = "/api/v1/projects/{id}/members",
    tag = "projects",
    operation_id = "list_project_members",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The project's id"), MemberListParams),
    responses(
        (status = 200, description = "One page of members", body = Paginated<MemberResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 404, response = problems::NotFound),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn members(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let ListQuery(query) = ListQuery::<MemberQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let list = projects.members(&actor, ProjectId::from_uuid(*id), &query).await.or_problem(&req)?;
    let page = list.members.map(|member| MemberResponse::new(&list.project, &member, &actor, list.viewer_role));
    Ok(pagination::respond(&req, page))
}

/// Add a member (owner, maintainers, admins)
///
/// By `user_id` or `email`, exactly one of them, as `maintainer` or `viewer`. The new member is
/// notified.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{id}/members",
    tag = "projects",
    operation_id = "add_project_member",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The project's id"), IdempotencyKeyHeader),
    request_body = AddMemberRequest,
    responses(
        (status = 201, description = "The membership", body = MemberResponse,
            headers(
                ("Location" = String, description = "The membership's path"),
                ("ETag" = String, description = "The membership's strong entity tag"),
                ("Idempotent-Replayed" = String, description = "`true` when this is the kept response to an earlier request with the same `Idempotency-Key`"),
            )),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn add_member(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
    ValidJson(body): ValidJson<AddMemberRequest>,
) -> Result<HttpResponse, Problem> {
    let Some(command) = body.into_command() else {
        tracing::error!("a member request passed its checks naming neither or both of user_id and email");
        return Err(Problem::internal().at(&req));
    };
    let view = projects.add_member(&actor, ProjectId::from_uuid(*id), command).await.or_problem(&req)?;
    let membership = &view.member.membership;
    let mut res =
        conditional::respond(&req, StatusCode::CREATED, membership.version(), &MemberResponse::of_view(&view, &actor))?;
    insert_location(&req, &mut res, &member_path(membership.project_id(), membership.user_id()))?;
    Ok(res)
}

/// Change a member's role (owner, admins)
///
/// To `maintainer` or `viewer`; the owner's role cannot be changed (transfer the project instead).
#[utoipa::path(
    patch,
    path = "/api/v1/projects/{id}/members/{user_id}",
    tag = "projects",
    operation_id = "change_project_member_role",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("user_id" = Uuid, Path, description = "The member's user id"),
        ("If-Match" = Option<String>, Header, description = "The membership's ETag as read: 412 if it changed since"),
    ),
    request_body = ChangeRoleRequest,
    responses(
        (status = 200, description = "The membership as it is now", body = MemberResponse,
            headers(("ETag" = String, description = "The membership's strong entity tag"))),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn change_member_role(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    path: web::Path<(Uuid, Uuid)>,
    IfMatch(expected_version): IfMatch,
    ValidJson(body): ValidJson<ChangeRoleRequest>,
) -> Result<HttpResponse, Problem> {
    let (id, user) = path.into_inner();
    let view = projects
        .change_member_role(
            &actor,
            ProjectId::from_uuid(id),
            UserId::from_uuid(user),
            body.into_command(expected_version),
        )
        .await
        .or_problem(&req)?;
    let version = view.member.membership.version();
    conditional::respond(&req, StatusCode::OK, version, &MemberResponse::of_view(&view, &actor))
}

/// Remove a member, or leave (owner, maintainers, admins, the member itself)
///
/// The owner cannot be removed and cannot leave: transfer the project first.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{id}/members/{user_id}",
    tag = "projects",
    operation_id = "remove_project_member",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("user_id" = Uuid, Path, description = "The member's user id"),
        ("If-Match" = Option<String>, Header, description = "The membership's ETag as read: 412 if it changed since"),
    ),
    responses(
        (status = 204, description = "The member was removed"),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
    ),
)]
pub async fn remove_member(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    path: web::Path<(Uuid, Uuid)>,
    IfMatch(expected_version): IfMatch,
) -> Result<HttpResponse, Problem> {
    let (id, user) = path.into_inner();
    projects
        .remove_member(&actor, ProjectId::from_uuid(id), UserId::from_uuid(user), expected_version)
        .await
        .or_problem(&req)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Hand a project over to one of its members (owner, admins)
///
/// The member becomes the owner; the old owner stays as a maintainer.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{id}/transfer",
    tag = "projects",
    operation_id = "transfer_project",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(
        ("id" = Uuid, Path, description = "The project's id"),
        ("If-Match" = Option<String>, Header, description = "The project's ETag as read: 412 if it changed since"),
    ),
    request_body = TransferRequest,
    responses(
        (status = 200, description = "The project with its new owner", body = ProjectResponse,
            headers(("ETag" = String, description = "The project's strong entity tag"))),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, response = problems::PreconditionFailed),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn transfer(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
    IfMatch(expected_version): IfMatch,
    ValidJson(body): ValidJson<TransferRequest>,
) -> Result<HttpResponse, Problem> {
    let command = TransferCommand { user_id: UserId::from_uuid(body.user_id), expected_version };
    let view = projects.transfer(&actor, ProjectId::from_uuid(*id), command).await.or_problem(&req)?;
    conditional::respond(&req, StatusCode::OK, view.project.version(), &ProjectResponse::new(&view, &actor))
}

/// The projects a user belongs to (the user itself, admins, managers)
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/projects",
    tag = "projects",
    operation_id = "list_user_projects",
    security(("bearer_auth" = []), ("oauth2_password" = [])),
    params(("id" = Uuid, Path, description = "The user's id"), UserProjectListParams),
    responses(
        (status = 200, description = "One page of the user's projects", body = Paginated<ProjectResponse>,
            headers(("Link" = String, description = "The `self`, `first`, `prev`, `next` and `last` pages (RFC 8288)"))),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 422, response = problems::ValidationFailed),
    ),
)]
pub async fn user_projects(
    req: HttpRequest,
    Authenticated(actor): Authenticated,
    projects: web::Data<ProjectService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, Problem> {
    let user = UserId::from_uuid(*id);
    // Permission first, as for the other lists.
    projects.authorize_list_of(&actor, user).or_problem(&req)?;
    let ListQuery(query) = ListQuery::<ProjectQuery>::parse(req.query_string()).map_err(|problem| problem.at(&req))?;
    let page = projects.list_of_user(&actor, user, query).await.or_problem(&req)?;
    Ok(pagination::respond(&req, page.map(|view| ProjectResponse::new(&view, &actor))))
}

fn insert_location(req: &HttpRequest, res: &mut HttpResponse, path: &str) -> Result<(), Problem> {
    let value = header::HeaderValue::from_str(path).map_err(|_| Problem::internal().at(req))?;
    res.headers_mut().insert(header::LOCATION, value);
    Ok(())
}
