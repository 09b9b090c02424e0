//! # forge-domain
//!
//! The heart of Forge: entities, value objects and the rules that hold for one aggregate.
//!
//! This crate is pure. It performs no I/O, knows no framework (no tokio, no database, no HTTP) and
//! its code is synchronous. Every value object has exactly one way in, a parsing constructor, so
//! that once a value such as [`users::Email`] exists it is known to be valid and no other layer
//! checks it again.

#![warn(missing_docs)]

pub mod account_tokens;
pub mod api_keys;
pub mod error;
pub mod projects;
pub mod sessions;
pub mod users;

mod text;

pub use error::FieldViolation;
