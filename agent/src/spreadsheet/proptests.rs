//! Arbitrary files against the importer: whatever an office's file holds,
//! reading it never panics, a file that cannot be imported at all says why,
//! and every bad row becomes problems that name its row and its column.

use std::io::Write;

use lindung_shared::lang::{Lang, Problem};
use lindung_shared::region::regions;
use lindung_shared::validation::{ValidationContext, validate_registration};
use proptest::prelude::*;
use time::macros::{date, datetime};

use super::read::{detect_delimiter, ends_in_lone_cr, is_scientific};
use super::*;

/// Defaults for every column that may have one, so a header with only the
/// NIK and the name is enough to reach the rows.
fn defaults() -> ImportDefaults {
    ImportDefaults {
        payer: Some("apbdes".into()),
        payer_name: Some("Pemerintah Desa Sangir".into()),
        consent_method: Some("formulir".into()),
        consent_reference: Some("F-001".into()),
        village_code: Some("1311012001".into()),
        category: Some("nelayan".into()),
    }
}

/// Writes `bytes` to a fresh `.csv` file and reads it back through
/// [`read_rows`], checking every promise the importer makes.
fn check_csv(bytes: &[u8], defaults: &ImportDefaults) -> Result<Vec<SourceRow>, TestCaseError> {
    let mut file = tempfile::Builder::new()
        .prefix("lindung-prop-")
        .suffix(".csv")
        .tempfile()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    file.write_all(bytes)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let rows = match read_rows(file.path(), defaults) {
        Ok(rows) => rows,
        Err(error) => {
            // A file the import cannot use at all: the header's fault.
            let code = error.code();
            prop_assert!(
                matches!(
                    code,
                    "sheet_no_header" | "sheet_missing_columns" | "sheet_duplicate_column"
                ),
                "{}: {}",
                code,
                error
            );
            for lang in [Lang::Id, Lang::En] {
                prop_assert!(!error.message(lang).trim().is_empty(), "{}", code);
            }
            return Ok(Vec::new());
        }
    };
    let columns = rows.columns().clone();
    prop_assert!(columns.header_line() >= 1);
    let headers: Vec<&str> = columns.mapped().iter().map(|m| m.header.as_str()).collect();
    let context = ValidationContext {
        regions: regions(),
        today: date!(2026 - 11 - 22),
        now: datetime!(2026-11-22 08:00 UTC),
    };
    let mut previous = columns.header_line();
    let mut all = Vec::new();
    for row in rows {
        let row = row.map_err(|e| TestCaseError::fail(format!("a readable file failed: {e}")))?;
        prop_assert!(
            row.line > previous,
            "row {} after row {}",
            row.line,
            previous
        );
        previous = row.line;
        for problem in &row.problems {
            prop_assert_eq!(problem.line, row.line);
            let field = problem.field.as_deref().unwrap_or_default();
            prop_assert!(
                headers.contains(&field),
                "{:?} not among {:?}",
                field,
                headers
            );
            prop_assert!(!problem.code.is_empty());
            prop_assert!(!problem.message_id.trim().is_empty());
            prop_assert!(!problem.message_en.trim().is_empty());
        }
        if let Err(invalid) = validate_registration(&row.input, &context) {
            let problems = row.problems_with(&invalid.messages(), &columns);
            prop_assert!(!problems.is_empty());
            for problem in &problems {
                prop_assert_eq!(problem.line, row.line);
                prop_assert!(
                    problem
                        .field
                        .as_deref()
                        .is_some_and(|f| !f.trim().is_empty()),
                    "{:?}",
                    problem
                );
                prop_assert!(!problem.message_id.trim().is_empty());
                prop_assert!(!problem.message_en.trim().is_empty());
            }
        }
        all.push(row);
    }
    Ok(all)
}

/// A cell as offices fill them in: NIKs as text or as Excel's scientific
/// notation, names with quotes and line breaks, the delimiters themselves,
/// and anything at all.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{16}",
        "[0-9 .-]{0,20}",
        "1,31101E\\+15",
        "[ a-zA-Z'\"=+@;,\t\n\r-]{0,12}",
        "[0-9a-f-]{30,40}",
        ".{0,12}",
    ]
}

/// A header row: the NIK and the name (the only columns without a
/// default), some other known columns, and some unknown ones, in any order.
fn header() -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::subsequence(Column::ALL.to_vec(), 0..Column::ALL.len()),
        any::<prop::sample::Index>(),
        prop::collection::vec("[A-Za-z ]{1,10}", 0..3),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(columns, name, unknown, order)| {
            let mut headers: Vec<String> = [Column::Nik, Column::FullName]
                .into_iter()
                .chain(
                    columns
                        .into_iter()
                        .filter(|c| !matches!(c, Column::Nik | Column::FullName)),
                )
                .map(|c| c.names()[name.index(c.names().len())].to_owned())
                .collect();
            // Unknown headers that happen to name a known column would be a
            // duplicate; those are refused, which other tests cover.
            headers.extend(
                unknown
                    .into_iter()
                    .filter(|h| Column::from_header(h).is_none()),
            );
            let turn = order.index(headers.len());
            headers.rotate_left(turn);
            headers
        })
}

