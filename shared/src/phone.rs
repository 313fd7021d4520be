//! Indonesian phone numbers, normalised to E.164 (`+62…`).
//!
//! People write numbers many ways: `0812-3456-7890`, `62812…`, `+62 812…`,
//! `(0751) 123456` for a landline with its area code, `+62-21-555-1234`.
//! [`normalize_phone`] accepts these and stores one canonical form, so the
//! same person's number compares equal whoever typed it.
//!
//! The rules: strip spaces, dashes, dots and parentheses; a `0`, `62`, `+62`
//! or `0062` prefix becomes `+62`; the national significant number (NSN,
//! what follows 62) has 8 to 12 digits and does not start with 0. Mobile
//! numbers have an NSN starting with 8 ([`Phone::is_mobile`]); landlines start
//! with the area code without its 0 (21 Jakarta, 751 Padang).
//!
//! A phone number is personal data: `Debug` and `Display` print the masked
//! form, the full number only comes from [`Phone::as_str`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::lang::{Lang, Problem, Severity};

/// Fewest digits in a national significant number (after `+62`). Landlines in
/// smaller towns have a 3-digit area code and a 5-digit subscriber number.
pub const NSN_MIN_DIGITS: usize = 8;

/// Most digits in a national significant number (after `+62`): the longest
/// mobile numbers are `08xx-xxxx-xxxxx`, i.e. 13 digits with the 0.
pub const NSN_MAX_DIGITS: usize = 12;

/// Indonesia's country calling code.
const COUNTRY_CODE: &str = "62";

/// An Indonesian phone number in E.164 form, e.g. `+6281234567890`.
///
/// Built only by [`normalize_phone`] (or `parse`, or deserialisation), so it
/// always starts with `+62` followed by 8–12 digits, the first not 0.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// The full E.164 number, e.g. `+6281234567890`. Personal data: do not log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The national significant number: the digits after `+62`.
    pub fn national_significant_number(&self) -> &str {
        // Always present: the value starts with "+62" by construction.
        self.0.get(3..).unwrap_or_default()
    }

    /// The number as dialled inside Indonesia, with a leading 0
    /// (e.g. `081234567890`), for showing to officers.
    pub fn to_national(&self) -> String {
        format!("0{}", self.national_significant_number())
    }

    /// Whether this is a mobile number (NSN starting with 8).
    pub fn is_mobile(&self) -> bool {
        self.national_significant_number().starts_with('8')
    }

    /// `+62`, the first 3 and the last 4 digits of the NSN, the rest as `*`,
    /// e.g. `+62812****7890`.
    pub fn masked(&self) -> String {
        let nsn = self.national_significant_number();
        // NSN is 8–12 ASCII digits, so these byte indices are in range and at
        // least one digit is hidden.
        let hidden = nsn.len().saturating_sub(7);
        let head = nsn.get(..3).unwrap_or_default();
        let tail = nsn.get(nsn.len().saturating_sub(4)..).unwrap_or_default();
        format!("+{COUNTRY_CODE}{head}{}{tail}", "*".repeat(hidden))
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl fmt::Display for Phone {
    /// Masked, like `Debug`, so that formatting a record never leaks the
    /// number; use [`Phone::as_str`] or [`Phone::to_national`] to show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl FromStr for Phone {
    type Err = PhoneIssue;

    /// Same as [`normalize_phone`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        normalize_phone(s)
    }
}

impl Serialize for Phone {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Phone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PhoneVisitor;

        impl serde::de::Visitor<'_> for PhoneVisitor {
            type Value = Phone;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an Indonesian phone number in E.164 form (+62…)")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Phone, E> {
                // Stored and wire data must already be canonical; accepting
                // `0812…` here would hide a writer that skipped normalisation.
                // Error texts never echo the number.
                let phone = normalize_phone(v).map_err(|i| E::custom(i.message(Lang::En)))?;
                if phone.0 == v {
                    Ok(phone)
                } else {
                    Err(E::custom(
                        "phone number is not in canonical E.164 form (+62 and digits only)",
                    ))
                }
            }
        }

        deserializer.deserialize_str(PhoneVisitor)
    }
}

