//! How a user looks in responses: never a password or its hash; timestamps in RFC 3339 UTC;
//! `_links` to the user and to what the caller may do with it.

use chrono::{DateTime, Utc};
use forge_application::{
    Actor,
    users::policy::{self, UserActions},
};
use forge_domain::users::{Role, User, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::links::{API_BASE, Link};

/// A global role as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiRole {
    /// Runs the installation.
    Admin,
    /// Reads and lists users.
    Manager,
    /// An ordinary account.
    Member,
}

impl From<Role> for ApiRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => Self::Admin,
            Role::Manager => Self::Manager,
            Role::Member => Self::Member,
        }
    }
}

/// A user account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    /// The identifier (UUID v7).
    pub id: Uuid,
    /// The e-mail address, lower-cased.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// The username, spelled as chosen.
    #[schema(example = "ada")]
    pub username: String,
    /// The display name, if any.
    #[schema(required = true, example = "Ada Lovelace")]
    pub full_name: Option<String>,
    /// The global role.
    pub role: ApiRole,
    /// Whether the account may log in.
    pub is_active: bool,
    /// Whether the e-mail address has been verified.
    pub is_verified: bool,
    /// When the account was opened.
    #[serde(serialize_with = "crate::timestamps::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When the account last changed.
    #[serde(serialize_with = "crate::timestamps::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// When the account last logged in, if ever.
    #[schema(required = true)]
    #[serde(serialize_with = "crate::timestamps::rfc3339_opt")]
    pub last_login_at: Option<DateTime<Utc>>,
    /// The user, and what the caller may do with it.
    #[serde(rename = "_links")]
    pub links: UserLinks,
}

/// The accounts a bulk creation made, in the order they were given.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BulkUsersResponse {
    /// The new accounts.
    pub items: Vec<UserResponse>,
}

/// Links of a user: `self`, and the actions open to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserLinks {
    /// The user (`GET`).
    #[serde(rename = "self")]
    pub this: Link,
    /// Partial update (`PATCH`): the user itself and admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub update: Option<Link>,
    /// Full replacement of the editable fields (`PUT`): the user itself and admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub replace: Option<Link>,
    /// Soft delete (`DELETE`): admins, for anyone but themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub delete: Option<Link>,
    /// Restore a soft-deleted user (`POST`): admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub restore: Option<Link>,
}

/// Who is looking at a user, which decides the action links shown. The application's user
/// policy decides what is allowed; these links only advertise it.
#[derive(Debug, Clone, Copy)]
pub struct Viewer(policy::Viewer);

impl Viewer {
    /// The authenticated caller.
    #[must_use]
    pub fn actor(actor: &Actor) -> Self {
        Self(policy::Viewer::user(actor.id(), actor.role()))
    }

    /// A user looking at its own account (right after logging in).
    #[must_use]
    pub fn own(user: &User) -> Self {
        Self(policy::Viewer::user(user.id(), user.role()))
    }

    /// Nobody authenticated (right after registering).
    #[must_use]
    pub const fn anonymous() -> Self {
        Self(policy::Viewer::anonymous())
    }
}

/// The canonical path of a user.
#[must_use]
pub fn user_path(id: UserId) -> String {
    // Written directly rather than by `format!`: a page of users has one for each.
    const PREFIX: &str = "/users/";
    let mut uuid = uuid::Uuid::encode_buffer();
    let id = id.as_uuid().hyphenated().encode_lower(&mut uuid);
    let mut path = String::with_capacity(API_BASE.len() + PREFIX.len() + id.len());
    path.push_str(API_BASE);
    path.push_str(PREFIX);
    path.push_str(id);
    path
}

impl UserLinks {
    /// The links of `user` as seen by `viewer`.
    #[must_use]
    pub fn new(user: &User, viewer: Viewer) -> Self {
        let path = user_path(user.id());
        let allowed = UserActions::of(viewer.0, user);
        Self {
            this: Link::get(path.clone()),
            update: allowed.update.then(|| Link::new("PATCH", path.clone())),
            replace: allowed.update.then(|| Link::new("PUT", path.clone())),
            delete: allowed.delete.then(|| Link::new("DELETE", path.clone())),
            restore: allowed.restore.then(|| Link::new("POST", path.clone() + "/restore")),
        }
    }
}

