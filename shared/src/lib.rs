//! Lindung's pure domain core, shared by the field agent and the central server.
//!
//! Nothing in this crate performs I/O: no files, no network, no clock, no
//! database. Time and identifiers are passed in, so every rule here is a plain
//! function over values and can be tested (and property-tested) in isolation.
//!
//! # Layout
//! - [`lang`]: languages and the [`lang::Problem`] trait every error and warning implements.
//! - [`nik`]: the NIK (national ID number): masked [`nik::Nik`] value, validation
//!   against region codes, derived sex and birth date, mismatch warnings.
//! - [`phone`]: Indonesian phone numbers normalised to E.164 (`+62…`).

pub mod lang;
pub mod nik;
pub mod phone;
