//! One module per `lindung-agent` command.

pub mod admin;
pub mod bundle;
pub mod nik;
pub mod region;
pub mod registration;
pub mod sync;
pub mod transfer;
