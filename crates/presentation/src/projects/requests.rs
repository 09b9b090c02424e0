//! Request bodies of the projects endpoints, and their conversion into the application's
//! commands. Values are passed on raw: parsing them (a name's length, a known role) is the use
//! case's job, so that every caller gets the same complete list of field errors.

use forge_application::{
    common::FieldError,
    projects::{AddMemberCommand, ChangeRoleCommand, CreateProjectCommand, MemberRef, ProjectUpdate},
};
use forge_domain::users::UserId;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::responses::{ApiProjectStatus, GrantableRole};
use crate::extract::json::{JsonRequest, is_absent, nullable, present, required};

/// Fields of a project that no update may set: the owner moves by transfer, the count follows
/// the members.
const PROJECT_PROTECTED: &[&str] = &["owner_id", "member_count"];

/// `POST /projects`: a new project, owned by the caller.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateProjectRequest {
    /// The name: 1 to 100 characters, no control characters; unique among the caller's live
    /// projects, ignoring case.
    #[schema(example = "Apollo")]
    pub name: String,
    /// A description of up to 2000 characters; blank or `null` means none.
    #[serde(default)]
    #[schema(example = "Land on the moon and return")]
    pub description: Option<String>,
}

impl JsonRequest for CreateProjectRequest {
    const FIELDS: &'static [&'static str] = &["name", "description"];
    const REQUIRED: &'static [&'static str] = &["name"];
    const PROTECTED: &'static [&'static str] = &["owner_id", "member_count", "status"];
}

impl From<CreateProjectRequest> for CreateProjectCommand {
    fn from(body: CreateProjectRequest) -> Self {
        Self { name: body.name, description: body.description }
    }
}

/// `PUT /projects/{id}`: every editable field. `description` absent or `null` clears it;
/// `status` absent stays as it is.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplaceProjectRequest {
    /// The name.
    pub name: String,
    /// The description; absent, `null` or blank clears it.
    #[serde(default)]
    pub description: Option<String>,
    /// The status.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ApiProjectStatus>, nullable = false)]
    pub status: Option<String>,
}

impl JsonRequest for ReplaceProjectRequest {
    const FIELDS: &'static [&'static str] = &["name", "description", "status"];
    const REQUIRED: &'static [&'static str] = &["name"];
    const PROTECTED: &'static [&'static str] = PROJECT_PROTECTED;
}

impl From<ReplaceProjectRequest> for ProjectUpdate {
    fn from(body: ReplaceProjectRequest) -> Self {
        Self {
            name: Some(body.name),
            description: Some(body.description),
            status: body.status,
            // Set by the handler from `If-Match`.
            expected_version: None,
        }
    }
}

/// `PATCH /projects/{id}`: a partial update. Absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateProjectRequest {
    /// A new name.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub name: Option<String>,
    /// A new description, or `null` (or blank) to clear it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// A new status.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ApiProjectStatus>, nullable = false)]
    pub status: Option<String>,
}

impl JsonRequest for UpdateProjectRequest {
    const FIELDS: &'static [&'static str] = &["name", "description", "status"];
    const REQUIRED: &'static [&'static str] = &[];
    const PROTECTED: &'static [&'static str] = PROJECT_PROTECTED;
}

impl From<UpdateProjectRequest> for ProjectUpdate {
    fn from(body: UpdateProjectRequest) -> Self {
        Self {
            name: body.name,
            description: body.description,
            status: body.status,
            // Set by the handler from `If-Match`.
            expected_version: None,
        }
    }
}

/// `POST /projects/{id}/members`: a new member, named by `user_id` or by `email` (exactly one of
/// them).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AddMemberRequest {
    /// The user's id.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub user_id: Option<Uuid>,
    /// The user's e-mail address.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, example = "grace@example.com")]
    pub email: Option<String>,
    /// The role: `maintainer` or `viewer` (`owner` moves only by transfer).
    #[schema(value_type = GrantableRole)]
    pub role: String,
}

impl JsonRequest for AddMemberRequest {
    const FIELDS: &'static [&'static str] = &["user_id", "email", "role"];
    const REQUIRED: &'static [&'static str] = &["role"];

    fn missing_fields(body: &Map<String, Value>) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> =
            Self::REQUIRED.iter().filter(|field| is_absent(body, field)).map(|field| required(field)).collect();
        match (is_absent(body, "user_id"), is_absent(body, "email")) {
            (true, true) => {
                errors.extend(
                    ["user_id", "email"].map(|f| FieldError::new(f, "REQUIRED", "user_id or email is required")),
                );
            }
            (false, false) => errors.extend(
                ["user_id", "email"]
                    .map(|f| FieldError::new(f, "INVALID_COMBINATION", "give user_id or email, not both")),
            ),
            _ => {}
        }
        errors
    }
}

