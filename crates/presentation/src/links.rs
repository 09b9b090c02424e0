//! Hypermedia links in response bodies (`_links`): where a resource is, and what the caller may
//! do next.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The base path of the API's resources.
pub const API_BASE: &str = "/api/v1";

/// A link: a path on this server and the method to use on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    /// The target: an absolute path, with its query string where it has one.
    #[schema(example = "/api/v1/users/0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d")]
    pub href: String,
    /// The HTTP method.
    #[schema(example = "GET")]
    pub method: String,
}

impl Link {
    /// A `GET` link.
    pub fn get(href: impl Into<String>) -> Self {
        Self::new("GET", href)
    }

    /// A link with any method.
    pub fn new(method: &str, href: impl Into<String>) -> Self {
        Self { href: href.into(), method: method.to_owned() }
    }
}
