//! Lindung's central server: receives synced changes, merges them, computes coverage.
//!
//! # Layout
//! - [`cli`]: command-line parsing and dispatch (`lindung-server …`).
//! - [`serve`]: logging, listening (plain HTTP, or TLS from certificate files), graceful shutdown.
//! - [`api`]: the HTTP API agents call (enrol, push, pull, token rotation), body limits and compression.
//! - [`duplicates`]: the duplicate-person queue (certain and probable groups, merge edits), without I/O.
//! - [`access`]: what a staff account may see and do, by role (staff, supervisor, viewer).
//! - [`dashboard`]: the staff web dashboard (server-rendered pages, sessions, CSRF).
//! - [`staff_api`]: the staff API (`/api/v1/staff/…`: coverage, reference, duplicates, conflicts, audit).
//! - [`openapi`]: the OpenAPI document served at `/api/v1/openapi.json`.
//! - [`ingest`]: what a push batch does (dedup, validation, scope, clock bound, merge), without I/O.
//! - [`storage`]: the [`storage::Storage`] trait and its SQLite and PostgreSQL backends.
//! - [`reconcile`]: staff commands for the duplicate queue and the conflict log.
//! - [`reference`]: reference data per region and year (denominators, baselines, targets) from CSV.
//! - [`secrets`]: enrolment codes and device tokens (random, stored hashed).
//! - [`region_summary`]: what the embedded region data holds, per level and kind.
//! - [`audit`]: the audit log helper every staff command calls (NIKs masked).
//! - [`report`]: coverage figures per region, for `coverage` and `export coverage`.
//! - [`export`]: `.csv`/`.xlsx` exports of coverage and registrations, written atomically.

// The OpenAPI document is one `json!` literal (`openapi::operations`).
#![recursion_limit = "256"]

pub mod access;
pub mod api;
pub mod audit;
pub mod backup;
pub mod bundle;
pub mod cli;
pub mod dashboard;
pub mod duplicates;
pub mod export;
pub mod ingest;
pub mod metrics;
pub mod openapi;
pub mod persons;
pub mod reconcile;
pub mod reference;
pub mod region_summary;
pub mod report;
pub mod secrets;
pub mod serve;
pub mod staff_api;
pub mod storage;
