//! NIK (Nomor Induk Kependudukan), the 16-digit Indonesian national ID number.
//!
//! Layout `PP KK CC DDMMYY NNNN`: province, regency (kabupaten/kota) and
//! district (kecamatan) where the NIK was *first registered*, the birth date
//! with the day plus 40 for women, and a serial from 0001. There is no check
//! digit, so only structure, region codes and the date can be checked.
//!
//! Two layers:
//! - [`Nik`] is the structural value (exactly 16 ASCII digits). It is what is
//!   stored and sent on the wire. Its `Debug` and `Display` print the masked
//!   form so that a NIK never reaches a log by accident (UU 27/2022 on personal
//!   data protection); the full number is only available through
//!   [`Nik::as_str`].
//! - [`validate_nik`] applies the registration-form rules of `domain.md` §1 and
//!   returns every applicable [`NikIssue`] in a [`NikCheck`]. Region codes come
//!   through the [`NikRegions`] trait, implemented by the region index.
//!
//! A NIK is for life and is never corrected, even when its date is wrong, so
//! differences between the NIK and what the officer typed are warnings that
//! need confirmation ([`compare_with_entered`]), never errors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::lang::{Lang, Problem, Severity, format_date, month_name};

/// Number of digits in a NIK.
pub const NIK_LEN: usize = 16;

/// Youngest age, in whole years, that does not trigger
/// [`NikIssue::AgeOutsideWorkingAge`]. BPS counts workers from age 15; BPJS
/// age limits for non-wage (BPU) registration were not found (`domain.md` §1
/// rule 7), so this is a warning threshold, not a legal limit.
pub const WORKING_AGE_MIN: i32 = 15;

/// Oldest age, in whole years, that does not trigger
/// [`NikIssue::AgeOutsideWorkingAge`]. Same caveat as [`WORKING_AGE_MIN`].
pub const WORKING_AGE_MAX: i32 = 70;

/// Sex as encoded in a NIK (day of birth plus 40 for women).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Laki-laki.
    Male,
    /// Perempuan.
    Female,
}

impl Sex {
    /// The word for this sex in the given language, lower case.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Sex::Male, Lang::Id) => "laki-laki",
            (Sex::Female, Lang::Id) => "perempuan",
            (Sex::Male, Lang::En) => "male",
            (Sex::Female, Lang::En) => "female",
        }
    }
}

/// A structurally valid NIK: exactly 16 ASCII digits.
///
/// Holding a `Nik` says nothing about the region codes or the date: values read
/// back from storage must stay loadable even when region data changes, so the
/// semantic rules live in [`validate_nik`]. `Debug` and `Display` print the
/// masked form ([`Nik::masked`]); serde uses the full 16 digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nik([u8; NIK_LEN]);

impl Nik {
    /// Parses exactly 16 ASCII digits with no separators (the stored and wire
    /// form). Use [`str::parse`] for text as people type it.
    pub fn from_digits(digits: &str) -> Result<Nik, NikIssue> {
        if let Some((position, character)) = digits
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_digit())
        {
            return Err(NikIssue::InvalidCharacter {
                character,
                position: position + 1,
            });
        }
        if digits.is_empty() {
            return Err(NikIssue::Empty);
        }
        // All characters are ASCII digits here, so bytes == characters.
        <[u8; NIK_LEN]>::try_from(digits.as_bytes())
            .map(Nik)
            .map_err(|_| NikIssue::WrongLength {
                given: digits.len(),
            })
    }

    /// The full 16-digit number. Personal data: do not log it.
    pub fn as_str(&self) -> &str {
        // Infallible: the array only ever holds ASCII digits (checked in
        // `from_digits`), and ASCII is valid UTF-8. The fallback only exists
        // because `unsafe` is forbidden in this workspace.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Province code, digits 1–2 (e.g. `13`).
    pub fn province_code(&self) -> &str {
        &self.as_str()[..2]
    }

    /// Regency (kabupaten/kota) code, digits 1–4 (e.g. `1311`).
    pub fn regency_code(&self) -> &str {
        &self.as_str()[..4]
    }

    /// District (kecamatan) code, digits 1–6 (e.g. `131101`): where the NIK
    /// was first registered, which may be a retired code.
    pub fn district_code(&self) -> &str {
        &self.as_str()[..6]
    }

    /// The raw birth-date digits 7–12, `DDMMYY` with DD + 40 for women.
    pub fn date_digits(&self) -> &str {
        &self.as_str()[6..12]
    }

    /// The serial, digits 13–16, as a number (0–9999; 0 is invalid, see
    /// [`NikIssue::SerialZero`]).
    pub fn serial(&self) -> u16 {
        self.0[12..]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    }

    /// The NIK with digits 5–12 hidden, e.g. `1311********0001`: enough to
    /// tell records apart on screen and in logs without exposing the number.
    pub fn masked(&self) -> String {
        mask_middle(self.as_str())
    }
}

impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nik({})", self.masked())
    }
}

impl fmt::Display for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl FromStr for Nik {
    type Err = NikIssue;

    /// Structural parsing only: strips spaces, dots and dashes, then requires
    /// exactly 16 ASCII digits. Region codes, date and serial are not checked.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let stripped = strip_separators(s);
        if let Some((character, position)) = stripped.first_invalid {
            return Err(NikIssue::InvalidCharacter {
                character,
                position,
            });
        }
        Nik::from_digits(&stripped.text)
    }
}

impl Serialize for Nik {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Nik {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NikVisitor;

        impl serde::de::Visitor<'_> for NikVisitor {
            type Value = Nik;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NIK of exactly 16 ASCII digits")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Nik, E> {
                // Strict: the wire form has no separators. The error text never
                // contains the input, so a bad NIK does not leak into logs.
                Nik::from_digits(v).map_err(|issue| E::custom(issue.message(Lang::En)))
            }
        }

        deserializer.deserialize_str(NikVisitor)
    }
}

/// A current district (kecamatan) named by code, as carried in an issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistrictRef {
    /// 6-digit district code.
    pub code: String,
    /// District name.
    pub name: String,
}

/// Why digits 7–12 of a NIK are not a birth date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NikDateProblem {
    /// DD is neither 01–31 (men) nor 41–71 (women).
    Day {
        /// DD as written in the NIK.
        day: u8,
    },
    /// MM is not 01–12.
    Month {
        /// MM as written in the NIK.
        month: u8,
    },
    /// Both DD and MM are out of range.
    DayAndMonth {
        /// DD as written in the NIK.
        day: u8,
        /// MM as written in the NIK.
        month: u8,
    },
    /// The day (after removing the 40 for women) never occurs in this month,
    /// e.g. 31 April or 30 February.
    NoSuchDate {
        /// Day of month, 1–31, after removing the 40 for women.
        day: u8,
        /// Month, 1–12.
        month: u8,
    },
    /// 29 February in a 19YY year that is not a leap year, while 20YY is either
    /// not a leap year either or still in the future.
    LeapDay {
        /// The 19YY candidate year (never a leap year here).
        year_1900s: i32,
        /// The 20YY candidate year.
        year_2000s: i32,
        /// Whether 29 February of `year_2000s` exists but is after today.
        year_2000s_in_future: bool,
    },
    /// Even the 19YY reading is after today (only possible with a `today`
    /// before the year 2000).
    InFuture {
        /// The earliest reading of the date.
        date: Date,
    },
}

