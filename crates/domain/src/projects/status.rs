use std::{fmt, str::FromStr};

use crate::FieldViolation;

/// Whether a project is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProjectStatus {
    /// In use (the state of a new project).
    Active,
    /// Kept for reference; it stays readable and can be made active again.
    Archived,
}

impl ProjectStatus {
    /// Every status.
    pub const ALL: [Self; 2] = [Self::Active, Self::Archived];

    /// The stable lower-case name used in storage and in the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

/// A status name that is not `active` or `archived`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: active, archived")]
pub struct ProjectStatusError;

impl FieldViolation for ProjectStatusError {
    fn code(&self) -> &'static str {
        "INVALID_CHOICE"
    }
}

impl FromStr for ProjectStatus {
    type Err = ProjectStatusError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw).ok_or(ProjectStatusError)
    }
}

impl fmt::Display for ProjectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for status in ProjectStatus::ALL {
            assert_eq!(status.as_str().parse::<ProjectStatus>(), Ok(status));
        }
        assert_eq!("Active".parse::<ProjectStatus>(), Err(ProjectStatusError));
        assert_eq!("deleted".parse::<ProjectStatus>(), Err(ProjectStatusError));
        assert_eq!(ProjectStatusError.code(), "INVALID_CHOICE");
    }
}
