//! JSON request bodies, from any bytes, read as the JSON extractors read them.
//!
//! 1. The duplicate-key rule (`UniqueKeys`) is checked against a reference reading that keeps
//!    every member of every object: whatever serde_json reads as a `Value`, `UniqueKeys` reads as
//!    the same value when no object repeats a key, and refuses with the duplicate-key data error
//!    when one does; whatever serde_json refuses, `UniqueKeys` refuses too. A document with one of
//!    serde_json's private keys, which its `Value` reads specially, is judged on the reference alone.
//! 2. A body that passed becomes each endpoint's typed request or a 400/422, never a panic or
//!    another status; an accepted body has only the request's fields and every required one.
//! 3. The bulk reading (an array of requests) and the conversions that read further into a body
//!    (an export's filters, a membership's user) hold the same way.

#![no_main]

use std::fmt;

use forge_presentation::{
    account::requests::{ChangePasswordRequest, ForgotPasswordRequest, ResetPasswordRequest, VerifyEmailRequest},
    api_keys::requests::CreateApiKeyRequest,
    auth::requests::{LoginRequest, RefreshRequest, RegisterRequest},
    exports::requests::CreateExportRequest,
    extract::{
        JsonRequest,
        json::{parse_body, parse_list},
        unique_keys::{DUPLICATE_KEY, UniqueKeys},
    },
    problem::Problem,
    projects::requests::{
        AddMemberRequest, ChangeRoleRequest, CreateProjectRequest, ReplaceProjectRequest, TransferRequest,
        UpdateProjectRequest,
    },
    users::requests::{CreateUserRequest, ReplaceUserRequest, UpdateMeRequest, UpdateUserRequest},
};
use libfuzzer_sys::fuzz_target;
use serde::{
    Deserialize, Deserializer,
    de::{MapAccess, SeqAccess, Visitor},
};
use serde_json::Value;

/// The reference: a JSON document with every member of every object kept, in order.
enum Raw {
    Scalar,
    Array(Vec<Raw>),
    Object(Vec<(String, Raw)>),
}

/// The prefix of serde_json's private map keys. Built with `raw_value` (which sqlx turns on for
/// the whole build), `serde_json::Value` reads an object whose first key is
/// `$serde_json::private::RawValue` as JSON text nested in a string, so it refuses or rereads a
/// document that is plain JSON. `UniqueKeys` has a map visitor of its own and reads such a key as
/// any other; for those documents the reference alone judges it.
const SERDE_JSON_PRIVATE: &str = "$serde_json::private::";

impl Raw {
    /// Whether `test` holds for the members of some object, at any depth.
    fn any_object(&self, test: &impl Fn(&[(String, Raw)]) -> bool) -> bool {
        match self {
            Self::Scalar => false,
            Self::Array(items) => items.iter().any(|item| item.any_object(test)),
            Self::Object(members) => test(members) || members.iter().any(|(_, value)| value.any_object(test)),
        }
    }

    /// Whether some object, at any depth, has a key that serde_json's `Value` treats specially.
    fn names_serde_json_private_key(&self) -> bool {
        self.any_object(&|members| members.iter().any(|(key, _)| key.starts_with(SERDE_JSON_PRIVATE)))
    }

    /// Whether some object, at any depth, has the same key twice.
    fn repeats_a_key(&self) -> bool {
        self.any_object(&|members| {
            let mut keys: Vec<&str> = members.iter().map(|(key, _)| key.as_str()).collect();
            keys.sort_unstable();
            keys.windows(2).any(|pair| pair[0] == pair[1])
        })
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Scalar)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut members = Vec::new();
        while let Some(entry) = map.next_entry::<String, Raw>()? {
            members.push(entry);
        }
        Ok(Raw::Object(members))
    }
}

/// A refusal is a client error: 400 (malformed, wrong type) or 422 (listing the fields).
fn check_refusal(problem: &Problem, what: &str) {
    let status = problem.status().as_u16();
    assert!(matches!(status, 400 | 422), "{what}: status {status}: {problem:?}");
    if status == 422 {
        assert!(!problem.document().errors.is_empty(), "{what}: a 422 naming no field: {problem:?}");
    }
}

