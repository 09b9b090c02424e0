//! Account flows mailed to the user: e-mail verification, password reset by a mailed link, and
//! password change with the current password.
//!
//! Tokens are 256 random bits, stored only as SHA-256 digests with their purpose, the address
//! they were sent to and their expiry (24 hours for verification, 1 hour for reset, by default).
//! They work once: redeeming one deletes it in the same transaction as the change it allows, so
//! two requests racing with one token cannot both succeed. Issuing a token discards the account's
//! earlier ones of the same purpose. Every way a token can be unusable (unknown, used, expired,
//! another purpose, another address, an account that may not log in) answers the same
//! `INVALID_TOKEN` on the field `token`, and changes nothing.

mod changes;
mod errors;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;
pub(crate) mod tokens;

pub use changes::AccountTokenChange;
pub use errors::AccountError;
pub use service::{AccountPorts, AccountService, ChangePasswordCommand, ForgotPasswordCommand, ResetPasswordCommand};
