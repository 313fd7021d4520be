//! Reading rows: CSV streamed record by record, `.xlsx` streamed cell by cell
//! (calamine's cell reader, on a thread of its own), other workbooks loaded
//! whole through calamine.
//!
//! Both end in the same [`RowBuilder`], so a value means the same whether it
//! came from a CSV cell or an Excel cell; only what Excel does to numbers
//! and dates differs, and is undone here.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use calamine::{Data, ExcelDateTime, ExcelDateTimeType, Range, Reader, Sheets, Xlsx};
use lindung_shared::ids::RecordId;
use lindung_shared::lang::Message;
use lindung_shared::validation::RegistrationInput;

use super::columns::{Column, MappedColumn, SheetColumns};
use super::report::RowProblem;
use super::{ImportDefaults, SheetError, SheetFormat, UTF8_BOM};

/// How many rows from the top of a worksheet may hold titles before the header row.
const HEADER_SEARCH_ROWS: usize = 20;

/// Buffer for CSV files: large enough to hold any header line, so the
/// delimiter can be chosen before the CSV parser starts.
const CSV_BUFFER: usize = 64 * 1024;

/// Rows an `.xlsx` reader thread may read ahead of the import.
const STREAM_AHEAD_ROWS: usize = 256;

/// One data row of a spreadsheet, as text, ready for validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRow {
    /// The row number as the office sees it in Excel (the header is usually row 1).
    pub line: usize,
    /// The registration this row came from, when the file was exported by Lindung.
    pub id: Option<RecordId>,
    /// The cells, trimmed, with [`ImportDefaults`] filled into empty ones.
    pub input: RegistrationInput,
    /// What the reader found wrong with cells (a NIK stored as a number, an
    /// Excel error value, a malformed id). A row with problems must not be
    /// imported, whatever validation says of its input.
    pub problems: Vec<RowProblem>,
}

impl SourceRow {
    /// Every problem of this row for the report: the reader's, then the
    /// `validation` messages (from
    /// [`InvalidRegistration::messages`](lindung_shared::validation::InvalidRegistration::messages)),
    /// except those about a column the reader already reported — a NIK that
    /// Excel turned into `1,31101E+15` is also not a valid NIK, and saying so
    /// twice hides the fix.
    pub fn problems_with(&self, validation: &[Message], columns: &SheetColumns) -> Vec<RowProblem> {
        let mut all = self.problems.clone();
        for message in validation {
            let problem = RowProblem::from_message(self.line, message, columns);
            let already =
                problem.field.is_some() && self.problems.iter().any(|p| p.field == problem.field);
            if !already {
                all.push(problem);
            }
        }
        all
    }
}

/// The rows of a spreadsheet, read lazily: CSV files one record at a time,
/// `.xlsx` files one row at a time from a reader thread, other workbooks from
/// the worksheet loaded by [`read_rows`]. Rows whose cells are
/// all empty are skipped (Excel's CSV export often ends with `;;;;` lines).
///
/// An `Err` item is a failure of the file itself (an I/O error mid-file); the
/// iterator ends after it.
#[derive(Debug)]
pub struct SheetRows {
    path: PathBuf,
    format: SheetFormat,
    columns: SheetColumns,
    defaults: ImportDefaults,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Csv(CsvSource),
    Cells(CellSource),
    Stream(Receiver<Streamed>),
    Finished,
}

/// What the `.xlsx` reader thread sends, in order: rows, then `End` or `Failed`.
#[derive(Debug)]
enum Streamed {
    Row(Box<SourceRow>),
    Failed(SheetError),
    End,
}

#[derive(Debug)]
struct CsvSource {
    reader: csv::Reader<BufReader<File>>,
    record: csv::ByteRecord,
    /// How row numbers are found.
    rows: RowNumbering,
}

/// How the row number Excel would show is found for a CSV record.
#[derive(Debug)]
enum RowNumbering {
    /// Lines end in `\n` (or `\r\n`): the line the record starts on, less
    /// the line breaks inside quoted cells so far (Excel shows such a record
    /// as one row, and shows blank lines as rows).
    Lines {
        /// Line breaks inside quoted cells so far.
        inner_newlines: u64,
    },
    /// Lines end in a lone `\r` (Excel's "CSV (Macintosh)"), which the
    /// parser does not count as lines: records are counted instead.
    Records {
        /// The row of the last record read.
        last: usize,
    },
}

