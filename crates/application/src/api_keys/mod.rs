//! API keys: issuing, listing and revoking one's own keys, and turning a presented key into an
//! [`Actor`](crate::Actor).
//!
//! Who may do what: any user manages its own keys, from a session (an API-key actor may not
//! create, list or revoke keys, so a leaked key cannot mint more); admins may also read and
//! revoke anyone's key. A key authenticates its owner as long as it is neither revoked nor
//! expired and the owner may still act, checked on every request; its scopes decide whether the
//! request's intent (read or write) is allowed.

mod changes;
mod errors;
pub mod policy;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use changes::ApiKeyChange;
pub use errors::{ApiKeyAuthError, ApiKeyError};
pub use service::{ApiKeyPorts, ApiKeyService, CreateApiKeyCommand, CreatedApiKey};
