//! `POST /exports`: what to export, in which format, with the filters of the resource's list.

use forge_application::{
    audit::ports::AuditLogQuery,
    common::{FieldError, ValidationErrors},
    exports::{ExportFilters, ExportFormat, ExportResource},
    projects::ports::ProjectQuery,
    users::ports::UserQuery,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::extract::{
    json::JsonRequest,
    query::{FromQuery, QueryParams},
};

/// What an export may be of.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "read only by the OpenAPI generator: the request takes the name and checks it")]
pub enum ApiExportResource {
    /// Users (admins and managers).
    Users,
    /// Projects: every one for admins, one's own for anyone else.
    Projects,
    /// The audit trail (admins and managers).
    AuditLogs,
}

/// The file's format.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code, reason = "read only by the OpenAPI generator: the request takes the name and checks it")]
pub enum ApiExportFormat {
    /// CSV (RFC 4180) with a header line; cells a spreadsheet would run as formulas start with `'`.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// An export to write.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateExportRequest {
    /// What to export.
    #[schema(value_type = ApiExportResource)]
    pub resource: String,
    /// The file's format.
    #[schema(value_type = ApiExportFormat)]
    pub format: String,
    /// The filters of the resource's list endpoint, as an object of strings, booleans and
    /// numbers: users `search`, `role`, `is_active`, `is_verified`; projects `search`,
    /// `status`, `owner_id`; audit logs `actor_id`, `entity_type`, `entity_id`, `project_id`,
    /// `action`, `from`, `to`. Paging and sorting do not apply (rows come in creation order).
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"role": "member", "is_active": true}))]
    pub filters: Option<Map<String, Value>>,
}

impl JsonRequest for CreateExportRequest {
    const FIELDS: &'static [&'static str] = &["resource", "format", "filters"];
    const REQUIRED: &'static [&'static str] = &["resource", "format"];
}

/// List parameters that mean nothing for an export.
pub(crate) const NOT_FILTERS: &[&str] = &["page", "limit", "sort", "order", "scope"];

impl CreateExportRequest {
    /// The application's filters and format, checked as the resource's list checks them.
    ///
    /// # Errors
    /// Every bad filter, named `filters.<name>`.
    pub fn into_parts(self) -> Result<(ExportFilters, ExportFormat), ValidationErrors> {
        let mut errors = Vec::new();
        let format = ExportFormat::from_name(&self.format);
        if format.is_none() {
            errors.push(FieldError::new("format", "INVALID_CHOICE", "must be one of: csv, ndjson"));
        }
        let resource = ExportResource::from_name(&self.resource);
        if resource.is_none() {
            errors.push(FieldError::new("resource", "INVALID_CHOICE", "must be one of: users, projects, audit_logs"));
        }
        let mut pairs = Vec::new();
        for (name, value) in self.filters.unwrap_or_default() {
            let field = format!("filters.{name}");
            if NOT_FILTERS.contains(&name.as_str()) {
                errors.push(FieldError::new(field, "UNKNOWN_FIELD", "is not a filter of this resource"));
                continue;
            }
            match value {
                Value::String(s) => pairs.push((name, s)),
                Value::Bool(b) => pairs.push((name, b.to_string())),
                Value::Number(n) => pairs.push((name, n.to_string())),
                _ => errors.push(FieldError::new(field, "INVALID_TYPE", "must be a string, a boolean or a number")),
            }
        }
        let mut params = QueryParams::from_pairs(pairs);
        let filters = match resource.unwrap_or(ExportResource::Users) {
            ExportResource::Users => ExportFilters::Users(UserQuery::from_query(&mut params).filter),
            ExportResource::Projects => ExportFilters::Projects(ProjectQuery::from_query(&mut params).filter),
            ExportResource::AuditLogs => ExportFilters::AuditLogs(AuditLogQuery::from_query(&mut params).filter),
        };
        if let Err(found) = params.finish() {
            errors.extend(found.into_errors().into_iter().map(|mut e| {
                e.field = format!("filters.{}", e.field);
                if e.message == "is not a parameter of this endpoint" {
                    e.message = "is not a filter of this resource".into();
                }
                e
            }));
        }
        match format {
            Some(format) if errors.is_empty() && resource.is_some() => Ok((filters, format)),
            _ => Err(ValidationErrors::new(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(resource: &str, filters: Value) -> Result<(ExportFilters, ExportFormat), Vec<String>> {
        let Value::Object(filters) = filters else { panic!("an object") };
        CreateExportRequest { resource: resource.into(), format: "csv".into(), filters: Some(filters) }
            .into_parts()
            .map_err(|e| e.into_errors().into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect())
    }

    #[test]
    fn filters_are_read_as_the_list_reads_them() {
        let (filters, format) = parts("users", serde_json::json!({"role": "manager", "is_active": true})).unwrap();
        assert_eq!(format, ExportFormat::Csv);
        let ExportFilters::Users(filter) = filters else { panic!("users") };
        assert_eq!(filter.role, Some(forge_domain::users::Role::Manager));
        assert_eq!(filter.is_active, Some(true));
    }

    #[test]
    fn every_bad_filter_is_named_under_filters() {
        let errors =
            parts("users", serde_json::json!({"role": "king", "page": 2, "colour": "red", "is_active": [true]}))
                .unwrap_err();
        let mut errors = errors;
        errors.sort();
        assert_eq!(
            errors,
            [
                "filters.colour:UNKNOWN_FIELD",
                "filters.is_active:INVALID_TYPE",
                "filters.page:UNKNOWN_FIELD",
                "filters.role:INVALID_CHOICE"
            ]
        );
        let errors = parts("audit_logs", serde_json::json!({"actor_id": "nope"})).unwrap_err();
        assert_eq!(errors, ["filters.actor_id:INVALID_FORMAT"]);
    }
}
