//! Users management: one's own profile, and administration of every account ([`UserService`],
//! in `service`), with bulk creation in `bulk`.

mod bulk;
mod changes;
mod draft;
mod errors;
pub mod policy;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use bulk::MAX_BULK_USERS;
pub use changes::{UserChange, UserConstraint};
pub(crate) use draft::{AccountDraft, check_password};
pub use errors::{UserConflict, UserError};
pub use service::{CreateUserCommand, NewAdminCommand, ProfileUpdate, UserPorts, UserService, UserUpdate};
