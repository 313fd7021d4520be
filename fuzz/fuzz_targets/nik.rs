//! The NIK parser and validator: any text, with the real region index.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lindung_shared::lang::{Lang, Problem};
use lindung_shared::nik::{Nik, validate_nik};
use lindung_shared::region::regions;
use time::{Date, Month};

fuzz_target!(|data: &[u8]| {
    // The first two bytes move "today" across two centuries, so the
    // century inference and the age are fuzzed too.
    let (days, text) = match data {
        [a, b, rest @ ..] => (i64::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (0, data),
    };
    let today = Date::from_calendar_date(1950, Month::January, 1)
        .expect("a real date")
        .checked_add(time::Duration::days(days))
        .expect("within the calendar");
    let text = String::from_utf8_lossy(text);

    let check = validate_nik(&text, today, regions());
    assert_eq!(check.nik.is_some(), check.is_valid());
    assert_eq!(check.sex.is_some(), check.birth_date.is_some());
    for issue in &check.issues {
        assert!(
            !issue.message(Lang::Id).trim().is_empty(),
            "{}",
            issue.code()
        );
        assert!(
            !issue.message(Lang::En).trim().is_empty(),
            "{}",
            issue.code()
        );
    }
    if let Some(birth) = check.birth_date {
        assert!(birth <= today);
    }
    if let Some(nik) = check.nik {
        assert_eq!(Nik::from_digits(nik.as_str()).ok(), Some(nik));
        assert_eq!(text.parse::<Nik>().ok(), Some(nik));
        let masked = nik.masked();
        assert_eq!(&masked[..4], &nik.as_str()[..4]);
        assert_eq!(&masked[4..12], "********");
        assert_eq!(&masked[12..], &nik.as_str()[12..]);
    }
    if let Ok(nik) = Nik::from_digits(&text) {
        assert_eq!(nik.as_str(), &*text);
    }
});
