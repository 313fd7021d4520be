//! Exports for staff: coverage per region and the registrations of a
//! region, as `.csv` or `.xlsx` (`lindung-server export …`).
//!
//! - A file is written to a temporary file in the target's directory and
//!   renamed over the target at the end, so a failed export never leaves a
//!   half-written file. The file is readable by its owner only.
//! - Registrations are read a page at a time
//!   ([`Storage::records_in_region`]) and written as they come: memory stays
//!   bounded however many records a region holds (`.xlsx` in constant-memory
//!   mode, continuing on a new sheet past Excel's row limit).
//! - **The full NIK never leaves in a bulk export**: the NIK column holds
//!   [`Nik::masked`](lindung_shared::nik::Nik::masked).
//! - The CLI records every export in the audit log ([`crate::audit`]).

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use lindung_shared::coverage::Coverage;
use lindung_shared::ids::{OfficerId, RecordId};
use lindung_shared::lang::Lang;
use lindung_shared::region::regions;
use lindung_shared::registration::Registration;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};
use time::Date;

use crate::report::RegionCoverage;
use crate::storage::{Storage, StorageError};

/// Records read per page when exporting registrations.
const PAGE_SIZE: u32 = 1_000;

/// Rows of an Excel sheet, the header included.
const XLSX_MAX_ROWS: u32 = 1_048_576;

/// The file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Comma-separated, UTF-8 with a byte-order mark (Excel reads the names right).
    Csv,
    /// An Excel workbook; code columns are text, so Excel never rounds them.
    Xlsx,
}

impl ExportFormat {
    /// Its lower-case name, as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
        }
    }
}

/// Why an export failed (the target file is then left as it was).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The file (or its temporary sibling) could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The target file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The CSV writer failed.
    #[error("cannot write {path}: {source}")]
    Csv {
        /// The target file.
        path: PathBuf,
        /// Why.
        source: csv::Error,
    },
    /// The workbook could not be built or saved.
    #[error("cannot write {path}: {source}")]
    Xlsx {
        /// The target file.
        path: PathBuf,
        /// Why.
        source: XlsxError,
    },
    /// Reading the data failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The columns of `export coverage`.
const COVERAGE_HEADERS: &[&str] = &[
    "Kode wilayah / Region code",
    "Nama wilayah / Region name",
    "Tingkat / Level",
    "Penduduk bekerja / Working population",
    "Peserta di luar Lindung / Baseline",
    "Terdaftar lewat Lindung / Persons via Lindung",
    "Cakupan % / Coverage %",
    "Target %",
    "Kekurangan (orang) / Gap (persons)",
    "Biaya menutup kekurangan per tahun (Rp) / Yearly cost to close the gap (Rp)",
    "Laju per 30 hari / Pace per 30 days",
    "Target tercapai / Target date",
];

/// The columns of `export registrations`.
const REGISTRATION_HEADERS: &[&str] = &[
    "ID rekaman / Record id",
    "NIK (disamarkan / masked)",
    "Nama lengkap / Full name",
    "Tanggal lahir / Birth date",
    "Jenis kelamin / Sex",
    "Kode desa / Village code",
    "Nama desa / Village name",
    "Kategori / Category",
    "Penanggung iuran / Payer",
    "Program / Programmes",
    "Status",
    "Didaftarkan oleh / Registered by",
    "Waktu daftar (UTC) / Registered at (UTC)",
];

/// Writes coverage rows (as [`crate::report`] computes them) to `path`;
/// returns the number of rows written. A region without a denominator has
/// empty cells for every figure but its persons.
pub fn write_coverage(
    path: &Path,
    format: ExportFormat,
    rows: &[RegionCoverage],
) -> Result<u64, ExportError> {
    let mut sheet = SheetWriter::create(path, format, "Cakupan", COVERAGE_HEADERS, &[0])?;
    for row in rows {
        sheet.write(&coverage_cells(row))?;
    }
    sheet.finish()
}

