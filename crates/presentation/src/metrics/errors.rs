//! The problem documents of operational figures.

use forge_application::metrics::MetricsError;

use crate::problem::{Problem, ProblemCode};

impl From<MetricsError> for Problem {
    fn from(e: MetricsError) -> Self {
        match e {
            MetricsError::Forbidden => Self::new(ProblemCode::Forbidden, "only admins may see operational figures"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::testing::assert_maps;

    #[test]
    fn metrics_errors_map_to_their_status_and_code() {
        assert_maps(MetricsError::Forbidden.into(), 403, "FORBIDDEN");
    }
}
