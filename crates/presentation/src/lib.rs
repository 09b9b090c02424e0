//! # forge-presentation
//!
//! Forge's HTTP layer: it turns requests into use-case calls and their results into responses.
//!
//! This crate is responsible for HTTP only: routing, extracting and checking the shape of
//! requests, status codes and headers, problem documents, pagination links, middleware and the
//! OpenAPI document. It must not hold business rules (those are in `forge-application` and
//! `forge-domain`, so every caller gets the same rules) and it never touches storage: it depends
//! on the application's use cases, never on `forge-infrastructure`.
//!
//! The server crate builds an [`AppState`] from its wiring and calls [`build_app`] once per
//! worker; `forge openapi` prints [`openapi()`].

pub mod account;
pub mod api_keys;
pub mod app;
pub mod audit;
pub mod auth;
pub mod conditional;
pub mod dashboard;
pub mod exports;
pub mod extract;
pub mod jobs;
pub mod limits;
pub mod links;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod openapi_exact;
pub mod pagination;
pub mod problem;
pub mod projects;
#[cfg(test)]
mod properties;
pub mod realtime;
mod routing;
pub mod service;
pub mod telemetry;
pub mod timestamps;
pub mod users;

#[cfg(test)]
mod testing;

pub use app::{AppState, HttpSettings, build_app};
pub use openapi::openapi;
pub use problem::{Problem, ProblemCode, ProblemDocument};