/// An error or warning about a NIK. Errors reject the NIK; warnings inform and,
/// for the mismatch warnings, ask the officer to confirm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NikIssue {
    /// Error `nik_empty`: nothing but separators was entered.
    Empty,
    /// Error `nik_invalid_character`: a character other than a digit or a
    /// separator (space, dot, dash). Only the first one is reported.
    InvalidCharacter {
        /// The offending character.
        character: char,
        /// Its 1-based position in the text as entered.
        position: usize,
    },
    /// Error `nik_wrong_length`: the number of digits is not 16.
    WrongLength {
        /// How many digits were given.
        given: usize,
    },
    /// Error `nik_unknown_province`: digits 1–2 are not a province code.
    UnknownProvince {
        /// The 2-digit code.
        code: String,
    },
    /// Error `nik_invalid_date`: digits 7–12 are not a real, past birth date.
    InvalidDate {
        /// Digits 7–12 as written.
        digits: String,
        /// What exactly is wrong.
        problem: NikDateProblem,
    },
    /// Error `nik_serial_zero`: digits 13–16 are `0000`.
    SerialZero,
    /// Warning `nik_unknown_regency`: digits 1–4 are neither a current regency
    /// nor the regency of a retired district.
    UnknownRegency {
        /// The 4-digit code.
        code: String,
        /// Name of the (known) province.
        province_name: String,
    },
    /// Warning `nik_unknown_district`: digits 1–6 are neither a current nor a
    /// retired district.
    UnknownDistrict {
        /// The 6-digit code.
        code: String,
        /// Name of the regency, when it is a current one.
        regency_name: Option<String>,
    },
    /// Warning `nik_retired_district`: digits 1–6 are a district code that was
    /// retired by a split or recoding. The NIK stays valid for life.
    RetiredDistrict {
        /// The retired 6-digit code.
        code: String,
        /// Its last name.
        name: String,
        /// The current district that most likely took over, if known.
        successor: Option<DistrictRef>,
    },
    /// Warning `nik_age_outside_working_age`: the age from the NIK birth date
    /// is outside [`WORKING_AGE_MIN`]–[`WORKING_AGE_MAX`].
    AgeOutsideWorkingAge {
        /// Age in whole years on the day of the check.
        age: i32,
    },
    /// Warning `nik_sex_mismatch`: the sex typed differs from the NIK's.
    SexMismatch {
        /// Sex encoded in the NIK.
        from_nik: Sex,
        /// Sex the officer entered.
        entered: Sex,
    },
    /// Warning `nik_birth_date_mismatch`: the birth date typed differs from
    /// the NIK's (compared on day, month and two-digit year, since that is
    /// all the NIK encodes).
    BirthDateMismatch {
        /// Birth date read from the NIK (century inferred).
        from_nik: Date,
        /// Birth date the officer entered.
        entered: Date,
    },
}

impl Problem for NikIssue {
    fn code(&self) -> &'static str {
        match self {
            NikIssue::Empty => "nik_empty",
            NikIssue::InvalidCharacter { .. } => "nik_invalid_character",
            NikIssue::WrongLength { .. } => "nik_wrong_length",
            NikIssue::UnknownProvince { .. } => "nik_unknown_province",
            NikIssue::InvalidDate { .. } => "nik_invalid_date",
            NikIssue::SerialZero => "nik_serial_zero",
            NikIssue::UnknownRegency { .. } => "nik_unknown_regency",
            NikIssue::UnknownDistrict { .. } => "nik_unknown_district",
            NikIssue::RetiredDistrict { .. } => "nik_retired_district",
            NikIssue::AgeOutsideWorkingAge { .. } => "nik_age_outside_working_age",
            NikIssue::SexMismatch { .. } => "nik_sex_mismatch",
            NikIssue::BirthDateMismatch { .. } => "nik_birth_date_mismatch",
        }
    }

    fn severity(&self) -> Severity {
        match self {
            NikIssue::Empty
            | NikIssue::InvalidCharacter { .. }
            | NikIssue::WrongLength { .. }
            | NikIssue::UnknownProvince { .. }
            | NikIssue::InvalidDate { .. }
            | NikIssue::SerialZero => Severity::Error,
            NikIssue::UnknownRegency { .. }
            | NikIssue::UnknownDistrict { .. }
            | NikIssue::RetiredDistrict { .. }
            | NikIssue::AgeOutsideWorkingAge { .. }
            | NikIssue::SexMismatch { .. }
            | NikIssue::BirthDateMismatch { .. } => Severity::Warning,
        }
    }

    fn message(&self, lang: Lang) -> String {
        match lang {
            Lang::Id => self.message_id(),
            Lang::En => self.message_en(),
        }
    }
}

impl NikIssue {
    fn message_id(&self) -> String {
        const CHECK_KTP: &str = "Cocokkan kembali NIK dengan KTP atau Kartu Keluarga.";
        match self {
            NikIssue::Empty => {
                "NIK belum diisi. Masukkan 16 angka NIK sesuai KTP atau Kartu Keluarga.".to_owned()
            }
            NikIssue::InvalidCharacter {
                character,
                position,
            } => {
                let hint = match lookalike_digit(*character) {
                    Some(d) => format!(" Mungkin maksudnya angka {d}?"),
                    None => String::new(),
                };
                format!(
                    "NIK hanya boleh berisi angka, tetapi karakter ke-{position} adalah {}.{hint} \
                     Spasi, titik, dan tanda hubung boleh dipakai sebagai pemisah.",
                    describe_char(*character)
                )
            }
            NikIssue::WrongLength { given } => {
                let hint = if *given < NIK_LEN {
                    "Periksa apakah ada angka yang terlewat."
                } else {
                    "Periksa apakah ada angka yang terketik dua kali."
                };
                format!(
                    "NIK harus terdiri dari 16 angka, tetapi yang dimasukkan {given} angka. \
                     {hint} {CHECK_KTP}"
                )
            }
            NikIssue::UnknownProvince { code } => format!(
                "Dua angka pertama NIK ({code}) bukan kode provinsi yang dikenal, \
                 sehingga NIK ini tidak sah. {CHECK_KTP}"
            ),
            NikIssue::InvalidDate { digits, problem } => {
                let reason = match problem {
                    NikDateProblem::Day { day } => format!(
                        "tanggal {day:02} tidak mungkin: untuk laki-laki tanggalnya 01–31, \
                         untuk perempuan ditambah 40 menjadi 41–71"
                    ),
                    NikDateProblem::Month { month } => {
                        format!("bulan {month:02} tidak ada: bulan harus 01–12")
                    }
                    NikDateProblem::DayAndMonth { day, month } => format!(
                        "tanggal {day:02} dan bulan {month:02} sama-sama tidak mungkin \
                         (tanggal 01–31, atau 41–71 untuk perempuan; bulan 01–12)"
                    ),
                    NikDateProblem::NoSuchDate { day, month } => format!(
                        "tanggal {day} {} tidak ada di kalender",
                        month_name(*month, Lang::Id)
                    ),
                    NikDateProblem::LeapDay {
                        year_1900s,
                        year_2000s,
                        year_2000s_in_future,
                    } => {
                        let later = if *year_2000s_in_future {
                            format!("29 Februari {year_2000s} belum terjadi")
                        } else {
                            format!("{year_2000s} juga bukan tahun kabisat")
                        };
                        format!(
                            "29 Februari {year_1900s} tidak ada karena {year_1900s} bukan \
                             tahun kabisat, sedangkan {later}"
                        )
                    }
                    NikDateProblem::InFuture { date } => {
                        format!(
                            "tanggal lahir {} belum terjadi",
                            format_date(*date, Lang::Id)
                        )
                    }
                };
                format!(
                    "Angka ke-7 sampai ke-12 NIK ({digits}) seharusnya tanggal lahir \
                     (tanggal, bulan, tahun), tetapi {reason}. {CHECK_KTP}"
                )
            }
            NikIssue::SerialZero => format!(
                "Empat angka terakhir NIK (nomor urut) adalah 0000, padahal nomor urut \
                 dimulai dari 0001. {CHECK_KTP}"
            ),
            NikIssue::UnknownRegency {
                code,
                province_name,
            } => format!(
                "Empat angka pertama NIK ({code}) tidak ada dalam daftar kabupaten/kota di \
                 {province_name}. NIK tetap dapat disimpan karena daftar wilayah belum \
                 mencakup kode lama dari sebelum 2015, tetapi pastikan NIK sudah sesuai KTP."
            ),
            NikIssue::UnknownDistrict { code, regency_name } => {
                let within = match regency_name {
                    Some(name) => format!(" di {name}"),
                    None => String::new(),
                };
                format!(
                    "Enam angka pertama NIK ({code}) bukan kode kecamatan yang dikenal{within}. \
                     NIK tetap dapat disimpan karena kode ini mungkin berasal dari pemekaran \
                     wilayah yang lama, tetapi bisa juga salah ketik, jadi pastikan NIK sudah \
                     sesuai KTP."
                )
            }
            NikIssue::RetiredDistrict {
                code,
                name,
                successor,
            } => {
                let next = match successor {
                    Some(s) => format!(
                        "Penggantinya kemungkinan besar Kecamatan {} ({}).",
                        s.name, s.code
                    ),
                    None => "Kecamatan penggantinya tidak dapat ditentukan dari data wilayah."
                        .to_owned(),
                };
                format!(
                    "Enam angka pertama NIK ({code}) adalah kode lama Kecamatan {name}, yang \
                     sudah tidak dipakai karena pemekaran atau perubahan kode wilayah. {next} \
                     NIK berlaku seumur hidup dan tidak ikut berubah, jadi NIK ini tetap sah. \
                     Pilih desa tempat tinggal atau tempat bekerja dari daftar wilayah yang \
                     berlaku."
                )
            }
            NikIssue::AgeOutsideWorkingAge { age } => {
                let side = if *age < WORKING_AGE_MIN {
                    "di bawah"
                } else {
                    "di atas"
                };
                format!(
                    "Menurut tanggal lahir pada NIK, umurnya {age} tahun, {side} usia kerja \
                     ({WORKING_AGE_MIN}–{WORKING_AGE_MAX} tahun). Periksa kembali NIK dan \
                     tanggal lahirnya; bila sudah benar, pendaftaran tetap boleh dilanjutkan."
                )
            }
            NikIssue::SexMismatch { from_nik, entered } => format!(
                "Jenis kelamin yang diisi ({}) berbeda dengan yang tercantum dalam NIK ({}; \
                 pada NIK perempuan, tanggal lahirnya ditambah 40). Perbedaan seperti ini bisa \
                 saja memang benar karena NIK tidak pernah dikoreksi. Periksa KTP, lalu \
                 konfirmasi bila ingin tetap memakai jenis kelamin yang diisi.",
                entered.name(Lang::Id),
                from_nik.name(Lang::Id)
            ),
            NikIssue::BirthDateMismatch { from_nik, entered } => format!(
                "Tanggal lahir yang diisi ({}) berbeda dengan tanggal lahir dalam NIK ({}). \
                 Perbedaan seperti ini bisa saja memang benar karena NIK tidak pernah \
                 dikoreksi, walaupun tanggalnya keliru. Periksa KTP, lalu konfirmasi bila \
                 ingin tetap memakai tanggal lahir yang diisi.",
                format_date(*entered, Lang::Id),
                format_date(*from_nik, Lang::Id)
            ),
        }
    }

