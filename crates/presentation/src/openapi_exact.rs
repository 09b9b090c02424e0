//! Rules the server enforces everywhere, written into the OpenAPI document after the handlers'
//! annotations are read, so that generated clients and schema-driven fuzzers expect exactly what
//! the server does, no more and no less:
//!
//! - every JSON request body refuses fields it does not know ([`ValidJson`]), so its schema has
//!   `additionalProperties: false` (bulk bodies: on the schema of their items);
//! - `page` is read as an unsigned 32-bit integer, so it is declared as such (`int64` with a
//!   maximum of 4294967295) rather than as `int32`;
//! - the server trims white space (Rust's `str::trim`: the Unicode `White_Space` property) around
//!   every text value before it checks it, so each text pattern allows [`WHITE_SPACE`] around the
//!   value it describes, and counts characters inside it (a `maxLength` would count the white
//!   space too, and so refuse what the server accepts);
//! - free-text `search` parameters and the audit log's `entity_id` are [`query_text`]: no control
//!   characters (U+0000 to U+001F and U+007F to U+009F, Rust's `char::is_control`), at most 100
//!   and 80 characters;
//! - the free text of bodies follows the domain's bounded-text rules: a `name` (of a project or an
//!   API key) and a `full_name` are a [`line`] of 1 to 100 characters (`null` clears a
//!   `full_name`, a blank string is refused); a `description` is [`prose`] (line breaks and tabs
//!   allowed) of at most 2000 characters, blank meaning none;
//! - a `username` is [`USERNAME`]: 3 to 50 ASCII letters, digits, `_`, `-` or `.`, starting with
//!   a letter or a digit;
//! - an `email` is [`EMAIL`] and none of [`EMAIL_REFUSED`]: the domain's practical check, on
//!   ASCII addresses (see [`EMAIL`] for what it leaves out);
//! - a new password is never empty (`minLength: 1`); the document served by a running server
//!   also carries the configured policy's lengths ([`state_password_policy`]), the rest of the
//!   policy (character classes, common passwords, strength) being beyond a schema;
//! - a login names an `email` or a `username` that is not `null` (`anyOf`); a new member is named
//!   by `user_id` or by `email`, not both (`oneOf`); an API key has at least one scope;
//! - the OAuth2 form's `grant_type` is `password`, its `username` is not blank and its `password`
//!   not empty;
//! - an export's `filters` are those of its resource's list, each a string as in the query, or a
//!   boolean or number where its text would do (`oneOf` on `resource`);
//! - a bulk body holds 1 to 1000 items.
//!
//! utoipa's schema objects have no field for `anyOf`, `oneOf` or `not` next to `properties` or
//! `pattern`; they are written through the object's extensions, which are serialized among its
//! keywords.
//!
//! [`ValidJson`]: crate::extract::ValidJson

use forge_application::users::MAX_BULK_USERS;
use forge_domain::users::PasswordPolicy;
use serde_json::{Value, json};
use utoipa::{
    Modify,
    openapi::{
        self, Components, KnownFormat, Ref, RefOr, SchemaFormat,
        extensions::Extensions,
        path::{Operation, ParameterIn},
        schema::{AdditionalProperties, ArrayItems, Object, Schema},
    },
};

use crate::{audit::query::MAX_ENTITY_ID_CHARS, exports::requests::NOT_FILTERS};

