//! The problem documents of users management.

use forge_application::users::{UserConflict, UserError};

use crate::problem::{Problem, ProblemCode};

impl From<UserError> for Problem {
    fn from(e: UserError) -> Self {
        match e {
            UserError::NotFound => Self::not_found("no such user"),
            UserError::Forbidden => Self::new(ProblemCode::Forbidden, "you are not allowed to do this"),
            UserError::Validation(errors) => Self::validation(errors),
            UserError::Conflict(conflict) => conflict.into(),
            UserError::Stale(staleness) => Self::stale(staleness, "the user"),
            UserError::Unexpected(e) => e.into(),
        }
    }
}

impl From<UserConflict> for Problem {
    fn from(conflict: UserConflict) -> Self {
        let code = match conflict {
            UserConflict::EmailTaken => ProblemCode::EmailTaken,
            UserConflict::UsernameTaken => ProblemCode::UsernameTaken,
            UserConflict::SelfDemotion => ProblemCode::SelfDemotion,
            UserConflict::SelfDeletion => ProblemCode::SelfDeletion,
            UserConflict::NotDeleted => ProblemCode::NotDeleted,
        };
        Self::new(code, conflict.to_string())
    }
}

#[cfg(test)]
mod tests {
    use forge_application::common::{Staleness, UnexpectedError};

    use super::*;
    use crate::problem::testing::{assert_maps, two_errors};

    #[test]
    fn every_user_error_maps_to_its_status_and_code() {
        assert_maps(UserError::NotFound.into(), 404, "NOT_FOUND");
        assert_maps(UserError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(UserError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(UserError::Stale(Staleness::Precondition).into(), 412, "PRECONDITION_FAILED");
        assert_maps(UserError::Stale(Staleness::LostRace).into(), 409, "CONCURRENT_UPDATE");
        assert_maps(UserError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }

    #[test]
    fn every_user_conflict_has_a_code_of_its_own() {
        for (conflict, code) in [
            (UserConflict::EmailTaken, "EMAIL_TAKEN"),
            (UserConflict::UsernameTaken, "USERNAME_TAKEN"),
            (UserConflict::SelfDemotion, "SELF_DEMOTION"),
            (UserConflict::SelfDeletion, "SELF_DELETION"),
            (UserConflict::NotDeleted, "NOT_DELETED"),
        ] {
            let problem = assert_maps(UserError::Conflict(conflict).into(), 409, code);
            assert_eq!(problem.detail(), conflict.to_string());
        }
    }
}