    fn message_en(&self) -> String {
        const CHECK_KTP: &str = "Check the NIK against the KTP or family card (Kartu Keluarga).";
        match self {
            NikIssue::Empty => "The NIK is empty. Enter the 16-digit NIK as printed on the KTP \
                                or family card (Kartu Keluarga)."
                .to_owned(),
            NikIssue::InvalidCharacter {
                character,
                position,
            } => {
                let hint = match lookalike_digit(*character) {
                    Some(d) => format!(" Did you mean the digit {d}?"),
                    None => String::new(),
                };
                format!(
                    "The NIK may contain only digits, but character {position} is {}.{hint} \
                     Spaces, dots and dashes are allowed as separators.",
                    describe_char(*character)
                )
            }
            NikIssue::WrongLength { given } => {
                let hint = if *given < NIK_LEN {
                    "Look for a missing digit."
                } else {
                    "Look for a digit typed twice."
                };
                format!("A NIK has 16 digits, but {given} were entered. {hint} {CHECK_KTP}")
            }
            NikIssue::UnknownProvince { code } => format!(
                "The first two digits of the NIK ({code}) are not a known province code, so \
                 this NIK is invalid. {CHECK_KTP}"
            ),
            NikIssue::InvalidDate { digits, problem } => {
                let reason = match problem {
                    NikDateProblem::Day { day } => format!(
                        "day {day:02} is impossible: it must be 01–31 for men, or 41–71 for \
                         women (day plus 40)"
                    ),
                    NikDateProblem::Month { month } => {
                        format!("month {month:02} does not exist: it must be 01–12")
                    }
                    NikDateProblem::DayAndMonth { day, month } => format!(
                        "both day {day:02} and month {month:02} are impossible (day 01–31, or \
                         41–71 for women; month 01–12)"
                    ),
                    NikDateProblem::NoSuchDate { day, month } => format!(
                        "{day} {} does not exist in the calendar",
                        month_name(*month, Lang::En)
                    ),
                    NikDateProblem::LeapDay {
                        year_1900s,
                        year_2000s,
                        year_2000s_in_future,
                    } => {
                        let later = if *year_2000s_in_future {
                            format!("29 February {year_2000s} is still in the future")
                        } else {
                            format!("{year_2000s} is not a leap year either")
                        };
                        format!(
                            "29 February {year_1900s} does not exist because {year_1900s} is \
                             not a leap year, and {later}"
                        )
                    }
                    NikDateProblem::InFuture { date } => format!(
                        "the birth date {} is in the future",
                        format_date(*date, Lang::En)
                    ),
                };
                format!(
                    "Digits 7 to 12 of the NIK ({digits}) should be the birth date (day, month, \
                     year), but {reason}. {CHECK_KTP}"
                )
            }
            NikIssue::SerialZero => format!(
                "The last four digits of the NIK (the serial number) are 0000, but serial \
                 numbers start at 0001. {CHECK_KTP}"
            ),
            NikIssue::UnknownRegency {
                code,
                province_name,
            } => format!(
                "The first four digits of the NIK ({code}) are not a regency or city in \
                 {province_name} in the region list. The NIK can still be saved, because codes \
                 from before 2015 are not covered, but make sure it matches the KTP."
            ),
            NikIssue::UnknownDistrict { code, regency_name } => {
                let within = match regency_name {
                    Some(name) => format!(" in {name}"),
                    None => String::new(),
                };
                format!(
                    "The first six digits of the NIK ({code}) are not a known district \
                     (kecamatan) code{within}. The NIK can still be saved, because the code may \
                     come from an old regional split, but it may also be a typo, so make sure \
                     it matches the KTP."
                )
            }
            NikIssue::RetiredDistrict {
                code,
                name,
                successor,
            } => {
                let next = match successor {
                    Some(s) => format!(
                        "Its successor is most likely the {} district ({}).",
                        s.name, s.code
                    ),
                    None => "Its successor cannot be determined from the region data.".to_owned(),
                };
                format!(
                    "The first six digits of the NIK ({code}) are the old code of the {name} \
                     district (kecamatan), retired when the region was split or recoded. {next} \
                     A NIK is valid for life and does not change, so this NIK remains valid. \
                     Choose the village of residence or work from the current region list."
                )
            }
            NikIssue::AgeOutsideWorkingAge { age } => {
                let side = if *age < WORKING_AGE_MIN {
                    "below"
                } else {
                    "above"
                };
                format!(
                    "According to the birth date in the NIK, the person is {age} years old, \
                     {side} working age ({WORKING_AGE_MIN}–{WORKING_AGE_MAX}). Check the NIK and \
                     the birth date; if they are correct, the registration may continue."
                )
            }
            NikIssue::SexMismatch { from_nik, entered } => format!(
                "The sex entered ({}) differs from the one encoded in the NIK ({}; for women \
                 the NIK's birth day has 40 added). Such a mismatch can be genuine, because a \
                 NIK is never corrected. Check the KTP, then confirm to keep the sex as entered.",
                entered.name(Lang::En),
                from_nik.name(Lang::En)
            ),
            NikIssue::BirthDateMismatch { from_nik, entered } => format!(
                "The birth date entered ({}) differs from the birth date in the NIK ({}). Such a \
                 mismatch can be genuine, because a NIK is never corrected, even when its date is \
                 wrong. Check the KTP, then confirm to keep the birth date as entered.",
                format_date(*entered, Lang::En),
                format_date(*from_nik, Lang::En)
            ),
        }
    }
}

impl fmt::Display for NikIssue {
    /// The English message, for logs and `?` in tools.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(Lang::En))
    }
}

impl std::error::Error for NikIssue {}

/// A retired district (kecamatan) code, as the region index reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetiredDistrictInfo<'a> {
    /// The district's last name under the retired code.
    pub name: &'a str,
    /// The 4-digit regency code the retired district belonged to.
    pub regency_code: &'a str,
    /// The current district that most likely took over, if one is known.
    pub successor: Option<SuccessorInfo<'a>>,
}

/// The current district that took over a retired code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuccessorInfo<'a> {
    /// 6-digit current district code.
    pub code: &'a str,
    /// Current district name.
    pub name: &'a str,
}

/// What NIK validation needs to know about region codes. The region index
/// (written separately) implements it; tests use a small fake.
pub trait NikRegions {
    /// Name of the province with this 2-digit code, if it exists.
    fn province_name(&self, code: &str) -> Option<&str>;

    /// Name of the current regency (kabupaten/kota) with this 4-digit code.
    fn regency_name(&self, code: &str) -> Option<&str>;

    /// Whether a 4-digit regency code can appear in a valid NIK: `true` if it
    /// is a current regency **or** the regency code of any retired district
    /// (e.g. `9101`, Merauke before the 2022 Papua split). Implementations
    /// must include the retired ones, otherwise every pre-split Papua NIK gets
    /// a spurious `nik_unknown_regency` warning.
    fn regency_known(&self, code: &str) -> bool;

