//! End-to-end tests: the real binaries, driven as an officer or an operator would.
//!
//! One test binary for the whole suite (it links once; see ARCHITECTURE.md).

// All of this crate is test code: a failed step must stop the test with its reason.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod agent_import;
mod agent_ui;
mod agent_workflow;
mod audit_export;
mod browser;
mod bundle;
mod chaos;
mod coverage;
mod crash;
mod dashboard;
mod field;
mod nik_cli;
mod ops;
mod packaging;
mod quickstart;
mod reconcile;
mod region_cli;
mod schema;
mod server_cli;
mod simulation;
mod staff_api;
mod sync;
mod tls;
