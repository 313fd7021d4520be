//! Exporting registrations to `.csv` or `.xlsx` for the village office.
//!
//! The columns are those the importer reads, under their first accepted
//! header names, and every value is written the way
//! [`RegistrationInput::from_registration`] writes it, so a file the office corrected
//! imports again to the same values.

use std::io::Write;
use std::path::Path;

use lindung_shared::registration::Registration;
use lindung_shared::validation::RegistrationInput;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

use super::columns::Column;
use super::{SheetError, WRITABLE, write_atomically, write_bom};

/// One registration to export, with what the office wants to read beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRow {
    /// The registration (its full NIK, name and phone go into the file).
    pub registration: Registration,
    /// The village's name, for people; not read back on import.
    pub village_name: Option<String>,
    /// The district's name, for people; not read back on import.
    pub district_name: Option<String>,
}

/// The columns of an export, in order: every column the importer reads,
/// the informational names after the village code, the id last (it matters
/// to Lindung, not to the office). That is every column of [`Column::ALL`]
/// but the office's own row number (`No`), which means nothing once rows are
/// exported; it is the last of `Column::ALL`, checked at compile time.
const EXPORT_COLUMNS: &[Column] = match Column::ALL.split_last() {
    Some((Column::RowNumber, rest)) => rest,
    _ => panic!("Column::ALL must end with Column::RowNumber"),
};

/// One cell of an export.
enum Value {
    Text(String),
    /// A whole number Excel may add up (RT, RW, income).
    Number(u64),
    /// The birth date, also kept as its `YYYY-MM-DD` text for CSV.
    Date(time::Date, String),
}

/// The cells of one row, in [`EXPORT_COLUMNS`] order.
fn cells(row: &ExportRow) -> Vec<Value> {
    let registration = &row.registration;
    let input = RegistrationInput::from_registration(registration);
    let number = |n: Option<u16>| n.map_or(Value::Text(String::new()), |n| Value::Number(n.into()));
    EXPORT_COLUMNS
        .iter()
        .map(|column| match column {
            Column::Nik => Value::Text(input.nik.clone()),
            Column::FullName => Value::Text(input.full_name.clone()),
            Column::BirthDate => Value::Date(registration.birth_date, input.birth_date.clone()),
            Column::Sex => Value::Text(input.sex.clone()),
            Column::Phone => Value::Text(input.phone.clone()),
            Column::VillageCode => Value::Text(input.village_code.clone()),
            Column::VillageName => Value::Text(row.village_name.clone().unwrap_or_default()),
            Column::DistrictName => Value::Text(row.district_name.clone().unwrap_or_default()),
            Column::Rt => number(registration.rt),
            Column::Rw => number(registration.rw),
            Column::Address => Value::Text(input.address.clone()),
            Column::Category => Value::Text(input.category.clone()),
            Column::Jht => Value::Text(input.jht.clone()),
            Column::MonthlyIncome => Value::Number(registration.monthly_income),
            Column::Payer => Value::Text(input.payer.clone()),
            Column::PayerName => Value::Text(input.payer_name.clone()),
            Column::ConsentMethod => Value::Text(input.consent_method.clone()),
            Column::ConsentReference => Value::Text(input.consent_reference.clone()),
            Column::ConfirmedWarnings => Value::Text(input.confirmed_warnings.join(", ")),
            Column::Id => Value::Text(registration.id.to_string()),
            Column::RowNumber => Value::Text(String::new()),
        })
        .collect()
}

/// Writes registrations to `path` as `.csv` or `.xlsx` (by extension, any
/// case), atomically.
///
/// **The file holds full NIKs, names, birth dates and phone numbers**: it is
/// made for the village office, which keeps the same data. Callers record an
/// audit entry for every export.
///
/// In `.xlsx`, the NIK, phone, village-code and id columns are text columns,
/// so Excel never turns a NIK into a rounded number, even in rows the office
/// adds; birth dates are date cells; the header is bold, frozen and filtered.
/// A `.csv` file is UTF-8 with a byte-order mark, comma-separated; opening
/// it in Excel still turns NIKs into numbers, so offices should get `.xlsx`.
pub fn write_export(path: &Path, rows: &[ExportRow]) -> Result<(), SheetError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => write_csv(path, rows),
        Some("xlsx") => write_xlsx(path, rows),
        _ => Err(SheetError::UnsupportedFormat {
            path: path.to_owned(),
            accepted: WRITABLE,
        }),
    }
}

