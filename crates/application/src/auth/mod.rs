//! Authentication: registration, login, token refresh, logout, and turning a bearer credential
//! into an [`Actor`](crate::Actor).

pub mod ports;
