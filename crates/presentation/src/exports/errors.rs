//! The problem documents of exports.

use forge_application::exports::ExportError;

use crate::problem::{Problem, ProblemCode};

impl From<ExportError> for Problem {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Forbidden => Self::new(ProblemCode::Forbidden, "you are not allowed to export this"),
            ExportError::NotFound => Self::not_found("no such export"),
            ExportError::NotReady(status) => {
                Self::new(ProblemCode::Conflict, format!("the export is {status}: its file cannot be downloaded"))
            }
            ExportError::Validation(errors) => Self::validation(errors),
            ExportError::Unexpected(e) => e.into(),
        }
    }
}
