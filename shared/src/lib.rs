//! Lindung's pure domain core, shared by the field agent and the central server.
//!
//! Nothing in this crate performs I/O: no files, no network, no clock, no
//! database. Time and identifiers are passed in, so every rule here is a plain
//! function over values and can be tested (and property-tested) in isolation.
//! The region codes are compiled in (see `build.rs`), not read at run time.
//!
//! # Layout
//! - [`lang`]: languages and the [`lang::Problem`] trait every error and warning implements.
//! - [`region`]: the Kemendagri region codes of all 83,762 villages, lookups and type-ahead search.
//! - [`nik`]: the NIK (national ID number): masked [`nik::Nik`] value, validation
//!   against region codes, derived sex and birth date, mismatch warnings.
//! - [`phone`]: Indonesian phone numbers normalised to E.164 (`+62…`).
//! - [`person_name`]: person-name keys (titles, old spelling, name variants) and the similarity
//!   that decides whether two differently written names are probably the same person.
//! - [`ids`]: typed UUID identifiers of records, devices, officers and server stores.
//! - [`registration`]: the registration, its fields and closed vocabularies.
//! - [`validation`]: from typed or imported text to registration fields, every problem at once.
//! - [`hlc`]: hybrid logical clock timestamps that order every change.
//! - [`merge`]: operations and the last-writer-wins merge rule that keeps every overwritten value.
//! - [`coverage`]: contribution rates, coverage against a denominator, gap, cost and pace.
//! - [`protocol`]: the versioned sync messages between agent and server.

#[cfg(any(feature = "bundle", test))]
pub mod bundle;
#[cfg(any(feature = "cli", test))]
pub mod config;
pub mod coverage;
pub mod hex;
pub mod hlc;
pub mod ids;
pub mod lang;
pub mod merge;
pub mod nik;
pub mod person_name;
pub mod phone;
pub mod protocol;
pub mod region;
pub mod registration;
pub mod validation;
