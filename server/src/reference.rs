//! Reference data per region and year, as regional statistics offices hand it
//! out: the working population (coverage denominator), participants already
//! covered outside Lindung (baseline), the year's target, and optional
//! denominators per worker category. Parsed from CSV row by row; every
//! problem names its row, column and reason in both languages.
//!
//! Accepted columns (case, spaces and punctuation ignored; `,` `;` or tab):
//!
//! | meaning | headers |
//! |---|---|
//! | year (required) | `tahun`, `year` |
//! | region code (required; province, regency, district or village, dots allowed) | `kode_wilayah`, `kode`, `region_code`, `region` |
//! | working population | `penduduk_bekerja`, `pekerja`, `working_population` |
//! | baseline (covered outside Lindung) | `peserta_existing`, `peserta_bpjs`, `baseline` |
//! | target, percent | `target`, `target_persen`, `target_percent` |
//! | denominator of a category | `jumlah_<category>` or `denominator_<category>`, e.g. `jumlah_rt`, `jumlah_nelayan`, `denominator_fisherman` |
//!
//! Numbers may use `.` or `,` as thousands separators (`112.000`).

use std::collections::BTreeMap;

use lindung_shared::coverage::parse_percent_bp;
use lindung_shared::region::{Regions, normalize_code};
use lindung_shared::registration::Category;
use serde::{Deserialize, Serialize};

/// One region's reference values for one year.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceRow {
    /// The year.
    pub year: i32,
    /// The region code, digits only.
    pub region_code: String,
    /// Working population, when given.
    pub working_population: Option<u64>,
    /// Participants covered outside Lindung, when given.
    pub baseline: Option<u64>,
    /// Target in basis points, when given.
    pub target_bp: Option<u32>,
    /// Denominators per category, when given.
    pub category_denominators: BTreeMap<Category, u64>,
}

/// A refused row of a reference file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReferenceProblem {
    /// 1-based line number in the file (the header is line 1).
    pub line: usize,
    /// The column at fault.
    pub column: String,
    /// What is wrong, in English.
    pub message: String,
    /// The same in Bahasa Indonesia.
    pub message_id: String,
}

