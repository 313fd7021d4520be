//! Lindung's central server: receives synced changes, merges them, computes coverage.
//!
//! # Layout
//! - [`cli`]: command-line parsing and dispatch (`lindung-server …`).
//! - [`region_summary`]: what the embedded region data holds, per level and kind.

pub mod cli;
pub mod region_summary;
