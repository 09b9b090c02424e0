//! Users management: one's own profile, and administration of every account.

mod changes;
mod draft;
mod errors;
pub mod policy;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use changes::{UserChange, UserConstraint};
pub(crate) use draft::{AccountDraft, check_password};
pub use errors::{UserConflict, UserError};
pub use service::{
    CreateUserCommand, MAX_BULK_USERS, NewAdminCommand, ProfileUpdate, UserPorts, UserService, UserUpdate,
};