/// What a file contained.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ParsedReference {
    /// Rows that are valid.
    pub rows: Vec<ReferenceRow>,
    /// Problems of refused rows (a row is refused whole).
    pub problems: Vec<ReferenceProblem>,
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceFileError {
    /// The header lacks a required column.
    #[error("the header has no {0} column (see the accepted names in docs/reference.md)")]
    MissingColumn(&'static str),
    /// The CSV itself is broken.
    #[error("unreadable CSV: {0}")]
    Csv(#[from] csv::Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Year,
    Region,
    WorkingPopulation,
    Baseline,
    Target,
    Denominator(Category),
}

fn key(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn column_of(header: &str) -> Option<Column> {
    let k = key(header);
    let column = match k.as_str() {
        "tahun" | "year" => Column::Year,
        "kodewilayah" | "kode" | "regioncode" | "region" | "kodedesa" => Column::Region,
        "pendudukbekerja" | "pekerja" | "workingpopulation" | "angkatankerjabekerja" => {
            Column::WorkingPopulation
        }
        "pesertaexisting" | "pesertabpjs" | "baseline" | "pesertaluarlindung" => Column::Baseline,
        "target" | "targetpersen" | "targetpercent" => Column::Target,
        other => {
            let category = other
                .strip_prefix("jumlah")
                .or_else(|| other.strip_prefix("denominator"))?;
            Column::Denominator(Category::parse_loose(category)?)
        }
    };
    Some(column)
}

fn delimiter_of(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    [b';', b'\t', b',']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

fn parse_count(text: &str) -> Option<u64> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | ' '))
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Words that name the whole country in the region column (its code is "").
const NATIONAL: [&str; 4] = ["id", "indonesia", "nasional", "national"];

/// The region code a cell names: a known region's code, or "" for the
/// whole country (`ID`, `Indonesia`, `nasional`, `national`).
fn region_of(cell: &str, regions: &Regions) -> Option<String> {
    if NATIONAL.contains(&cell.trim().to_ascii_lowercase().as_str()) {
        return Some(String::new());
    }
    normalize_code(cell).filter(|code| regions.get(code).is_some())
}

/// A region code as people read it ("ID" for the whole country).
pub fn shown_code(code: &str) -> &str {
    if code.is_empty() { "ID" } else { code }
}

/// Parses a reference file's text. Unknown columns are ignored.
pub fn parse(text: &str, regions: &Regions) -> Result<ParsedReference, ReferenceFileError> {
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter_of(text))
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers()?.clone();
    let columns: Vec<Option<Column>> = headers.iter().map(column_of).collect();
    if !columns.contains(&Some(Column::Year)) {
        return Err(ReferenceFileError::MissingColumn("year (tahun)"));
    }
    if !columns.contains(&Some(Column::Region)) {
        return Err(ReferenceFileError::MissingColumn(
            "region code (kode_wilayah)",
        ));
    }
    let header_of = |wanted: Column| {
        columns
            .iter()
            .position(|column| *column == Some(wanted))
            .and_then(|i| headers.get(i))
            .unwrap_or_default()
            .to_owned()
    };
    let (year_header, region_header) = (header_of(Column::Year), header_of(Column::Region));
    let mut parsed = ParsedReference::default();
    let mut seen: BTreeMap<(i32, String), usize> = BTreeMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let mut problems = Vec::new();
        let mut fail = |header: &str, en: String, id: String| {
            problems.push(ReferenceProblem {
                line,
                column: header.to_owned(),
                message: en,
                message_id: id,
            })
        };
        let mut row = ReferenceRow {
            year: 0,
            region_code: String::new(),
            working_population: None,
            baseline: None,
            target_bp: None,
            category_denominators: BTreeMap::new(),
        };
        // A short row may stop before the year or region cell; "" is a
        // region code of its own (the whole country), so note what was read.
        let (mut year_read, mut region_read) = (false, false);
        for ((cell, column), header) in record.iter().zip(&columns).zip(headers.iter()) {
            let cell = cell.trim();
            let Some(column) = column else { continue };
            year_read |= *column == Column::Year;
            region_read |= *column == Column::Region;
            if cell.is_empty() {
                if matches!(column, Column::Year | Column::Region) {
                    fail(header, "required".into(), "wajib diisi".into());
                }
                continue;
            }
            match column {
                Column::Year => match cell.parse::<i32>() {
                    Ok(year) if (2000..=2100).contains(&year) => row.year = year,
                    _ => fail(
                        header,
                        format!("{cell:?} is not a year between 2000 and 2100"),
                        format!("{cell:?} bukan tahun antara 2000 dan 2100"),
                    ),
                },
                Column::Region => match region_of(cell, regions) {
                    Some(code) => row.region_code = code,
                    None => fail(
                        header,
                        format!("{cell:?} is not a known region code"),
                        format!("{cell:?} bukan kode wilayah yang dikenal"),
                    ),
                },
                Column::WorkingPopulation | Column::Baseline | Column::Denominator(_) => {
                    match parse_count(cell) {
                        Some(n) => match column {
                            Column::WorkingPopulation => row.working_population = Some(n),
                            Column::Baseline => row.baseline = Some(n),
                            Column::Denominator(category) => {
                                row.category_denominators.insert(*category, n);
                            }
                            _ => {}
                        },
                        None => fail(
                            header,
                            format!("{cell:?} is not a whole number of persons"),
                            format!("{cell:?} bukan jumlah orang (bilangan bulat)"),
                        ),
                    }
                }
                Column::Target => match parse_percent_bp(cell) {
                    Some(bp) => row.target_bp = Some(bp),
                    None => fail(
                        header,
                        format!("{cell:?} is not a percentage between 0 and 100"),
                        format!("{cell:?} bukan persentase antara 0 dan 100"),
                    ),
                },
            }
        }
        if !year_read {
            fail(&year_header, "required".into(), "wajib diisi".into());
        }
        if !region_read {
            fail(&region_header, "required".into(), "wajib diisi".into());
        }
        if let (Some(baseline), Some(population)) = (row.baseline, row.working_population)
            && baseline > population
        {
            fail(
                "baseline",
                format!("baseline {baseline} is larger than the working population {population}"),
                format!("peserta existing {baseline} melebihi penduduk bekerja {population}"),
            );
        }
        if problems.is_empty()
            && let Some(first) = seen.insert((row.year, row.region_code.clone()), line)
        {
            problems.push(ReferenceProblem {
                line,
                column: "kode_wilayah".into(),
                message: format!(
                    "region {} for {} is already on line {first}",
                    shown_code(&row.region_code),
                    row.year
                ),
                message_id: format!(
                    "wilayah {} tahun {} sudah ada di baris {first}",
                    shown_code(&row.region_code),
                    row.year
                ),
            });
        }
        if problems.is_empty() {
            parsed.rows.push(row);
        } else {
            parsed.problems.extend(problems);
        }
    }
    Ok(parsed)
}

