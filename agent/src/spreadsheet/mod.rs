//! Spreadsheets in and out: importing registrations from the `.csv` and
//! `.xlsx` files village offices keep, reporting what is wrong row by row,
//! and exporting registrations back to them.
//!
//! Village offices keep their lists of RT heads, fishermen and cadres in Excel
//! (or export them from it as CSV, often with `;` between cells because that is
//! Excel's list separator in the Indonesian locale). An import reads such a file
//! as it comes: [`read_rows`] maps the header row to
//! [`RegistrationInput`](lindung_shared::validation::RegistrationInput)
//! fields by the names people actually write, turns every cell into text
//! exactly as the office typed it, and repairs what Excel did to it (a phone
//! number that lost its leading 0, a date stored as a serial number). What
//! Excel destroyed beyond repair — a NIK typed as a number, whose 16th digit
//! Excel rounds away — becomes a problem on that row. Validation itself is
//! [`lindung_shared::validation::validate_registration`]'s job; this module
//! only delivers its input.
//!
//! Problems go to a report the office can open next to its file
//! ([`report_path_for`], [`write_report`]): one line per problem with the row
//! number as Excel shows it and the column as the office named it.
//!
//! [`write_export`] writes registrations to `.csv` or `.xlsx` under the same
//! header names the importer accepts first, so an exported file, corrected by
//! the village office, imports again cleanly.
//!
//! # Formats
//!
//! Chosen by extension, ignoring case: `.csv` and `.tsv` (streamed: a file of
//! any length is read in constant memory); `.xlsx` and `.xlsm` (the first
//! worksheet, streamed cell by cell: memory grows only with the workbook's
//! table of distinct texts); `.xlsb`, `.xls` and `.ods` (the first worksheet,
//! loaded whole). Anything else is
//! [`SheetError::UnsupportedFormat`]. Exports write `.csv` or `.xlsx`.
//!
//! In a CSV file the delimiter is the most frequent of `,`, `;` and tab on the
//! header line; a UTF-8 byte-order mark is skipped; a cell that is not valid
//! UTF-8 is read as Windows-1252 (what Excel writes for "CSV (Comma
//! delimited)"). In a workbook, the header row is the first of the first 20
//! rows that names at least two known columns, so a title line above the table
//! is skipped; row numbers stay those Excel shows.
//!
//! # Header names
//!
//! A header cell names a column when it equals one of the names below, or the
//! column's code, after folding: case, accents, spaces, underscores, dots,
//! dashes, `*` and `:` are ignored, and so is anything in parentheses
//! (`Tgl. Lahir (dd-mm-yyyy)` is `tgllahir`). The first name is the one
//! [`write_export`] writes. Required columns are marked †; those marked ‡ may
//! instead be given for the whole file by [`ImportDefaults`].
//!
//! | field (code) | accepted header names |
//! |---|---|
//! | `nik` † | NIK, No KTP, Nomor KTP, Nomor Induk Kependudukan, No NIK, KTP |
//! | `full_name` † | Nama Lengkap, Nama, Nama Sesuai KTP, Nama Peserta, Nama Pekerja, Full Name, Name |
//! | `birth_date` | Tanggal Lahir, Tgl Lahir, Birth Date, Date of Birth, DOB |
//! | `sex` | Jenis Kelamin, JK, L/P, Kelamin, Sex, Gender |
//! | `phone` | Nomor HP, No HP, HP, No Telp, Nomor Telepon, Telepon, Telp, WA, No WA, WhatsApp, Phone, Phone Number, Mobile |
//! | `village_code` † ‡ | Kode Desa, Kode Kelurahan, Kode Desa/Kelurahan, Kode Wilayah, Village Code |
//! | `rt` | RT |
//! | `rw` | RW |
//! | `address` | Alamat, Alamat Lengkap, Address |
//! | `category` † ‡ | Kategori, Kategori Pekerja, Pekerjaan, Jenis Pekerjaan, Category, Occupation |
//! | `jht` | Ikut JHT, JHT |
//! | `monthly_income` | Penghasilan per Bulan, Penghasilan, Upah, Penghasilan Bulanan, Monthly Income, Income |
//! | `payer` † ‡ | Penanggung Iuran, Sumber Dana, Pembayar, Payer, Funding Source |
//! | `payer_name` ‡ | Nama Penanggung, Nama Penanggung Iuran, Nama Pembayar, Payer Name |
//! | `consent_method` † ‡ | Cara Persetujuan, Persetujuan, Consent, Consent Method |
//! | `consent_reference` ‡ | Bukti Persetujuan, No Formulir, Nomor Formulir, Consent Reference |
//! | `confirmed_warnings` | Peringatan Dikonfirmasi, Confirmed Warnings |
//! | `id` | ID, ID Pendaftaran, Registration ID |
//! | `village_name` (read, ignored) | Nama Desa, Nama Kelurahan, Desa/Kelurahan, Village Name |
//! | `district_name` (read, ignored) | Kecamatan, Nama Kecamatan, District |
//! | `row_number` (read, ignored) | No, No Urut, Nomor Urut |
//!
//! Two headers naming the same field are [`SheetError::DuplicateColumn`];
//! missing required columns are one [`SheetError::MissingColumns`] listing
//! every one with its accepted names. Other headers are ignored and listed in
//! [`SheetColumns::unknown`] so the command can warn about them. The same
//! table, for offices, is in `docs/import.md`.
//!
//! # Personal data
//!
//! Imported rows and exported files hold full NIKs, names and phone numbers.
//! Exporting is a deliberate act for the village office: callers record an
//! audit entry for every export.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use lindung_shared::lang::{Lang, Problem, Severity};

