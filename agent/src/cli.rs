//! Command-line interface of `lindung-agent`.
//!
//! Messages are in Bahasa Indonesia unless `--lang en` (or `LINDUNG_LANG=en`)
//! asks for English. Every command can print `--json` for scripts.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lindung_shared::lang::Lang;

use crate::commands;
use crate::output::Outcome;

/// Lindung field agent: register workers for BPJS Ketenagakerjaan, offline.
/// Agen lapangan Lindung: pendaftaran pekerja BPJS Ketenagakerjaan tanpa internet.
#[derive(Debug, Parser)]
#[command(name = "lindung-agent", version, propagate_version = true)]
pub struct Cli {
    /// Language of messages: id (Bahasa Indonesia) or en (English).
    #[arg(long, global = true, env = "LINDUNG_LANG", default_value = "id")]
    pub lang: Lang,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The agent's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check NIKs: verdict, derived sex and birth date, district of registration.
    /// Periksa NIK: sah atau tidak, jenis kelamin, tanggal lahir, kecamatan.
    Nik(commands::nik::NikArgs),
    /// Look up a region code, or search regions by name.
    /// Cari kode wilayah, atau cari wilayah berdasarkan nama.
    Region(commands::region::RegionArgs),
}

/// Parses the command line, runs the command and turns the result into an exit code:
/// 0 success, 1 the command ran but found something invalid or missing, 2 an error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = cli.lang;
    let result = match cli.command {
        Command::Nik(args) => commands::nik::run(&args, lang),
        Command::Region(args) => commands::region::run(&args, lang),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(error) if crate::output::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let label = match lang {
                Lang::Id => "galat",
                Lang::En => "error",
            };
            eprintln!("{label}: {error:#}");
            ExitCode::from(2)
        }
    }
}