    /// Name of the current district (kecamatan) with this 6-digit code.
    fn district_name(&self, code: &str) -> Option<&str>;

    /// The retired district with this 6-digit code, with its successor if any.
    fn retired_district(&self, code: &str) -> Option<RetiredDistrictInfo<'_>>;
}

/// The real region index answers NIK validation's questions.
impl NikRegions for crate::region::Regions {
    fn province_name(&self, code: &str) -> Option<&str> {
        self.get(code)
            .filter(|r| r.level == crate::region::Level::Province)
            .map(|r| r.name)
    }

    fn regency_name(&self, code: &str) -> Option<&str> {
        self.get(code)
            .filter(|r| r.level == crate::region::Level::Regency)
            .map(|r| r.name)
    }

    fn regency_known(&self, code: &str) -> bool {
        self.regency_name(code).is_some()
            || self.retired_districts().any(|d| d.regency_code == code)
    }

    fn district_name(&self, code: &str) -> Option<&str> {
        self.get(code)
            .filter(|r| r.level == crate::region::Level::District)
            .map(|r| r.name)
    }

    fn retired_district(&self, code: &str) -> Option<RetiredDistrictInfo<'_>> {
        // The inherent method of the same name: the index's own record.
        let retired = crate::region::Regions::retired_district(self, code)?;
        let successor = retired
            .successor_code
            .and_then(|successor| self.get(successor))
            .map(|s| SuccessorInfo {
                code: s.code,
                name: s.name,
            });
        Some(RetiredDistrictInfo {
            name: retired.name,
            regency_code: retired.regency_code,
            successor,
        })
    }
}

/// What a NIK says once checked. Errors reject; warnings inform.
#[derive(Clone, PartialEq, Eq)]
pub struct NikCheck {
    /// The input with spaces, dots and dashes removed. Personal data when it
    /// is a real NIK: `Debug` masks it.
    pub normalized: String,
    /// The NIK, `Some` only when there is no error.
    pub nik: Option<Nik>,
    /// Sex encoded in the NIK, whenever digits 7–12 form a valid date (even if
    /// another part of the NIK has an error).
    pub sex: Option<Sex>,
    /// Birth date encoded in the NIK, with the century inferred (20YY unless
    /// that is after `today`, else 19YY); `Some` under the same condition as
    /// `sex`.
    pub birth_date: Option<Date>,
    /// Every applicable issue, errors and warnings, in NIK digit order.
    pub issues: Vec<NikIssue>,
}

impl NikCheck {
    /// `true` when no issue is an error (warnings allowed).
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The issues that reject the NIK.
    pub fn errors(&self) -> impl Iterator<Item = &NikIssue> {
        self.issues
            .iter()
            .filter(|i| i.severity() == Severity::Error)
    }

    /// The issues that only inform.
    pub fn warnings(&self) -> impl Iterator<Item = &NikIssue> {
        self.issues
            .iter()
            .filter(|i| i.severity() == Severity::Warning)
    }

    /// The 6-digit district code of a valid NIK: where it was first
    /// registered, possibly a retired code. Not where the person lives or
    /// works, so never aggregate coverage by it (`domain.md` §1 rule 9).
    pub fn district_code(&self) -> Option<&str> {
        self.nik.as_ref().map(Nik::district_code)
    }
}

impl fmt::Debug for NikCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NikCheck")
            .field("normalized", &mask_middle(&self.normalized))
            .field("nik", &self.nik)
            .field("sex", &self.sex)
            .field("birth_date", &self.birth_date)
            .field("issues", &self.issues)
            .finish()
    }
}

/// Checks a NIK as typed on the registration form (`domain.md` §1 rules 1–7)
/// and returns every applicable issue.
///
/// When the text is empty, has a non-digit or has the wrong length, only that
/// one error is returned: the digit positions are meaningless then, so date or
/// region errors would only confuse. Otherwise the province, date and serial
/// are each checked (all errors reported), regency and district give warnings
/// (skipped when the province is unknown, and the district is skipped when
/// the regency is unknown, since it cannot be known either), and a valid date
/// gives the derived sex, birth date and an age warning.
pub fn validate_nik(input: &str, today: Date, regions: &impl NikRegions) -> NikCheck {
    let stripped = strip_separators(input);
    let structural = match stripped.first_invalid {
        Some((character, position)) => Err(NikIssue::InvalidCharacter {
            character,
            position,
        }),
        None => Nik::from_digits(&stripped.text),
    };
    let nik = match structural {
        Ok(nik) => nik,
        Err(issue) => {
            return NikCheck {
                normalized: stripped.text,
                nik: None,
                sex: None,
                birth_date: None,
                issues: vec![issue],
            };
        }
    };

    let mut issues = Vec::new();
    check_region(&nik, regions, &mut issues);

    let (sex, birth_date) = match decode_date(&nik, today) {
        Ok((sex, date)) => (Some(sex), Some(date)),
        Err(problem) => {
            issues.push(NikIssue::InvalidDate {
                digits: nik.date_digits().to_owned(),
                problem,
            });
            (None, None)
        }
    };

    if nik.serial() == 0 {
        issues.push(NikIssue::SerialZero);
    }

    if let Some(date) = birth_date {
        let age = age_on(date, today);
        if !(WORKING_AGE_MIN..=WORKING_AGE_MAX).contains(&age) {
            issues.push(NikIssue::AgeOutsideWorkingAge { age });
        }
    }

    let has_error = issues.iter().any(|i| i.severity() == Severity::Error);
    NikCheck {
        normalized: stripped.text,
        nik: (!has_error).then_some(nik),
        sex,
        birth_date,
        issues,
    }
}

/// Compares what the officer typed with what the NIK encodes and returns the
/// mismatch warnings (`nik_sex_mismatch`, `nik_birth_date_mismatch`).
///
/// Nothing is compared when the NIK's date is invalid or a field was left
/// empty. Birth dates are compared on day, month and the last two digits of
/// the year, because that is all a NIK encodes: someone born on 5 March 1925
/// whose NIK reads `050325` is not a mismatch, even though [`validate_nik`]
/// read that date as 2025.
pub fn compare_with_entered(
    check: &NikCheck,
    entered_sex: Option<Sex>,
    entered_birth_date: Option<Date>,
) -> Vec<NikIssue> {
    let mut issues = Vec::new();
    if let (Some(from_nik), Some(entered)) = (check.sex, entered_sex)
        && from_nik != entered
    {
        issues.push(NikIssue::SexMismatch { from_nik, entered });
    }
    if let (Some(from_nik), Some(entered)) = (check.birth_date, entered_birth_date) {
        let same = from_nik.day() == entered.day()
            && from_nik.month() == entered.month()
            && from_nik.year().rem_euclid(100) == entered.year().rem_euclid(100);
        if !same {
            issues.push(NikIssue::BirthDateMismatch { from_nik, entered });
        }
    }
    issues
}

/// Province error, or regency/district warnings (`domain.md` §1 rules 2–4).
fn check_region(nik: &Nik, regions: &impl NikRegions, issues: &mut Vec<NikIssue>) {
    let Some(province_name) = regions.province_name(nik.province_code()) else {
        issues.push(NikIssue::UnknownProvince {
            code: nik.province_code().to_owned(),
        });
        return;
    };
    if !regions.regency_known(nik.regency_code()) {
        issues.push(NikIssue::UnknownRegency {
            code: nik.regency_code().to_owned(),
            province_name: province_name.to_owned(),
        });
        return;
    }
    let district = nik.district_code();
    if regions.district_name(district).is_some() {
        return;
    }
    match regions.retired_district(district) {
        Some(retired) => issues.push(NikIssue::RetiredDistrict {
            code: district.to_owned(),
            name: retired.name.to_owned(),
            successor: retired.successor.map(|s| DistrictRef {
                code: s.code.to_owned(),
                name: s.name.to_owned(),
            }),
        }),
        None => issues.push(NikIssue::UnknownDistrict {
            code: district.to_owned(),
            regency_name: regions.regency_name(nik.regency_code()).map(str::to_owned),
        }),
    }
}

