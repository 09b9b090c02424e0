//! The problem documents of reading the audit trail.

use forge_application::audit::AuditLogError;

use crate::problem::{Problem, ProblemCode};

impl From<AuditLogError> for Problem {
    fn from(e: AuditLogError) -> Self {
        match e {
            AuditLogError::Forbidden => Self::new(ProblemCode::Forbidden, "only admins may read the audit trail"),
            AuditLogError::Validation(errors) => Self::validation(errors),
            AuditLogError::Unexpected(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use forge_application::common::UnexpectedError;

    use super::*;
    use crate::problem::testing::{assert_maps, two_errors};

    #[test]
    fn every_audit_log_error_maps_to_its_status_and_code() {
        assert_maps(AuditLogError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(AuditLogError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(AuditLogError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }
}