fn coverage_cells(row: &RegionCoverage) -> Vec<Cell> {
    let level = row
        .level
        .map_or("negara / country", |level| level.name(Lang::Id));
    let mut cells = vec![
        Cell::Text(row.region_code.clone()),
        Cell::Text(row.region_name.clone()),
        Cell::Text(level.to_owned()),
    ];
    let optional = |n: Option<u64>| n.map_or(Cell::Empty, Cell::Number);
    match row.coverage {
        Coverage::NoDenominator { persons } => {
            cells.extend([Cell::Empty, Cell::Empty, Cell::Number(persons)]);
            cells.extend(std::iter::repeat_n(Cell::Empty, 6));
        }
        Coverage::Measured(f) => cells.extend([
            Cell::Number(f.working_population),
            Cell::Number(f.covered.saturating_sub(f.persons)),
            Cell::Number(f.persons),
            Cell::Hundredths(f.coverage_bp),
            f.target_bp
                .map_or(Cell::Empty, |bp| Cell::Hundredths(u64::from(bp))),
            optional(f.gap_persons),
            optional(f.gap_cost_per_year),
            Cell::Number(f.pace_per_30_days),
            f.target_reached_on.map_or(Cell::Empty, Cell::Date),
        ]),
    }
    cells
}

/// Writes every active registration in the region whose code starts with
/// `region_prefix` to `path`, a page at a time; returns the number of rows.
pub async fn write_registrations(
    storage: &dyn Storage,
    region_prefix: &str,
    path: &Path,
    format: ExportFormat,
) -> Result<u64, ExportError> {
    let officers: HashMap<OfficerId, String> = storage
        .officers()
        .await?
        .into_iter()
        .map(|officer| (officer.id, officer.name))
        .collect();
    let mut sheet = SheetWriter::create(
        path,
        format,
        "Pendaftaran",
        REGISTRATION_HEADERS,
        &[0, 1, 5],
    )?;
    let mut after: Option<RecordId> = None;
    loop {
        let page = storage
            .records_in_region(region_prefix, after, PAGE_SIZE)
            .await?;
        let Some(last_id) = page.last_id else {
            break;
        };
        for registration in &page.registrations {
            sheet.write(&registration_cells(registration, &officers))?;
        }
        after = Some(last_id);
    }
    sheet.finish()
}

fn registration_cells(
    registration: &Registration,
    officers: &HashMap<OfficerId, String>,
) -> Vec<Cell> {
    let village_name = regions()
        .get(&registration.village_code)
        .map(|village| village.name.to_owned())
        .unwrap_or_default();
    let payer = match &registration.payer.name {
        Some(name) => format!("{} ({name})", registration.payer.kind.label(Lang::Id)),
        None => registration.payer.kind.label(Lang::Id).to_owned(),
    };
    let programmes = registration
        .programmes
        .list()
        .iter()
        .map(|p| p.code().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ");
    let officer = registration.origin.officer_id;
    let registered_by = officers
        .get(&officer)
        .cloned()
        .unwrap_or_else(|| officer.to_string());
    let registered_at = registration
        .origin
        .registered_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let status = if registration.is_active() {
        "aktif / active"
    } else {
        "ditarik / withdrawn"
    };
    vec![
        Cell::Text(registration.id.to_string()),
        Cell::Text(registration.nik.masked()),
        Cell::Text(registration.full_name.clone()),
        Cell::Date(registration.birth_date),
        Cell::Text(registration.sex.name(Lang::Id).to_owned()),
        Cell::Text(registration.village_code.clone()),
        Cell::Text(village_name),
        Cell::Text(registration.category.label(Lang::Id).to_owned()),
        Cell::Text(payer),
        Cell::Text(programmes),
        Cell::Text(status.to_owned()),
        Cell::Text(registered_by),
        Cell::Text(registered_at),
    ]
}

/// One cell of an export.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    /// A whole number (persons, rupiah).
    Number(u64),
    /// A number in hundredths (basis points as a percentage: 1697 → 16.97).
    Hundredths(u64),
    Date(Date),
}

/// Writes rows to a temporary file beside the target and renames it over
/// the target in [`SheetWriter::finish`]; dropped unfinished, it removes the
/// temporary file and leaves the target untouched.
struct SheetWriter {
    target: PathBuf,
    temporary: tempfile::NamedTempFile,
    kind: SheetKind,
    rows: u64,
}

