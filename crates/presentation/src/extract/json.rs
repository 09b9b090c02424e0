//! JSON request bodies, checked in two steps so a client learns about every structural problem
//! at once:
//!
//! 1. the body is read as a `serde_json::Value` (not JSON, wrong media type or too large: 400,
//!    415, 413), and must be an object (400). The media type must be `application/json` (or a
//!    `+json` type) with no charset or `charset=utf-8`, since JSON is UTF-8 and reading UTF-16 as
//!    UTF-8 would be a silent misreading (415); and no object may repeat a key (400, see
//!    [`UniqueKeys`](super::unique_keys::UniqueKeys));
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
//!
//! A bulk body ([`ValidJsonList`]) is a JSON array of such objects, read up to the bulk size
//! limit: its length is checked first (`.` is the list itself), then each item as above, every
//! error naming its item by index (`[12].email`).

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use forge_application::common::{FieldError, ValidationErrors};
use futures::future::LocalBoxFuture;
use serde::{Deserialize, Deserializer, de::DeserializeOwned};
use serde_json::{Map, Value};

use super::{json_problem, unique_keys::UniqueKeys, utf8_json_only};
use crate::{middleware::settings_of_request, problem::Problem};

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
        let charset = utf8_json_only(req);
        let body = web::Json::<UniqueKeys>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            if let Err(problem) = charset {
                return Err(problem.at(&req).into());
            }
            let web::Json(UniqueKeys(value)) = body.await?;
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
    let errors = structural_errors::<T>(body);
    if !errors.is_empty() {
        return Err(Problem::validation(ValidationErrors::new(errors)));
    }
    typed(value).map_err(|error| type_problem("", error))
}

/// Step 2 of the module notes: every missing, unknown and protected field.
fn structural_errors<T: JsonRequest>(body: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = T::missing_fields(body);
    for key in body.keys().filter(|key| !T::FIELDS.contains(&key.as_str())) {
        if T::PROTECTED.contains(&key.as_str()) || READ_ONLY_FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(key.as_str(), "NOT_ALLOWED", "cannot be set here"));
        } else {
            errors.push(FieldError::new(key.as_str(), "UNKNOWN_FIELD", "is not a field of this request"));
        }
    }
    errors
}

/// Step 3: the typed request, or the field of the wrong type and serde's message about it.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        // serde's messages about values name types ("invalid type: integer `5`, expected a
        // string"), never anything of the server's.
        FieldError::new(e.path().to_string(), "INVALID_TYPE", e.inner().to_string())
    })
}

/// The 400 for a field of the wrong type, its name after `prefix`.
fn type_problem(prefix: &str, error: FieldError) -> Problem {
    let field = format!("{prefix}{}", error.field);
    Problem::malformed(format!("field `{field}`: {}", error.message)).with_errors([FieldError { field, ..error }])
}

/// A bulk body: a JSON array of 1 to `MAX` requests that each passed the structural checks.
#[derive(Debug)]
pub struct ValidJsonList<T, const MAX: usize>(pub Vec<T>);

impl<T: JsonRequest + 'static, const MAX: usize> FromRequest for ValidJsonList<T, MAX> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = settings_of_request(req).bulk_body_limit;
        let charset = utf8_json_only(req);
        let body = web::JsonBody::<UniqueKeys>::new(req, payload, None, true).limit(limit);
        let req = req.clone();
        Box::pin(async move {
            charset.map_err(|problem| problem.at(&req))?;
            let UniqueKeys(value) = body.await.map_err(|e| json_problem(&e, limit).at(&req))?;
            parse_list::<T, MAX>(value).map(ValidJsonList).map_err(|problem| problem.at(&req).into())
        })
    }
}

/// The checks of a bulk body (see the module notes).
///
/// # Errors
/// 400 for a body that is not an array, an item that is not an object or a field of the wrong
/// type; 422 for a list of the wrong length, or listing every missing, unknown and protected
/// field of every item.
pub fn parse_list<T: JsonRequest, const MAX: usize>(value: Value) -> Result<Vec<T>, Problem> {
    let Value::Array(items) = value else {
        return Err(Problem::malformed("the body must be a JSON array"));
    };
    if items.is_empty() || items.len() > MAX {
        let error = if items.is_empty() {
            FieldError::new(".", "TOO_SHORT", "must hold at least one item")
        } else {
            FieldError::new(".", "TOO_LONG", format!("must hold at most {MAX} items"))
        };
        return Err(Problem::validation(ValidationErrors::new(vec![error])));
    }
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(body) = item else {
            return Err(Problem::malformed(format!("item [{i}] must be a JSON object")));
        };
        errors.extend(
            structural_errors::<T>(body).into_iter().map(|e| FieldError { field: format!("[{i}].{}", e.field), ..e }),
        );
    }
    if !errors.is_empty() {
        return Err(Problem::validation(ValidationErrors::new(errors)));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| typed(item).map_err(|error| type_problem(&format!("[{i}]."), error)))
        .collect()
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
    fn a_list_names_every_bad_field_by_item_index() {
        let problem =
            parse_list::<Sample, 3>(json!([{"name": "a"}, {"role": "x"}, {"name": "c", "colour": 1}])).unwrap_err();
        assert_eq!(problem.code(), ProblemCode::ValidationFailed);
        assert_eq!(
            codes(&problem),
            [
                ("[1].name".to_owned(), "REQUIRED".to_owned()),
                ("[1].role".to_owned(), "NOT_ALLOWED".to_owned()),
                ("[2].colour".to_owned(), "UNKNOWN_FIELD".to_owned()),
            ]
        );
    }

    #[test]
    fn a_list_of_the_wrong_length_or_shape_is_refused_before_its_items_are_read() {
        let too_long = parse_list::<Sample, 2>(json!([{"x": 1}, {"x": 2}, {"x": 3}])).unwrap_err();
        assert_eq!(codes(&too_long), [(".".to_owned(), "TOO_LONG".to_owned())]);
        let empty = parse_list::<Sample, 2>(json!([])).unwrap_err();
        assert_eq!(codes(&empty), [(".".to_owned(), "TOO_SHORT".to_owned())]);
        for body in [json!({"name": "a"}), json!([{"name": "a"}, 5])] {
            assert_eq!(parse_list::<Sample, 2>(body).unwrap_err().code(), ProblemCode::MalformedRequest);
        }
    }

    #[test]
    fn a_wrong_type_in_a_list_is_a_400_naming_the_item() {
        let problem = parse_list::<Sample, 3>(json!([{"name": "a"}, {"name": "b", "age": "old"}])).unwrap_err();
        assert_eq!(problem.code(), ProblemCode::MalformedRequest);
        assert_eq!(codes(&problem), [("[1].age".to_owned(), "INVALID_TYPE".to_owned())]);
        let ok = parse_list::<Sample, 3>(json!([{"name": "a"}, {"name": "b", "age": 3}])).unwrap();
        assert_eq!((ok[1].name.as_str(), ok[1].age), ("b", Some(3)));
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
