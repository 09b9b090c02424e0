//! # forge
//!
//! Forge's use cases, embedded in another Rust service: one builder connects to SQLite or
//! PostgreSQL, migrates, and wires every use case with the adapters and defaults the `forge`
//! server itself uses (it is built on this crate), so an embedding service gets the same rules,
//! the same lockout, the same session checks and the same tokens as the HTTP API.
//!
//! ```no_run
//! use forge::prelude::*;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let forge = Forge::builder("sqlite://data/app.db").jwt_secret("a-secret-of-at-least-32-bytes!!!").build().await?;
//! let ada = forge
//!     .auth
//!     .register(RegisterCommand {
//!         email: "ada@example.com".into(),
//!         username: "ada".into(),
//!         password: SecretString::from("Analytical-Engine-1843!"),
//!         full_name: None,
//!         context: ClientContext::default(),
//!     })
//!     .await?;
//! forge.shutdown(std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! What it is responsible for: building the adapters (`forge-infrastructure`) behind the
//! application's ports, applying the schema, and owning the background work (mail delivery, the
//! purge of expired idempotency keys) until [`Forge::shutdown`]. What it must not do: hold a
//! rule of its own. No HTTP type and no SeaORM, minijinja or lettre type appears in its API.
//!
//! Features: `postgres` and `smtp` (both on by default) can be left out by an embedder that runs
//! on SQLite and delivers mail to files or to a queue of its own; `mocks` exposes `mockall` mocks
//! of every port; `testing` the in-memory fakes of every port and `testing::InMemory`, every use
//! case with no database.

mod builder;
pub mod prelude;
mod relay;

pub use builder::{BuildError, Forge, ForgeBuilder, JobCensus, JobServices, MailDelivery};
pub use forge_application as application;
pub use forge_application::exports::ExportSettings;
/// In-memory fakes of every port, and every use case wired over them (`testing::InMemory`).
#[cfg(feature = "testing")]
pub use forge_application::testing;
pub use forge_domain as domain;
/// The job engine: its settings, the administration of jobs.
pub use forge_infrastructure::jobs::{JobEngine, JobRecord, JobSettings, JobState, QueueSettings};
#[cfg(feature = "smtp")]
pub use forge_infrastructure::mail::{SmtpConfig, SmtpSecurity};
pub use forge_infrastructure::{Backend, CacheSettings, CacheStats, HashingPoolSettings, HashingPoolStats, QueryStats};
pub use relay::DELIVERED_RETENTION;
