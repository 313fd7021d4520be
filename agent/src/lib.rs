//! Lindung's field agent: runs on an officer's laptop, works fully offline.
//!
//! # Layout
//! - [`cli`]: command-line parsing and dispatch (`lindung-agent …`).
//! - [`commands`]: one module per command; each prints for people or as JSON.
//! - [`output`]: how results reach the terminal (tables, JSON, exit codes).
//! - [`session`]: where the data lives and how the passphrase is asked.
//! - [`store`]: the encrypted local SQLite store, its outbox and the merge rule applied locally.
//! - [`spreadsheet`]: importing registrations from `.csv`/`.xlsx` files, the
//!   row-by-row problem report, and exports back to `.csv`/`.xlsx`.
//! - [`sync`]: enrolment, push/pull with the server, the background sync loop.
//! - [`actions`]: what the officer does, shared by the command line and the UI.
//! - [`ui`]: `lindung-agent serve`, the officer's web UI on this laptop.

pub mod actions;
pub mod bundle;
pub mod cli;
pub mod commands;
pub mod output;
pub mod session;
pub mod spreadsheet;
pub mod store;
pub mod sync;
pub mod ui;
