//! Projects and their members: starting, reading, changing and deleting projects
//! ([`ProjectService`], in `service`), managing members (`members`) and handing a project over
//! (`transfer`), with the permissions of [`policy`] and the audit entries of `audit_trail`.

mod audit_trail;
mod changes;
mod errors;
mod members;
pub mod policy;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;
mod transfer;

pub use changes::{ProjectChange, ProjectConstraint};
pub use errors::{ProjectConflict, ProjectError};
pub use members::{AddMemberCommand, ChangeRoleCommand, MemberList, MemberRef, MemberView};
pub use service::{CreateProjectCommand, ProjectPorts, ProjectScope, ProjectService, ProjectUpdate};
pub use transfer::TransferCommand;