#[derive(Debug)]
struct CellSource {
    range: Range<Data>,
    /// The next row to read, relative to the range.
    next: usize,
    /// The range's first row in the worksheet (0-based).
    first_row: usize,
}

/// Opens a spreadsheet and maps its header row; the rows follow from the
/// returned iterator.
///
/// Fails before reading any row when the format is unsupported, the file
/// cannot be opened, it has no header, or its header row lacks a required
/// column that `defaults` does not cover ([`SheetError::MissingColumns`]).
pub fn read_rows(path: &Path, defaults: &ImportDefaults) -> Result<SheetRows, SheetError> {
    let format = SheetFormat::of_path(path)?;
    let (columns, source) = match format {
        SheetFormat::Csv => open_csv(path, defaults)?,
        SheetFormat::Xlsx => open_xlsx_stream(path, defaults)?,
        SheetFormat::Xlsb | SheetFormat::Xls | SheetFormat::Ods => {
            open_workbook(path, format, defaults)?
        }
    };
    Ok(SheetRows {
        path: path.to_owned(),
        format,
        columns,
        defaults: defaults.clone(),
        source,
    })
}

impl SheetRows {
    /// How the header row maps to columns (and which headers are unknown).
    pub fn columns(&self) -> &SheetColumns {
        &self.columns
    }

    /// The file's format.
    pub fn format(&self) -> SheetFormat {
        self.format
    }
}

impl Iterator for SheetRows {
    type Item = Result<SourceRow, SheetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let SheetRows {
            path,
            columns,
            defaults,
            source,
            ..
        } = self;
        loop {
            match source {
                Source::Finished => return None,
                Source::Csv(csv) => match csv.reader.read_byte_record(&mut csv.record) {
                    Ok(false) => {
                        *source = Source::Finished;
                        return None;
                    }
                    Err(error) => {
                        *source = Source::Finished;
                        return Some(Err(SheetError::Read {
                            path: path.clone(),
                            source: error.into(),
                        }));
                    }
                    Ok(true) => {
                        let line = match &mut csv.rows {
                            RowNumbering::Lines { inner_newlines } => {
                                let start = csv.record.position().map_or(0, csv::Position::line);
                                let line = start.saturating_sub(*inner_newlines);
                                *inner_newlines += count_newlines(&csv.record);
                                usize::try_from(line).unwrap_or(usize::MAX)
                            }
                            RowNumbering::Records { last } => {
                                *last += 1;
                                *last
                            }
                        };
                        if csv.record.iter().all(|cell| decode(cell).trim().is_empty()) {
                            continue;
                        }
                        let mut row = RowBuilder::new(line);
                        for mapped in columns.mapped() {
                            let cell = csv.record.get(mapped.index).unwrap_or_default();
                            row.set(mapped, &decode(cell));
                        }
                        return Some(Ok(row.finish(defaults)));
                    }
                },
                Source::Cells(cells) => {
                    if cells.next >= cells.range.height() {
                        *source = Source::Finished;
                        return None;
                    }
                    let relative = cells.next;
                    cells.next += 1;
                    let blank = (0..cells.range.width())
                        .all(|c| cells.range.get((relative, c)).is_none_or(is_blank));
                    if blank {
                        continue;
                    }
                    let mut row = RowBuilder::new(cells.first_row + relative + 1);
                    for mapped in columns.mapped() {
                        if let Some(data) = cells.range.get((relative, mapped.index)) {
                            row.set_data(mapped, data);
                        }
                    }
                    return Some(Ok(row.finish(defaults)));
                }
                Source::Stream(rows) => {
                    let item = match rows.recv() {
                        Ok(Streamed::Row(row)) => return Some(Ok(*row)),
                        Ok(Streamed::End) => None,
                        Ok(Streamed::Failed(error)) => Some(Err(error)),
                        // The reader thread ended without saying why (it panicked):
                        // never let that pass for the end of the file.
                        Err(_) => Some(Err(reader_stopped(path))),
                    };
                    *source = Source::Finished;
                    return item;
                }
            }
        }
    }
}

