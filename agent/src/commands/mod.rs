//! One module per `lindung-agent` command.

pub mod nik;
pub mod region;
