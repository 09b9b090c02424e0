//! The problem documents of projects and their members.

use forge_application::projects::{ProjectConflict, ProjectError};

use crate::problem::{Problem, ProblemCode};

impl From<ProjectError> for Problem {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::NotFound => Self::not_found("no such project"),
            ProjectError::MemberNotFound => Self::not_found("the project has no such member"),
            ProjectError::UserNotFound => Self::not_found("no such user"),
            ProjectError::Forbidden => Self::new(ProblemCode::Forbidden, "you are not allowed to do this"),
            ProjectError::Validation(errors) => Self::validation(errors),
            ProjectError::Conflict(conflict) => conflict.into(),
            ProjectError::Stale(staleness) => Self::stale(staleness, "the project or membership"),
            ProjectError::Unexpected(e) => e.into(),
        }
    }
}

impl From<ProjectConflict> for Problem {
    fn from(conflict: ProjectConflict) -> Self {
        let code = match conflict {
            ProjectConflict::NameTaken => ProblemCode::ProjectNameTaken,
            ProjectConflict::AlreadyMember => ProblemCode::AlreadyMember,
            ProjectConflict::OwnerCannotLeave => ProblemCode::OwnerCannotLeave,
            ProjectConflict::OwnerCannotBeDemoted => ProblemCode::OwnerCannotBeDemoted,
            ProjectConflict::AlreadyOwner => ProblemCode::AlreadyOwner,
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
    fn every_project_error_maps_to_its_status_and_code() {
        for (error, detail) in [
            (ProjectError::NotFound, "no such project"),
            (ProjectError::MemberNotFound, "the project has no such member"),
            (ProjectError::UserNotFound, "no such user"),
        ] {
            assert_eq!(assert_maps(error.into(), 404, "NOT_FOUND").detail(), detail);
        }
        assert_maps(ProjectError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(ProjectError::Validation(two_errors()).into(), 422, "VALIDATION_FAILED");
        assert_maps(ProjectError::Stale(Staleness::Precondition).into(), 412, "PRECONDITION_FAILED");
        assert_maps(ProjectError::Stale(Staleness::LostRace).into(), 409, "CONCURRENT_UPDATE");
        assert_maps(ProjectError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }

    #[test]
    fn every_project_conflict_has_a_code_of_its_own() {
        for (conflict, code) in [
            (ProjectConflict::NameTaken, "PROJECT_NAME_TAKEN"),
            (ProjectConflict::AlreadyMember, "ALREADY_MEMBER"),
            (ProjectConflict::OwnerCannotLeave, "OWNER_CANNOT_LEAVE"),
            (ProjectConflict::OwnerCannotBeDemoted, "OWNER_CANNOT_BE_DEMOTED"),
            (ProjectConflict::AlreadyOwner, "ALREADY_OWNER"),
        ] {
            let problem = assert_maps(ProjectError::Conflict(conflict).into(), 409, code);
            assert_eq!(problem.detail(), conflict.to_string());
        }
    }
}
