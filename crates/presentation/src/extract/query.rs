//! Query parameters of list endpoints, read one by one so that every bad parameter is reported
//! in a single 422, and nothing outside the documented sets ever reaches a use case (let alone
//! SQL): sort fields and filters become enums and typed values here.
//!
//! An endpoint describes its parameters by implementing [`FromQuery`] for its query type and
//! takes a [`ListQuery<T>`] argument.

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use chrono::{DateTime, Utc};
use forge_application::common::{FieldError, PageRequest, SortOrder, ValidationErrors};
use futures::future::{Ready, ready};
use uuid::Uuid;

use crate::problem::Problem;

/// The query string of one request, as parameters yet to be read.
#[derive(Debug)]
pub struct QueryParams {
    /// `(name, value, read)` in the order given.
    params: Vec<(String, String, bool)>,
    errors: Vec<FieldError>,
}

impl QueryParams {
    /// Splits a raw query string. Values are decoded as in HTML forms (`+` is a space).
    #[must_use]
    pub fn parse(query: &str) -> Self {
        let params = form_urlencoded::parse(query.as_bytes())
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, value)| (name.into_owned(), value.into_owned(), false))
            .collect();
        Self { params, errors: Vec::new() }
    }

    /// Parameters given as name and value pairs (filters in a JSON body, read like a list's).
    #[must_use]
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { params: pairs.into_iter().map(|(name, value)| (name, value, false)).collect(), errors: Vec::new() }
    }

    /// The value of `name`, marking it read. A parameter given twice is an error: which one was
    /// meant cannot be known.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let mut found: Option<String> = None;
        let mut repeated = false;
        for (key, value, read) in &mut self.params {
            if key == name {
                *read = true;
                if found.is_some() {
                    repeated = true;
                } else {
                    found = Some(value.clone());
                }
            }
        }
        if repeated {
            self.errors.push(FieldError::new(name, "DUPLICATE", "must be given at most once"));
            return None;
        }
        found
    }

    /// Records an error about a parameter.
    pub fn reject(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// `page` (from 1, default 1) and `limit` (1 to 100, default 20).
    pub fn page(&mut self) -> PageRequest {
        let page = self.integer("page", 1);
        let limit = self.integer("limit", PageRequest::DEFAULT_LIMIT);
        match (page, limit) {
            (Some(page), Some(limit)) => PageRequest::new(page, limit).unwrap_or_else(|e| {
                self.errors.extend(e.into_errors());
                PageRequest::default()
            }),
            _ => PageRequest::default(),
        }
    }

    /// `order`: `asc` or `desc`, default `desc`.
    pub fn order(&mut self) -> SortOrder {
        self.choice("order", &[("asc", SortOrder::Asc), ("desc", SortOrder::Desc)]).unwrap_or_default()
    }

    /// One of `choices`, by its name.
    pub fn choice<T: Copy>(&mut self, name: &str, choices: &[(&str, T)]) -> Option<T> {
        let raw = self.take(name)?;
        if let Some((_, value)) = choices.iter().find(|(choice, _)| *choice == raw) {
            return Some(*value);
        }
        let names: Vec<&str> = choices.iter().map(|(choice, _)| *choice).collect();
        self.errors.push(FieldError::new(name, "INVALID_CHOICE", format!("must be one of: {}", names.join(", "))));
        None
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        self.choice(name, &[("true", true), ("false", false)])
    }

    /// Free text, trimmed, at most `max_chars` characters; empty means not given.
    pub fn text(&mut self, name: &str, max_chars: usize) -> Option<String> {
        let raw = self.take(name)?;
        let trimmed = raw.trim();
        if trimmed.chars().count() > max_chars {
            self.errors.push(FieldError::new(name, "TOO_LONG", format!("must be at most {max_chars} characters")));
            return None;
        }
        if trimmed.chars().any(char::is_control) {
            self.errors.push(FieldError::new(name, "INVALID_CHARACTER", "must not contain control characters"));
            return None;
        }
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// A UUID.
    pub fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.take(name)?;
        match Uuid::parse_str(raw.trim()) {
            Ok(id) => Some(id),
            Err(_) => {
                self.errors.push(FieldError::new(name, "INVALID_FORMAT", "must be a UUID"));
                None
            }
        }
    }

    /// An instant in RFC 3339 (`2026-11-23T10:00:00Z`, `2026-11-23T11:00:00+01:00`), as UTC.
    ///
    /// A `+` of an offset that was not percent-encoded arrives as a space (query strings are
    /// form-encoded); it is read as the `+` the client meant.
    pub fn timestamp(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let raw = self.take(name)?;
        let raw = raw.trim();
        let parsed = DateTime::parse_from_rfc3339(raw).or_else(|e| match raw.rsplit_once(' ') {
            Some((date_time, offset)) => DateTime::parse_from_rfc3339(&format!("{date_time}+{offset}")),
            None => Err(e),
        });
        match parsed {
            Ok(at) => Some(at.with_timezone(&Utc)),
            Err(_) => {
                self.errors.push(FieldError::new(
                    name,
                    "INVALID_FORMAT",
                    "must be an RFC 3339 date-time such as 2026-11-23T10:00:00Z",
                ));
                None
            }
        }
    }

    fn integer(&mut self, name: &str, default: u32) -> Option<u32> {
        let Some(raw) = self.take(name) else { return Some(default) };
        match raw.trim().parse::<u32>() {
            Ok(value) => Some(value),
            Err(_) => {
                self.errors.push(FieldError::new(name, "INVALID_FORMAT", "must be a whole number"));
                None
            }
        }
    }

    /// Every error recorded, plus one for each parameter nobody read.
    ///
    /// # Errors
    /// The errors, when there are any.
    pub fn finish(mut self) -> Result<(), ValidationErrors> {
        let unknown: Vec<FieldError> = self
            .params
            .iter()
            .filter(|(_, _, read)| !read)
            .map(|(name, _, _)| FieldError::new(name.as_str(), "UNKNOWN_FIELD", "is not a parameter of this endpoint"))
            .collect();
        self.errors.extend(unknown);
        if self.errors.is_empty() { Ok(()) } else { Err(ValidationErrors::new(self.errors)) }
    }
}

