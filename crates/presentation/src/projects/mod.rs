//! The projects endpoints: `/projects`, each project by id, its members and its transfer, and
//! `/users/{id}/projects`.

mod errors;
pub mod handlers;
pub mod query;
pub mod requests;
pub mod responses;

use actix_web::web;

use crate::{middleware::idempotency::Idempotency, routing::Endpoint};

/// Registers the endpoints, relative to `/api/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/projects").get(handlers::list).post(handlers::create).idempotent(Idempotency::per_user()),
    )
    .service(
        Endpoint::new("/projects/{id}")
            .get(handlers::get)
            .put(handlers::replace)
            .patch(handlers::update)
            .delete(handlers::delete),
    )
    .service(
        Endpoint::new("/projects/{id}/members")
            .get(handlers::members)
            .post(handlers::add_member)
            .idempotent(Idempotency::per_user()),
    )
    .service(
        Endpoint::new("/projects/{id}/members/{user_id}")
            .patch(handlers::change_member_role)
            .delete(handlers::remove_member),
    )
    .service(Endpoint::new("/projects/{id}/transfer").post(handlers::transfer))
    .service(Endpoint::new("/users/{id}/projects").get(handlers::user_projects));
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
        let found = &doc["paths"][path][method];
        assert!(found.is_object(), "{method} {path} is not documented");
        found
    }

    fn header_params(operation: &Value) -> Vec<&str> {
        operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn every_projects_endpoint_is_documented_with_its_conditional_headers() {
        let doc = serde_json::to_value(crate::openapi()).unwrap();
        let project = "/api/v1/projects/{id}";
        let member = "/api/v1/projects/{id}/members/{user_id}";

        let get = operation(&doc, "get", project);
        assert!(header_params(get).contains(&"If-None-Match"));
        assert!(get["responses"]["304"]["headers"].get("ETag").is_some());
        assert!(get["responses"]["200"]["headers"].get("ETag").is_some());

        for (method, path) in [
            ("put", project),
            ("patch", project),
            ("delete", project),
            ("patch", member),
            ("delete", member),
            ("post", "/api/v1/projects/{id}/transfer"),
        ] {
            let op = operation(&doc, method, path);
            assert!(header_params(op).contains(&"If-Match"), "{method} {path}");
            assert_eq!(op["responses"]["412"]["$ref"], "#/components/responses/PreconditionFailed", "{method} {path}");
        }
        for (method, path) in [
            ("get", "/api/v1/projects"),
            ("post", "/api/v1/projects"),
            ("get", "/api/v1/projects/{id}/members"),
            ("post", "/api/v1/projects/{id}/members"),
            ("get", "/api/v1/users/{id}/projects"),
        ] {
            assert_eq!(operation(&doc, method, path)["tags"][0], "projects", "{method} {path}");
        }
        for schema in ["ProjectResponse", "ProjectLinks", "MemberResponse", "MemberLinks", "AddMemberRequest"] {
            assert!(doc["components"]["schemas"].get(schema).is_some(), "{schema}");
        }
    }
}
