//! The problem documents of the dashboard.

use forge_application::dashboard::DashboardError;

use crate::problem::{Problem, ProblemCode};

impl From<DashboardError> for Problem {
    fn from(e: DashboardError) -> Self {
        match e {
            DashboardError::Forbidden => {
                Self::new(ProblemCode::Forbidden, "only admins and managers may see the statistics")
            }
            DashboardError::Unexpected(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use forge_application::common::UnexpectedError;

    use super::*;
    use crate::problem::testing::assert_maps;

    #[test]
    fn dashboard_errors_map_to_their_status_and_code() {
        assert_maps(DashboardError::Forbidden.into(), 403, "FORBIDDEN");
        assert_maps(DashboardError::Unexpected(UnexpectedError::internal("boom")).into(), 500, "INTERNAL");
    }
}