/// The characters of [`WHITE_SPACE`], without the brackets.
macro_rules! white_space_characters {
    () => {
        r"\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// See [`WHITE_SPACE`].
macro_rules! white_space {
    () => {
        concat!("[", white_space_characters!(), "]")
    };
}

/// See [`SOLID`].
macro_rules! solid {
    () => {
        r"[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    };
}

/// One unquoted part of an address's local part.
macro_rules! atom {
    () => {
        r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
    };
}

/// One label of a domain: 1 to 63 ASCII letters, digits and `-`, not at either end.
macro_rules! label {
    () => {
        r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    };
}

/// White space as `str::trim` sees it: the characters with the Unicode `White_Space` property.
pub const WHITE_SPACE: &str = white_space!();

/// A character that is neither white space nor a control character: what a trimmed value
/// starts and ends with.
pub const SOLID: &str = solid!();

/// A character of one line: anything but a control character.
const LINE_CHARACTER: &str = r"[^\u0000-\u001F\u007F-\u009F]";

/// A character of prose: anything but a control character other than tab, line feed and carriage
/// return.
const PROSE_CHARACTER: &str = r"[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]";

/// A username, with the white space the server trims around it.
pub const USERNAME: &str = concat!("^", white_space!(), "*[A-Za-z0-9][A-Za-z0-9_.-]{2,49}", white_space!(), "*$");

/// The shape of an e-mail address as the server checks it (`Email::parse`), with the white space
/// it trims around it: a local part of dot-separated atoms (letters, digits and
/// ``!#$%&'*+/=?^_`{|}~-``), `@`, and a domain of at least two labels of 1 to 63 letters, digits
/// and inner `-`, the last one of at least two characters. [`EMAIL_REFUSED`] adds what the server
/// refuses besides.
///
/// The server also accepts letters outside ASCII (in the local part, and letters and digits in
/// the domain) and counts lengths in UTF-8 bytes; a JSON Schema pattern has no portable way to
/// name "a letter", so the schema describes ASCII addresses only, where characters and bytes are
/// the same.
pub const EMAIL: &str = concat!(
    "^",
    white_space!(),
    "*",
    atom!(),
    r"(?:\.",
    atom!(),
    ")*@(?:",
    label!(),
    r"\.)+[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]",
    white_space!(),
    "*$"
);

/// What the server refuses of an address of the shape [`EMAIL`], as patterns an address may not
/// match (`not: {anyOf: …}`), since [`EMAIL`] cannot carry them without look-ahead, which
/// generators cannot draw from: a local part of more than 64 characters, a last label of digits
/// only, and more than 254 characters in all.
pub const EMAIL_REFUSED: [&str; 3] = [
    concat!("^", white_space!(), "*[^@", white_space_characters!(), "]{65}"),
    concat!(r"\.[0-9]+", white_space!(), "*$"),
    concat!(solid!(), "{255}"),
];

/// Something besides white space (the OAuth2 form's `username`).
const NOT_BLANK: &str = concat!("[^", white_space_characters!(), "]");

/// One line of 1 to `max_chars` characters once trimmed, with no control character.
#[must_use]
pub fn line(max_chars: usize) -> String {
    let inner = max_chars.saturating_sub(2);
    format!("^{WHITE_SPACE}*{SOLID}(?:{LINE_CHARACTER}{{0,{inner}}}{SOLID})?{WHITE_SPACE}*$")
}

/// Prose of at most `max_chars` characters once trimmed (blank is allowed: it means none), with no
/// control character but tab, line feed and carriage return.
#[must_use]
pub fn prose(max_chars: usize) -> String {
    let inner = max_chars.saturating_sub(2);
    format!("^{WHITE_SPACE}*(?:{SOLID}(?:{PROSE_CHARACTER}{{0,{inner}}}{SOLID})?)?{WHITE_SPACE}*$")
}

/// A free-text query parameter: at most `max_chars` characters once trimmed, none of them a
/// control character; blank means not given.
#[must_use]
pub fn query_text(max_chars: usize) -> String {
    let inner = max_chars.saturating_sub(2);
    format!("^{WHITE_SPACE}*(?:{SOLID}(?:{LINE_CHARACTER}{{0,{inner}}}{SOLID})?)?{WHITE_SPACE}*$")
}

/// The free text of bodies: each property and its rule.
const BODY_TEXT: [(&str, Text); 3] =
    [("name", Text::Line(100)), ("description", Text::Prose(2000)), ("full_name", Text::Line(100))];

/// A rule of free text.
#[derive(Clone, Copy)]
enum Text {
    /// [`line`].
    Line(usize),
    /// [`prose`].
    Prose(usize),
}

impl Text {
    fn pattern(self) -> String {
        match self {
            Self::Line(max_chars) => line(max_chars),
            Self::Prose(max_chars) => prose(max_chars),
        }
    }
}

/// Properties holding a new password: never empty, whatever the configured policy (its minimum
/// length is at least 1).
const NEW_PASSWORDS: [&str; 2] = ["password", "new_password"];

/// The one body whose `email`, `username` and `password` are not new values but identify an
/// account: a wrong or malformed one at login is a 401, not a rule of the body.
const LOGIN_SCHEMA: &str = "LoginRequest";

/// What a login names the account by: one of them at least, not `null` (the other may be absent or
/// `null`).
const LOGIN_IDENTIFIERS: [&str; 2] = ["email", "username"];

/// The export resources and the list each one's filters come from.
const EXPORT_LISTS: [(&str, &str); 3] =
    [("users", "/api/v1/users"), ("projects", "/api/v1/projects"), ("audit_logs", "/api/v1/audit-logs")];

/// Filters read as free text, which a number or a boolean also satisfies (by its JSON text).
const TEXT_FILTERS: [&str; 2] = ["search", "entity_id"];

/// The modifier (see the module notes).
pub struct ExactContract;

impl Modify for ExactContract {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let operations =
                [item.get.as_mut(), item.put.as_mut(), item.post.as_mut(), item.delete.as_mut(), item.patch.as_mut()];
            for operation in operations.into_iter().flatten() {
                bulk_bounds(operation);
                exact_parameters(operation);
            }
        }
        let closed = json_body_schemas(doc);
        let filters = export_filters(doc);
        let Some(components) = doc.components.as_mut() else { return };
        for name in &closed {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else { continue };
            object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
            for (property, text) in BODY_TEXT {
                if let Some(text_schema) = property_object(object, property) {
                    text_schema.pattern = Some(text.pattern());
                    text_schema.max_length = None;
                }
            }
            if name == LOGIN_SCHEMA {
                continue;
            }
            for property in NEW_PASSWORDS {
                if let Some(password) = property_object(object, property) {
                    password.min_length = Some(1);
                }
            }
            if let Some(username) = property_object(object, "username") {
                username.pattern = Some(USERNAME.to_owned());
            }
            if let Some(email) = property_object(object, "email") {
                email.pattern = Some(EMAIL.to_owned());
                let refused: Vec<Value> = EMAIL_REFUSED.iter().map(|pattern| json!({ "pattern": pattern })).collect();
                keyword(email, "not", json!({ "anyOf": refused }));
            }
        }
        if let Some(login) = object_schema(components, LOGIN_SCHEMA) {
            let identifiers = LOGIN_IDENTIFIERS
                .iter()
                .map(|field| json!({ "required": [field], "properties": { *field: { "type": "string" } } }))
                .collect();
            keyword(login, "anyOf", Value::Array(identifiers));
        }
        if let Some(member) = object_schema(components, "AddMemberRequest") {
            keyword(member, "oneOf", json!([{ "required": ["user_id"] }, { "required": ["email"] }]));
        }
        if let Some(key) = object_schema(components, "CreateApiKeyRequest")
            && let Some(RefOr::T(Schema::Array(scopes))) = key.properties.get_mut("scopes")
        {
            scopes.min_items = Some(1);
        }
        if let Some(form) = object_schema(components, "TokenForm") {
            if let Some(grant) = property_object(form, "grant_type") {
                grant.enum_values = Some(vec![json!("password")]);
            }
            if let Some(username) = property_object(form, "username") {
                username.pattern = Some(NOT_BLANK.to_owned());
            }
            if let Some(password) = property_object(form, "password") {
                password.min_length = Some(1);
            }
        }
        if let Some(export) = object_schema(components, "CreateExportRequest") {
            keyword(export, "oneOf", filters);
        }
    }
}

/// Writes the lengths of `policy` into the new-password properties of `doc` (the served document;
/// the one printed by `forge openapi` knows no configuration and keeps `minLength: 1`).
pub fn state_password_policy(doc: &mut openapi::OpenApi, policy: &PasswordPolicy) {
    let bodies = json_body_schemas(doc);
    let Some(components) = doc.components.as_mut() else { return };
    for name in bodies.iter().filter(|name| *name != LOGIN_SCHEMA) {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else { continue };
        for property in NEW_PASSWORDS {
            if let Some(password) = property_object(object, property) {
                password.min_length = Some(policy.min_length);
                password.max_length = Some(policy.max_length);
            }
        }
    }
}

/// The component schema `name`, if it is an object.
fn object_schema<'a>(components: &'a mut Components, name: &str) -> Option<&'a mut Object> {
    match components.schemas.get_mut(name) {
        Some(RefOr::T(Schema::Object(object))) => Some(object),
        _ => None,
    }
}

