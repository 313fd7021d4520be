//! The spreadsheet row parser: any bytes as a `.csv` file, read through
//! `read_rows` as `lindung-agent import` does, then validated.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lindung_agent::spreadsheet::{ImportDefaults, read_rows};
use lindung_shared::region::regions;
use lindung_shared::validation::{ValidationContext, validate_registration};
use time::{Date, Month, OffsetDateTime};

/// One file per fuzzing process, rewritten for every input.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("lindung-fuzz-{}.csv", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(path(), data).expect("the temporary file can be written");
    // Defaults for every column that may have one, so a header naming the
    // NIK and the name is enough to reach the rows.
    let defaults = ImportDefaults {
        payer: Some("apbdes".into()),
        payer_name: None,
        consent_method: Some("formulir".into()),
        consent_reference: None,
        village_code: Some("1311012001".into()),
        category: Some("nelayan".into()),
    };
    let Ok(rows) = read_rows(path(), &defaults) else {
        return;
    };
    let columns = rows.columns().clone();
    let today = Date::from_calendar_date(2026, Month::November, 22).expect("a real date");
    let context = ValidationContext {
        regions: regions(),
        today,
        now: OffsetDateTime::new_utc(today, time::Time::MIDNIGHT),
    };
    let mut previous = columns.header_line();
    for row in rows {
        let row = row.expect("a file that opened reads to its end");
        assert!(row.line > previous, "row {} after {previous}", row.line);
        previous = row.line;
        let messages = match validate_registration(&row.input, &context) {
            Ok(_) => Vec::new(),
            Err(invalid) => invalid.messages(),
        };
        for problem in row.problems_with(&messages, &columns) {
            assert_eq!(problem.line, row.line);
            assert!(problem.field.is_some_and(|f| !f.trim().is_empty()));
            assert!(!problem.message_id.is_empty() && !problem.message_en.is_empty());
        }
    }
});