/// Reads sex and birth date from digits 7–12 (`domain.md` §1 rule 5).
///
/// Century rule: 20YY if that date exists and is not after `today`, else 19YY
/// if that date exists (and is not after `today`). Python-stdnum tries 19YY
/// first; we prefer 20YY because the working-age population registered today
/// includes people born after 2000, while a 19YY reading of a 20YY birth would
/// silently make a young worker a century older.
fn decode_date(nik: &Nik, today: Date) -> Result<(Sex, Date), NikDateProblem> {
    let digits = &nik.0;
    let two = |i: usize| (digits[i] - b'0') * 10 + (digits[i + 1] - b'0');
    let (dd, mm, yy) = (two(6), two(8), two(10));

    let sex_day = match dd {
        1..=31 => Some((Sex::Male, dd)),
        41..=71 => Some((Sex::Female, dd - 40)),
        _ => None,
    };
    let month = Month::try_from(mm).ok();
    let ((sex, day), month) = match (sex_day, month) {
        (Some(sd), Some(m)) => (sd, m),
        (None, Some(_)) => return Err(NikDateProblem::Day { day: dd }),
        (Some(_), None) => return Err(NikDateProblem::Month { month: mm }),
        (None, None) => return Err(NikDateProblem::DayAndMonth { day: dd, month: mm }),
    };

    let year_2000s = 2000 + i32::from(yy);
    let year_1900s = 1900 + i32::from(yy);
    let in_2000s = Date::from_calendar_date(year_2000s, month, day).ok();
    if let Some(date) = in_2000s
        && date <= today
    {
        return Ok((sex, date));
    }
    match Date::from_calendar_date(year_1900s, month, day) {
        Ok(date) if date <= today => Ok((sex, date)),
        Ok(date) => Err(NikDateProblem::InFuture { date }),
        // 2000 is a leap year, so a day/month missing there never exists.
        Err(_) if Date::from_calendar_date(2000, month, day).is_err() => {
            Err(NikDateProblem::NoSuchDate { day, month: mm })
        }
        Err(_) => Err(NikDateProblem::LeapDay {
            year_1900s,
            year_2000s,
            year_2000s_in_future: in_2000s.is_some(),
        }),
    }
}

/// Age in whole years on `today`. Someone born on 29 February turns a year
/// older on 1 March in non-leap years (the tuple comparison puts 28 February
/// before 29 February), the usual reading in Indonesian practice and in law.
fn age_on(birth: Date, today: Date) -> i32 {
    let before_birthday =
        (u8::from(today.month()), today.day()) < (u8::from(birth.month()), birth.day());
    today.year() - birth.year() - i32::from(before_birthday)
}

/// The input with separators removed, and the first character that is
/// neither a separator nor an ASCII digit.
struct Stripped {
    text: String,
    /// The character and its 1-based position in the original input.
    first_invalid: Option<(char, usize)>,
}

/// Separators people put in a NIK: any whitespace (including the non-breaking
/// space that comes with copy and paste), dots, ASCII and Unicode dashes.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

fn strip_separators(input: &str) -> Stripped {
    let mut text = String::with_capacity(input.len());
    let mut first_invalid = None;
    for (index, c) in input.chars().enumerate() {
        if is_separator(c) {
            continue;
        }
        if first_invalid.is_none() && !c.is_ascii_digit() {
            first_invalid = Some((c, index + 1));
        }
        text.push(c);
    }
    Stripped {
        text,
        first_invalid,
    }
}

/// Keeps the first and last 4 characters and replaces the rest with `*`;
/// masks everything when there are 8 characters or fewer, since showing
/// both ends would then reveal the whole value.
fn mask_middle(s: &str) -> String {
    let n = s.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= n - 4 { c } else { '*' })
        .collect()
}

