//! Property tests of what parses untrusted input: JSON bodies into typed requests, the list query
//! grammar, and the duplicate-key rule. Whatever the input, parsing ends in a value or a client
//! error (400 or 422), never a panic or a server error, and the rules hold for every input, not
//! only for the examples of the unit tests.

use forge_application::{audit::ports::AuditLogQuery, users::ports::UserQuery};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::{
    auth::requests::RegisterRequest,
    extract::{ListQuery, json::parse_body, unique_keys::UniqueKeys},
    problem::Problem,
    projects::{query::ProjectListQuery, requests::CreateProjectRequest},
    users::requests::CreateUserRequest,
};

/// Any JSON value, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,8}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A body shaped like a request: mostly known field names, with values of any type.
fn body_like(fields: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let name = prop_oneof![prop::sample::select(fields).prop_map(str::to_owned), "[a-z_]{1,10}"];
    prop::collection::btree_map(name, json(), 0..8).prop_map(|map| Value::Object(map.into_iter().collect()))
}

fn is_client_error(problem: &Problem) -> bool {
    matches!(problem.status().as_u16(), 400 | 422)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_body_without_repeated_keys_reads_as_serde_json_reads_it(value in json()) {
        let text = serde_json::to_string(&value).unwrap();
        let UniqueKeys(read) = serde_json::from_str(&text).unwrap();
        // Compared with serde_json's own reading: floats need not survive a round trip exactly.
        prop_assert_eq!(read, serde_json::from_str::<Value>(&text).unwrap());
    }

    #[test]
    fn a_repeated_key_is_refused_wherever_it_is(
        value in json(),
        key in "[a-z]{1,6}",
        first in json(),
        second in json(),
        wrap in 0..3_usize,
    ) {
        let pair = format!(
            "{{{k}: {a}, \"other\": {v}, {k}: {b}}}",
            k = serde_json::to_string(&key).unwrap(),
            a = serde_json::to_string(&first).unwrap(),
            b = serde_json::to_string(&second).unwrap(),
            v = serde_json::to_string(&value).unwrap(),
        );
        let text = match wrap {
            0 => pair,
            1 => format!("[1, {pair}]"),
            _ => format!("{{\"outer\": {{\"inner\": {pair}}}}}"),
        };
        let error = serde_json::from_str::<UniqueKeys>(&text).unwrap_err();
        prop_assert!(error.is_data(), "{}", error);
    }

    #[test]
    fn any_body_becomes_a_request_or_a_client_error(
        register in body_like(&["email", "username", "password", "role", "id"]),
        user in body_like(&["email", "username", "password", "full_name", "role", "is_active"]),
        project in body_like(&["name", "description", "owner_id", "status"]),
        other in json(),
    ) {
        for result in [
            parse_body::<RegisterRequest>(register).map(drop),
            parse_body::<CreateUserRequest>(user).map(drop),
            parse_body::<CreateProjectRequest>(project).map(drop),
            parse_body::<RegisterRequest>(other).map(drop),
        ] {
            if let Err(problem) = result {
                prop_assert!(is_client_error(&problem), "{:?}", problem);
            }
        }
    }

    #[test]
    fn any_query_string_becomes_a_query_or_a_client_error(
        pairs in prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(&[
                        "page", "limit", "sort", "order", "search", "role", "is_active", "is_verified",
                        "status", "scope", "owner_id", "from", "to", "action", "entity_type", "actor_id",
                    ][..]).prop_map(str::to_owned),
                    ".{0,6}",
                ],
                prop_oneof![".{0,20}", "[0-9]{0,12}", Just("-1".to_owned()), Just("4294967296".to_owned())],
            ),
            0..8,
        ),
    ) {
        let query: String = pairs
            .iter()
            .map(|(name, value)| {
                let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                format!("{}={}", encode(name), encode(value))
            })
            .collect::<Vec<_>>()
            .join("&");
        for result in [
            ListQuery::<UserQuery>::parse(&query).map(drop),
            ListQuery::<ProjectListQuery>::parse(&query).map(drop),
            ListQuery::<AuditLogQuery>::parse(&query).map(drop),
        ] {
            if let Err(problem) = result {
                prop_assert!(is_client_error(&problem), "{:?}", problem);
            }
        }
    }

    #[test]
    fn page_is_read_up_to_the_largest_u32_and_refused_past_it(page in any::<u64>()) {
        let result = ListQuery::<UserQuery>::parse(&format!("page={page}"));
        let accepted = (1..=u64::from(u32::MAX)).contains(&page);
        prop_assert_eq!(result.is_ok(), accepted, "page={}", page);
    }
}