/// Why a phone number was rejected. All are errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneIssue {
    /// `phone_empty`: no digits at all.
    Empty,
    /// `phone_invalid_character`: something other than a digit, a leading
    /// `+`, or a separator (space, dash, dot, parentheses).
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its 1-based position in the text as entered.
        position: usize,
    },
    /// `phone_missing_prefix`: the number starts with neither 0, 62 nor +62,
    /// so it cannot be told apart from a foreign or truncated number.
    MissingPrefix,
    /// `phone_not_indonesian`: an international number with a country code
    /// other than +62.
    NotIndonesian {
        /// The start of the number as dialled internationally, e.g. `+6012`
        /// (at most 4 digits, enough to recognise the country).
        start: String,
    },
    /// `phone_zero_after_country_code`: `+62` followed by `0`, e.g.
    /// `+62 0812…`; the 0 is only dialled without the country code.
    ZeroAfterCountryCode,
    /// `phone_too_short`: fewer than [`NSN_MIN_DIGITS`] digits after the prefix.
    TooShort {
        /// Digits after the prefix.
        digits: usize,
    },
    /// `phone_too_long`: more than [`NSN_MAX_DIGITS`] digits after the prefix.
    TooLong {
        /// Digits after the prefix.
        digits: usize,
    },
}

impl Problem for PhoneIssue {
    fn code(&self) -> &'static str {
        match self {
            PhoneIssue::Empty => "phone_empty",
            PhoneIssue::InvalidCharacter { .. } => "phone_invalid_character",
            PhoneIssue::MissingPrefix => "phone_missing_prefix",
            PhoneIssue::NotIndonesian { .. } => "phone_not_indonesian",
            PhoneIssue::ZeroAfterCountryCode => "phone_zero_after_country_code",
            PhoneIssue::TooShort { .. } => "phone_too_short",
            PhoneIssue::TooLong { .. } => "phone_too_long",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Id => match self {
                PhoneIssue::Empty => "Nomor telepon belum diisi. Masukkan nomor HP atau telepon \
                                      rumah, misalnya 0812-3456-7890."
                    .to_owned(),
                PhoneIssue::InvalidCharacter {
                    character,
                    position,
                } => format!(
                    "Nomor telepon hanya boleh berisi angka, tetapi karakter ke-{position} \
                     adalah {}. Spasi, tanda hubung, titik, tanda kurung, dan tanda + di awal \
                     boleh dipakai.",
                    describe_char(*character)
                ),
                PhoneIssue::MissingPrefix => "Nomor telepon harus diawali 0, 62, atau +62, \
                                              misalnya 0812-3456-7890 atau +62 812-3456-7890."
                    .to_owned(),
                PhoneIssue::NotIndonesian { start } => format!(
                    "Nomor telepon ini diawali {start}…, yaitu kode negara lain, bukan +62 \
                     (Indonesia). Masukkan nomor Indonesia, misalnya 0812-3456-7890."
                ),
                PhoneIssue::ZeroAfterCountryCode => "Setelah +62 tidak boleh ada angka 0. \
                                                     Hapus angka 0 itu, misalnya +62 812-3456-7890, \
                                                     atau tulis 0812-3456-7890 tanpa +62."
                    .to_owned(),
                PhoneIssue::TooShort { digits } => format!(
                    "Nomor telepon terlalu pendek: setelah awalan 0 atau +62 hanya ada {digits} \
                     angka, padahal minimal {NSN_MIN_DIGITS}. Periksa apakah ada angka yang \
                     terlewat; untuk telepon rumah, sertakan kode areanya, misalnya (0751)."
                ),
                PhoneIssue::TooLong { digits } => format!(
                    "Nomor telepon terlalu panjang: setelah awalan 0 atau +62 ada {digits} \
                     angka, padahal maksimal {NSN_MAX_DIGITS}. Periksa apakah ada angka yang \
                     terketik dua kali, dan isi satu nomor saja."
                ),
            },
            Lang::En => match self {
                PhoneIssue::Empty => "The phone number is empty. Enter a mobile or landline \
                                      number, for example 0812-3456-7890."
                    .to_owned(),
                PhoneIssue::InvalidCharacter {
                    character,
                    position,
                } => format!(
                    "The phone number may contain only digits, but character {position} is {}. \
                     Spaces, dashes, dots, parentheses and a leading + are allowed.",
                    describe_char(*character)
                ),
                PhoneIssue::MissingPrefix => "The phone number must start with 0, 62 or +62, \
                                              for example 0812-3456-7890 or +62 812-3456-7890."
                    .to_owned(),
                PhoneIssue::NotIndonesian { start } => format!(
                    "The phone number starts with {start}…, a foreign country code rather than \
                     +62 (Indonesia). Enter an Indonesian number, for example 0812-3456-7890."
                ),
                PhoneIssue::ZeroAfterCountryCode => "A phone number must not have a 0 right \
                                                     after +62. Remove that 0, as in \
                                                     +62 812-3456-7890, or write 0812-3456-7890 \
                                                     without +62."
                    .to_owned(),
                PhoneIssue::TooShort { digits } => format!(
                    "The phone number is too short: it has {digits} digits after the 0 or +62 \
                     prefix, but at least {NSN_MIN_DIGITS} are needed. Look for a missing digit; \
                     for a landline, include the area code, such as (0751)."
                ),
                PhoneIssue::TooLong { digits } => format!(
                    "The phone number is too long: it has {digits} digits after the 0 or +62 \
                     prefix, but at most {NSN_MAX_DIGITS} are allowed. Look for a digit typed \
                     twice, and enter only one number."
                ),
            },
        }
    }
}

