//! Query strings of the list endpoints, from any bytes, read by `ListQuery::parse` as the
//! extractor reads `req.query_string()`.
//!
//! Each endpoint's query either becomes its typed query or a 422 naming at least one parameter,
//! never a panic. An accepted query:
//! - had only the endpoint's parameters, each at most once (checked against `form_urlencoded`'s
//!   own split of the string);
//! - holds a page from 1 and a limit of 1 to 100, and search texts trimmed, within their length
//!   and without control characters;
//! - written back as a canonical query string, reads again to the same query (users, projects,
//!   members, audit log);
//! - for `GET /projects`, asks for the scope that `requested_scope`, the check made before
//!   anything else, sees in the raw string.

#![no_main]

use chrono::SecondsFormat;
use forge_application::{
    api_keys::ports::{ApiKeyQuery, ApiKeySort},
    audit::ports::{AuditLogQuery, AuditLogSort},
    auth::{SessionQuery, SessionSort},
    common::{PageRequest, SortOrder},
    projects::{
        ProjectScope,
        ports::{MemberQuery, MemberSort, ProjectQuery, ProjectSort},
    },
    users::ports::{UserQuery, UserSort},
};
use forge_presentation::{
    extract::{FromQuery, ListQuery},
    jobs::handlers::JobListQuery,
    projects::query::{ProjectListQuery, requested_scope},
};
use libfuzzer_sys::fuzz_target;

/// Each endpoint's parameters.
const PAGED: &[&str] = &["page", "limit", "sort", "order"];
const USERS: &[&str] = &["page", "limit", "sort", "order", "search", "role", "is_active", "is_verified"];
const PROJECTS: &[&str] = &["page", "limit", "sort", "order", "scope", "search", "status", "owner_id"];
const MEMBERS: &[&str] = &["page", "limit", "sort", "order", "role"];
const AUDIT: &[&str] =
    &["page", "limit", "sort", "order", "actor_id", "entity_type", "entity_id", "project_id", "action", "from", "to"];
const JOBS: &[&str] = &["page", "limit", "queue", "state"];

/// Parses `query` for one endpoint and checks what holds for every endpoint.
fn parse<T: FromQuery>(query: &str, names: &[&str], what: &str) -> Option<T> {
    match ListQuery::<T>::parse(query) {
        Ok(ListQuery(value)) => {
            let mut seen: Vec<String> = Vec::new();
            for (name, _) in form_urlencoded::parse(query.as_bytes()) {
                if name.is_empty() {
                    continue;
                }
                assert!(names.contains(&name.as_ref()), "{what}: accepted the unknown parameter {name:?} in {query:?}");
                assert!(!seen.contains(&name.to_string()), "{what}: accepted {name:?} twice in {query:?}");
                seen.push(name.into_owned());
            }
            Some(value)
        }
        Err(problem) => {
            assert_eq!(problem.status().as_u16(), 422, "{what}: {problem:?}");
            assert!(!problem.document().errors.is_empty(), "{what}: a 422 naming nothing: {problem:?}");
            None
        }
    }
}

fn check_page(page: PageRequest) {
    assert!(page.page() >= 1 && (1..=100).contains(&page.limit()), "page out of bounds: {page:?}");
}

fn check_text(text: Option<&str>, max: usize) {
    if let Some(text) = text {
        assert!(!text.is_empty() && text == text.trim(), "text not trimmed: {text:?}");
        assert!(text.chars().count() <= max, "text too long: {text:?}");
        assert!(!text.chars().any(char::is_control), "text with a control character: {text:?}");
    }
}

/// A canonical query string of name and value pairs.
fn canonical(pairs: &[(&str, String)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        out.append_pair(name, value);
    }
    out.finish()
}

fn paging(page: PageRequest, sort: &str, order: SortOrder) -> Vec<(&'static str, String)> {
    let order = match order {
        SortOrder::Asc => "asc",
        SortOrder::Desc => "desc",
    };
    vec![
        ("page", page.page().to_string()),
        ("limit", page.limit().to_string()),
        ("sort", sort.to_owned()),
        ("order", order.to_owned()),
    ]
}

/// Writes `value` back with `pairs` and checks that it reads again to itself.
fn reads_back<T: FromQuery + PartialEq + std::fmt::Debug>(value: &T, pairs: &[(&str, String)], what: &str) {
    let again = canonical(pairs);
    match ListQuery::<T>::parse(&again) {
        Ok(ListQuery(read)) => assert_eq!(&read, value, "{what}: {again:?} reads differently"),
        Err(problem) => panic!("{what}: the canonical form {again:?} of an accepted query is refused: {problem:?}"),
    }
}