/// The digit a letter is commonly mistaken for when typing from a KTP.
fn lookalike_digit(c: char) -> Option<char> {
    match c {
        'O' | 'o' => Some('0'),
        'I' | 'l' | '|' => Some('1'),
        _ => None,
    }
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
    use time::macros::date;

    /// A few real rows of the wilayah data (see `shared/data/wilayah/`).
    struct FakeRegions;

    const PROVINCES: &[(&str, &str)] = &[("13", "Sumatera Barat"), ("91", "Papua")];
    const REGENCIES: &[(&str, &str)] = &[("1311", "Kabupaten Solok Selatan")];
    const DISTRICTS: &[(&str, &str)] = &[
        ("131101", "Sangir"),
        ("131102", "Sungai Pagu"),
        ("930101", "Merauke"),
    ];
    /// Retired district code and what the region index says about it.
    const RETIRED: &[(&str, RetiredDistrictInfo<'static>)] = &[
        (
            "910101",
            RetiredDistrictInfo {
                name: "Merauke",
                regency_code: "9101",
                successor: Some(SuccessorInfo {
                    code: "930101",
                    name: "Merauke",
                }),
            },
        ),
        (
            "911336",
            RetiredDistrictInfo {
                name: "Holuon",
                regency_code: "9113",
                successor: None,
            },
        ),
    ];

    fn lookup<'a>(table: &'a [(&str, &'a str)], code: &str) -> Option<&'a str> {
        table.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
    }

    impl NikRegions for FakeRegions {
        fn province_name(&self, code: &str) -> Option<&str> {
            lookup(PROVINCES, code)
        }
        fn regency_name(&self, code: &str) -> Option<&str> {
            lookup(REGENCIES, code)
        }
        fn regency_known(&self, code: &str) -> bool {
            self.regency_name(code).is_some() || RETIRED.iter().any(|(_, r)| r.regency_code == code)
        }
        fn district_name(&self, code: &str) -> Option<&str> {
            lookup(DISTRICTS, code)
        }
        fn retired_district(&self, code: &str) -> Option<RetiredDistrictInfo<'_>> {
            RETIRED.iter().find(|(c, _)| *c == code).map(|(_, r)| *r)
        }
    }

    const TODAY: Date = date!(2026 - 11 - 22);

    fn check(input: &str) -> NikCheck {
        validate_nik(input, TODAY, &FakeRegions)
    }

    fn codes(c: &NikCheck) -> Vec<&'static str> {
        c.issues.iter().map(Problem::code).collect()
    }

    /// A NIK in Sangir (131101) with the given DDMMYY and serial 0001.
    fn sangir(ddmmyy: &str) -> String {
        format!("131101{ddmmyy}0001")
    }

    fn date_problem(c: &NikCheck) -> Option<&NikDateProblem> {
        c.issues.iter().find_map(|i| match i {
            NikIssue::InvalidDate { problem, .. } => Some(problem),
            _ => None,
        })
    }

    #[test]
    fn valid_male_nik() {
        let c = check("1311011203850001");
        assert!(c.is_valid(), "{c:?}");
        assert!(c.issues.is_empty(), "{c:?}");
        assert_eq!(c.sex, Some(Sex::Male));
        assert_eq!(c.birth_date, Some(date!(1985 - 03 - 12)));
        let nik = c.nik.expect("valid NIK");
        assert_eq!(nik.as_str(), "1311011203850001");
        assert_eq!(nik.province_code(), "13");
        assert_eq!(nik.regency_code(), "1311");
        assert_eq!(nik.district_code(), "131101");
        assert_eq!(nik.date_digits(), "120385");
        assert_eq!(nik.serial(), 1);
        assert_eq!(c.district_code(), Some("131101"));
    }

    #[test]
    fn valid_female_nik_has_day_plus_40() {
        let c = check("1311015203850002");
        assert!(c.is_valid(), "{c:?}");
        assert_eq!(c.sex, Some(Sex::Female));
        assert_eq!(c.birth_date, Some(date!(1985 - 03 - 12)));
        let c = check(&sangir("710190"));
        assert_eq!(c.sex, Some(Sex::Female));
        assert_eq!(c.birth_date, Some(date!(1990 - 01 - 31)));
    }

    #[test]
    fn separators_are_stripped() {
        for input in [
            "13.1101 4101900001",
            "1311-0141-0190-0001",
            " 1311 0141 0190 0001 ",
            "1311\u{a0}0141\u{2013}0190.0001",
        ] {
            let c = check(input);
            assert_eq!(c.normalized, "1311014101900001", "{input:?}");
            assert!(c.is_valid(), "{input:?}: {c:?}");
            assert_eq!(c.sex, Some(Sex::Female));
            assert_eq!(c.birth_date, Some(date!(1990 - 01 - 01)));
        }
    }

    #[test]
    fn leap_days() {
        let c = check(&sangir("290200"));
        assert!(c.is_valid(), "{c:?}");
        assert_eq!(c.birth_date, Some(date!(2000 - 02 - 29)));

        // 2001 and 1901 are both common years.
        let c = check(&sangir("290201"));
        assert_eq!(codes(&c), ["nik_invalid_date"]);
        assert_eq!(
            date_problem(&c),
            Some(&NikDateProblem::LeapDay {
                year_1900s: 1901,
                year_2000s: 2001,
                year_2000s_in_future: false
            })
        );

        // Female, 29 Feb yy=30: 2030 is not a leap year (and in the future), nor is 1930.
        let c = check(&sangir("690230"));
        assert_eq!(
            date_problem(&c),
            Some(&NikDateProblem::LeapDay {
                year_1900s: 1930,
                year_2000s: 2030,
                year_2000s_in_future: false
            })
        );
        // 2000-02-29 exists but, checked in 1999, is still in the future;
        // 1900 is not a leap year.
        let early = validate_nik(&sangir("290200"), date!(1999 - 06 - 01), &FakeRegions);
        assert_eq!(
            date_problem(&early),
            Some(&NikDateProblem::LeapDay {
                year_1900s: 1900,
                year_2000s: 2000,
                year_2000s_in_future: true
            })
        );
        assert!(c.sex.is_none() && c.birth_date.is_none() && c.nik.is_none());

        // 2028 is a leap year but in the future; 1928 is a leap year too.
        let c = check(&sangir("290228"));
        assert_eq!(c.birth_date, Some(date!(1928 - 02 - 29)));
        assert!(c.is_valid());
    }

    #[test]
    fn impossible_days_and_months() {
        for (ddmmyy, problem) in [
            ("310490", NikDateProblem::NoSuchDate { day: 31, month: 4 }),
            ("710490", NikDateProblem::NoSuchDate { day: 31, month: 4 }),
            ("300290", NikDateProblem::NoSuchDate { day: 30, month: 2 }),
            ("000190", NikDateProblem::Day { day: 0 }),
            ("320190", NikDateProblem::Day { day: 32 }),
            ("400190", NikDateProblem::Day { day: 40 }),
            ("720190", NikDateProblem::Day { day: 72 }),
            ("990190", NikDateProblem::Day { day: 99 }),
            ("120090", NikDateProblem::Month { month: 0 }),
            ("121390", NikDateProblem::Month { month: 13 }),
            ("000090", NikDateProblem::DayAndMonth { day: 0, month: 0 }),
        ] {
            let c = check(&sangir(ddmmyy));
            assert_eq!(codes(&c), ["nik_invalid_date"], "{ddmmyy}");
            assert_eq!(date_problem(&c), Some(&problem), "{ddmmyy}");
            assert!(!c.is_valid() && c.nik.is_none() && c.birth_date.is_none());
        }
        // The edges of both ranges are fine.
        for ddmmyy in ["010190", "310190", "410190", "711290"] {
            assert!(check(&sangir(ddmmyy)).is_valid(), "{ddmmyy}");
        }
    }

    #[test]
    fn century_is_20yy_unless_that_is_in_the_future() {
        // Today exactly: 2026, a newborn (age warning only).
        let c = check(&sangir("221126"));
        assert_eq!(c.birth_date, Some(date!(2026 - 11 - 22)));
        assert_eq!(codes(&c), ["nik_age_outside_working_age"]);
        // Tomorrow in 2026 is the future, so 1926.
        let c = check(&sangir("231126"));
        assert_eq!(c.birth_date, Some(date!(1926 - 11 - 23)));
        // A young worker born in 2008.
        let c = check(&sangir("150108"));
        assert_eq!(c.birth_date, Some(date!(2008 - 01 - 15)));
        assert!(c.issues.is_empty(), "{c:?}");
        // The same digits checked on another day give another reading.
        let c = validate_nik(&sangir("150108"), date!(2007 - 06 - 01), &FakeRegions);
        assert_eq!(c.birth_date, Some(date!(1908 - 01 - 15)));
    }

    #[test]
    fn date_in_the_future_even_in_19yy() {
        let c = validate_nik(&sangir("010199"), date!(1998 - 06 - 01), &FakeRegions);
        assert_eq!(
            date_problem(&c),
            Some(&NikDateProblem::InFuture {
                date: date!(1999 - 01 - 01)
            })
        );
    }

    #[test]
    fn serial_zero_is_an_error() {
        let c = check("1311011203850000");
        assert_eq!(codes(&c), ["nik_serial_zero"]);
        assert!(!c.is_valid() && c.nik.is_none());
        // The date is still read, so the form can show it.
        assert_eq!(c.birth_date, Some(date!(1985 - 03 - 12)));
        assert!(check("1311011203859999").is_valid());
    }

    #[test]
    fn structural_errors_come_alone() {
        let c = check("131101120385001");
        assert_eq!(c.issues, [NikIssue::WrongLength { given: 15 }]);
        let c = check("13110112038500011");
        assert_eq!(c.issues, [NikIssue::WrongLength { given: 17 }]);
        // Wrong length with an impossible date and province: still one error.
        assert_eq!(
            check("99110199998500").issues,
            [NikIssue::WrongLength { given: 14 }]
        );
        let c = check("13110112O3850001");
        assert_eq!(
            c.issues,
            [NikIssue::InvalidCharacter {
                character: 'O',
                position: 9
            }]
        );
        assert!(c.issues[0].message(Lang::Id).contains("angka 0"));
        // The position counts the characters as typed, separators included.
        let c = check("1311 01x2 0385 0001");
        assert_eq!(
            c.issues,
            [NikIssue::InvalidCharacter {
                character: 'x',
                position: 8
            }]
        );
        for empty in ["", "   ", " - . "] {
            assert_eq!(check(empty).issues, [NikIssue::Empty], "{empty:?}");
        }
        for c in [check("abc"), check("")] {
            assert!(c.sex.is_none() && c.birth_date.is_none() && c.nik.is_none());
        }
    }

    #[test]
    fn unknown_province_is_an_error_without_region_warnings() {
        for code in ["99", "20", "00"] {
            let c = check(&format!("{code}11011203850001"));
            assert_eq!(
                c.issues,
                [NikIssue::UnknownProvince {
                    code: code.to_owned()
                }],
                "{code}"
            );
            assert!(!c.is_valid());
        }
    }

    #[test]
    fn all_errors_are_reported_together() {
        let c = check("2011013213850000");
        assert_eq!(
            codes(&c),
            [
                "nik_unknown_province",
                "nik_invalid_date",
                "nik_serial_zero"
            ]
        );
        assert_eq!(c.errors().count(), 3);
        assert_eq!(c.warnings().count(), 0);
    }

    #[test]
    fn unknown_regency_and_district_are_warnings() {
        let c = check("1399011203850001");
        assert_eq!(
            c.issues,
            [NikIssue::UnknownRegency {
                code: "1399".into(),
                province_name: "Sumatera Barat".into()
            }]
        );
        assert!(c.is_valid());

        let c = check("1311991203850001");
        assert_eq!(
            c.issues,
            [NikIssue::UnknownDistrict {
                code: "131199".into(),
                regency_name: Some("Kabupaten Solok Selatan".into())
            }]
        );
        assert!(c.is_valid() && c.nik.is_some());
        assert!(c.issues[0].message(Lang::Id).contains("Solok Selatan"));
    }

    #[test]
    fn retired_papua_district_names_its_successor() {
        let c = check("9101011203850001");
        assert!(c.is_valid(), "{c:?}");
        assert_eq!(
            c.issues,
            [NikIssue::RetiredDistrict {
                code: "910101".into(),
                name: "Merauke".into(),
                successor: Some(DistrictRef {
                    code: "930101".into(),
                    name: "Merauke".into()
                })
            }]
        );
        assert_eq!(c.district_code(), Some("910101"));
        let id = c.issues[0].message(Lang::Id);
        assert!(id.contains("930101") && id.contains("seumur hidup"), "{id}");
        let en = c.issues[0].message(Lang::En);
        assert!(
            en.contains("930101") && en.contains("valid for life"),
            "{en}"
        );

        let c = check("9113361203850001");
        assert_eq!(
            c.issues,
            [NikIssue::RetiredDistrict {
                code: "911336".into(),
                name: "Holuon".into(),
                successor: None
            }]
        );
        // A code in a retired-only regency that was never a district.
        let c = check("9113991203850001");
        assert_eq!(codes(&c), ["nik_unknown_district"]);
        assert_eq!(
            c.issues[0],
            NikIssue::UnknownDistrict {
                code: "911399".into(),
                regency_name: None
            }
        );
    }

    #[test]
    fn working_age_boundaries() {
        let age = |ddmmyy: &str| {
            check(&sangir(ddmmyy)).issues.iter().find_map(|i| match i {
                NikIssue::AgeOutsideWorkingAge { age } => Some(*age),
                _ => None,
            })
        };
        assert_eq!(age("221111"), None); // 15 today
        assert_eq!(age("231111"), Some(14)); // 15 tomorrow
        assert_eq!(age("120315"), Some(11));
        assert_eq!(age("221156"), None); // 70 today (2056 is future, so 1956)
        assert_eq!(age("231155"), None); // 70, turns 71 tomorrow
        assert_eq!(age("221155"), Some(71));
        assert_eq!(age("120350"), Some(76));
        let young = NikIssue::AgeOutsideWorkingAge { age: 11 };
        assert!(young.message(Lang::Id).contains("di bawah usia kerja"));
        assert!(young.message(Lang::En).contains("11 years old"));
        assert_eq!(young.severity(), Severity::Warning);
    }

    #[test]
    fn age_of_a_leap_day_birth() {
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2015 - 02 - 28)), 14);
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2015 - 03 - 01)), 15);
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2016 - 02 - 29)), 16);
    }

    #[test]
    fn mismatches_with_what_was_typed() {
        let c = check("1311015203850002"); // female, 12 March 1985
        assert!(compare_with_entered(&c, None, None).is_empty());
        assert!(
            compare_with_entered(&c, Some(Sex::Female), Some(date!(1985 - 03 - 12))).is_empty()
        );
        let w = compare_with_entered(&c, Some(Sex::Male), Some(date!(1985 - 03 - 21)));
        assert_eq!(
            w,
            [
                NikIssue::SexMismatch {
                    from_nik: Sex::Female,
                    entered: Sex::Male
                },
                NikIssue::BirthDateMismatch {
                    from_nik: date!(1985 - 03 - 12),
                    entered: date!(1985 - 03 - 21)
                }
            ]
        );
        assert!(w.iter().all(|i| i.severity() == Severity::Warning));
        let id = w[1].message(Lang::Id);
        assert!(
            id.contains("21 Maret 1985") && id.contains("12 Maret 1985"),
            "{id}"
        );
        assert!(id.contains("tidak pernah dikoreksi") && id.contains("konfirmasi"));
        assert!(w[0].message(Lang::En).contains("confirm"));

        // The NIK holds only two year digits: a 1925 birth read as 2025 is no mismatch.
        let c = check(&sangir("050325"));
        assert_eq!(c.birth_date, Some(date!(2025 - 03 - 05)));
        assert!(compare_with_entered(&c, None, Some(date!(1925 - 03 - 05))).is_empty());
        assert_eq!(
            compare_with_entered(&c, None, Some(date!(1926 - 03 - 05))).len(),
            1
        );

        // Nothing to compare with when the NIK date is invalid.
        let c = check(&sangir("320190"));
        assert!(compare_with_entered(&c, Some(Sex::Male), Some(date!(1990 - 01 - 01))).is_empty());
    }

    #[test]
    fn nik_never_prints_in_full() {
        let nik: Nik = "1311-0112-0385-0001".parse().expect("16 digits");
        assert_eq!(nik.masked(), "1311********0001");
        assert_eq!(nik.to_string(), "1311********0001");
        assert_eq!(format!("{nik:?}"), "Nik(1311********0001)");
        let c = check("1311011203850001");
        let debug = format!("{c:?}");
        assert!(!debug.contains("1311011203850001"), "{debug}");
        assert!(debug.contains("1311********0001"), "{debug}");
        // Wrong-length input is masked too.
        let debug = format!("{:?}", check("131101120385001"));
        assert!(!debug.contains("131101120385001"), "{debug}");
        assert_eq!(mask_middle("12345678"), "********");
    }

    #[test]
    fn from_str_is_structural_only() {
        // Unknown province, impossible date, serial 0000: still a structural NIK.
        let nik: Nik = "99.11.01 999999 0000".parse().expect("16 digits");
        assert_eq!(nik.as_str(), "9911019999990000");
        assert_eq!(nik.serial(), 0);
        assert_eq!("".parse::<Nik>(), Err(NikIssue::Empty));
        assert_eq!(
            "1311".parse::<Nik>(),
            Err(NikIssue::WrongLength { given: 4 })
        );
        assert_eq!(
            Nik::from_digits("1311 011203850001"),
            Err(NikIssue::InvalidCharacter {
                character: ' ',
                position: 5
            })
        );
    }

    #[test]
    fn serde_uses_the_full_number_and_rejects_anything_else() {
        let nik: Nik = "1311011203850001".parse().expect("16 digits");
        let json = serde_json::to_string(&nik).expect("serialise");
        assert_eq!(json, "\"1311011203850001\"");
        let back: Nik = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, nik);
        for bad in [
            "\"131101120385000\"",
            "\"13110112038500011\"",
            "\"1311-0112-0385-0001\"",
            "\"13110112O3850001\"",
            "\"\"",
        ] {
            let err = serde_json::from_str::<Nik>(bad).expect_err(bad);
            // Our error text must not echo the number back into a log.
            assert!(!err.to_string().contains("131101120385"), "{err}");
        }
        // A JSON number is refused too (serde_json's own message quotes it).
        assert!(serde_json::from_str::<Nik>("1311011203850001").is_err());
        assert_eq!(
            serde_json::to_string(&Sex::Female).expect("sex"),
            "\"female\""
        );
        assert_eq!(
            serde_json::from_str::<Sex>("\"male\"").expect("sex"),
            Sex::Male
        );
        assert_eq!(Sex::Female.name(Lang::Id), "perempuan");
        assert_eq!(Sex::Male.name(Lang::En), "male");
    }

    /// One value of every variant (and every date problem).
    fn every_issue() -> Vec<NikIssue> {
        let date = |problem| NikIssue::InvalidDate {
            digits: "320190".into(),
            problem,
        };
        vec![
            NikIssue::Empty,
            NikIssue::InvalidCharacter {
                character: '\t',
                position: 3,
            },
            NikIssue::WrongLength { given: 15 },
            NikIssue::WrongLength { given: 17 },
            NikIssue::UnknownProvince { code: "99".into() },
            date(NikDateProblem::Day { day: 32 }),
            date(NikDateProblem::Month { month: 13 }),
            date(NikDateProblem::DayAndMonth { day: 0, month: 0 }),
            date(NikDateProblem::NoSuchDate { day: 31, month: 4 }),
            date(NikDateProblem::LeapDay {
                year_1900s: 1900,
                year_2000s: 2000,
                year_2000s_in_future: true,
            }),
            date(NikDateProblem::LeapDay {
                year_1900s: 1930,
                year_2000s: 2030,
                year_2000s_in_future: false,
            }),
            date(NikDateProblem::InFuture {
                date: date!(1999 - 01 - 01),
            }),
            NikIssue::SerialZero,
            NikIssue::UnknownRegency {
                code: "1399".into(),
                province_name: "Sumatera Barat".into(),
            },
            NikIssue::UnknownDistrict {
                code: "131199".into(),
                regency_name: None,
            },
            NikIssue::RetiredDistrict {
                code: "911336".into(),
                name: "Holuon".into(),
                successor: None,
            },
            NikIssue::AgeOutsideWorkingAge { age: 76 },
            NikIssue::SexMismatch {
                from_nik: Sex::Male,
                entered: Sex::Female,
            },
            NikIssue::BirthDateMismatch {
                from_nik: date!(1990 - 01 - 01),
                entered: date!(1990 - 01 - 02),
            },
        ]
    }

    #[test]
    fn every_issue_has_messages_and_a_unique_code() {
        let issues = every_issue();
        let mut seen: Vec<(&str, std::mem::Discriminant<NikIssue>)> = Vec::new();
        for issue in &issues {
            let code = issue.code();
            assert!(code.starts_with("nik_"), "{code}");
            assert!(code.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            let d = std::mem::discriminant(issue);
            assert!(
                seen.iter().all(|(c, sd)| (*c == code) == (*sd == d)),
                "code {code} shared by two variants or a variant with two codes"
            );
            seen.push((code, d));
            for lang in [Lang::Id, Lang::En] {
                let m = issue.message(lang);
                assert!(m.len() > 20 && m.ends_with('.'), "{code} {lang}: {m}");
            }
            assert_ne!(issue.message(Lang::Id), issue.message(Lang::En), "{code}");
            let msg = issue.to_message();
            assert_eq!(msg.code, code);
            assert_eq!(msg.severity, issue.severity());
        }
        let mut codes: Vec<&str> = seen.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 12);
        assert!(
            NikIssue::InvalidCharacter {
                character: '\t',
                position: 3
            }
            .message(Lang::En)
            .contains("U+0009")
        );
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(input in any::<String>()) {
            let c = check(&input);
            prop_assert_eq!(c.nik.is_some(), c.is_valid());
            if let Some(nik) = c.nik {
                prop_assert_eq!(nik.as_str(), c.normalized.as_str());
            }
            let _ = input.parse::<Nik>();
        }

        #[test]
        fn nik_like_text_never_panics(input in "[0-9 .\\-a-zO]{0,24}") {
            let c = check(&input);
            prop_assert_eq!(c.nik.is_some(), c.is_valid());
        }

        #[test]
        fn sixteen_digits_give_a_deterministic_verdict(input in "[0-9]{16}") {
            let first = check(&input);
            let second = check(&input);
            prop_assert_eq!(&first, &second);
            prop_assert_eq!(first.nik.is_some(), first.is_valid());
            prop_assert_eq!(first.sex.is_some(), first.birth_date.is_some());
            // A 16-digit string is structurally fine, so no structural error.
            for issue in &first.issues {
                let structural = matches!(
                    issue,
                    NikIssue::Empty | NikIssue::WrongLength { .. } | NikIssue::InvalidCharacter { .. }
                );
                prop_assert!(!structural, "structural issue for 16 digits: {:?}", issue);
            }
            if let Some(birth) = first.birth_date {
                prop_assert!(birth <= TODAY);
                prop_assert_eq!(birth.year() % 100, i32::from(input.as_bytes()[10] - b'0') * 10 + i32::from(input.as_bytes()[11] - b'0'));
            }
            let parsed: Nik = input.parse().map_err(|e: NikIssue| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed.as_str(), input.as_str());
        }
    }

    /// Arbitrary input against the real region index: what `validate_nik`
    /// must promise whatever an officer pastes or a spreadsheet holds.
    mod arbitrary_input {
        use super::*;
        use crate::region::regions;

        /// A `today` anywhere from 1950 to 2150: the century inference and
        /// the age must hold on any day, not just the one the tests ran.
        fn any_today() -> impl Strategy<Value = Date> {
            (1950i32..2150, 1u16..=365)
                .prop_map(|(year, ordinal)| Date::from_ordinal_date(year, ordinal).unwrap())
        }

        /// 16 digits that start with a real district, so the region, date
        /// and serial checks are reached (random digits almost never pass
        /// the province check).
        fn real_prefix_digits() -> impl Strategy<Value = String> {
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                "[0-7][0-9][01][0-9][0-9]{2}[0-9]{4}",
            )
                .prop_map(|(p, r, d, rest)| {
                    let regions = regions();
                    let provinces: Vec<_> = regions.provinces().collect();
                    let province = provinces[p.index(provinces.len())];
                    let regencies = regions.children(province.code);
                    let Some(regency) = regencies.get(r.index(regencies.len().max(1))) else {
                        return format!("{}0000{rest}", province.code);
                    };
                    let districts = regions.children(regency.code);
                    match districts.get(d.index(districts.len().max(1))) {
                        Some(district) => format!("{}{rest}", district.code),
                        None => format!("{}00{rest}", regency.code),
                    }
                })
        }

        /// Text as typed or pasted: real-looking digits with separators,
        /// look-alike letters and stray characters mixed in.
        fn typed_nik() -> impl Strategy<Value = String> {
            (
                real_prefix_digits(),
                prop::collection::vec(
                    (
                        0usize..20,
                        prop_oneof![
                            Just(' '),
                            Just('.'),
                            Just('-'),
                            Just('\u{a0}'),
                            Just('\u{2013}'),
                            Just('O'),
                            Just('l'),
                            any::<char>(),
                        ],
                    ),
                    0..4,
                ),
            )
                .prop_map(|(digits, inserts)| {
                    let mut chars: Vec<char> = digits.chars().collect();
                    for (at, c) in inserts {
                        chars.insert(at.min(chars.len()), c);
                    }
                    chars.into_iter().collect()
                })
        }

        /// Every promise `validate_nik` makes about its answer.
        fn check_verdict(input: &str, today: Date) -> Result<(), TestCaseError> {
            let check = validate_nik(input, today, regions());
            prop_assert_eq!(check.nik.is_some(), check.is_valid());
            prop_assert_eq!(check.sex.is_some(), check.birth_date.is_some());
            for issue in &check.issues {
                let code = issue.code();
                prop_assert!(code.starts_with("nik_"), "{}", code);
                let (id, en) = (issue.message(Lang::Id), issue.message(Lang::En));
                prop_assert!(!id.trim().is_empty() && !en.trim().is_empty(), "{}", code);
                prop_assert_ne!(&id, &en, "{} has one text for both languages", code);
                // A rejection never repeats the whole number back.
                if check.normalized.len() == NIK_LEN {
                    prop_assert!(!id.contains(&check.normalized), "{}: {}", code, id);
                    prop_assert!(!en.contains(&check.normalized), "{}: {}", code, en);
                }
            }
            // Structural errors come alone.
            let structural = check.issues.iter().any(|i| {
                matches!(
                    i,
                    NikIssue::Empty
                        | NikIssue::WrongLength { .. }
                        | NikIssue::InvalidCharacter { .. }
                )
            });
            if structural {
                prop_assert_eq!(check.issues.len(), 1);
            }
            let masked_normalized = format!("{check:?}");
            if check.normalized.len() > 8 {
                prop_assert!(!masked_normalized.contains(&check.normalized));
            }
            if let Some(nik) = check.nik {
                check_accepted(&nik, input)?;
            }
            if let (Some(sex), Some(birth)) = (check.sex, check.birth_date) {
                let digits = check.normalized.as_bytes();
                let two = |i: usize| (digits[i] - b'0') * 10 + (digits[i + 1] - b'0');
                let (dd, mm, yy) = (two(6), two(8), two(10));
                let expected_sex = if dd > 40 { Sex::Female } else { Sex::Male };
                prop_assert_eq!(sex, expected_sex);
                let day = if dd > 40 { dd - 40 } else { dd };
                prop_assert_eq!(birth.day(), day);
                prop_assert_eq!(u8::from(birth.month()), mm);
                prop_assert_eq!(birth.year().rem_euclid(100), i32::from(yy));
                prop_assert!(birth <= today, "birth {} after today {}", birth, today);
                prop_assert!((1900..2100).contains(&birth.year()));
            }
            Ok(())
        }

        /// An accepted NIK round-trips through its digits and masks itself.
        fn check_accepted(nik: &Nik, input: &str) -> Result<(), TestCaseError> {
            let digits = nik.as_str();
            prop_assert_eq!(digits.len(), NIK_LEN);
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(Nik::from_digits(digits).ok(), Some(*nik));
            prop_assert_eq!(input.parse::<Nik>().ok(), Some(*nik));
            let masked = nik.masked();
            prop_assert_eq!(&masked[..4], &digits[..4]);
            prop_assert_eq!(&masked[4..12], "********");
            prop_assert_eq!(&masked[12..], &digits[12..]);
            prop_assert_eq!(nik.to_string(), masked.clone());
            prop_assert_eq!(format!("{nik:?}"), format!("Nik({masked})"));
            let wire =
                serde_json::to_string(nik).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(serde_json::from_str::<Nik>(&wire).ok(), Some(*nik));
            Ok(())
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_get_a_verdict(bytes in prop::collection::vec(any::<u8>(), 0..40), today in any_today()) {
                let text = String::from_utf8_lossy(&bytes);
                check_verdict(&text, today)?;
                // The strict wire parser: never panics, and agrees with the
                // lenient one on text without separators.
                match Nik::from_digits(&text) {
                    Ok(nik) => prop_assert_eq!(nik.as_str(), &*text),
                    Err(issue) => {
                        prop_assert_eq!(issue.severity(), Severity::Error);
                        prop_assert!(!issue.message(Lang::Id).is_empty());
                        prop_assert!(!issue.message(Lang::En).is_empty());
                    }
                }
            }

            #[test]
            fn typed_niks_get_a_verdict(input in typed_nik(), today in any_today()) {
                check_verdict(&input, today)?;
            }

            #[test]
            fn digits_of_real_districts_get_a_verdict(digits in real_prefix_digits(), today in any_today()) {
                check_verdict(&digits, today)?;
                let strict = Nik::from_digits(&digits).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(strict.as_str(), digits.as_str());
                prop_assert_eq!(strict.district_code(), &digits[..6]);
                prop_assert_eq!(strict.date_digits(), &digits[6..12]);
                prop_assert_eq!(u32::from(strict.serial()), digits[12..].parse::<u32>().unwrap());
            }

            #[test]
            fn arbitrary_json_never_panics_the_wire_form(text in any::<String>()) {
                let quoted = serde_json::to_string(&text).unwrap();
                let strict = Nik::from_digits(&text).ok();
                prop_assert_eq!(serde_json::from_str::<Nik>(&quoted).ok(), strict);
            }
        }
    }
}
