//! `import FILE` and `export FILE`: spreadsheets from and for village offices.
//!
//! An import validates every row like `register` does and saves valid rows in
//! batches (one transaction per batch, so a killed import keeps every finished
//! batch whole). A row already on this laptop with the same values counts as
//! unchanged, so importing the same file again creates nothing; a row from a
//! Lindung export (it has an `ID` column) updates its registration. Refused
//! rows go to a report beside the file (`<name>.laporan.csv`).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lindung_shared::ids::RecordId;
use lindung_shared::lang::{Lang, Message};
use lindung_shared::nik::Nik;
use lindung_shared::region::regions;
use lindung_shared::registration::Change;
use lindung_shared::validation::{ValidationContext, validate_registration};
use serde_json::json;

use crate::output::{Outcome, now, print_json, problem, today};
use crate::spreadsheet::{
    ExportRow, ImportDefaults, RowProblem, SheetColumns, read_rows, report_path_for, write_export,
    write_report,
};
use crate::store::{ListFilter, POSSIBLE_DUPLICATE, Store, changes_between};

/// Rows saved per transaction: large enough for speed, small enough that a
/// crash loses little work (the unsaved rows are simply imported again).
/// Every commit rewrites the index pages its rows touched (NIKs and birth
/// dates land all over their indexes): 2,000 rows per commit wrote 40 % fewer
/// bytes than 500 and imported about a quarter faster (BENCHMARKS.md).
const BATCH_ROWS: usize = 2000;

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

/// What an import did, row by row.
#[derive(Debug, Default, serde::Serialize)]
struct ImportSummary {
    read: usize,
    created: usize,
    updated: usize,
    unchanged: usize,
    refused: usize,
    report: Option<PathBuf>,
    unknown_columns: Vec<String>,
}

