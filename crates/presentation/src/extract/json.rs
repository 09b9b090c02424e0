//! JSON request bodies, checked in two steps so a client learns about every structural problem
//! at once:
//!
//! 1. the body is read as a `serde_json::Value` (not JSON, wrong media type or too large: 400,
//!    415, 413), and must be an object (400);
//! 2. its keys are checked against the request type: each missing required field is `REQUIRED`,
//!    each unknown one `UNKNOWN_FIELD`, and each field a client may not set on this endpoint
//!    (`role` on registration, `id`, `created_at`, ...) `NOT_ALLOWED`: all of them in one 422;
//! 3. only then is it converted to the typed request, where a wrong type is a 400 naming the field.
//!
//! Refusing unknown and protected fields, rather than ignoring them, is what stops a client from
//! believing it set something it did not (mass assignment).
//!
//! The rules of values (a valid e-mail, a strong password) are the use cases' business: a body
//! that passes here can still be a 422 from the application.

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use forge_application::common::{FieldError, ValidationErrors};
use futures::future::LocalBoxFuture;
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::problem::Problem;

/// Fields the server manages; no request body may set them.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "last_login_at",
    "deleted_at",
    "is_verified",
    "password_hash",
    "version",
    "_links",
];

/// What a JSON request body may, must and must not contain.
pub trait JsonRequest: DeserializeOwned {
    /// Every field the body may carry.
    const FIELDS: &'static [&'static str];
    /// Fields that must be present and not `null`.
    const REQUIRED: &'static [&'static str];
    /// Fields that exist elsewhere but may not be set through this endpoint (besides
    /// [`READ_ONLY_FIELDS`]); they are refused with `NOT_ALLOWED` rather than `UNKNOWN_FIELD`.
    const PROTECTED: &'static [&'static str] = &[];

    /// The `REQUIRED` errors of a body; overridden where the rule is more than a list (login
    /// needs an e-mail address or a username).
    fn missing_fields(body: &Map<String, Value>) -> Vec<FieldError> {
        Self::REQUIRED.iter().filter(|field| is_absent(body, field)).map(|field| required(field)).collect()
    }
}

/// Whether `field` is absent or `null`.
#[must_use]
pub fn is_absent(body: &Map<String, Value>, field: &str) -> bool {
    body.get(field).is_none_or(Value::is_null)
}

/// The error for a missing required field.
#[must_use]
pub fn required(field: &str) -> FieldError {
    FieldError::new(field, "REQUIRED", "is required")
}

/// A JSON body that passed the structural checks, as its typed request.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T: JsonRequest + 'static> FromRequest for ValidJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // Reading goes through actix-web's `Json` so the registered `JsonConfig` (size limit,
        // media type check, problem documents for its errors) applies.
        let body = web::Json::<Value>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let web::Json(value) = body.await?;
            parse_body::<T>(value).map(ValidJson).map_err(|problem| problem.at(&req).into())
        })
    }
}

/// Steps 2 and 3 of the module notes.
///
/// # Errors
/// 400 for a body that is not an object or has a field of the wrong type; 422 listing every
/// missing, unknown and protected field.
pub fn parse_body<T: JsonRequest>(value: Value) -> Result<T, Problem> {
    let Value::Object(body) = &value else {
        return Err(Problem::malformed("the body must be a JSON object"));
    };
    let mut errors = T::missing_fields(body);
    for key in body.keys().filter(|key| !T::FIELDS.contains(&key.as_str())) {
        if T::PROTECTED.contains(&key.as_str()) || READ_ONLY_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(key.as_str(), "NOT_ALLOWED", "cannot be set here"));
        } else {
            errors.push(FieldError::new(key.as_str(), "UNKNOWN_FIELD", "is not a field of this request"));
        }
    }
    if !errors.is_empty() {
        return Err(Problem::validation(ValidationErrors::new(errors)));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        // serde's messages about values name types ("invalid type: integer `5`, expected a
        // string"), never anything of the server's.
        let message = e.inner().to_string();
        Problem::malformed(format!("field `{field}`: {message}")).with_errors([FieldError::new(
            field,
            "INVALID_TYPE",
            message,
        )])
    })
}