/// The inline object schema of `property`, if it has one.
fn property_object<'a>(object: &'a mut Object, property: &str) -> Option<&'a mut Object> {
    match object.properties.get_mut(property) {
        Some(RefOr::T(Schema::Object(schema))) => Some(schema),
        _ => None,
    }
}

/// Adds a JSON Schema keyword that utoipa's `Object` has no field for (see the module notes).
fn keyword(object: &mut Object, name: &str, value: Value) {
    object.extensions.get_or_insert_with(Extensions::default).insert(name.to_owned(), value);
}

/// The names of the component schemas the JSON bodies of `doc` are made of.
fn json_body_schemas(doc: &openapi::OpenApi) -> Vec<String> {
    let mut names = Vec::new();
    for item in doc.paths.paths.values() {
        let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
        for operation in operations.into_iter().flatten() {
            names.extend(json_body_schema(operation));
        }
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// The name of the component schema a JSON body of `operation` is made of.
fn json_body_schema(operation: &Operation) -> Option<String> {
    let Some(RefOr::T(body)) = operation.request_body.as_ref() else { return None };
    let Some(RefOr::T(content)) = body.content.get("application/json") else { return None };
    let reference: Option<&Ref> = match &content.schema {
        Some(RefOr::Ref(reference)) => Some(reference),
        Some(RefOr::T(Schema::Array(array))) => match &array.items {
            ArrayItems::RefOrSchema(items) => match items.as_ref() {
                RefOr::Ref(reference) => Some(reference),
                RefOr::T(_) => None,
            },
            ArrayItems::False => None,
        },
        _ => None,
    };
    reference.and_then(|r| r.ref_location.rsplit('/').next()).map(str::to_owned)
}

/// The bulk body's array: 1 to [`MAX_BULK_USERS`] items.
fn bulk_bounds(operation: &mut Operation) {
    let Some(RefOr::T(body)) = operation.request_body.as_mut() else { return };
    let Some(RefOr::T(content)) = body.content.get_mut("application/json") else { return };
    if let Some(RefOr::T(Schema::Array(array))) = content.schema.as_mut() {
        array.min_items = Some(1);
        array.max_items = Some(MAX_BULK_USERS);
    }
}

fn exact_parameters(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else { continue };
        if parameter.parameter_in != ParameterIn::Query {
            continue;
        }
        let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else { continue };
        match parameter.name.as_str() {
            "page" => {
                schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64));
                schema.maximum = Some(utoipa::Number::UInt(u32::MAX as usize));
            }
            "limit" => schema.format = Some(SchemaFormat::KnownFormat(KnownFormat::Int64)),
            "search" => {
                schema.pattern = Some(query_text(100));
                schema.max_length = None;
            }
            "entity_id" => {
                schema.pattern = Some(query_text(MAX_ENTITY_ID_CHARS));
                schema.max_length = None;
            }
            _ => {}
        }
    }
}

