//! Command-line interface of `lindung-server`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::region_summary::RegionSummary;

/// Lindung central server: sync, merge, duplicate detection and coverage.
/// Server pusat Lindung: sinkronisasi, penggabungan, deteksi ganda dan cakupan.
#[derive(Debug, Parser)]
#[command(name = "lindung-server", version, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The server's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the region codes built into this server: counts per level and kind, and their source.
    Regions {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Regions { json } => show_regions(json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn show_regions(json: bool) -> anyhow::Result<()> {
    let summary = RegionSummary::of(lindung_shared::region::regions());
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{summary}");
    }
    Ok(())
}