fn write_csv(path: &Path, rows: &[ExportRow]) -> Result<(), SheetError> {
    let write_error = |error: csv::Error| SheetError::Write {
        path: path.to_owned(),
        source: error.into(),
    };
    write_atomically(path, |out| {
        write_bom(out, path)?;
        let mut csv = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out.by_ref());
        csv.write_record(EXPORT_COLUMNS.iter().map(|c| c.export_header()))
            .map_err(write_error)?;
        for row in rows {
            let record: Vec<String> = cells(row)
                .into_iter()
                .map(|value| match value {
                    Value::Text(text) => guard_formula(text),
                    Value::Number(n) => n.to_string(),
                    Value::Date(_, text) => text,
                })
                .collect();
            csv.write_record(&record).map_err(write_error)?;
        }
        csv.flush().map_err(|source| SheetError::Write {
            path: path.to_owned(),
            source,
        })
    })
}

/// Text that Excel would run as a formula when opening a CSV file (`=`, `+`,
/// `-`, `@` first) gets an apostrophe in front, which the importer removes
/// again. An address typed as `=HYPERLINK(…)` must stay text.
fn guard_formula(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text
    }
}

fn write_xlsx(path: &Path, rows: &[ExportRow]) -> Result<(), SheetError> {
    let xlsx_error = |source| SheetError::Xlsx {
        path: path.to_owned(),
        source,
    };
    let bytes = build_workbook(rows).map_err(xlsx_error)?;
    write_atomically(path, |out| {
        out.write_all(&bytes).map_err(|source| SheetError::Write {
            path: path.to_owned(),
            source,
        })
    })
}

/// The workbook as bytes (a village holds a few thousand registrations, so
/// building it in memory is cheap, and the file is then written atomically).
fn build_workbook(rows: &[ExportRow]) -> Result<Vec<u8>, XlsxError> {
    let header_format = Format::new().set_bold();
    let text_format = Format::new().set_num_format("@");
    let date_format = Format::new().set_num_format("dd-mm-yyyy");
    let number_format = Format::new().set_num_format("#,##0");

    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("Pendaftaran")?;
    for (index, column) in EXPORT_COLUMNS.iter().enumerate() {
        let col = u16::try_from(index).unwrap_or(u16::MAX);
        sheet.set_column_width(col, column.width())?;
        // Text format on the whole column keeps NIKs and phone numbers the
        // office types into new rows as text too.
        if matches!(
            column,
            Column::Nik | Column::Phone | Column::VillageCode | Column::Id
        ) {
            sheet.set_column_format(col, &text_format)?;
        }
        sheet.write_string_with_format(0, col, column.export_header(), &header_format)?;
    }
    sheet.set_freeze_panes(1, 0)?;

    for (index, row) in rows.iter().enumerate() {
        let line = u32::try_from(index + 1).map_err(|_| XlsxError::RowColumnLimitError)?;
        for (col, value) in cells(row).into_iter().enumerate() {
            let col = u16::try_from(col).unwrap_or(u16::MAX);
            match value {
                Value::Text(text) if text.is_empty() => {}
                Value::Text(text) => {
                    sheet.write_string(line, col, text)?;
                }
                Value::Number(n) => {
                    // Incomes are at most 10^9 and RT/RW at most 999: exact in an f64.
                    sheet.write_number_with_format(line, col, n as f64, &number_format)?;
                }
                Value::Date(date, _) => {
                    let year = u16::try_from(date.year())
                        .map_err(|_| XlsxError::DateTimeRangeError(date.to_string()))?;
                    let cell = ExcelDateTime::from_ymd(year, u8::from(date.month()), date.day())?;
                    sheet.write_datetime_with_format(line, col, &cell, &date_format)?;
                }
            }
        }
    }
    let last_row = u32::try_from(rows.len()).map_err(|_| XlsxError::RowColumnLimitError)?;
    let last_col = u16::try_from(EXPORT_COLUMNS.len() - 1).unwrap_or(u16::MAX);
    sheet.autofilter(0, 0, last_row, last_col)?;
    workbook.save_to_buffer()
}
