//! Fixtures for the crate's unit tests: a user, an instant, and the check that a request type's
//! field lists agree with its documented schema. The HTTP tests, which need only the public API,
//! have their own helpers in `tests/http/support.rs`.

use chrono::{DateTime, Utc};
use forge_domain::users::{Email, PasswordHash, Role, User, UserParts, Username};
use utoipa::{PartialSchema, openapi::schema::Schema};
use uuid::Uuid;

use crate::extract::JsonRequest;

/// 2023-11-14T22:13:20Z.
pub(crate) fn utc() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default()
}

/// An active, verified user called `name` (`name@example.com`).
pub(crate) fn user_with_role(name: &str, role: Role) -> User {
    User::from_parts(UserParts {
        id: Uuid::now_v7().into(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        username: Username::parse(name).unwrap(),
        full_name: None,
        role,
        password_hash: PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        is_active: true,
        is_verified: true,
        created_at: utc(),
        updated_at: utc(),
        last_login_at: None,
        deleted_at: None,
        version: 1,
    })
}

/// Checks that a request type's field lists agree with its documented schema.
pub(crate) fn assert_fields_match_schema<T: JsonRequest + PartialSchema>() {
    let utoipa::openapi::RefOr::T(Schema::Object(object)) = T::schema() else {
        panic!("{} is not documented as an object", std::any::type_name::<T>());
    };
    let mut documented: Vec<&str> = object.properties.keys().map(String::as_str).collect();
    let mut fields = T::FIELDS.to_vec();
    documented.sort_unstable();
    fields.sort_unstable();
    assert_eq!(documented, fields, "{}: FIELDS", std::any::type_name::<T>());
    let mut required: Vec<&str> = object.required.iter().map(String::as_str).collect();
    let mut expected = T::REQUIRED.to_vec();
    required.sort_unstable();
    expected.sort_unstable();
    assert_eq!(required, expected, "{}: REQUIRED", std::any::type_name::<T>());
}
