//! The import report: a CSV file next to the office's own, one line per
//! problem, that the office opens in Excel beside its list and fixes row by row.

use std::path::{Path, PathBuf};

use lindung_shared::lang::Message;
use lindung_shared::registration::Field;

use super::columns::SheetColumns;
use super::{SheetError, write_atomically, write_bom};

/// One problem with one row, ready for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    /// The row number as Excel shows it.
    pub line: usize,
    /// The column as the office named it in its header row (or the field's
    /// label when the file has no such column); `None` for the whole row.
    pub field: Option<String>,
    /// Stable machine code (`nik_stored_as_number`, `nik_invalid_date`…).
    pub code: String,
    /// The reason in Bahasa Indonesia.
    pub message_id: String,
    /// The reason in English.
    pub message_en: String,
}

impl RowProblem {
    /// A validation problem or warning on row `line`, its field shown under
    /// the header the office used ([`SheetColumns::header_for_field`]).
    pub fn from_message(line: usize, message: &Message, columns: &SheetColumns) -> RowProblem {
        let field = message.field.as_deref().map(|name| {
            Field::from_name(name).map_or_else(|| name.to_owned(), |f| columns.header_for_field(f))
        });
        RowProblem {
            line,
            field,
            code: message.code.clone(),
            message_id: message.message_id.clone(),
            message_en: message.message_en.clone(),
        }
    }
}

/// Where the report for `input` goes: beside it, named `<stem>.laporan.csv`
/// (`Data Desa.xlsx` → `Data Desa.laporan.csv`), so the office finds it where
/// it left its file.
pub fn report_path_for(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map_or_else(|| "impor".into(), |s| s.to_string_lossy().into_owned());
    input.with_file_name(format!("{stem}.laporan.csv"))
}

/// The report's header: row, column, code, reason in Indonesian, reason in English.
pub const REPORT_HEADER: [&str; 5] = ["baris", "kolom", "kode", "alasan", "reason"];

/// Writes the report: UTF-8 with a byte-order mark (so Excel shows accented
/// names correctly), comma-separated, CRLF line ends, the [`REPORT_HEADER`]
/// then one line per problem in the order given. Atomic: the file is complete
/// or absent (an older report stays until the new one is whole).
pub fn write_report(path: &Path, problems: &[RowProblem]) -> Result<(), SheetError> {
    let write_error = |error: csv::Error| SheetError::Write {
        path: path.to_owned(),
        source: error.into(),
    };
    write_atomically(path, |out| {
        write_bom(out, path)?;
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        csv.write_record(REPORT_HEADER).map_err(write_error)?;
        for problem in problems {
            csv.write_record([
                problem.line.to_string().as_str(),
                problem.field.as_deref().unwrap_or_default(),
                &problem.code,
                &problem.message_id,
                &problem.message_en,
            ])
            .map_err(write_error)?;
        }
        csv.flush().map_err(|source| SheetError::Write {
            path: path.to_owned(),
            source,
        })
    })
}
