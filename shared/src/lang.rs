//! Languages of user-facing text and the shape of every typed problem.
//!
//! Officers read Bahasa Indonesia first; logs and the API speak English. Every
//! error or warning in `shared` is a typed value that implements [`Problem`]:
//! a stable machine code (never translated, safe to match on in the agent,
//! the server and tests) plus a message in both languages.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language for user-facing text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Bahasa Indonesia, the default for officers and staff.
    #[default]
    Id,
    /// English, for logs, the API and anyone who asks for it.
    En,
}

impl Lang {
    /// The ISO 639-1 code: `id` or `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text given for a language is not `id` or `en`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?}: use \"id\" (Bahasa Indonesia) or \"en\" (English)")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "id" | "ind" | "indonesia" | "bahasa" => Ok(Lang::Id),
            "en" | "eng" | "english" => Ok(Lang::En),
            _ => Err(UnknownLang(s.to_owned())),
        }
    }
}

/// How serious a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The officer should look, and sometimes confirm; saving is still allowed.
    Warning,
    /// The value is rejected; nothing is saved until it is fixed.
    Error,
}

/// A typed problem with a stable code and a message in both languages.
pub trait Problem {
    /// Stable machine-readable code, `snake_case`, never translated.
    fn code(&self) -> &'static str;
    /// Whether this problem rejects the value or only warns.
    fn severity(&self) -> Severity;
    /// The message in the given language: a full sentence naming what is wrong.
    fn message(&self, lang: Lang) -> String;

    /// The serialisable form of this problem, with both messages.
    fn to_message(&self) -> Message {
        Message {
            code: self.code().to_owned(),
            severity: self.severity(),
            field: None,
            message_id: self.message(Lang::Id),
            message_en: self.message(Lang::En),
        }
    }
}

/// The serialisable form of a [`Problem`], as shown in `--json` output and the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Stable machine-readable code.
    pub code: String,
    /// Error or warning.
    pub severity: Severity,
    /// The field the problem is about, when it is about one field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The message in Bahasa Indonesia.
    pub message_id: String,
    /// The message in English.
    pub message_en: String,
}

impl Message {
    /// The message in the given language.
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Id => &self.message_id,
            Lang::En => &self.message_en,
        }
    }

    /// The same message, attached to a field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Month name for 1–12 (anything else gets the number back rather than a panic).
pub fn month_name(month: u8, lang: Lang) -> String {
    let names = match lang {
        Lang::Id => &MONTHS_ID,
        Lang::En => &MONTHS_EN,
    };
    usize::from(month)
        .checked_sub(1)
        .and_then(|i| names.get(i))
        .map_or_else(|| month.to_string(), |n| (*n).to_owned())
}

/// A date as people read it: `1 Januari 1990` or `1 January 1990`.
pub fn format_date(date: time::Date, lang: Lang) -> String {
    format!(
        "{} {} {}",
        date.day(),
        month_name(u8::from(date.month()), lang),
        date.year()
    )
}

/// An amount of rupiah as Indonesians write it: `Rp 1.500.000`.
pub fn format_rupiah(amount: u64) -> String {
    let digits = amount.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(digit);
    }
    format!("Rp {grouped}")
}

/// Whole years between `birth_date` and `today` (0 if `today` is earlier).
pub fn age_on(birth_date: time::Date, today: time::Date) -> u32 {
    let mut years = today.year() - birth_date.year();
    if (today.month(), today.day()) < (birth_date.month(), birth_date.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn dates_and_ages_read_naturally() {
        assert_eq!(
            format_date(date!(1990 - 01 - 01), Lang::Id),
            "1 Januari 1990"
        );
        assert_eq!(
            format_date(date!(2000 - 02 - 29), Lang::En),
            "29 February 2000"
        );
        assert_eq!(age_on(date!(1990 - 11 - 23), date!(2026 - 11 - 22)), 35);
        assert_eq!(age_on(date!(1990 - 11 - 22), date!(2026 - 11 - 22)), 36);
        assert_eq!(age_on(date!(2030 - 01 - 01), date!(2026 - 11 - 22)), 0);
        assert_eq!(format_rupiah(1_500_000), "Rp 1.500.000");
        assert_eq!(format_rupiah(16_800), "Rp 16.800");
        assert_eq!(format_rupiah(999), "Rp 999");
        assert_eq!(format_rupiah(0), "Rp 0");
    }

    #[test]
    fn lang_parses_both_codes_and_rejects_others() {
        assert_eq!("id".parse::<Lang>(), Ok(Lang::Id));
        assert_eq!(" EN ".parse::<Lang>(), Ok(Lang::En));
        assert!("fr".parse::<Lang>().is_err());
        assert_eq!(Lang::default(), Lang::Id);
    }
}
