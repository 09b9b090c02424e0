use std::{fmt, str::FromStr};

use crate::FieldViolation;

/// A member's role in one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProjectRole {
    /// Exactly one per project: may do everything, including deleting the project and handing it
    /// over. Only a transfer makes someone owner.
    Owner,
    /// Edits the project and manages its members (adds them, removes anyone but the owner).
    Maintainer,
    /// Reads the project and its members; may leave.
    Viewer,
}

impl ProjectRole {
    /// Every role, from most to least powerful.
    pub const ALL: [Self; 3] = [Self::Owner, Self::Maintainer, Self::Viewer];

    /// The roles that can be granted by adding a member or changing a member's role: every role
    /// but [`ProjectRole::Owner`], which moves only by transfer.
    pub const GRANTABLE: [Self; 2] = [Self::Maintainer, Self::Viewer];

    /// The stable lower-case name used in storage and in the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Maintainer => "maintainer",
            Self::Viewer => "viewer",
        }
    }
}

/// A role name that is not `owner`, `maintainer` or `viewer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: owner, maintainer, viewer")]
pub struct ProjectRoleError;

impl FieldViolation for ProjectRoleError {
    fn code(&self) -> &'static str {
        "INVALID_CHOICE"
    }
}

impl FromStr for ProjectRole {
    type Err = ProjectRoleError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw).ok_or(ProjectRoleError)
    }
}

impl fmt::Display for ProjectRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for role in ProjectRole::ALL {
            assert_eq!(role.as_str().parse::<ProjectRole>(), Ok(role));
        }
        assert_eq!("admin".parse::<ProjectRole>(), Err(ProjectRoleError));
        assert_eq!("Owner".parse::<ProjectRole>(), Err(ProjectRoleError));
    }

    #[test]
    fn owner_is_not_grantable() {
        assert!(!ProjectRole::GRANTABLE.contains(&ProjectRole::Owner));
        assert_eq!(ProjectRole::GRANTABLE.len() + 1, ProjectRole::ALL.len());
    }
}