impl AddMemberRequest {
    /// The command; `None` only if the structural check was skipped (both or neither given).
    #[must_use]
    pub fn into_command(self) -> Option<AddMemberCommand> {
        let member = match (self.user_id, self.email) {
            (Some(id), None) => MemberRef::Id(UserId::from_uuid(id)),
            (None, Some(email)) => MemberRef::Email(email),
            _ => return None,
        };
        Some(AddMemberCommand { member, role: self.role })
    }
}

/// `PATCH /projects/{id}/members/{user_id}`: a new role.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeRoleRequest {
    /// The role: `maintainer` or `viewer` (the owner's role cannot be changed; transfer the
    /// project instead).
    #[schema(value_type = GrantableRole)]
    pub role: String,
}

impl JsonRequest for ChangeRoleRequest {
    const FIELDS: &'static [&'static str] = &["role"];
    const REQUIRED: &'static [&'static str] = &["role"];
    const PROTECTED: &'static [&'static str] = &["user_id", "username", "added_at"];
}

impl ChangeRoleRequest {
    /// The command, with the version `If-Match` named.
    #[must_use]
    pub fn into_command(self, expected_version: Option<i64>) -> ChangeRoleCommand {
        ChangeRoleCommand { role: self.role, expected_version }
    }
}

/// `POST /projects/{id}/transfer`: the member who becomes the owner.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferRequest {
    /// The new owner: a member of the project.
    pub user_id: Uuid,
}

impl JsonRequest for TransferRequest {
    const FIELDS: &'static [&'static str] = &["user_id"];
    const REQUIRED: &'static [&'static str] = &["user_id"];
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{extract::json::parse_body, testing::assert_fields_match_schema};

    #[test]
    fn field_lists_agree_with_the_documented_schemas() {
        assert_fields_match_schema::<CreateProjectRequest>();
        assert_fields_match_schema::<ReplaceProjectRequest>();
        assert_fields_match_schema::<UpdateProjectRequest>();
        assert_fields_match_schema::<AddMemberRequest>();
        assert_fields_match_schema::<ChangeRoleRequest>();
        assert_fields_match_schema::<TransferRequest>();
    }

    fn codes(problem: &crate::problem::Problem) -> Vec<String> {
        problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect()
    }

    #[test]
    fn a_member_is_named_by_exactly_one_of_user_id_and_email() {
        let neither = parse_body::<AddMemberRequest>(json!({"role": "viewer"})).unwrap_err();
        assert_eq!(codes(&neither), ["user_id:REQUIRED", "email:REQUIRED"]);
        let both =
            parse_body::<AddMemberRequest>(json!({"user_id": Uuid::now_v7(), "email": "a@b.co", "role": "viewer"}))
                .unwrap_err();
        assert_eq!(codes(&both), ["user_id:INVALID_COMBINATION", "email:INVALID_COMBINATION"]);
        let id = Uuid::now_v7();
        let by_id = parse_body::<AddMemberRequest>(json!({"user_id": id, "role": "viewer"})).unwrap();
        assert_eq!(by_id.into_command().unwrap().member, MemberRef::Id(UserId::from_uuid(id)));
        let by_email = parse_body::<AddMemberRequest>(json!({"email": "a@b.co", "role": "viewer"})).unwrap();
        assert_eq!(by_email.into_command().unwrap().member, MemberRef::Email("a@b.co".into()));
    }

    #[test]
    fn the_owner_and_the_member_count_cannot_be_set_by_an_update() {
        let problem =
            parse_body::<UpdateProjectRequest>(json!({"owner_id": Uuid::now_v7(), "member_count": 9, "version": 2}))
                .unwrap_err();
        let mut found = codes(&problem);
        found.sort();
        assert_eq!(found, ["member_count:NOT_ALLOWED", "owner_id:NOT_ALLOWED", "version:NOT_ALLOWED"]);
    }

    #[test]
    fn a_replacement_without_a_description_clears_it_and_keeps_the_status() {
        let body = parse_body::<ReplaceProjectRequest>(json!({"name": "Apollo"})).unwrap();
        let update = ProjectUpdate::from(body);
        assert_eq!((update.name.as_deref(), update.description, update.status), (Some("Apollo"), Some(None), None));
    }

    #[test]
    fn a_patch_tells_a_cleared_description_from_an_absent_one() {
        let cleared = ProjectUpdate::from(parse_body::<UpdateProjectRequest>(json!({"description": null})).unwrap());
        assert_eq!(cleared.description, Some(None));
        let absent = ProjectUpdate::from(parse_body::<UpdateProjectRequest>(json!({"status": "archived"})).unwrap());
        assert_eq!((absent.description, absent.status.as_deref()), (None, Some("archived")));
    }
}