/// Opens a CSV file: skips a byte-order mark, picks the delimiter from the
/// header line and maps the header.
fn open_csv(path: &Path, defaults: &ImportDefaults) -> Result<(SheetColumns, Source), SheetError> {
    let read_error = |source| SheetError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let mut buffered = BufReader::with_capacity(CSV_BUFFER, file);
    let start = buffered.fill_buf().map_err(read_error)?;
    let bom = start.starts_with(UTF8_BOM);
    let first_line = if bom { &start[UTF8_BOM.len()..] } else { start };
    let delimiter = detect_delimiter(first_line);
    let lone_cr = ends_in_lone_cr(first_line);
    if bom {
        buffered.consume(UTF8_BOM.len());
    }
    // Records end at `\n` only (a `\r` before it is trimmed off the last
    // cell): with `\r\n` as the terminator the parser leaves the `\n` for the
    // next record and numbers every record after the first one line short.
    let terminator = if lone_cr { b'\r' } else { b'\n' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(terminator))
        .has_headers(false)
        .flexible(true)
        .from_reader(buffered);
    let mut record = csv::ByteRecord::new();
    let found = reader
        .read_byte_record(&mut record)
        .map_err(|error| read_error(error.into()))?;
    if !found {
        return Err(SheetError::NoHeader {
            path: path.to_owned(),
        });
    }
    let header_line =
        usize::try_from(record.position().map_or(1, csv::Position::line)).unwrap_or(1);
    let rows = if lone_cr {
        RowNumbering::Records { last: header_line }
    } else {
        RowNumbering::Lines {
            inner_newlines: count_newlines(&record),
        }
    };
    let headers: Vec<String> = record.iter().map(|h| decode(h).into_owned()).collect();
    let columns = SheetColumns::map(&headers, header_line, defaults)?;
    Ok((
        columns,
        Source::Csv(CsvSource {
            reader,
            record,
            rows,
        }),
    ))
}

/// Line breaks inside the cells of a record.
fn count_newlines(record: &csv::ByteRecord) -> u64 {
    record.as_slice().iter().filter(|&&b| b == b'\n').count() as u64
}

/// Whether the first line ends in a `\r` not followed by `\n`.
pub(super) fn ends_in_lone_cr(start: &[u8]) -> bool {
    let mut quoted = false;
    for (index, &byte) in start.iter().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return false,
            b'\r' if !quoted => return start.get(index + 1).is_some_and(|&next| next != b'\n'),
            _ => {}
        }
    }
    false
}

/// The most frequent of `;`, `,` and tab outside quotes on the first line
/// (`,` when there is none: a one-column file). Ties go to `;`, then tab:
/// a header with a comma in one name is likelier than one with a semicolon.
pub(super) fn detect_delimiter(start: &[u8]) -> u8 {
    let mut counts = [(b';', 0usize), (b'\t', 0), (b',', 0)];
    let mut quoted = false;
    for &byte in start {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(entry) = counts.iter_mut().find(|(d, _)| *d == byte) {
                    entry.1 += 1;
                }
            }
            _ => {}
        }
    }
    // `max_by_key` keeps the last maximum, so scan in reverse preference order.
    counts
        .iter()
        .rev()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| *d)
}

/// A CSV cell as text: UTF-8 when it is, else Windows-1252, which is what
/// Excel on Windows writes for "CSV (Comma delimited)".
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| windows_1252(b)).collect()),
    }
}