/// A list endpoint's query: how to read it from the parameters.
pub trait FromQuery: Sized {
    /// Reads every parameter the endpoint knows; errors are recorded in `params`, and the value
    /// returned then is discarded.
    fn from_query(params: &mut QueryParams) -> Self;
}

/// A validated list query.
#[derive(Debug)]
pub struct ListQuery<T>(pub T);

impl<T: FromQuery> ListQuery<T> {
    /// Reads and checks `query`.
    ///
    /// # Errors
    /// 422 listing every bad or unknown parameter.
    pub fn parse(query: &str) -> Result<Self, Problem> {
        let mut params = QueryParams::parse(query);
        let value = T::from_query(&mut params);
        params.finish().map_err(Problem::validation)?;
        Ok(Self(value))
    }
}

impl<T: FromQuery> FromRequest for ListQuery<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()).map_err(|problem| problem.at(req).into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Sample {
        page: PageRequest,
        order: SortOrder,
        active: Option<bool>,
        search: Option<String>,
    }

    impl FromQuery for Sample {
        fn from_query(params: &mut QueryParams) -> Self {
            Self {
                page: params.page(),
                order: params.order(),
                active: params.boolean("is_active"),
                search: params.text("search", 10),
            }
        }
    }

    /// The errors of `query` as `field:CODE`.
    fn fields(query: &str) -> Vec<String> {
        let problem = ListQuery::<Sample>::parse(query).unwrap_err();
        problem.document().errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect()
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let ListQuery(query) = ListQuery::<Sample>::parse("").unwrap();
        assert_eq!(query.page, PageRequest::default());
        assert_eq!(query.order, SortOrder::Desc);
        assert_eq!((query.active, query.search), (None, None));
    }

    #[test]
    fn valid_values_are_read() {
        let ListQuery(query) =
            ListQuery::<Sample>::parse("page=3&limit=100&order=asc&is_active=false&search=+ada+").unwrap();
        assert_eq!((query.page.page(), query.page.limit()), (3, 100));
        assert_eq!(query.order, SortOrder::Asc);
        assert_eq!(query.active, Some(false));
        assert_eq!(query.search.as_deref(), Some("ada"));
    }

    #[test]
    fn every_bad_parameter_is_listed() {
        assert_eq!(
            fields("page=0&limit=500&order=up&is_active=yes&search=abcdefghijklmno&colour=red"),
            [
                "page:OUT_OF_RANGE",
                "limit:OUT_OF_RANGE",
                "order:INVALID_CHOICE",
                "is_active:INVALID_CHOICE",
                "search:TOO_LONG",
                "colour:UNKNOWN_FIELD",
            ]
        );
    }

    #[test]
    fn uuids_and_timestamps_are_read_or_named() {
        let mut params = QueryParams::parse(
            "id=0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d&at=2026-11-23T11:00:00+01:00&z=2026-11-23T10:00:00.5Z&bad=x&late=2026-13-01T00:00:00Z",
        );
        assert_eq!(params.uuid("id").map(|id| id.to_string()).as_deref(), Some("0192f0c4-5f8e-7c4a-9d2b-4b8e1f0a6c3d"));
        let at = params.timestamp("at").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-23T10:00:00+00:00", "an unencoded `+` is read as one");
        assert_eq!(params.timestamp("z").unwrap().timestamp_subsec_millis(), 500);
        assert_eq!(params.uuid("bad"), None);
        assert_eq!(params.timestamp("late"), None);
        let errors = params.finish().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| format!("{}:{}", e.field, e.code)).collect();
        assert_eq!(fields, ["bad:INVALID_FORMAT", "late:INVALID_FORMAT"]);
    }

    #[test]
    fn non_numbers_and_repeated_parameters_are_refused() {
        assert_eq!(fields("page=two&limit=1&limit=2"), ["page:INVALID_FORMAT", "limit:DUPLICATE"]);
        assert_eq!(fields("page=-1"), ["page:INVALID_FORMAT"]);
    }
}
