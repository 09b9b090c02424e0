//! Exports: a user asks for a file of users, projects or audit entries (with the filters of
//! their lists), a worker writes it in batches while its progress rises, and the user downloads
//! it until it expires.
//!
//! The file is kept as numbered chunks beside the export, each written in the same transaction
//! as the progress and the position it reaches: whichever instance serves the download reads
//! what whichever worker wrote, and a worker killed half-way leaves the export to be resumed
//! after its last chunk, so every row is written once.

mod model;
pub mod ports;
mod service;

pub use model::{Cell, Export, ExportFilters, ExportFormat, ExportId, ExportResource, ExportStatus, Progress};
pub use service::{
    AUDIT_COLUMNS, ExportError, ExportPorts, ExportService, ExportSettings, PROJECT_COLUMNS, USER_COLUMNS,
};
