//! Installation-wide statistics for admins and managers: how many users (active, inactive,
//! admins, new today and this week) and projects there are, computed by one aggregate query per
//! table and cached for up to a minute.

pub mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use service::{DashboardError, DashboardService, DashboardStats, ProjectCounts, UserCounts};