mod columns;
mod export;
mod read;
mod report;

pub use columns::{Column, MappedColumn, SheetColumns, UnknownColumn, column_letter, header_key};
pub use export::{ExportRow, write_export};
pub use read::{SheetRows, SourceRow, read_rows};
pub use report::{REPORT_HEADER, RowProblem, report_path_for, write_report};

/// A spreadsheet format, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SheetFormat {
    /// Delimited text: `.csv` or `.tsv`.
    Csv,
    /// Office Open XML workbook: `.xlsx` or `.xlsm`.
    Xlsx,
    /// Excel binary workbook: `.xlsb`.
    Xlsb,
    /// Excel 97–2003 workbook: `.xls`.
    Xls,
    /// OpenDocument spreadsheet (LibreOffice): `.ods`.
    Ods,
}

/// The extensions [`read_rows`] accepts, for messages.
const READABLE: &str = ".csv, .tsv, .xlsx, .xlsm, .xlsb, .xls, .ods";

/// The extensions [`write_export`] accepts, for messages.
const WRITABLE: &str = ".csv, .xlsx";

impl SheetFormat {
    /// The format of a file to read, by its extension (any case).
    pub fn of_path(path: &Path) -> Result<SheetFormat, SheetError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv" | "tsv") => Ok(SheetFormat::Csv),
            Some("xlsx" | "xlsm") => Ok(SheetFormat::Xlsx),
            Some("xlsb") => Ok(SheetFormat::Xlsb),
            Some("xls") => Ok(SheetFormat::Xls),
            Some("ods") => Ok(SheetFormat::Ods),
            _ => Err(SheetError::UnsupportedFormat {
                path: path.to_owned(),
                accepted: READABLE,
            }),
        }
    }
}

/// Values that fill EMPTY cells of every row, for what an office states once
/// for a whole list ("all paid from Dana Desa, consent on signed forms").
///
/// A column covered by a default need not exist in the file. A cell that has
/// a value keeps it: the default never overrides what a row says. `None` and
/// blank text cover nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportDefaults {
    /// Who pays, as [`lindung_shared::registration::PayerKind`] parses it.
    pub payer: Option<String>,
    /// The paying institution.
    pub payer_name: Option<String>,
    /// How consent was obtained, as [`lindung_shared::registration::ConsentMethod`] parses it.
    pub consent_method: Option<String>,
    /// Form number, witness or legal basis of the consent.
    pub consent_reference: Option<String>,
    /// The 10-digit village code.
    pub village_code: Option<String>,
    /// Worker category, as [`lindung_shared::registration::Category`] parses it.
    pub category: Option<String>,
}