/// For PATCH fields that may be cleared: absent is `None` (with `#[serde(default)]`), `null` is
/// `Some(None)`, a value is `Some(Some(value))`.
///
/// # Errors
/// When the value is neither `null` nor a `T`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For optional fields that cannot be cleared: absent is `None` (with `#[serde(default)]`), and
/// `null` is refused as a wrong type instead of being taken for "leave it as it is".
///
/// # Errors
/// When the value is not a `T`, `null` included.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::problem::ProblemCode;

    #[derive(Debug, Deserialize)]
    struct Sample {
        name: String,
        #[serde(default, deserialize_with = "nullable")]
        nickname: Option<Option<String>>,
        #[serde(default, deserialize_with = "present")]
        age: Option<u8>,
    }

    impl JsonRequest for Sample {
        const FIELDS: &'static [&'static str] = &["name", "nickname", "age"];
        const REQUIRED: &'static [&'static str] = &["name"];
        const PROTECTED: &'static [&'static str] = &["role"];
    }

    fn codes(problem: &Problem) -> Vec<(String, String)> {
        problem.document().errors.into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn every_missing_unknown_and_protected_field_is_listed_in_one_422() {
        let problem = parse_body::<Sample>(json!({"role": "admin", "id": "x", "colour": "red"})).unwrap_err();
        assert_eq!(problem.code(), ProblemCode::ValidationFailed);
        assert_eq!(problem.detail(), "4 fields are invalid");
        assert_eq!(
            codes(&problem),
            [
                ("name".to_owned(), "REQUIRED".to_owned()),
                ("colour".to_owned(), "UNKNOWN_FIELD".to_owned()),
                ("id".to_owned(), "NOT_ALLOWED".to_owned()),
                ("role".to_owned(), "NOT_ALLOWED".to_owned()),
            ]
        );
        assert!(problem.document().errors.iter().any(|e| e.message == "cannot be set here"));
    }

    #[test]
    fn null_counts_as_missing_for_a_required_field() {
        let problem = parse_body::<Sample>(json!({"name": null})).unwrap_err();
        assert_eq!(codes(&problem), [("name".to_owned(), "REQUIRED".to_owned())]);
    }

    #[test]
    fn a_wrong_type_is_a_400_naming_the_field() {
        let problem = parse_body::<Sample>(json!({"name": 5})).unwrap_err();
        assert_eq!(problem.code(), ProblemCode::MalformedRequest);
        assert!(problem.detail().starts_with("field `name`: invalid type: integer `5`"), "{}", problem.detail());
        assert_eq!(codes(&problem), [("name".to_owned(), "INVALID_TYPE".to_owned())]);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_400() {
        for body in [json!([1, 2]), json!("text"), json!(null)] {
            assert_eq!(parse_body::<Sample>(body).unwrap_err().code(), ProblemCode::MalformedRequest);
        }
    }

    #[test]
    fn absent_null_and_value_are_told_apart_where_a_field_can_be_cleared() {
        let absent = parse_body::<Sample>(json!({"name": "a"})).unwrap();
        assert_eq!(absent.nickname, None);
        let cleared = parse_body::<Sample>(json!({"name": "a", "nickname": null})).unwrap();
        assert_eq!(cleared.nickname, Some(None));
        let set = parse_body::<Sample>(json!({"name": "a", "nickname": "b"})).unwrap();
        assert_eq!(set.nickname, Some(Some("b".to_owned())));
        assert_eq!(set.name, "a");
    }

    #[test]
    fn null_is_refused_where_a_field_cannot_be_cleared() {
        let problem = parse_body::<Sample>(json!({"name": "a", "age": null})).unwrap_err();
        assert_eq!(problem.code(), ProblemCode::MalformedRequest);
        let ok = parse_body::<Sample>(json!({"name": "a", "age": 7})).unwrap();
        assert_eq!(ok.age, Some(7));
    }
}
