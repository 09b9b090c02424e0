//! Users management: one's own profile, and administration of every account.

pub mod ports;