impl UserResponse {
    /// `user` as seen by `viewer`.
    #[must_use]
    pub fn new(user: &User, viewer: Viewer) -> Self {
        Self {
            id: user.id().as_uuid(),
            // Copied as they are, not through `Display`'s formatting machinery.
            email: user.email().as_ref().to_owned(),
            username: user.username().as_ref().to_owned(),
            full_name: user.full_name().map(|name| name.as_ref().to_owned()),
            role: user.role().into(),
            is_active: user.is_active(),
            is_verified: user.is_verified(),
            created_at: user.created_at(),
            updated_at: user.updated_at(),
            last_login_at: user.last_login_at(),
            links: UserLinks::new(user, viewer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::user_with_role;

    #[test]
    fn a_user_path_is_the_api_base_users_and_the_hyphenated_lower_case_id() {
        let user = user_with_role("ada", Role::Member);
        let id = user.id().as_uuid();
        assert_eq!(user_path(user.id()), format!("/api/v1/users/{}", id.hyphenated()));
        assert_eq!(user_path(user.id()), user_path(user.id()).to_lowercase());
        let links = UserLinks::new(&user, Viewer::own(&user));
        assert_eq!(links.this.href, format!("/api/v1/users/{id}"));
    }

    #[test]
    fn the_json_has_the_contract_fields_and_no_secret() {
        let user = user_with_role("ada", Role::Member);
        let json = serde_json::to_value(UserResponse::new(&user, Viewer::own(&user))).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "_links",
                "created_at",
                "email",
                "full_name",
                "id",
                "is_active",
                "is_verified",
                "last_login_at",
                "role",
                "updated_at",
                "username"
            ]
        );
        assert_eq!(json["role"], "member");
        assert_eq!(json["full_name"], serde_json::Value::Null);
        assert_eq!(json["created_at"], "2023-11-14T22:13:20Z");
        assert!(!json.to_string().contains("argon2"));
    }

    #[test]
    fn a_member_sees_edit_links_on_itself_only() {
        let member = user_with_role("ada", Role::Member);
        let other = user_with_role("bob", Role::Member);
        let own = UserLinks::new(&member, Viewer::own(&member));
        assert!(own.update.is_some() && own.replace.is_some());
        assert!(own.delete.is_none() && own.restore.is_none());
        let foreign = UserLinks::new(&other, Viewer::own(&member));
        assert!(foreign.update.is_none() && foreign.delete.is_none());
    }

    #[test]
    fn an_admin_sees_delete_on_others_but_not_on_itself() {
        let admin = user_with_role("root", Role::Admin);
        let other = user_with_role("bob", Role::Member);
        let links = UserLinks::new(&other, Viewer::own(&admin));
        assert_eq!(links.delete, Some(Link::new("DELETE", user_path(other.id()))));
        assert_eq!(links.update.map(|l| l.method), Some("PATCH".to_owned()));
        assert!(UserLinks::new(&admin, Viewer::own(&admin)).delete.is_none());
    }

    #[test]
    fn a_manager_reads_but_gets_no_action_links() {
        let manager = user_with_role("mia", Role::Manager);
        let other = user_with_role("bob", Role::Member);
        let links = UserLinks::new(&other, Viewer::own(&manager));
        assert_eq!(
            links,
            UserLinks {
                this: Link::get(user_path(other.id())),
                update: None,
                replace: None,
                delete: None,
                restore: None
            }
        );
    }

    #[test]
    fn an_anonymous_viewer_gets_only_self() {
        let user = user_with_role("ada", Role::Member);
        let links = UserLinks::new(&user, Viewer::anonymous());
        assert!(links.update.is_none() && links.delete.is_none());
    }
}
