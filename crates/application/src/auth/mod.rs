//! Authentication: registration, login, token refresh, logout, one's own sessions (list, end one,
//! end all), and turning a bearer access token into an [`Actor`](crate::Actor).

mod changes;
mod errors;
pub mod ports;
pub(crate) mod service;
mod sessions;
#[cfg(test)]
mod sessions_tests;
#[cfg(test)]
mod tests;

pub use changes::SessionChange;
pub use errors::{
    AdmissionError, AuthenticateError, LoginError, LogoutError, RefreshError, RegisterError, SessionError,
};
pub use service::{
    AccessPurpose, AuthPorts, AuthService, AuthSettings, LoginCommand, LoginOutcome, RefreshCommand, RegisterCommand,
    TokenPair,
};
pub use sessions::{SessionQuery, SessionSort, SessionSummary};
