//! API keys: long-lived credentials for scripts and services, each owned by a user and limited
//! to a set of scopes.
//!
//! A key is `sk_` followed by 43 base64url characters (256 random bits). Only the SHA-256 digest
//! of the whole key is stored, with a short visible prefix (`sk_` and the next 8 characters) so
//! that a user can tell keys apart in a list. The key itself is shown once, when it is created.

mod key;
mod name;
mod scope;

pub use key::{
    ApiKey, ApiKeyId, ApiKeyParts, ApiKeyState, ExpiryError, KEY_PREFIX, NewApiKey, TOUCH_INTERVAL, parse_expiry,
};
pub use name::{ApiKeyName, ApiKeyNameError};
pub use scope::{AccessIntent, ApiKeyScope, ApiKeyScopes, ScopeError};
