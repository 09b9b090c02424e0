//! Projects and their members: starting, reading, changing and deleting projects, managing
//! members and handing a project over, with the permissions of [`policy`].

mod changes;
mod errors;
pub mod policy;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use changes::{ProjectChange, ProjectConstraint};
pub use errors::{ProjectConflict, ProjectError};
pub use service::{
    AddMemberCommand, ChangeRoleCommand, CreateProjectCommand, MemberList, MemberRef, MemberView, ProjectPorts,
    ProjectScope, ProjectService, ProjectUpdate, TransferCommand,
};
