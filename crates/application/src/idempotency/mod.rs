//! Idempotent creation: a client that sends `Idempotency-Key` with a creating request may repeat
//! it (after a timeout, a dropped connection) and get the first response again instead of a
//! second resource.
//!
//! The HTTP layer fingerprints the request (method, path, body) and asks
//! [`IdempotencyService::begin`]: the first request with a key claims it and runs; once it has
//! answered, its response is kept for the retention period ([`IdempotencySettings::ttl`], 24 h
//! by default) and replayed to every repeat with the same fingerprint. A repeat with another
//! fingerprint is refused (the key was reused for a different request), and so is a repeat while
//! the first still runs. A request that failed on the server's side releases its key, so a retry
//! runs again. Keys belong to a caller: two callers never see each other's.
//!
//! Claims are stored through [`IdempotencyStore`](ports::IdempotencyStore), so they hold across
//! every instance sharing the database.

mod key;
pub mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use key::{IdempotencyKey, IdempotencyKeyError};
pub use service::{Begin, Claim, IdempotencyCaller, IdempotencyService, IdempotencySettings};
