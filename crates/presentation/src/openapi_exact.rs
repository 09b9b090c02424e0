//! Rules the server enforces everywhere, written into the OpenAPI document after the handlers'
//! annotations are read, so that generated clients and schema-driven fuzzers expect exactly what
//! the server does:
//!
//! - every JSON request body refuses fields it does not know ([`ValidJson`]), so its schema has
//!   `additionalProperties: false` (bulk bodies: on the schema of their items);
//! - `page` is read as an unsigned 32-bit integer, so it is declared as such (`int64` with a
//!   maximum of 4294967295) rather than as `int32`;
//! - free-text `search` parameters refuse control characters, so their schema has a pattern
//!   that excludes them (U+0000 to U+001F and U+007F to U+009F, Rust's `char::is_control`);
//! - the free text of bodies follows the domain's bounded-text rules: a `name` (of a project or an
//!   API key) is one line, not blank, of at most 100 characters; a `description` is prose (line
//!   breaks and tabs allowed) of at most 2000 characters. The server trims before it counts, so
//!   the schema is stricter only for text padded with spaces past the limit; a `full_name`
//!   follows the rules of a `name` (`null` clears it, a blank string is refused);
//! - a new password is never empty (`minLength: 1`; the configured policy decides the rest);
//! - a bulk body holds 1 to 1000 items; the audit log's `entity_id` filter has no control
//!   characters and at most 80 characters.
//!
//! [`ValidJson`]: crate::extract::ValidJson

use forge_application::users::MAX_BULK_USERS;

use crate::audit::query::MAX_ENTITY_ID_CHARS;
use utoipa::{
    Modify,
    openapi::{
        self, KnownFormat, Ref, RefOr, SchemaFormat,
        path::{Operation, ParameterIn},
        schema::{AdditionalProperties, ArrayItems, Schema},
    },
};

/// The pattern of free text that may not hold control characters.
pub const NO_CONTROL_CHARACTERS: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// One line of text, not blank: no control character, and something besides white space.
pub const NON_BLANK_LINE: &str =
    "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Prose: no control character but tab, line feed and carriage return.
pub const PROSE: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// The text fields of request bodies and their rules: (property, pattern, most characters).
const BODY_TEXT: [(&str, &str, usize); 3] =
    [("name", NON_BLANK_LINE, 100), ("description", PROSE, 2000), ("full_name", NON_BLANK_LINE, 100)];

/// Properties holding a new password: never empty, whatever the configured policy (its minimum
/// length is at least 1), so `minLength: 1` and no more.
const NEW_PASSWORDS: [&str; 2] = ["password", "new_password"];

/// The one body with a `password` that is not a new one: a wrong or empty password at login is
/// a 401, not a rule of the body.
const LOGIN_SCHEMA: &str = "LoginRequest";

/// The modifier (see the module notes).
pub struct ExactContract;

impl Modify for ExactContract {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let mut closed = Vec::new();
        for item in doc.paths.paths.values_mut() {
            let operations =
                [item.get.as_mut(), item.put.as_mut(), item.post.as_mut(), item.delete.as_mut(), item.patch.as_mut()];
            for operation in operations.into_iter().flatten() {
                closed.extend(json_body_schemas(operation));
                bulk_bounds(operation);
                exact_parameters(operation);
            }
        }
        let Some(components) = doc.components.as_mut() else { return };
        for name in closed {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&name) {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                for (property, pattern, max_chars) in BODY_TEXT {
                    if let Some(RefOr::T(Schema::Object(text))) = object.properties.get_mut(property) {
                        text.pattern = Some(pattern.to_owned());
                        text.max_length = Some(max_chars);
                    }
                }
                for property in NEW_PASSWORDS.into_iter().filter(|_| name != LOGIN_SCHEMA) {
                    if let Some(RefOr::T(Schema::Object(password))) = object.properties.get_mut(property) {
                        password.min_length = Some(1);
                    }
                }
            }
        }
    }
}

/// The names of the component schemas a JSON body of `operation` is made of.
fn json_body_schemas(operation: &Operation) -> Vec<String> {
    let Some(RefOr::T(body)) = operation.request_body.as_ref() else { return Vec::new() };
    let Some(RefOr::T(content)) = body.content.get("application/json") else { return Vec::new() };
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
    reference.and_then(|r| r.ref_location.rsplit('/').next()).map(str::to_owned).into_iter().collect()
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
            "search" => schema.pattern = Some(NO_CONTROL_CHARACTERS.to_owned()),
            "entity_id" => {
                schema.pattern = Some(NO_CONTROL_CHARACTERS.to_owned());
                schema.max_length = Some(MAX_ENTITY_ID_CHARS);
            }
            _ => {}
        }
    }
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
            assert_eq!(search["maxLength"], 100, "{path}");
            assert_eq!(search["pattern"], super::NO_CONTROL_CHARACTERS, "{path}");
        }
        let schemas = &doc["components"]["schemas"];
        for name in ["CreateProjectRequest", "ReplaceProjectRequest", "UpdateProjectRequest", "CreateApiKeyRequest"] {
            assert_eq!(schemas[name]["properties"]["name"]["pattern"], super::NON_BLANK_LINE, "{name}");
            assert_eq!(schemas[name]["properties"]["name"]["maxLength"], 100, "{name}");
        }
        for name in ["CreateProjectRequest", "ReplaceProjectRequest", "UpdateProjectRequest"] {
            assert_eq!(schemas[name]["properties"]["description"]["pattern"], super::PROSE, "{name}");
        }
        for name in ["RegisterRequest", "CreateUserRequest"] {
            assert_eq!(schemas[name]["properties"]["password"]["minLength"], 1, "{name}");
            assert_eq!(schemas[name]["properties"]["full_name"]["maxLength"], 100, "{name}");
            assert_eq!(schemas[name]["properties"]["full_name"]["pattern"], super::NON_BLANK_LINE, "{name}");
        }
        for name in ["ResetPasswordRequest", "ChangePasswordRequest"] {
            assert_eq!(schemas[name]["properties"]["new_password"]["minLength"], 1, "{name}");
        }
        assert_eq!(schemas["LoginRequest"]["properties"]["password"].get("minLength"), None);
        let bulk =
            doc.pointer("/paths/~1api~1v1~1users~1bulk/post/requestBody/content/application~1json/schema").unwrap();
        assert_eq!((bulk["minItems"].as_u64(), bulk["maxItems"].as_u64()), (Some(1), Some(1000)));
        let entity = &parameter(&doc, "/api/v1/audit-logs", "entity_id")["schema"];
        assert_eq!(entity["maxLength"], 80);
        let request_id = &parameter(&doc, "/api/v1/users", "X-Request-ID")["schema"];
        assert_eq!(request_id.get("maxLength"), None);
        assert_eq!(request_id.get("minLength"), None);
    }
}
