//! The problem documents of the account flows.

use forge_application::account::AccountError;

use crate::problem::Problem;

impl From<AccountError> for Problem {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Validation(errors) => Self::validation(errors),
            AccountError::Stale(staleness) => Self::stale(staleness, "the account"),
            AccountError::Unexpected(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use forge_application::common::{Staleness, UnexpectedError, ValidationErrors};

    use super::*;
    use crate::problem::testing::assert_maps;

    #[test]
    fn every_account_error_maps_to_its_status_and_code() {
        let token = ValidationErrors::single("token", "INVALID_TOKEN", "is invalid, expired or already used");
        let problem = assert_maps(AccountError::Validation(token).into(), 422, "VALIDATION_FAILED");
        assert_eq!(problem.document().errors[0].code, "INVALID_TOKEN");
        assert_maps(AccountError::Stale(Staleness::LostRace).into(), 409, "CONCURRENT_UPDATE");
        assert_maps(AccountError::Unexpected(UnexpectedError::unavailable("down")).into(), 503, "SERVICE_UNAVAILABLE");
    }
}