impl ImportDefaults {
    /// The default for a column, when one is given and not blank.
    pub fn get(&self, column: Column) -> Option<&str> {
        let value = match column {
            Column::Payer => &self.payer,
            Column::PayerName => &self.payer_name,
            Column::ConsentMethod => &self.consent_method,
            Column::ConsentReference => &self.consent_reference,
            Column::VillageCode => &self.village_code,
            Column::Category => &self.category,
            _ => return None,
        };
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Why a spreadsheet could not be read or written as a whole. Problems with
/// single rows are [`RowProblem`]s instead, so one bad row never stops an import.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// The extension is not one this module reads (or, for an export, writes).
    #[error("{path}: unsupported file type; use one of {accepted}")]
    UnsupportedFormat {
        /// The file.
        path: PathBuf,
        /// The accepted extensions.
        accepted: &'static str,
    },
    /// The file could not be opened or read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The workbook is damaged, protected, or not what its extension says.
    #[error("{path} is not a readable spreadsheet")]
    Workbook {
        /// The file.
        path: PathBuf,
        /// What the spreadsheet reader said.
        #[source]
        source: calamine::Error,
    },
    /// The workbook has no worksheet.
    #[error("{path} has no worksheet")]
    NoWorksheet {
        /// The file.
        path: PathBuf,
    },
    /// The file has no header row (it is empty).
    #[error("{path} is empty: the first row must hold the column headers")]
    NoHeader {
        /// The file.
        path: PathBuf,
    },
    /// Required columns are missing and no default covers them.
    #[error("{}", missing_columns_message(missing, Lang::En))]
    MissingColumns {
        /// The missing columns, in table order.
        missing: Vec<Column>,
    },
    /// Two header cells name the same field.
    #[error("columns \"{first}\" and \"{second}\" both mean {}; keep one of them", column.code())]
    DuplicateColumn {
        /// The field both name.
        column: Column,
        /// The first header, as written.
        first: String,
        /// The second header, as written.
        second: String,
    },
    /// The xlsx writer failed.
    #[error("cannot write the workbook {path}")]
    Xlsx {
        /// The file.
        path: PathBuf,
        /// What the writer said.
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
}

impl Problem for SheetError {
    fn code(&self) -> &'static str {
        match self {
            SheetError::UnsupportedFormat { .. } => "sheet_unsupported_format",
            SheetError::Read { .. } => "sheet_read",
            SheetError::Write { .. } => "sheet_write",
            SheetError::Workbook { .. } => "sheet_unreadable",
            SheetError::NoWorksheet { .. } => "sheet_no_worksheet",
            SheetError::NoHeader { .. } => "sheet_no_header",
            SheetError::MissingColumns { .. } => "sheet_missing_columns",
            SheetError::DuplicateColumn { .. } => "sheet_duplicate_column",
            SheetError::Xlsx { .. } => "sheet_write",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (SheetError::UnsupportedFormat { path, accepted }, Lang::Id) => format!(
                "{}: jenis berkas tidak didukung; gunakan salah satu dari {accepted}.",
                path.display()
            ),
            (SheetError::Read { path, .. }, Lang::Id) => {
                format!("Berkas {} tidak dapat dibaca.", path.display())
            }
            (SheetError::Write { path, .. } | SheetError::Xlsx { path, .. }, Lang::Id) => {
                format!("Berkas {} tidak dapat ditulis.", path.display())
            }
            (SheetError::Workbook { path, .. }, Lang::Id) => format!(
                "{} bukan lembar kerja yang dapat dibaca (rusak, dilindungi kata sandi, atau jenisnya tidak sesuai ekstensi).",
                path.display()
            ),
            (SheetError::NoWorksheet { path }, Lang::Id) => {
                format!("{} tidak berisi lembar kerja.", path.display())
            }
            (SheetError::NoHeader { path }, Lang::Id) => format!(
                "{} kosong: baris pertama harus berisi judul kolom.",
                path.display()
            ),
            (SheetError::MissingColumns { missing }, lang) => {
                missing_columns_message(missing, lang)
            }
            (
                SheetError::DuplicateColumn {
                    column,
                    first,
                    second,
                },
                Lang::Id,
            ) => format!(
                "Kolom \"{first}\" dan \"{second}\" sama-sama berarti {}; sisakan salah satu.",
                column.label(Lang::Id)
            ),
            (
                SheetError::DuplicateColumn {
                    column,
                    first,
                    second,
                },
                Lang::En,
            ) => format!(
                "Columns \"{first}\" and \"{second}\" both mean {}; keep one of them.",
                column.label(Lang::En)
            ),
            (SheetError::UnsupportedFormat { path, accepted }, Lang::En) => format!(
                "{}: unsupported file type; use one of {accepted}.",
                path.display()
            ),
            (SheetError::Read { path, .. }, Lang::En) => {
                format!("Cannot read {}.", path.display())
            }
            (SheetError::Write { path, .. } | SheetError::Xlsx { path, .. }, Lang::En) => {
                format!("Cannot write {}.", path.display())
            }
            (SheetError::Workbook { path, .. }, Lang::En) => format!(
                "{} is not a readable spreadsheet (damaged, password-protected, or not what its extension says).",
                path.display()
            ),
            (SheetError::NoWorksheet { path }, Lang::En) => {
                format!("{} has no worksheet.", path.display())
            }
            (SheetError::NoHeader { path }, Lang::En) => format!(
                "{} is empty: the first row must hold the column headers.",
                path.display()
            ),
        }
    }
}

/// The message of [`SheetError::MissingColumns`]: every missing column with
/// the names it may have, so the office fixes the header row in one go.
fn missing_columns_message(missing: &[Column], lang: Lang) -> String {
    let mut text = match lang {
        Lang::Id => String::from(
            "Kolom wajib tidak ditemukan di baris judul. Beri judul kolom dengan salah satu nama yang diterima (huruf besar/kecil, spasi, titik dan tanda hubung tidak berpengaruh):",
        ),
        Lang::En => String::from(
            "Required columns are missing from the header row. Name each column with one of the accepted names (case, spaces, dots and dashes do not matter):",
        ),
    };
    for column in missing {
        let names = column.names().join(", ");
        let code = column.code();
        let default = column.has_default();
        text.push_str(&match (lang, default) {
            (Lang::Id, false) => format!("\n  - {}: {names} (atau {code})", column.label(Lang::Id)),
            (Lang::Id, true) => format!(
                "\n  - {}: {names} (atau {code}), atau beri nilai bawaan untuk seluruh berkas",
                column.label(Lang::Id)
            ),
            (Lang::En, false) => {
                format!("\n  - {}: {names} (or {code})", column.label(Lang::En))
            }
            (Lang::En, true) => format!(
                "\n  - {}: {names} (or {code}), or give a default for the whole file",
                column.label(Lang::En)
            ),
        });
    }
    text
}

/// Writes a file all at once or not at all: into a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. An office never finds
/// half a report, and an earlier file survives a failed write.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), SheetError>,
) -> Result<(), SheetError> {
    let write_error = |source| SheetError::Write {
        path: path.to_owned(),
        source,
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| write_error(io::Error::other("the path names no file")))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);

    let result = (|| {
        let file = File::create(&temp).map_err(write_error)?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|error| write_error(error.into_error()))?;
        file.sync_all().map_err(write_error)?;
        drop(file);
        fs::rename(&temp, path).map_err(write_error)
    })();
    if result.is_err() {
        // The temporary file is ours and useless now; failing to remove it
        // must not hide the error that matters.
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The UTF-8 byte-order mark. Written at the start of CSV files because
/// Excel reads a CSV file without it in the Windows code page, garbling any
/// accented name; read past when present.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes the byte-order mark.
fn write_bom(out: &mut impl Write, path: &Path) -> Result<(), SheetError> {
    out.write_all(UTF8_BOM).map_err(|source| SheetError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
