//! Authentication: registration, login, token refresh, logout, and turning a bearer credential
//! into an [`Actor`](crate::Actor).

mod errors;
pub mod ports;
pub(crate) mod service;
#[cfg(test)]
mod tests;

pub use errors::{AdmissionError, AuthenticateError, LoginError, LogoutError, RefreshError, RegisterError};
pub use service::{
    AccessPurpose, AuthPorts, AuthService, AuthSettings, LoginCommand, LoginOutcome, RefreshCommand, RegisterCommand,
    TokenPair,
};
