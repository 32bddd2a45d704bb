//! The provisioning API's handlers, one file per area.

pub mod certs;
pub mod cluster;
pub mod devices;
pub mod ops;
pub mod users;