impl fmt::Display for PhoneIssue {
    /// The English message, for logs and `?` in tools.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for PhoneIssue {}

/// Normalises an Indonesian phone number as people write it to E.164 (`+62…`).
///
/// Accepted prefixes: `0` (national), `62` and `+62` (country code), `0062`
/// (international dialling prefix 00). Any other `+` or `00` country code is
/// [`PhoneIssue::NotIndonesian`]. The first problem found is returned.
pub fn normalize_phone(input: &str) -> Result<Phone, PhoneIssue> {
    let mut digits = String::with_capacity(input.len());
    let mut plus = false;
    for (index, c) in input.chars().enumerate() {
        if is_separator(c) {
            continue;
        }
        if c.is_ascii_digit() {
            digits.push(c);
        } else if c == '+' && !plus && digits.is_empty() {
            plus = true;
        } else {
            return Err(PhoneIssue::InvalidCharacter {
                character: c,
                position: index + 1,
            });
        }
    }
    if digits.is_empty() {
        return Err(PhoneIssue::Empty);
    }

    // What follows an international prefix is a country code; otherwise a
    // leading 0 is the national trunk prefix and a leading 62 the country code
    // written without its +.
    let international = if plus {
        Some(digits.as_str())
    } else {
        digits.strip_prefix("00")
    };
    let nsn = match international {
        Some(rest) => rest
            .strip_prefix(COUNTRY_CODE)
            .ok_or_else(|| PhoneIssue::NotIndonesian {
                start: format!("+{}", rest.get(..4).unwrap_or(rest)),
            })?,
        None => match digits.strip_prefix('0') {
            Some(rest) => rest,
            None => digits
                .strip_prefix(COUNTRY_CODE)
                .ok_or(PhoneIssue::MissingPrefix)?,
        },
    };

    if nsn.starts_with('0') {
        return Err(PhoneIssue::ZeroAfterCountryCode);
    }
    if nsn.len() < NSN_MIN_DIGITS {
        return Err(PhoneIssue::TooShort { digits: nsn.len() });
    }
    if nsn.len() > NSN_MAX_DIGITS {
        return Err(PhoneIssue::TooLong { digits: nsn.len() });
    }
    Ok(Phone(format!("+{COUNTRY_CODE}{nsn}")))
}

/// Characters people put between digit groups: whitespace (including the
/// non-breaking space of copy and paste), dashes, dots and the parentheses
/// around an area code.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '\u{2010}'..='\u{2015}' | '\u{2212}'
        )
}