/// One Windows-1252 byte as a character. 0x80–0x9F hold the typographic
/// characters (’ for the apostrophe in names like Ma’ruf); the rest is Latin-1.
fn windows_1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9F => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// Opens a workbook's first worksheet and finds its header row.
fn open_workbook(
    path: &Path,
    format: SheetFormat,
    defaults: &ImportDefaults,
) -> Result<(SheetColumns, Source), SheetError> {
    let workbook_error = |source| SheetError::Workbook {
        path: path.to_owned(),
        source,
    };
    // Opened by the format already chosen: calamine's own detection looks
    // at the extension case-sensitively and would guess on "DATA.XLSX".
    let mut workbook = match format {
        SheetFormat::Xlsx => calamine::open_workbook(path)
            .map(Sheets::Xlsx)
            .map_err(calamine::Error::Xlsx),
        SheetFormat::Xlsb => calamine::open_workbook(path)
            .map(Sheets::Xlsb)
            .map_err(calamine::Error::Xlsb),
        SheetFormat::Xls => calamine::open_workbook(path)
            .map(Sheets::Xls)
            .map_err(calamine::Error::Xls),
        SheetFormat::Ods => calamine::open_workbook(path)
            .map(Sheets::Ods)
            .map_err(calamine::Error::Ods),
        SheetFormat::Csv => return open_csv(path, defaults),
    }
    .map_err(|error| open_error(path, error))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| SheetError::NoWorksheet {
            path: path.to_owned(),
        })?
        .map_err(workbook_error)?;
    let first_row = range.start().map_or(0, |(row, _)| row as usize);

    // The header row: the first row naming two known columns, among the first
    // rows that have anything in them; failing that, the first such row (so
    // the missing-columns message describes what the office did write).
    let mut first_filled = None;
    let mut header = None;
    for relative in 0..range.height().min(HEADER_SEARCH_ROWS) {
        let cells: Vec<String> = (0..range.width())
            .map(|c| {
                range
                    .get((relative, c))
                    .map(header_text)
                    .unwrap_or_default()
            })
            .collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if SheetColumns::count_known(&cells) >= 2 {
            header = Some((relative, cells));
            break;
        }
        if first_filled.is_none() {
            first_filled = Some((relative, cells));
        }
    }
    let Some((relative, headers)) = header.or(first_filled) else {
        return Err(SheetError::NoHeader {
            path: path.to_owned(),
        });
    };
    let columns = SheetColumns::map(&headers, first_row + relative + 1, defaults)?;
    Ok((
        columns,
        Source::Cells(CellSource {
            range,
            next: relative + 1,
            first_row,
        }),
    ))
}

/// A workbook that could not be opened: an I/O failure, or not a workbook.
fn open_error(path: &Path, error: calamine::Error) -> SheetError {
    match error {
        calamine::Error::Xlsx(calamine::XlsxError::Io(source))
        | calamine::Error::Xls(calamine::XlsError::Io(source))
        | calamine::Error::Xlsb(calamine::XlsbError::Io(source))
        | calamine::Error::Ods(calamine::OdsError::Io(source))
        | calamine::Error::Io(source) => SheetError::Read {
            path: path.to_owned(),
            source,
        },
        other => SheetError::Workbook {
            path: path.to_owned(),
            source: other,
        },
    }
}

/// The `.xlsx` reader thread stopped without finishing (it panicked).
fn reader_stopped(path: &Path) -> SheetError {
    SheetError::Read {
        path: path.to_owned(),
        source: std::io::Error::other("the worksheet reader stopped unexpectedly"),
    }
}

/// Opens an `.xlsx` file for streaming: a thread reads the first worksheet
/// cell by cell (calamine's `XlsxCellReader`, which borrows the workbook and
/// so lives with it on that thread), finds the header row as
/// [`open_workbook`] does, and sends the rows ahead through a bounded channel.
/// Memory stays bounded by the workbook's shared strings, not its size.
fn open_xlsx_stream(
    path: &Path,
    defaults: &ImportDefaults,
) -> Result<(SheetColumns, Source), SheetError> {
    let (header_sender, header) = sync_channel(1);
    let (row_sender, rows) = sync_channel(STREAM_AHEAD_ROWS);
    let thread_path = path.to_owned();
    let thread_defaults = defaults.clone();
    std::thread::Builder::new()
        .name("xlsx-reader".into())
        .spawn(move || {
            stream_xlsx(&thread_path, &thread_defaults, &header_sender, &row_sender);
        })
        .map_err(|source| SheetError::Read {
            path: path.to_owned(),
            source,
        })?;
    match header.recv() {
        Ok(Ok(columns)) => Ok((columns, Source::Stream(rows))),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(reader_stopped(path)),
    }
}

