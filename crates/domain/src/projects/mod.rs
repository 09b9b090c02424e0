//! Projects: a named piece of work, its owner and its members, and the rules that hold between
//! them (exactly one owner, who cannot be removed, demoted or leave; ownership moves only by
//! transfer).

mod description;
mod id;
mod membership;
mod name;
mod project;
mod role;
mod status;
#[cfg(test)]
mod tests;

pub use description::{ProjectDescription, ProjectDescriptionError};
pub use id::ProjectId;
pub use membership::{Membership, MembershipError, MembershipParts};
pub use name::{ProjectName, ProjectNameError};
pub use project::{NewProject, Project, ProjectParts, ProjectStateError};
pub use role::{ProjectRole, ProjectRoleError};
pub use status::{ProjectStatus, ProjectStatusError};