/// Line ends: Unix, Windows, and Excel's "CSV (Macintosh)".
fn line_end() -> impl Strategy<Value = &'static [u8]> {
    prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b"\r"[..])]
}

proptest! {
    #[test]
    fn arbitrary_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_csv(&bytes, &defaults())?;
        check_csv(&bytes, &ImportDefaults::default())?;
    }

    /// A real header above arbitrary lines, glued with the delimiter but
    /// never quoted: stray quotes, short and long rows, invalid UTF-8.
    #[test]
    fn arbitrary_rows_under_a_real_header_are_read(
        header in header(),
        delimiter in prop::sample::select(vec![b',', b';', b'\t']),
        end in line_end(),
        bom in any::<bool>(),
        lines in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(cell(), 0..8).prop_map(|cells| cells.join("\u{1}").into_bytes()),
                prop::collection::vec(any::<u8>(), 0..40),
            ],
            0..12,
        ),
    ) {
        let mut bytes = Vec::new();
        if bom {
            bytes.extend_from_slice(UTF8_BOM);
        }
        bytes.extend_from_slice(header.join(&char::from(delimiter).to_string()).as_bytes());
        for line in lines {
            bytes.extend_from_slice(end);
            bytes.extend(line.into_iter().map(|b| if b == 1 { delimiter } else { b }));
        }
        check_csv(&bytes, &defaults())?;
    }

    /// A well-formed file (cells quoted where needed): every non-blank row
    /// comes back on the row Excel shows, with its name cell as written.
    #[test]
    fn quoted_rows_keep_their_row_numbers_and_values(
        header in header(),
        delimiter in prop::sample::select(vec![b',', b';', b'\t']),
        crlf_or_cr in prop::sample::select(vec![None, Some(csv::Terminator::CRLF), Some(csv::Terminator::Any(b'\r'))]),
        rows in prop::collection::vec(prop::collection::vec(cell(), 0..8), 1..10),
    ) {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(crlf_or_cr.unwrap_or(csv::Terminator::Any(b'\n')))
            .flexible(true)
            .from_writer(Vec::new());
        writer.write_record(&header).unwrap();
        let name_at = header.iter().position(|h| Column::from_header(h) == Some(Column::FullName)).unwrap();
        let mut expected = Vec::new();
        for cells in &rows {
            let mut cells = cells.clone();
            cells.resize(header.len().max(cells.len()), String::new());
            // Every row has a name, so none is skipped as blank.
            let name = format!("Nama {}", cells[name_at]);
            cells[name_at].clone_from(&name);
            writer.write_record(&cells).unwrap();
            expected.push(name.trim().to_owned());
        }
        let bytes = writer.into_inner().unwrap();
        let read = check_csv(&bytes, &defaults())?;
        let lines: Vec<usize> = read.iter().map(|r| r.line).collect();
        let wanted: Vec<usize> = (2..2 + rows.len()).collect();
        prop_assert_eq!(lines, wanted);
        let names: Vec<&str> = read.iter().map(|r| r.input.full_name.as_str()).collect();
        prop_assert_eq!(names, expected.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn header_names_never_panic(header in ".{0,40}") {
        let key = header_key(&header);
        prop_assert!(!key.chars().any(|c| c.is_whitespace() || matches!(c, '_' | '.' | '-' | '*' | ':')));
        if let Some(column) = Column::from_header(&header) {
            prop_assert_eq!(Column::from_header(column.code()), Some(column));
        }
        let headers = vec![header.clone(), "NIK".to_owned(), "Nama".to_owned(), header];
        match SheetColumns::map(&headers, 1, &defaults()) {
            Ok(columns) => {
                for mapped in columns.mapped() {
                    prop_assert_eq!(&headers[mapped.index].trim(), &mapped.header.as_str());
                }
            }
            Err(error) => prop_assert!(
                matches!(error, SheetError::DuplicateColumn { .. } | SheetError::MissingColumns { .. }),
                "{:?}", error
            ),
        }
    }

    #[test]
    fn column_letters_are_capitals(index in any::<usize>()) {
        let letters = column_letter(index);
        prop_assert!(!letters.is_empty());
        prop_assert!(letters.bytes().all(|b| b.is_ascii_uppercase()));
    }

    #[test]
    fn first_line_helpers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), text in ".{0,30}") {
        prop_assert!([b',', b';', b'\t'].contains(&detect_delimiter(&bytes)));
        let _ = ends_in_lone_cr(&bytes);
        if is_scientific(&text) {
            prop_assert!(text.contains(['E', 'e']));
        }
    }
}

#[test]
fn the_first_columns_have_one_and_two_letters() {
    assert_eq!(column_letter(0), "A");
    assert_eq!(column_letter(25), "Z");
    assert_eq!(column_letter(26), "AA");
    assert_eq!(column_letter(701), "ZZ");
    assert_eq!(column_letter(702), "AAA");
    // Found by the property test: `index + 1` overflowed here.
    assert_eq!(column_letter(usize::MAX), "GKGWBYLWRXTLPP");
}