fn project_pairs(query: &ProjectQuery) -> Vec<(&'static str, String)> {
    let sort = match query.sort {
        ProjectSort::CreatedAt => "created_at",
        ProjectSort::UpdatedAt => "updated_at",
        ProjectSort::Name => "name",
    };
    let mut pairs = paging(query.page, sort, query.order);
    let filter = &query.filter;
    assert_eq!(filter.member, None, "projects: the member filter came from the query");
    pairs.extend(filter.search.clone().map(|s| ("search", s)));
    pairs.extend(filter.status.map(|s| ("status", s.as_str().to_owned())));
    pairs.extend(filter.owner_id.map(|id| ("owner_id", id.as_uuid().to_string())));
    pairs
}

fuzz_target!(|data: &[u8]| {
    // actix-web hands the extractor the raw query as text; invalid UTF-8 never reaches it.
    let Ok(query) = std::str::from_utf8(data) else { return };

    if let Some(users) = parse::<UserQuery>(query, USERS, "users") {
        check_page(users.page);
        check_text(users.filter.search.as_deref(), 100);
        let sort = match users.sort {
            UserSort::CreatedAt => "created_at",
            UserSort::Username => "username",
            UserSort::Email => "email",
            UserSort::LastLoginAt => "last_login_at",
        };
        let mut pairs = paging(users.page, sort, users.order);
        let filter = &users.filter;
        pairs.extend(filter.search.clone().map(|s| ("search", s)));
        pairs.extend(filter.role.map(|r| ("role", r.as_str().to_owned())));
        pairs.extend(filter.is_active.map(|b| ("is_active", b.to_string())));
        pairs.extend(filter.is_verified.map(|b| ("is_verified", b.to_string())));
        reads_back(&users, &pairs, "users");
    }

    if let Some(projects) = parse::<ProjectListQuery>(query, PROJECTS, "projects") {
        check_page(projects.query.page);
        check_text(projects.query.filter.search.as_deref(), 100);
        assert_eq!(requested_scope(query), projects.scope, "projects: the early scope check disagrees on {query:?}");
        let mut pairs = project_pairs(&projects.query);
        if projects.scope == ProjectScope::All {
            pairs.push(("scope", "all".to_owned()));
        }
        reads_back(&projects, &pairs, "projects");
    }

    if let Some(members) = parse::<MemberQuery>(query, MEMBERS, "members") {
        check_page(members.page);
        let sort = match members.sort {
            MemberSort::AddedAt => "added_at",
            MemberSort::Username => "username",
        };
        let mut pairs = paging(members.page, sort, members.order);
        pairs.extend(members.role.map(|r| ("role", r.as_str().to_owned())));
        reads_back(&members, &pairs, "members");
    }

    if let Some(audit) = parse::<AuditLogQuery>(query, AUDIT, "audit log") {
        check_page(audit.page);
        let filter = &audit.filter;
        check_text(filter.entity_id.as_deref(), 80);
        let AuditLogSort::CreatedAt = audit.sort;
        let mut pairs = paging(audit.page, "created_at", audit.order);
        pairs.extend(filter.actor_id.map(|id| ("actor_id", id.as_uuid().to_string())));
        pairs.extend(filter.entity_type.map(|e| ("entity_type", e.as_str().to_owned())));
        pairs.extend(filter.entity_id.clone().map(|s| ("entity_id", s)));
        pairs.extend(filter.project_id.map(|id| ("project_id", id.as_uuid().to_string())));
        pairs.extend(filter.action.map(|a| ("action", a.as_str().to_owned())));
        pairs.extend(filter.from.map(|t| ("from", t.to_rfc3339_opts(SecondsFormat::AutoSi, true))));
        pairs.extend(filter.to.map(|t| ("to", t.to_rfc3339_opts(SecondsFormat::AutoSi, true))));
        reads_back(&audit, &pairs, "audit log");
    }

    if let Some(sessions) = parse::<SessionQuery>(query, PAGED, "sessions") {
        check_page(sessions.page);
        let sort = match sessions.sort {
            SessionSort::CreatedAt => "created_at",
            SessionSort::LastUsedAt => "last_used_at",
        };
        reads_back(&sessions, &paging(sessions.page, sort, sessions.order), "sessions");
    }

    if let Some(keys) = parse::<ApiKeyQuery>(query, PAGED, "API keys") {
        check_page(keys.page);
        let sort = match keys.sort {
            ApiKeySort::CreatedAt => "created_at",
            ApiKeySort::Name => "name",
            ApiKeySort::LastUsedAt => "last_used_at",
        };
        reads_back(&keys, &paging(keys.page, sort, keys.order), "API keys");
    }

    // The jobs list has no sort or order; its fields are private, so only the parameters are checked.
    parse::<JobListQuery>(query, JOBS, "jobs");
});
