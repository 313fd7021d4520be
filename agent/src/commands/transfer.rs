//! `import FILE` and `export FILE`: spreadsheets from and for village offices.
//!
//! An import validates every row like `register` does and saves valid rows in
//! batches (one transaction per batch, so a killed import keeps every finished
//! batch whole). A row already on this laptop with the same values counts as
//! unchanged, so importing the same file again creates nothing; a row from a
//! Lindung export (it has an `ID` column) updates its registration. Refused
//! rows go to a report beside the file (`<name>.laporan.csv`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lindung_shared::lang::Lang;
use lindung_shared::region::regions;
use serde_json::json;

use crate::actions::{ImportReport, import_file};
use crate::output::{Outcome, print_json, problem};
use crate::spreadsheet::{ExportRow, ImportDefaults, report_path_for, write_export, write_report};
use crate::store::{ListFilter, Store};

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The spreadsheet: .csv, .tsv, .xlsx, .xls or .ods (column names: docs/import.md).
    pub file: PathBuf,
    /// Payer for rows that leave it empty (apbd, apbdes, csr, baznas, self, ...).
    #[arg(long)]
    pub payer: Option<String>,
    /// Payer name for rows that leave it empty.
    #[arg(long)]
    pub payer_name: Option<String>,
    /// Consent method for rows that leave it empty (signed_form, verbal, electronic, public_task).
    #[arg(long)]
    pub consent: Option<String>,
    /// Consent reference for rows that leave it empty.
    #[arg(long)]
    pub consent_ref: Option<String>,
    /// Village code for rows that leave it empty.
    #[arg(long)]
    pub village: Option<String>,
    /// Category for rows that leave it empty.
    #[arg(long)]
    pub category: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `import`: exit code 0 when every row was taken, 1 when some were refused.
pub fn import(store: &mut Store, args: &ImportArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let defaults = ImportDefaults {
        payer: args.payer.clone(),
        payer_name: args.payer_name.clone(),
        consent_method: args.consent.clone(),
        consent_reference: args.consent_ref.clone(),
        village_code: args.village.clone(),
        category: args.category.clone(),
    };
    let progress = progress_bar(lang, args.json);
    let report = import_file(store, &args.file, &defaults, &|| progress.inc(1))
        .map_err(|e| anyhow::anyhow!("{}", e.message(lang)))?;
    progress.finish_and_clear();

    let report_path = report_path_for(&args.file);
    let written = if report.problems.is_empty() {
        // A report from an earlier run would describe rows that are now fine.
        if report_path.exists() {
            std::fs::remove_file(&report_path)
                .with_context(|| format!("removing {}", report_path.display()))?;
        }
        None
    } else {
        write_report(&report_path, &report.problems).map_err(|e| problem(e, lang))?;
        Some(report_path)
    };
    print_import_summary(&report, written.as_deref(), args, lang)?;
    Ok(Outcome::from_bool(report.refused == 0))
}

fn progress_bar(lang: Lang, json_output: bool) -> ProgressBar {
    if json_output || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let template = match lang {
        Lang::Id => "{spinner} {pos} baris dibaca ({per_sec}) {elapsed}",
        Lang::En => "{spinner} {pos} rows read ({per_sec}) {elapsed}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

fn print_import_summary(
    summary: &ImportReport,
    report: Option<&Path>,
    args: &ImportArgs,
    lang: Lang,
) -> anyhow::Result<()> {
    if args.json {
        return print_json(&json!({
            "read": summary.read,
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "refused": summary.refused,
            "report": report,
            "unknown_columns": summary.unknown_columns,
        }));
    }
    let file = args.file.display();
    match lang {
        Lang::Id => {
            println!("Impor {file}: {} baris dibaca", summary.read);
            println!(
                "  {} baru disimpan, {} diperbarui, {} sudah ada tanpa perubahan, {} ditolak",
                summary.created, summary.updated, summary.unchanged, summary.refused
            );
            if let Some(report) = report {
                println!("  Alasan setiap baris yang ditolak: {}", report.display());
            }
            if !summary.unknown_columns.is_empty() {
                println!(
                    "  Kolom tidak dikenal (diabaikan): {}",
                    summary.unknown_columns.join(", ")
                );
            }
        }
        Lang::En => {
            println!("Import {file}: {} rows read", summary.read);
            println!(
                "  {} new saved, {} updated, {} already here unchanged, {} refused",
                summary.created, summary.updated, summary.unchanged, summary.refused
            );
            if let Some(report) = report {
                println!("  Why each refused row was refused: {}", report.display());
            }
            if !summary.unknown_columns.is_empty() {
                println!(
                    "  Unknown columns (ignored): {}",
                    summary.unknown_columns.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The file to write: .csv or .xlsx (holds full NIKs: hand it only to the village office).
    pub file: PathBuf,
    /// Only this village (code).
    #[arg(long)]
    pub village: Option<String>,
    /// Only villages inside this district, regency or province (code).
    #[arg(long)]
    pub region: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `export`.
pub fn export(store: &Store, args: &ExportArgs, lang: Lang) -> anyhow::Result<Outcome> {
    let code = |text: &Option<String>| {
        text.as_deref()
            .and_then(lindung_shared::region::normalize_code)
    };
    let filter = ListFilter {
        village_code: code(&args.village),
        region_prefix: code(&args.region),
        ..ListFilter::default()
    };
    let listed = store.list(&filter).map_err(|e| problem(e, lang))?;
    let rows: Vec<ExportRow> = listed
        .into_iter()
        .map(|l| {
            let village = regions().get(&l.registration.village_code);
            let district = village
                .and_then(|v| v.parent_code())
                .and_then(|d| regions().get(d));
            ExportRow {
                village_name: village.map(|v| v.name.to_owned()),
                district_name: district.map(|d| d.name.to_owned()),
                registration: l.registration,
            }
        })
        .collect();
    write_export(&args.file, &rows).map_err(|e| problem(e, lang))?;
    if args.json {
        print_json(&json!({ "file": args.file, "registrations": rows.len() }))?;
    } else {
        match lang {
            Lang::Id => println!(
                "{} pendaftaran ditulis ke {} (berisi NIK lengkap).",
                rows.len(),
                args.file.display()
            ),
            Lang::En => println!(
                "{} registrations written to {} (contains full NIKs).",
                rows.len(),
                args.file.display()
            ),
        }
    }
    Ok(Outcome::Success)
}
