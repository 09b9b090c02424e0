//! # forge-server
//!
//! The composition root: the only crate that knows every concrete type. It reads and validates
//! configuration, picks the adapters (embedded SQLite and in-process stores, or PostgreSQL),
//! builds the use cases and starts the HTTP server. It holds no business rule and no HTTP
//! handling of its own.

pub mod cli;
pub mod commands;
pub mod config;
pub mod log_format;
pub mod metrics;
pub mod startup;
pub mod telemetry;

pub use config::Settings;
pub use startup::{Application, Overrides};