enum SheetKind {
    Csv(Box<csv::Writer<BufWriter<std::fs::File>>>),
    Xlsx(Box<XlsxSheets>),
}

/// A workbook written in constant-memory mode: one sheet after another,
/// each up to Excel's row limit.
struct XlsxSheets {
    workbook: Workbook,
    name: &'static str,
    headers: &'static [&'static str],
    text_columns: &'static [u16],
    sheets: usize,
    next_row: u32,
    header_format: Format,
    text_format: Format,
    number_format: Format,
    hundredths_format: Format,
    date_format: Format,
}

impl SheetWriter {
    fn create(
        target: &Path,
        format: ExportFormat,
        name: &'static str,
        headers: &'static [&'static str],
        text_columns: &'static [u16],
    ) -> Result<SheetWriter, ExportError> {
        let io_error = |source| ExportError::Io {
            path: target.to_owned(),
            source,
        };
        let directory = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let file_name = target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = tempfile::Builder::new()
            .prefix(&format!(".{file_name}."))
            .suffix(".tmp")
            .tempfile_in(directory)
            .map_err(io_error)?;
        let kind = match format {
            ExportFormat::Csv => {
                let mut out = BufWriter::new(temporary.reopen().map_err(io_error)?);
                out.write_all("\u{feff}".as_bytes()).map_err(io_error)?;
                let mut writer = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                writer
                    .write_record(headers)
                    .map_err(|source| ExportError::Csv {
                        path: target.to_owned(),
                        source,
                    })?;
                SheetKind::Csv(Box::new(writer))
            }
            ExportFormat::Xlsx => {
                let mut sheets = XlsxSheets {
                    workbook: Workbook::new(),
                    name,
                    headers,
                    text_columns,
                    sheets: 0,
                    next_row: 0,
                    header_format: Format::new().set_bold(),
                    text_format: Format::new().set_num_format("@"),
                    number_format: Format::new().set_num_format("#,##0"),
                    hundredths_format: Format::new().set_num_format("0.00"),
                    date_format: Format::new().set_num_format("yyyy-mm-dd"),
                };
                sheets.new_sheet().map_err(|source| ExportError::Xlsx {
                    path: target.to_owned(),
                    source,
                })?;
                SheetKind::Xlsx(Box::new(sheets))
            }
        };
        Ok(SheetWriter {
            target: target.to_owned(),
            temporary,
            kind,
            rows: 0,
        })
    }

    fn write(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        match &mut self.kind {
            SheetKind::Csv(writer) => {
                let record = cells.iter().map(|cell| match cell {
                    Cell::Empty => String::new(),
                    Cell::Text(text) => guard_formula(text),
                    Cell::Number(n) => n.to_string(),
                    Cell::Hundredths(n) => format!("{}.{:02}", n / 100, n % 100),
                    Cell::Date(date) => date.to_string(),
                });
                writer
                    .write_record(record)
                    .map_err(|source| ExportError::Csv {
                        path: self.target.clone(),
                        source,
                    })?;
            }
            SheetKind::Xlsx(sheets) => {
                sheets.write(cells).map_err(|source| ExportError::Xlsx {
                    path: self.target.clone(),
                    source,
                })?;
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Completes the file and moves it into place; returns the rows written.
    fn finish(self) -> Result<u64, ExportError> {
        let SheetWriter {
            target,
            temporary,
            kind,
            rows,
        } = self;
        let io_error = |source| ExportError::Io {
            path: target.clone(),
            source,
        };
        match kind {
            SheetKind::Csv(writer) => {
                let out = writer
                    .into_inner()
                    .map_err(|error| io_error(error.into_error()))?;
                let file = out
                    .into_inner()
                    .map_err(|error| io_error(error.into_error()))?;
                file.sync_all().map_err(io_error)?;
            }
            SheetKind::Xlsx(mut sheets) => {
                sheets
                    .workbook
                    .save(temporary.path())
                    .map_err(|source| ExportError::Xlsx {
                        path: target.clone(),
                        source,
                    })?;
            }
        }
        temporary
            .persist(&target)
            .map_err(|error| io_error(error.error))?;
        Ok(rows)
    }
}

impl XlsxSheets {
    /// Starts a sheet (`Pendaftaran`, `Pendaftaran (2)`, …) with the header row.
    fn new_sheet(&mut self) -> Result<(), XlsxError> {
        self.sheets += 1;
        let name = if self.sheets == 1 {
            self.name.to_owned()
        } else {
            format!("{} ({})", self.name, self.sheets)
        };
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        for (index, header) in self.headers.iter().enumerate() {
            let col = u16::try_from(index).unwrap_or(u16::MAX);
            sheet.set_column_width(col, 22)?;
            if self.text_columns.contains(&col) {
                sheet.set_column_format(col, &self.text_format)?;
            }
            sheet.write_string_with_format(0, col, *header, &self.header_format)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        self.next_row = 1;
        Ok(())
    }

    fn write(&mut self, cells: &[Cell]) -> Result<(), XlsxError> {
        if self.next_row >= XLSX_MAX_ROWS {
            self.new_sheet()?;
        }
        let line = self.next_row;
        let index = self.sheets - 1;
        let sheet = self.workbook.worksheet_from_index(index)?;
        for (col, cell) in cells.iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            match cell {
                Cell::Empty => {}
                Cell::Text(text) if text.is_empty() => {}
                Cell::Text(text) => {
                    sheet.write_string(line, col, text)?;
                }
                // Persons and rupiah stay far below 2^53: exact in an f64.
                Cell::Number(n) => {
                    sheet.write_number_with_format(line, col, *n as f64, &self.number_format)?;
                }
                Cell::Hundredths(n) => {
                    sheet.write_number_with_format(
                        line,
                        col,
                        *n as f64 / 100.0,
                        &self.hundredths_format,
                    )?;
                }
                Cell::Date(date) => {
                    let when = ExcelDateTime::from_ymd(
                        u16::try_from(date.year()).unwrap_or(1900),
                        u8::from(date.month()),
                        date.day(),
                    )?;
                    sheet.write_datetime_with_format(line, col, &when, &self.date_format)?;
                }
            }
        }
        self.next_row += 1;
        Ok(())
    }
}

/// Text that Excel would run as a formula when opening a CSV file (`=`, `+`,
/// `-`, `@` first) gets an apostrophe in front.
fn guard_formula(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lindung_shared::coverage::{CoverageInput, coverage};

    fn row(code: &str, working_population: Option<u64>) -> RegionCoverage {
        let figures = coverage(&CoverageInput {
            working_population,
            baseline: 150,
            include_baseline: true,
            persons: 20,
            target_bp: Some(2830),
            registered_last_30_days: 20,
            yearly_cost_per_person: 12 * 16_800,
            today: time::macros::date!(2026 - 01 - 01),
        });
        RegionCoverage {
            region_code: code.into(),
            region_name: "Kabupaten Solok Selatan".into(),
            level: lindung_shared::region::Level::of_code_len(code.len()),
            working_population,
            baseline: Some(150),
            coverage: figures,
        }
    }

    #[test]
    fn coverage_csv_has_figures_and_empty_cells_without_a_denominator() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cakupan.csv");
        let rows = [row("1311", Some(1000)), row("1312", None)];
        let written = write_coverage(&path, ExportFormat::Csv, &rows).expect("written");
        assert_eq!(written, 2);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[1],
            "1311,Kabupaten Solok Selatan,kabupaten/kota,1000,150,20,17.00,28.30,113,22780800,20,2026-06-20"
        );
        assert_eq!(
            lines[2],
            "1312,Kabupaten Solok Selatan,kabupaten/kota,,,20,,,,,,"
        );
        // Nothing but the file itself is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn a_failed_export_leaves_no_file_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("missing").join("cakupan.xlsx");
        assert!(matches!(
            write_coverage(&path, ExportFormat::Xlsx, &[]),
            Err(ExportError::Io { .. })
        ));
        let path = dir.path().join("cakupan.xlsx");
        let mut sheet =
            SheetWriter::create(&path, ExportFormat::Xlsx, "Cakupan", COVERAGE_HEADERS, &[0])
                .expect("created");
        sheet
            .write(&coverage_cells(&row("1311", Some(1000))))
            .expect("row");
        drop(sheet);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }
}