/// Why a reference file could not be imported at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as a reference table.
    #[error(transparent)]
    File(#[from] ReferenceFileError),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// Imports a reference CSV (`source` names it in the audit log): stored
/// only when every row is valid, replacing each year it holds; otherwise
/// the row problems and nothing stored. Audited.
pub async fn import(
    storage: &dyn crate::storage::Storage,
    actor: &str,
    text: &str,
    source: &str,
) -> Result<Result<crate::storage::ReferenceReplaced, Vec<ReferenceProblem>>, ImportError> {
    let parsed = parse(text, lindung_shared::region::regions())?;
    if !parsed.problems.is_empty() {
        return Ok(Err(parsed.problems));
    }
    let replaced = storage.replace_reference(&parsed.rows).await?;
    let details = serde_json::json!({
        "file": source,
        "years": replaced.years,
        "rows": replaced.stored,
        "removed": replaced.removed,
    });
    if let Err(error) = crate::audit::audit(
        storage,
        actor,
        crate::audit::action::REFERENCE_IMPORT,
        source,
        details,
    )
    .await
    {
        tracing::error!(error = %format!("{error:#}"), "audit entry not written");
    }
    Ok(Ok(replaced))
}

#[cfg(test)]
mod tests {
    use lindung_shared::region::regions;

    use super::*;

    #[test]
    fn reads_the_seed_regions_with_indonesian_headers_and_thousands_separators() {
        let text = "Tahun;Kode Wilayah;Penduduk Bekerja;Peserta BPJS;Target Persen;Jumlah RT;Jumlah RW;Jumlah Nelayan\n\
                    2025;13.11;100.000;14.000;28,30;;;\n\
                    2025;1311012001;1.250;40;;12;4;300\n\
                    2025;15.03;112.000;48.160;65;;;\n";
        let parsed = parse(text, regions()).expect("readable");
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        assert_eq!(parsed.rows.len(), 3);
        let solok = &parsed.rows[0];
        assert_eq!(solok.region_code, "1311");
        assert_eq!(solok.working_population, Some(100_000));
        assert_eq!(solok.baseline, Some(14_000));
        assert_eq!(solok.target_bp, Some(2_830));
        let village = &parsed.rows[1];
        assert_eq!(
            village.category_denominators.get(&Category::RtHead),
            Some(&12)
        );
        assert_eq!(
            village.category_denominators.get(&Category::RwHead),
            Some(&4)
        );
        assert_eq!(
            village.category_denominators.get(&Category::Fisherman),
            Some(&300)
        );
    }

    #[test]
    fn the_whole_country_is_a_row_of_its_own() {
        let text = "tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs\n\
                    2025;ID;100.000.000;38.000.000\n\
                    2025;17;1.000.000;360.000\n\
                    2025;Indonesia;1;1\n\
                    2025\n";
        let parsed = parse(text, regions()).expect("readable");
        let codes: Vec<&str> = parsed.rows.iter().map(|r| r.region_code.as_str()).collect();
        assert_eq!(codes, vec!["", "17"]);
        assert_eq!(parsed.rows[0].working_population, Some(100_000_000));
        let at: Vec<(usize, &str)> = parsed
            .problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(at, vec![(4, "kode_wilayah"), (5, "kode_wilayah")]);
        assert!(parsed.problems[0].message.contains("region ID for 2025"));
    }

    #[test]
    fn every_bad_cell_is_named_with_its_line_and_the_good_rows_are_kept() {
        let text = "year,region_code,working_population,baseline,target_percent\n\
                    2025,1311,100000,14000,28.3\n\
                    1999,9999,lots,5,120\n\
                    2025,1311,1,1,1\n\
                    2025,1503,100,200,\n";
        let parsed = parse(text, regions()).expect("readable");
        assert_eq!(parsed.rows.len(), 1);
        let at: Vec<(usize, &str)> = parsed
            .problems
            .iter()
            .map(|p| (p.line, p.column.as_str()))
            .collect();
        assert_eq!(
            at,
            vec![
                (3, "year"),
                (3, "region_code"),
                (3, "working_population"),
                (3, "target_percent"),
                (4, "kode_wilayah"),
                (5, "baseline"),
            ]
        );
        assert!(parsed.problems.iter().all(|p| !p.message_id.is_empty()));
    }

    #[test]
    fn a_file_without_year_or_region_is_refused_whole() {
        assert!(matches!(
            parse("kode,target\n1311,20\n", regions()),
            Err(ReferenceFileError::MissingColumn(_))
        ));
        assert!(matches!(
            parse("tahun,target\n2025,20\n", regions()),
            Err(ReferenceFileError::MissingColumn(_))
        ));
    }
}
