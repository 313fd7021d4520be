//! End-to-end tests: the real binaries, driven as an officer or an operator would.
//!
//! One test binary for the whole suite (it links once; see ARCHITECTURE.md).

mod agent_workflow;
mod crash;
mod nik_cli;
mod region_cli;
mod server_cli;
