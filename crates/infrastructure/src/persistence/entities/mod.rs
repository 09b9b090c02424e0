//! SeaORM entities: the shape of the rows, and nothing else. They never leave this crate;
//! repositories map them to and from domain types.

pub(crate) mod account_tokens;
pub(crate) mod api_keys;
pub(crate) mod audit_logs;
pub(crate) mod export_chunks;
pub(crate) mod exports;
pub(crate) mod idempotency_keys;
pub(crate) mod live_events;
pub(crate) mod login_throttles;
pub(crate) mod outbox_events;
pub(crate) mod project_members;
pub(crate) mod projects;
pub(crate) mod refresh_tokens;
pub(crate) mod sessions;
pub(crate) mod users;
pub(crate) mod ws_tickets;