/// The `oneOf` of an export body: for each resource, the filters of its list (every query
/// parameter of its `GET` but paging and sorting).
fn export_filters(doc: &openapi::OpenApi) -> Value {
    let branches: Vec<Value> = EXPORT_LISTS
        .iter()
        .map(|(resource, path)| {
            let parameters =
                doc.paths.paths.get(*path).and_then(|item| item.get.as_ref()).and_then(|get| get.parameters.as_ref());
            let mut properties = serde_json::Map::new();
            for parameter in parameters.into_iter().flatten() {
                let RefOr::T(parameter) = parameter else { continue };
                if parameter.parameter_in != ParameterIn::Query || NOT_FILTERS.contains(&parameter.name.as_str()) {
                    continue;
                }
                let schema = serde_json::to_value(&parameter.schema).unwrap_or(Value::Null);
                properties.insert(parameter.name.clone(), filter_value(&parameter.name, schema));
            }
            json!({
                "properties": {
                    "resource": { "const": resource },
                    "filters": {
                        "anyOf": [
                            { "type": "null" },
                            { "type": "object", "additionalProperties": false, "properties": properties },
                        ],
                    },
                },
            })
        })
        .collect();
    Value::Array(branches)
}

/// What a filter of an export may hold, given the schema of the query parameter it comes from:
/// the string the query takes; `true` and `false` (as JSON booleans too) for a boolean; and any
/// number or boolean for free text, which their JSON text satisfies.
fn filter_value(name: &str, mut schema: Value) -> Value {
    if let Value::Object(object) = &mut schema {
        object.remove("description");
    }
    if schema.get("type") == Some(&json!("boolean")) {
        return json!({ "enum": [true, false, "true", "false"] });
    }
    if TEXT_FILTERS.contains(&name) {
        return json!({ "anyOf": [schema, { "type": ["number", "boolean"] }] });
    }
    schema
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(crate::openapi()).unwrap()
    }

    fn parameter<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} on {path}"))
    }

    #[test]
    fn every_json_body_refuses_unknown_fields_in_the_schema() {
        let doc = document();
        let mut checked = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema") else {
                    continue;
                };
                let reference = schema.get("$ref").or_else(|| schema["items"].get("$ref")).unwrap();
                let name = reference.as_str().unwrap().rsplit('/').next().unwrap();
                assert_eq!(doc["components"]["schemas"][name]["additionalProperties"], false, "{name}");
                checked += 1;
            }
        }
        assert!(checked >= 19, "{checked}");
        // A form body is not closed: the token endpoint follows OAuth2, which ignores extra fields.
        assert_ne!(doc["components"]["schemas"]["TokenForm"]["additionalProperties"], false);
    }

    #[test]
    fn page_search_text_and_request_id_are_declared_as_the_server_reads_them() {
        let doc = document();
        for path in ["/api/v1/users", "/api/v1/projects", "/api/v1/audit-logs", "/api/v1/api-keys"] {
            let page = &parameter(&doc, path, "page")["schema"];
            assert_eq!(page["maximum"], u64::from(u32::MAX), "{path}");
            assert_eq!(page["format"], "int64", "{path}");
        }
        for path in ["/api/v1/users", "/api/v1/projects"] {
            let search = &parameter(&doc, path, "search")["schema"];
            assert_eq!(search.get("maxLength"), None, "{path}: the pattern counts inside the white space");
            assert_eq!(search["pattern"], super::query_text(100), "{path}");
        }
        let schemas = &doc["components"]["schemas"];
        for name in ["CreateProjectRequest", "ReplaceProjectRequest", "UpdateProjectRequest", "CreateApiKeyRequest"] {
            assert_eq!(schemas[name]["properties"]["name"]["pattern"], super::line(100), "{name}");
            assert_eq!(schemas[name]["properties"]["name"].get("maxLength"), None, "{name}");
        }
        for name in ["CreateProjectRequest", "ReplaceProjectRequest", "UpdateProjectRequest"] {
            assert_eq!(schemas[name]["properties"]["description"]["pattern"], super::prose(2000), "{name}");
        }
        for name in ["RegisterRequest", "CreateUserRequest"] {
            assert_eq!(schemas[name]["properties"]["password"]["minLength"], 1, "{name}");
            assert_eq!(schemas[name]["properties"]["full_name"]["pattern"], super::line(100), "{name}");
        }
        for name in ["ResetPasswordRequest", "ChangePasswordRequest"] {
            assert_eq!(schemas[name]["properties"]["new_password"]["minLength"], 1, "{name}");
        }
        assert_eq!(schemas["LoginRequest"]["properties"]["password"].get("minLength"), None);
        let bulk =
            doc.pointer("/paths/~1api~1v1~1users~1bulk/post/requestBody/content/application~1json/schema").unwrap();
        assert_eq!((bulk["minItems"].as_u64(), bulk["maxItems"].as_u64()), (Some(1), Some(1000)));
        let entity = &parameter(&doc, "/api/v1/audit-logs", "entity_id")["schema"];
        assert_eq!(entity["pattern"], super::query_text(80));
        let request_id = &parameter(&doc, "/api/v1/users", "X-Request-ID")["schema"];
        assert_eq!(request_id.get("maxLength"), None);
        assert_eq!(request_id.get("minLength"), None);
    }

    #[test]
    fn usernames_and_addresses_carry_their_rules_except_at_login() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for name in
            ["RegisterRequest", "CreateUserRequest", "ReplaceUserRequest", "UpdateUserRequest", "UpdateMeRequest"]
        {
            assert_eq!(schemas[name]["properties"]["username"]["pattern"], super::USERNAME, "{name}");
        }
        for name in [
            "RegisterRequest",
            "CreateUserRequest",
            "ReplaceUserRequest",
            "UpdateUserRequest",
            "UpdateMeRequest",
            "ForgotPasswordRequest",
            "AddMemberRequest",
        ] {
            let email = &schemas[name]["properties"]["email"];
            assert_eq!(email["pattern"], super::EMAIL, "{name}");
            let refused: Vec<&str> =
                email["not"]["anyOf"].as_array().unwrap().iter().map(|p| p["pattern"].as_str().unwrap()).collect();
            assert_eq!(refused, super::EMAIL_REFUSED, "{name}");
        }
        let login = &schemas["LoginRequest"];
        assert_eq!(login["properties"]["email"].get("pattern"), None);
        assert_eq!(login["properties"]["username"].get("pattern"), None);
        assert_eq!(
            login["anyOf"],
            serde_json::json!([
                {"required": ["email"], "properties": {"email": {"type": "string"}}},
                {"required": ["username"], "properties": {"username": {"type": "string"}}},
            ])
        );
    }

    #[test]
    fn alternatives_choices_and_counts_are_stated() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["AddMemberRequest"]["oneOf"],
            serde_json::json!([{"required": ["user_id"]}, {"required": ["email"]}])
        );
        assert_eq!(schemas["CreateApiKeyRequest"]["properties"]["scopes"]["minItems"], 1);
        let form = &schemas["TokenForm"]["properties"];
        assert_eq!(form["grant_type"]["enum"], serde_json::json!(["password"]));
        assert_eq!(form["password"]["minLength"], 1);
        assert_eq!(form["username"]["pattern"], super::NOT_BLANK);
    }

    #[test]
    fn export_filters_are_those_of_each_resources_list() {
        let doc = document();
        let branches = doc["components"]["schemas"]["CreateExportRequest"]["oneOf"].as_array().unwrap();
        let filters = |resource: &str| -> Value {
            let branch = branches.iter().find(|b| b["properties"]["resource"]["const"] == resource).unwrap();
            branch["properties"]["filters"]["anyOf"][1].clone()
        };
        let names = |resource: &str| -> Vec<String> {
            let mut names: Vec<String> = filters(resource)["properties"].as_object().unwrap().keys().cloned().collect();
            names.sort_unstable();
            names
        };
        assert_eq!(names("users"), ["is_active", "is_verified", "role", "search"]);
        assert_eq!(names("projects"), ["owner_id", "search", "status"]);
        assert_eq!(names("audit_logs"), ["action", "actor_id", "entity_id", "entity_type", "from", "project_id", "to"]);
        let users = filters("users");
        assert_eq!(users["additionalProperties"], false);
        assert_eq!(users["properties"]["is_active"]["enum"], serde_json::json!([true, false, "true", "false"]));
        assert_eq!(users["properties"]["search"]["anyOf"][0]["pattern"], super::query_text(100));
        assert_eq!(users["properties"]["role"]["enum"], serde_json::json!(["admin", "manager", "member"]));
        assert_eq!(filters("audit_logs")["properties"]["from"]["format"], "date-time");
    }

    #[test]
    fn the_served_document_states_the_configured_password_lengths() {
        let mut doc = crate::openapi();
        let policy = forge_domain::users::PasswordPolicy { min_length: 12, max_length: 64, ..Default::default() };
        super::state_password_policy(&mut doc, &policy);
        let doc = serde_json::to_value(doc).unwrap();
        let schemas = &doc["components"]["schemas"];
        for (name, property) in [
            ("RegisterRequest", "password"),
            ("CreateUserRequest", "password"),
            ("ResetPasswordRequest", "new_password"),
            ("ChangePasswordRequest", "new_password"),
        ] {
            let password = &schemas[name]["properties"][property];
            assert_eq!(
                (password["minLength"].as_u64(), password["maxLength"].as_u64()),
                (Some(12), Some(64)),
                "{name}"
            );
        }
        assert_eq!(schemas["LoginRequest"]["properties"]["password"].get("minLength"), None);
        assert_eq!(schemas["TokenForm"]["properties"]["password"]["minLength"], 1);
    }
}