/// What an accepted body must be: an object with only the request's fields and every required one.
fn check_accepted<T: JsonRequest>(value: &Value, what: &str) {
    let Value::Object(body) = value else { panic!("{what}: accepted a body that is not an object: {value}") };
    for key in body.keys() {
        assert!(T::FIELDS.contains(&key.as_str()), "{what}: accepted the field {key:?}");
    }
    assert!(T::missing_fields(body).is_empty(), "{what}: accepted without a required field");
}

/// One request type: a single body and a bulk body.
fn check_request<T: JsonRequest>(value: &Value, what: &str) -> Option<T> {
    let single = match parse_body::<T>(value.clone()) {
        Ok(request) => {
            check_accepted::<T>(value, what);
            Some(request)
        }
        Err(problem) => {
            check_refusal(&problem, what);
            if !value.is_object() {
                assert_eq!(problem.status().as_u16(), 400, "{what}: a body that is not an object");
            }
            None
        }
    };
    match parse_list::<T, 100>(value.clone()) {
        Ok(items) => {
            let Value::Array(values) = value else { panic!("{what}: a list from a body that is not an array") };
            assert!((1..=100).contains(&items.len()) && items.len() == values.len(), "{what}: list length");
            for item in values {
                check_accepted::<T>(item, what);
            }
        }
        Err(problem) => check_refusal(&problem, what),
    }
    single
}

fuzz_target!(|data: &[u8]| {
    let unique = serde_json::from_slice::<UniqueKeys>(data);
    let plain = serde_json::from_slice::<Value>(data);
    let reference = serde_json::from_slice::<Raw>(data);
    // `Some(plain)`: serde_json's own reading, compared with ours; `None` for a document with one
    // of serde_json's private keys (see `SERDE_JSON_PRIVATE`).
    let plain = match &reference {
        Ok(raw) if raw.names_serde_json_private_key() => None,
        _ => {
            assert_eq!(plain.is_ok(), reference.is_ok(), "the reference reading disagrees with serde_json");
            Some(plain)
        }
    };

    let value = match (reference, unique) {
        (Ok(reference), Ok(UniqueKeys(value))) => {
            assert!(!reference.repeats_a_key(), "a repeated key was accepted");
            if let Some(Ok(plain)) = plain {
                assert_eq!(value, plain, "read differently from serde_json");
            }
            value
        }
        (Ok(reference), Err(error)) => {
            assert!(reference.repeats_a_key(), "refused a JSON document without a repeated key: {error}");
            assert!(
                error.is_data() && error.to_string().starts_with(DUPLICATE_KEY),
                "not the duplicate-key error: {error}"
            );
            return;
        }
        (Err(_), Ok(UniqueKeys(value))) => panic!("accepted what is not JSON: {value}"),
        (Err(_), Err(_)) => return,
    };

    check_request::<RegisterRequest>(&value, "register");
    check_request::<LoginRequest>(&value, "login");
    check_request::<RefreshRequest>(&value, "refresh");
    check_request::<CreateProjectRequest>(&value, "create project");
    check_request::<ReplaceProjectRequest>(&value, "replace project");
    check_request::<UpdateProjectRequest>(&value, "update project");
    if let Some(request) = check_request::<AddMemberRequest>(&value, "add member") {
        assert!(request.into_command().is_some(), "an accepted membership names no user");
    }
    check_request::<ChangeRoleRequest>(&value, "change role");
    check_request::<TransferRequest>(&value, "transfer");
    check_request::<UpdateMeRequest>(&value, "update me");
    check_request::<CreateUserRequest>(&value, "create user");
    check_request::<ReplaceUserRequest>(&value, "replace user");
    check_request::<UpdateUserRequest>(&value, "update user");
    check_request::<CreateApiKeyRequest>(&value, "create API key");
    check_request::<VerifyEmailRequest>(&value, "verify e-mail");
    check_request::<ForgotPasswordRequest>(&value, "forgot password");
    check_request::<ResetPasswordRequest>(&value, "reset password");
    check_request::<ChangePasswordRequest>(&value, "change password");
    if let Some(request) = check_request::<CreateExportRequest>(&value, "create export")
        && let Err(errors) = request.into_parts()
    {
        assert!(!errors.errors().is_empty(), "an export refused with no error");
    }
});
