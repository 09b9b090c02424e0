//! The body and links of paginated lists.
//!
//! A list answers `{"items", "total", "page", "limit", "pages", "_links"}`; `_links` holds
//! `self`, `first`, `last` and, where they exist, `prev` and `next`. Each link is the request's
//! own path and query string with only `page` replaced, so filters, sort and limit carry over.
//! The same links go in a `Link` header (RFC 8288) for clients that prefer headers.

use actix_web::{HttpRequest, HttpResponse, ResponseError as _, http::header};
use forge_application::common::Page;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{conditional::json_body, links::Link};

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Paginated<T> {
    /// The items on this page.
    pub items: Vec<T>,
    /// How many items match, across all pages.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u32,
    /// The page size.
    pub limit: u32,
    /// How many pages there are (at least 1).
    pub pages: u64,
    /// Links to this page and its neighbours.
    #[serde(rename = "_links")]
    pub links: PageLinks,
}

/// Links between the pages of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PageLinks {
    /// This page.
    #[serde(rename = "self")]
    pub this: Link,
    /// The first page.
    pub first: Link,
    /// The previous page, unless this is the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub prev: Option<Link>,
    /// The next page, unless this is the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next: Option<Link>,
    /// The last page.
    pub last: Link,
}

impl PageLinks {
    /// The links of page `page` of `pages`, for a request to `path?query`.
    #[must_use]
    pub fn new(path: &str, query: &str, page: u32, pages: u64) -> Self {
        let last = u32::try_from(pages.max(1)).unwrap_or(u32::MAX);
        let link = |n: u32| Link::get(format!("{path}?{}", with_page(query, n)));
        Self {
            this: link(page),
            first: link(1),
            // A page past the end still links back to the last real page.
            prev: (page > 1).then(|| link((page - 1).min(last))),
            next: (page < last).then(|| link(page + 1)),
            last: link(last),
        }
    }

    /// The `Link` header value: `<href>; rel="self", <href>; rel="first", ...`.
    #[must_use]
    pub fn header_value(&self) -> String {
        [
            Some((&self.this, "self")),
            Some((&self.first, "first")),
            self.prev.as_ref().map(|l| (l, "prev")),
            self.next.as_ref().map(|l| (l, "next")),
            Some((&self.last, "last")),
        ]
        .into_iter()
        .flatten()
        .map(|(link, rel)| format!("<{}>; rel=\"{rel}\"", link.href))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// `query` with its `page` parameter set to `page`: replaced where it was, appended otherwise.
/// The other parameters keep their order and their encoding.
fn with_page(query: &str, page: u32) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut placed = false;
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let name = part.split('=').next().unwrap_or_default();
        let is_page = form_urlencoded::parse(name.as_bytes()).next().is_some_and(|(decoded, _)| decoded == "page");
        if !is_page {
            parts.push(part.to_owned());
        } else if !placed {
            parts.push(format!("page={page}"));
            placed = true;
        }
    }
    if !placed {
        parts.push(format!("page={page}"));
    }
    parts.join("&")
}

impl<T> Paginated<T> {
    /// The body for `page`, answering the request `req`.
    #[must_use]
    pub fn new(req: &HttpRequest, page: Page<T>) -> Self {
        let pages = page.pages();
        let links = PageLinks::new(req.path(), req.query_string(), page.request.page(), pages);
        Self {
            total: page.total,
            page: page.request.page(),
            limit: page.request.limit(),
            pages,
            links,
            items: page.items,
        }
    }
}

/// The room a list body is written into to start with, per item and around the items: enough
/// for a user as an admin sees it (about 660 bytes, its links included), so that a page of 20 is
/// written without the buffer growing.
const BODY_BYTES_PER_ITEM: usize = 1024;
const BODY_BYTES_AROUND: usize = 1024;

/// A 200 response with the list body and the `Link` header.
#[must_use]
pub fn respond<T: Serialize>(req: &HttpRequest, page: Page<T>) -> HttpResponse {
    let body = Paginated::new(req, page);
    let bytes = match json_body(req, &body, BODY_BYTES_AROUND + BODY_BYTES_PER_ITEM * body.items.len()) {
        Ok(bytes) => bytes,
        Err(problem) => return problem.error_response(),
    };
    HttpResponse::Ok()
        .insert_header((header::LINK, body.links.header_value()))
        .content_type("application/json")
        .body(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hrefs(links: &PageLinks) -> [Option<&str>; 5] {
        [
            Some(links.this.href.as_str()),
            Some(links.first.href.as_str()),
            links.prev.as_ref().map(|l| l.href.as_str()),
            links.next.as_ref().map(|l| l.href.as_str()),
            Some(links.last.href.as_str()),
        ]
    }

    #[test]
    fn a_middle_page_links_to_both_neighbours_and_keeps_the_query() {
        let links = PageLinks::new("/api/v1/users", "role=admin&page=2&limit=20", 2, 3);
        assert_eq!(
            hrefs(&links),
            [
                Some("/api/v1/users?role=admin&page=2&limit=20"),
                Some("/api/v1/users?role=admin&page=1&limit=20"),
                Some("/api/v1/users?role=admin&page=1&limit=20"),
                Some("/api/v1/users?role=admin&page=3&limit=20"),
                Some("/api/v1/users?role=admin&page=3&limit=20"),
            ]
        );
    }

    #[test]
    fn the_first_page_has_no_prev_and_the_last_no_next() {
        let first = PageLinks::new("/u", "", 1, 3);
        assert_eq!(first.prev, None);
        assert_eq!(first.this.href, "/u?page=1");
        assert_eq!(first.next.as_ref().map(|l| l.href.as_str()), Some("/u?page=2"));
        let only = PageLinks::new("/u", "search=a+b", 1, 1);
        assert_eq!((only.prev, only.next), (None, None));
        assert_eq!(only.last.href, "/u?search=a+b&page=1");
    }

    #[test]
    fn a_page_past_the_end_links_back_to_the_last_page() {
        let links = PageLinks::new("/u", "page=9", 9, 3);
        assert_eq!(links.prev.map(|l| l.href), Some("/u?page=3".to_owned()));
        assert_eq!(links.next, None);
    }

    #[test]
    fn an_encoded_page_parameter_is_replaced_too() {
        assert_eq!(with_page("%70age=4&x=1", 2), "page=2&x=1");
    }

    #[test]
    fn the_link_header_lists_every_link_with_its_relation() {
        let links = PageLinks::new("/u", "", 2, 3);
        assert_eq!(
            links.header_value(),
            r#"</u?page=2>; rel="self", </u?page=1>; rel="first", </u?page=1>; rel="prev", </u?page=3>; rel="next", </u?page=3>; rel="last""#
        );
    }
}