/// One worksheet row being gathered from the cell stream: its 0-based row
/// index and its non-empty cells with their 0-based column.
struct StreamRow {
    index: u32,
    cells: Vec<(usize, Data)>,
}

impl StreamRow {
    /// The row as header texts, by column (gaps are empty).
    fn header_texts(&self) -> Vec<String> {
        let width = self.cells.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
        let mut texts = vec![String::new(); width];
        for (column, data) in &self.cells {
            texts[*column] = header_text(data);
        }
        texts
    }

    fn is_blank(&self) -> bool {
        self.cells.iter().all(|(_, data)| is_blank(data))
    }

    /// The data row, or `None` when it is blank.
    fn source_row(&self, columns: &SheetColumns, defaults: &ImportDefaults) -> Option<SourceRow> {
        if self.is_blank() {
            return None;
        }
        let mut row = RowBuilder::new(self.index as usize + 1);
        for mapped in columns.mapped() {
            if let Some((_, data)) = self.cells.iter().find(|(c, _)| *c == mapped.index) {
                row.set_data(mapped, data);
            }
        }
        Some(row.finish(defaults))
    }
}

/// The body of the `.xlsx` reader thread. Sends the header mapping (or why
/// there is none) on `header`, then every data row on `rows`, then `End`;
/// stops early when the importer hangs up.
fn stream_xlsx(
    path: &Path,
    defaults: &ImportDefaults,
    header: &SyncSender<Result<SheetColumns, SheetError>>,
    rows: &SyncSender<Streamed>,
) {
    let mut workbook: Xlsx<_> = match calamine::open_workbook(path) {
        Ok(workbook) => workbook,
        Err(error) => {
            let _ = header.send(Err(open_error(path, calamine::Error::Xlsx(error))));
            return;
        }
    };
    let Some(name) = workbook.sheet_names().first().cloned() else {
        let _ = header.send(Err(SheetError::NoWorksheet {
            path: path.to_owned(),
        }));
        return;
    };
    let workbook_error = |error| SheetError::Workbook {
        path: path.to_owned(),
        source: calamine::Error::Xlsx(error),
    };
    let mut cells = match workbook.worksheet_cells_reader(&name) {
        Ok(cells) => cells,
        // A chart sheet first: like an empty worksheet.
        Err(calamine::XlsxError::NotAWorksheet(_)) => {
            let _ = header.send(Err(SheetError::NoHeader {
                path: path.to_owned(),
            }));
            return;
        }
        Err(error) => {
            let _ = header.send(Err(workbook_error(error)));
            return;
        }
    };
    // Gathers cells into rows; a row is complete when a cell of a later row
    // arrives, or the sheet ends (the reader must not be asked again after that).
    let mut sheet_ended = false;
    let mut next_row = |pending: &mut Option<StreamRow>| -> Result<Option<StreamRow>, SheetError> {
        loop {
            if sheet_ended {
                return Ok(pending.take());
            }
            let Some(cell) = cells.next_cell().map_err(workbook_error)? else {
                sheet_ended = true;
                return Ok(pending.take());
            };
            let value = cell.get_value();
            if *value == calamine::DataRef::Empty {
                continue;
            }
            let (row, column) = cell.get_position();
            let data = Data::from(value.clone());
            match pending {
                Some(current) if current.index == row => {
                    current.cells.push((column as usize, data))
                }
                _ => {
                    let done = pending.replace(StreamRow {
                        index: row,
                        cells: vec![(column as usize, data)],
                    });
                    if done.is_some() {
                        return Ok(done);
                    }
                }
            }
        }
    };
    let mut pending = None;

    // The header row, chosen exactly as `open_workbook` does: among the rows
    // within HEADER_SEARCH_ROWS of the first non-empty one. Rows read past the
    // chosen header are kept: they are data.
    let mut window: Vec<StreamRow> = Vec::new();
    let mut first_index = None;
    let mut chosen = None;
    let mut first_filled = None;
    loop {
        let row = match next_row(&mut pending) {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(error) => {
                let _ = header.send(Err(error));
                return;
            }
        };
        let first = *first_index.get_or_insert(row.index);
        if row.index as usize >= first as usize + HEADER_SEARCH_ROWS {
            window.push(row);
            break;
        }
        let texts = row.header_texts();
        window.push(row);
        if texts.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if SheetColumns::count_known(&texts) >= 2 {
            chosen = Some((window.len() - 1, texts));
            break;
        }
        if first_filled.is_none() {
            first_filled = Some((window.len() - 1, texts));
        }
    }
    let Some((position, texts)) = chosen.or(first_filled) else {
        let _ = header.send(Err(SheetError::NoHeader {
            path: path.to_owned(),
        }));
        return;
    };
    let columns = match SheetColumns::map(&texts, window[position].index as usize + 1, defaults) {
        Ok(columns) => columns,
        Err(error) => {
            let _ = header.send(Err(error));
            return;
        }
    };
    if header.send(Ok(columns.clone())).is_err() {
        return;
    }
    for row in window.drain(position + 1..) {
        if let Some(source_row) = row.source_row(&columns, defaults)
            && rows.send(Streamed::Row(Box::new(source_row))).is_err()
        {
            return;
        }
    }
    loop {
        match next_row(&mut pending) {
            Ok(Some(row)) => {
                if let Some(source_row) = row.source_row(&columns, defaults)
                    && rows.send(Streamed::Row(Box::new(source_row))).is_err()
                {
                    return;
                }
            }
            Ok(None) => {
                let _ = rows.send(Streamed::End);
                return;
            }
            Err(error) => {
                let _ = rows.send(Streamed::Failed(error));
                return;
            }
        }
    }
}

