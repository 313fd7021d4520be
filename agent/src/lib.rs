//! Lindung's field agent: runs on an officer's laptop, works fully offline.
//!
//! # Layout
//! - [`cli`]: command-line parsing and dispatch (`lindung-agent …`).
//! - [`commands`]: one module per command; each prints for people or as JSON.
//! - [`output`]: how results reach the terminal (tables, JSON, exit codes).
//! - [`spreadsheet`]: importing registrations from `.csv`/`.xlsx` files, the
//!   row-by-row problem report, and exports back to `.csv`/`.xlsx`.

pub mod cli;
pub mod commands;
pub mod output;
pub mod spreadsheet;