/// A character as shown in a message: quoted when printable, as a code point
/// otherwise (a tab or control character would be invisible).
fn describe_char(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("\"{c}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(input: &str) -> String {
        match normalize_phone(input) {
            Ok(p) => p.as_str().to_owned(),
            Err(e) => panic!("{input:?} rejected: {e}"),
        }
    }

    #[test]
    fn accepts_the_usual_ways_of_writing_a_number() {
        for (input, expected) in [
            ("0812-3456-7890", "+6281234567890"),
            ("0812 3456 789", "+628123456789"),
            ("081234567890", "+6281234567890"),
            ("6281234567890", "+6281234567890"),
            ("+62 812-3456-7890", "+6281234567890"),
            ("+6281234567890", "+6281234567890"),
            ("0062 812 3456 7890", "+6281234567890"),
            ("0812.3456.7890", "+6281234567890"),
            ("(0751) 123456", "+62751123456"),
            ("+62-21-555-1234", "+62215551234"),
            ("+62 (21) 5551 2345", "+622155512345"),
            (" 021\u{a0}5551234 ", "+62215551234"),
            ("0751 12345", "+6275112345"),
            ("0812 3456 78901", "+62812345678901"),
        ] {
            assert_eq!(ok(input), expected, "{input:?}");
        }
    }

    #[test]
    fn accessors() {
        let p = normalize_phone("0812-3456-7890").expect("valid");
        assert_eq!(p.national_significant_number(), "81234567890");
        assert_eq!(p.to_national(), "081234567890");
        assert!(p.is_mobile());
        let landline = normalize_phone("(0751) 123456").expect("valid");
        assert!(!landline.is_mobile());
        assert_eq!(landline.to_national(), "0751123456");
    }

    #[test]
    fn masked_everywhere_but_as_str() {
        let p = normalize_phone("0812-3456-7890").expect("valid");
        assert_eq!(p.masked(), "+62812****7890");
        assert_eq!(format!("{p:?}"), "Phone(+62812****7890)");
        assert_eq!(p.to_string(), "+62812****7890");
        // Shortest NSN still hides one digit.
        let short = normalize_phone("0751 12345").expect("valid");
        assert_eq!(short.masked(), "+62751*2345");
    }

    #[test]
    fn rejections() {
        for (input, issue) in [
            ("", PhoneIssue::Empty),
            (" - () ", PhoneIssue::Empty),
            ("+", PhoneIssue::Empty),
            (
                "0812-3456-789O",
                PhoneIssue::InvalidCharacter {
                    character: 'O',
                    position: 14,
                },
            ),
            (
                "0812 3456 7890 ext 12",
                PhoneIssue::InvalidCharacter {
                    character: 'e',
                    position: 16,
                },
            ),
            (
                "62+812345678",
                PhoneIssue::InvalidCharacter {
                    character: '+',
                    position: 3,
                },
            ),
            (
                "++6281234567",
                PhoneIssue::InvalidCharacter {
                    character: '+',
                    position: 2,
                },
            ),
            (
                "0812/3456/7890",
                PhoneIssue::InvalidCharacter {
                    character: '/',
                    position: 5,
                },
            ),
            ("812-3456-7890", PhoneIssue::MissingPrefix),
            ("6012 345 6789", PhoneIssue::MissingPrefix),
            (
                "+6012 345 6789",
                PhoneIssue::NotIndonesian {
                    start: "+6012".into(),
                },
            ),
            (
                "+1 202 555 0100",
                PhoneIssue::NotIndonesian {
                    start: "+1202".into(),
                },
            ),
            (
                "0060 12 345 6789",
                PhoneIssue::NotIndonesian {
                    start: "+6012".into(),
                },
            ),
            ("+1", PhoneIssue::NotIndonesian { start: "+1".into() }),
            ("+62 0812-3456-7890", PhoneIssue::ZeroAfterCountryCode),
            ("620812345678", PhoneIssue::ZeroAfterCountryCode),
            ("0812-345", PhoneIssue::TooShort { digits: 6 }),
            ("0751 1234", PhoneIssue::TooShort { digits: 7 }),
            ("+62", PhoneIssue::TooShort { digits: 0 }),
            ("0", PhoneIssue::TooShort { digits: 0 }),
            ("0812-3456-7890-123", PhoneIssue::TooLong { digits: 14 }),
            ("+62 812 3456 789012", PhoneIssue::TooLong { digits: 13 }),
        ] {
            assert_eq!(normalize_phone(input), Err(issue), "{input:?}");
        }
    }

    #[test]
    fn every_issue_has_messages_and_a_unique_code() {
        let issues = [
            PhoneIssue::Empty,
            PhoneIssue::InvalidCharacter {
                character: '\u{7}',
                position: 1,
            },
            PhoneIssue::MissingPrefix,
            PhoneIssue::NotIndonesian {
                start: "+6012".into(),
            },
            PhoneIssue::ZeroAfterCountryCode,
            PhoneIssue::TooShort { digits: 6 },
            PhoneIssue::TooLong { digits: 14 },
        ];
        let mut codes: Vec<&str> = issues.iter().map(Problem::code).collect();
        for issue in &issues {
            assert!(issue.code().starts_with("phone_"));
            assert_eq!(issue.severity(), Severity::Error);
            for lang in [Lang::Id, Lang::En] {
                let m = issue.message(lang);
                assert!(m.len() > 20 && m.ends_with('.'), "{}: {m}", issue.code());
            }
            assert_ne!(issue.message(Lang::Id), issue.message(Lang::En));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), issues.len());
        assert!(issues[1].message(Lang::Id).contains("U+0007"));
        assert!(issues[3].message(Lang::Id).contains("+6012"));
    }

    #[test]
    fn serde_is_canonical_e164() {
        let p = normalize_phone("0812-3456-7890").expect("valid");
        let json = serde_json::to_string(&p).expect("serialise");
        assert_eq!(json, "\"+6281234567890\"");
        assert_eq!(
            serde_json::from_str::<Phone>(&json).expect("deserialise"),
            p
        );
        for bad in [
            "\"081234567890\"",
            "\"+62 812 3456 7890\"",
            "\"+6012345678\"",
            "\"\"",
        ] {
            let err = serde_json::from_str::<Phone>(bad).expect_err(bad);
            // Our error text must not echo the number back into a log.
            assert!(!err.to_string().contains("2345678"), "{err}");
        }
        // A JSON number is refused too (serde_json's own message quotes it).
        assert!(serde_json::from_str::<Phone>("6281234567890").is_err());
    }

    /// Numbers as people write them: a prefix, an NSN, random separators.
    fn written_number() -> impl Strategy<Value = String> {
        (
            prop_oneof![
                Just("0"),
                Just("62"),
                Just("+62"),
                Just("+62 "),
                Just("0062")
            ],
            "[1-9][0-9]{7,11}",
            proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just(".")], 13),
        )
            .prop_map(|(prefix, nsn, seps)| {
                let mut s = prefix.to_owned();
                for (d, sep) in nsn.chars().zip(seps) {
                    s.push(d);
                    s.push_str(sep);
                }
                s
            })
    }

    proptest! {
        #[test]
        fn normalising_twice_is_the_identity(input in written_number()) {
            let once = normalize_phone(&input).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let twice = normalize_phone(once.as_str()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&once, &twice);
            prop_assert!(once.as_str().starts_with("+62"));
            let nsn_len = once.national_significant_number().len();
            prop_assert!((NSN_MIN_DIGITS..=NSN_MAX_DIGITS).contains(&nsn_len));
        }

        #[test]
        fn arbitrary_text_never_panics_and_accepted_is_stable(input in any::<String>()) {
            if let Ok(once) = normalize_phone(&input) {
                prop_assert_eq!(normalize_phone(once.as_str()), Ok(once.clone()));
                let _ = once.masked();
            }
        }

        #[test]
        fn phone_like_text_is_stable(input in "[0-9 +()./\\-]{0,20}") {
            if let Ok(once) = normalize_phone(&input) {
                prop_assert_eq!(normalize_phone(once.as_str()), Ok(once));
            }
        }
    }
}