/// A header cell as text.
fn header_text(data: &Data) -> String {
    match data {
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => number_text(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(_) | Data::Error(_) | Data::Empty => String::new(),
    }
}

/// Whether a workbook cell holds nothing a person would see.
fn is_blank(data: &Data) -> bool {
    match data {
        Data::Empty => true,
        Data::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A number as Excel shows it in a General cell: whole numbers without a
/// decimal point (`3`, not `3.0`; a 16-digit value in full).
fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e17 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

/// An Excel date as `YYYY-MM-DD` (the time of day, if any, dropped), when
/// it is a day Excel can show.
pub(super) fn iso_date(datetime: ExcelDateTime) -> Option<String> {
    // Serial 1 is 1900-01-01 (or 1904-01-02); 2958465 is 9999-12-31, Excel's last day.
    if !(1.0..2_958_466.0).contains(&datetime.as_f64()) {
        return None;
    }
    // `to_ymd_hms_milli` counts from the workbook's epoch, 1900 or 1904.
    let (year, month, day, ..) = datetime.to_ymd_hms_milli();
    // Excel's serial 60 is 29 February 1900, a day that never was.
    let month = time::Month::try_from(month).ok()?;
    time::Date::from_calendar_date(i32::from(year), month, day).ok()?;
    Some(format!("{year:04}-{:02}-{day:02}", u8::from(month)))
}

/// Whether text is a number in scientific notation, as Excel shows (and
/// saves to CSV) a long number in a General cell: `1,31101E+15`, `1.3E+15`.
pub(super) fn is_scientific(text: &str) -> bool {
    let Some((mantissa, exponent)) = text.split_once(['E', 'e']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && mantissa.starts_with(|c: char| c.is_ascii_digit())
        && !exponent.is_empty()
        && exponent.chars().all(|c| c.is_ascii_digit())
}

/// Builds one [`SourceRow`] from its cells.
struct RowBuilder {
    row: SourceRow,
}

impl RowBuilder {
    fn new(line: usize) -> RowBuilder {
        RowBuilder {
            row: SourceRow {
                line,
                id: None,
                input: RegistrationInput::default(),
                problems: Vec::new(),
            },
        }
    }

    /// Sets a column from a workbook cell, undoing what Excel does to numbers.
    fn set_data(&mut self, mapped: &MappedColumn, data: &Data) {
        let text = match data {
            Data::Empty => return,
            Data::String(s) => s.clone(),
            Data::Bool(b) => b.to_string(),
            Data::DateTimeIso(s) if mapped.column == Column::BirthDate => {
                // ODS writes dates as 1990-01-31 or 1990-01-31T00:00:00.
                s.get(..10).unwrap_or(s).to_owned()
            }
            Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::DateTime(datetime) => {
                iso_date(*datetime).unwrap_or_else(|| number_text(datetime.as_f64()))
            }
            Data::Error(error) => {
                self.problem(
                    mapped,
                    "cell_error",
                    format!(
                        "Sel berisi kesalahan Excel {error}; perbaiki rumusnya atau ketik nilainya langsung."
                    ),
                    format!(
                        "The cell holds the Excel error {error}; fix the formula or type the value in."
                    ),
                );
                return;
            }
            Data::Int(i) => self.number(mapped, i.to_string(), *i as f64),
            Data::Float(f) => self.number(mapped, number_text(*f), *f),
        };
        self.set(mapped, &text);
    }

    /// The text of a number cell. A number in the NIK column is a NIK Excel
    /// already rounded to 15 significant digits; a number in the birth-date
    /// column is a date serial whose cell lost its date format.
    fn number(&mut self, mapped: &MappedColumn, text: String, value: f64) -> String {
        match mapped.column {
            Column::Nik => {
                self.nik_stored_as_number(mapped);
                text
            }
            Column::BirthDate => iso_date(ExcelDateTime::new(
                value,
                ExcelDateTimeType::DateTime,
                false,
            ))
            .unwrap_or(text),
            _ => text,
        }
    }

    /// Sets a column from text.
    fn set(&mut self, mapped: &MappedColumn, text: &str) {
        let mut text = text.trim();
        // Exports put an apostrophe before a leading = + - @ so that Excel
        // does not run the cell as a formula; it is not part of the value.
        if let Some(rest) = text.strip_prefix('\'')
            && rest.starts_with(['=', '+', '-', '@'])
        {
            text = rest;
        }
        if text.is_empty() {
            return;
        }
        let input = &mut self.row.input;
        let target = match mapped.column {
            Column::Nik => {
                if is_scientific(text) {
                    self.nik_stored_as_number(mapped);
                }
                &mut self.row.input.nik
            }
            Column::FullName => &mut input.full_name,
            Column::BirthDate => &mut input.birth_date,
            Column::Sex => &mut input.sex,
            Column::Phone => {
                input.phone = restore_leading_zero(text);
                return;
            }
            Column::VillageCode => &mut input.village_code,
            Column::Rt => &mut input.rt,
            Column::Rw => &mut input.rw,
            Column::Address => &mut input.address,
            Column::Category => &mut input.category,
            Column::Jht => &mut input.jht,
            Column::MonthlyIncome => &mut input.monthly_income,
            Column::Payer => &mut input.payer,
            Column::PayerName => &mut input.payer_name,
            Column::ConsentMethod => &mut input.consent_method,
            Column::ConsentReference => &mut input.consent_reference,
            Column::ConfirmedWarnings => {
                input.confirmed_warnings = text
                    .split([',', ';', ' ', '\n'])
                    .filter(|code| !code.is_empty())
                    .map(str::to_owned)
                    .collect();
                return;
            }
            Column::Id => {
                match text.parse::<RecordId>() {
                    Ok(id) => self.row.id = Some(id),
                    Err(_) => {
                        let shown: String = text.chars().take(40).collect();
                        self.problem(
                            mapped,
                            "id_format",
                            format!(
                                "\"{shown}\" bukan ID pendaftaran yang sah; kosongkan sel ini untuk pendaftaran baru."
                            ),
                            format!(
                                "\"{shown}\" is not a valid registration ID; leave the cell empty for a new registration."
                            ),
                        );
                    }
                }
                return;
            }
            Column::VillageName | Column::DistrictName | Column::RowNumber => return,
        };
        *target = text.to_owned();
    }

    fn nik_stored_as_number(&mut self, mapped: &MappedColumn) {
        let header = &mapped.header;
        self.problem(
            mapped,
            "nik_stored_as_number",
            format!(
                "NIK tersimpan sebagai angka, sehingga Excel membulatkan digit terakhirnya. Format kolom \"{header}\" sebagai Teks, ketik ulang NIK ini, lalu impor lagi."
            ),
            format!(
                "The NIK is stored as a number, so Excel rounded away its last digit. Format column \"{header}\" as Text, type this NIK again, then re-import."
            ),
        );
    }

    fn problem(
        &mut self,
        mapped: &MappedColumn,
        code: &str,
        message_id: String,
        message_en: String,
    ) {
        self.row.problems.push(RowProblem {
            line: self.row.line,
            field: Some(mapped.header.clone()),
            code: code.to_owned(),
            message_id,
            message_en,
        });
    }

    /// The row, with defaults in its empty cells.
    fn finish(mut self, defaults: &ImportDefaults) -> SourceRow {
        let input = &mut self.row.input;
        for (column, target) in [
            (Column::Payer, &mut input.payer),
            (Column::PayerName, &mut input.payer_name),
            (Column::ConsentMethod, &mut input.consent_method),
            (Column::ConsentReference, &mut input.consent_reference),
            (Column::VillageCode, &mut input.village_code),
            (Column::Category, &mut input.category),
        ] {
            if target.is_empty()
                && let Some(value) = defaults.get(column)
            {
                *target = value.to_owned();
            }
        }
        self.row
    }
}

/// A mobile number whose leading 0 Excel dropped (it was stored as a number,
/// or saved to CSV from such a cell) gets it back: 9 to 12 digits starting
/// with 8 can only be `08…` without its 0.
fn restore_leading_zero(text: &str) -> String {
    if (9..=12).contains(&text.len())
        && text.starts_with('8')
        && text.bytes().all(|b| b.is_ascii_digit())
    {
        format!("0{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod proptests {
    //! Any workbook cell, in any column, becomes text or a problem naming
    //! its row and column, never a panic.

    use proptest::prelude::*;

    use super::*;

    /// Any value calamine can hand over, with the awkward numbers (NaN,
    /// infinities, serials outside Excel's calendar) made likely.
    fn any_data() -> impl Strategy<Value = Data> {
        let number = prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(60.0),
            Just(2_958_465.9),
            Just(1_311_014_506_900_001.0),
        ];
        prop_oneof![
            Just(Data::Empty),
            ".{0,20}".prop_map(Data::String),
            any::<i64>().prop_map(Data::Int),
            number.clone().prop_map(Data::Float),
            any::<bool>().prop_map(Data::Bool),
            ".{0,24}".prop_map(Data::DateTimeIso),
            ".{0,12}".prop_map(Data::DurationIso),
            (number, any::<bool>()).prop_map(|(value, is_1904)| Data::DateTime(
                ExcelDateTime::new(value, ExcelDateTimeType::DateTime, is_1904)
            )),
            Just(Data::Error(calamine::CellErrorType::Ref)),
        ]
    }

    proptest! {
        #[test]
        fn any_cell_in_any_column_is_text_or_a_problem(
            column in prop::sample::select(Column::ALL.to_vec()),
            data in any_data(),
            line in 2usize..1_000_000,
        ) {
            let mapped = MappedColumn { column, index: 3, header: "Kolom D".into() };
            let mut row = RowBuilder::new(line);
            row.set_data(&mapped, &data);
            let _ = header_text(&data);
            let row = row.finish(&ImportDefaults::default());
            prop_assert_eq!(row.line, line);
            for problem in &row.problems {
                prop_assert_eq!(problem.line, line);
                prop_assert_eq!(problem.field.as_deref(), Some("Kolom D"));
                prop_assert!(!problem.message_id.is_empty() && !problem.message_en.is_empty());
            }
            if column == Column::BirthDate
                && let Data::DateTime(datetime) = data
                && let Some(iso) = iso_date(datetime)
            {
                prop_assert_eq!(&row.input.birth_date, &iso);
                prop_assert!(time::Date::parse(&iso, time::macros::format_description!("[year]-[month]-[day]")).is_ok(), "{}", iso);
            }
        }
    }
}