/// A refusal of one row that is not a validation error: a duplicate.
fn duplicate_problem(
    line: usize,
    code: &str,
    message_id: String,
    message_en: String,
    columns: &SheetColumns,
) -> RowProblem {
    let message = Message {
        code: code.to_owned(),
        severity: lindung_shared::lang::Severity::Error,
        field: Some("nik".into()),
        message_id,
        message_en,
    };
    RowProblem::from_message(line, &message, columns)
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
    let rows = read_rows(&args.file, &defaults).map_err(|e| problem(e, lang))?;
    let columns = rows.columns().clone();
    let mut summary = ImportSummary {
        unknown_columns: columns.unknown().iter().map(|c| c.header.clone()).collect(),
        ..ImportSummary::default()
    };
    let progress = progress_bar(lang, args.json);
    let now = now();
    let context = ValidationContext {
        regions: regions(),
        today: today(),
        now,
    };
    let mut problems: Vec<RowProblem> = Vec::new();
    let mut batch: Vec<(RecordId, Vec<Change>)> = Vec::new();
    let mut niks_seen: HashSet<Nik> = HashSet::new();

    store.begin_read().map_err(|e| problem(e, lang))?;
    for row in rows {
        let row = row.map_err(|e| problem(e, lang))?;
        summary.read += 1;
        progress.inc(1);
        let valid = match (
            row.problems.is_empty(),
            validate_registration(&row.input, &context),
        ) {
            (true, Ok(valid)) => valid,
            (_, Ok(_)) => {
                problems.extend(row.problems.clone());
                summary.refused += 1;
                continue;
            }
            (_, Err(invalid)) => {
                problems.extend(row.problems_with(&invalid.messages(), &columns));
                summary.refused += 1;
                continue;
            }
        };
        if !niks_seen.insert(valid.nik) {
            problems.push(duplicate_problem(
                row.line,
                "duplicate_nik_in_file",
                format!(
                    "NIK {} muncul lebih dari sekali di berkas ini; baris ini dilewati.",
                    valid.nik.masked()
                ),
                format!(
                    "NIK {} appears more than once in this file; this row was skipped.",
                    valid.nik.masked()
                ),
                &columns,
            ));
            summary.refused += 1;
            continue;
        }
        // A row exported by Lindung names its registration: update it.
        let exported = match row.id {
            Some(id) => store.find(&id.to_string()).map_err(|e| problem(e, lang))?,
            None => None,
        };
        let same_nik = store
            .find_by_nik(&valid.nik)
            .map_err(|e| problem(e, lang))?;
        let target = exported.or_else(|| same_nik.first().cloned());
        if let Some(existing) = target {
            let clash = same_nik
                .iter()
                .any(|r| r.registration.id != existing.registration.id);
            if clash {
                problems.push(duplicate_problem(
                    row.line,
                    "duplicate_nik",
                    format!("NIK {} sudah terdaftar untuk pendaftaran lain; baris ini tidak disimpan.", valid.nik.masked()),
                    format!("NIK {} is already registered for another registration; this row was not saved.", valid.nik.masked()),
                    &columns,
                ));
                summary.refused += 1;
                continue;
            }
            let changes = changes_between(&existing.registration, &valid);
            if changes.is_empty() {
                summary.unchanged += 1;
            } else {
                batch.push((existing.registration.id, changes));
                summary.updated += 1;
            }
        } else {
            let confirmed = valid
                .confirmed_warnings
                .iter()
                .any(|c| c == POSSIBLE_DUPLICATE);
            let candidates = store
                .probable_duplicates(&valid)
                .map_err(|e| problem(e, lang))?;
            if !candidates.is_empty() && !confirmed {
                let other = &candidates[0].registration;
                problems.push(duplicate_problem(
                    row.line,
                    POSSIBLE_DUPLICATE,
                    format!(
                        "Mungkin orang yang sama dengan {} ({}): desa dan tanggal lahir sama, nama mirip. Jika orang berbeda, isi kolom Peringatan Dikonfirmasi dengan possible_duplicate.",
                        other.full_name,
                        other.nik.masked()
                    ),
                    format!(
                        "Probably the same person as {} ({}): same village and birth date, similar name. If it is someone else, put possible_duplicate in the Confirmed Warnings column.",
                        other.full_name,
                        other.nik.masked()
                    ),
                    &columns,
                ));
                summary.refused += 1;
                continue;
            }
            let registration = store.new_registration(valid, !candidates.is_empty(), now);
            batch.push((registration.id, registration.to_changes()));
            summary.created += 1;
        }
        if batch.len() >= BATCH_ROWS {
            store.end_read().map_err(|e| problem(e, lang))?;
            store
                .apply_local_batch(std::mem::take(&mut batch), now)
                .map_err(|e| problem(e, lang))?;
            store.begin_read().map_err(|e| problem(e, lang))?;
        }
    }
    store.end_read().map_err(|e| problem(e, lang))?;
    if !batch.is_empty() {
        store
            .apply_local_batch(batch, now)
            .map_err(|e| problem(e, lang))?;
    }
    progress.finish_and_clear();

    let report_path = report_path_for(&args.file);
    if problems.is_empty() {
        // A report from an earlier run would describe rows that are now fine.
        if report_path.exists() {
            std::fs::remove_file(&report_path)
                .with_context(|| format!("removing {}", report_path.display()))?;
        }
    } else {
        write_report(&report_path, &problems).map_err(|e| problem(e, lang))?;
        summary.report = Some(report_path);
    }
    print_import_summary(&summary, args, lang)?;
    Ok(Outcome::from_bool(summary.refused == 0))
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
    summary: &ImportSummary,
    args: &ImportArgs,
    lang: Lang,
) -> anyhow::Result<()> {
    if args.json {
        return print_json(summary);
    }
    let file = args.file.display();
    match lang {
        Lang::Id => {
            println!("Impor {file}: {} baris dibaca", summary.read);
            println!(
                "  {} baru disimpan, {} diperbarui, {} sudah ada tanpa perubahan, {} ditolak",
                summary.created, summary.updated, summary.unchanged, summary.refused
            );
            if let Some(report) = &summary.report {
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
            if let Some(report) = &summary.report {
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
