//! Turning what an officer typed (or a spreadsheet row) into registration fields.
//!
//! [`validate_registration`] checks every field and returns **every** problem
//! at once, each naming its field, so the officer fixes a form in one pass.
//! Input is text, exactly as typed or imported: dates as `1990-01-31`,
//! `31-01-1990` or `31/01/1990`; sex as `L`/`P`, `laki-laki`/`perempuan`,
//! `male`/`female`; money as `Rp 1.500.000`; vocabulary words by code or by
//! their Indonesian or English name.
//!
//! Warnings do not block saving, except those in [`MUST_CONFIRM`]: a NIK whose
//! sex or birth date differs from what was typed may be genuine (a NIK is
//! never corrected), so the officer must confirm it explicitly by listing
//! the warning code in [`RegistrationInput::confirmed_warnings`].

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use crate::lang::{Lang, Message, Problem, Severity};
use crate::nik::{NikIssue, Sex, compare_with_entered, validate_nik};
use crate::phone::{Phone, PhoneIssue, normalize_phone};
use crate::region::{Level, Regions, normalize_code};
use crate::registration::{Category, Consent, ConsentMethod, Field, Payer, PayerKind, Programmes};

/// Warning codes that block saving until the officer confirms them.
pub const MUST_CONFIRM: &[&str] = &["nik_sex_mismatch", "nik_birth_date_mismatch"];

/// The declared monthly income assumed when none is given: the Rp 1,000,000
/// bracket, the lowest in the BPU table and the one regional schemes use.
pub const DEFAULT_MONTHLY_INCOME: u64 = 1_000_000;

/// Highest monthly income accepted, to catch a slip of the keyboard (Rp 1 billion).
pub const MAX_MONTHLY_INCOME: u64 = 1_000_000_000;

/// A registration as typed or imported, before validation. Every value is text.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistrationInput {
    /// The NIK; spaces, dots and dashes are ignored.
    pub nik: String,
    /// Full name as on the KTP.
    pub full_name: String,
    /// Birth date; when empty, the date encoded in the NIK is used.
    pub birth_date: String,
    /// Sex; when empty, the sex encoded in the NIK is used.
    pub sex: String,
    /// Phone number, optional.
    pub phone: String,
    /// 10-digit village code (dots allowed).
    pub village_code: String,
    /// RT number, optional.
    pub rt: String,
    /// RW number, optional.
    pub rw: String,
    /// Address line, optional.
    pub address: String,
    /// Worker category.
    pub category: String,
    /// Whether to add JHT to JKK and JKM: `ya`/`yes`/`1`/`true` or empty.
    pub jht: String,
    /// Declared monthly income in rupiah; empty means [`DEFAULT_MONTHLY_INCOME`].
    pub monthly_income: String,
    /// Who pays.
    pub payer: String,
    /// Paying institution; required for CSR, Baznas and other payers.
    pub payer_name: String,
    /// How consent was obtained; registration is refused without it.
    pub consent_method: String,
    /// Form number, witness or legal basis of the consent, optional.
    pub consent_reference: String,
    /// Codes of warnings the officer confirmed.
    pub confirmed_warnings: Vec<String>,
}

impl RegistrationInput {
    /// The text slot that holds `field`, for the fields a person types
    /// (programmes are the JHT choice, the payer its kind, consent its
    /// method); `None` for the origin, the status and confirmed warnings.
    pub fn text_mut(&mut self, field: crate::registration::Field) -> Option<&mut String> {
        use crate::registration::Field;
        Some(match field {
            Field::Nik => &mut self.nik,
            Field::FullName => &mut self.full_name,
            Field::BirthDate => &mut self.birth_date,
            Field::Sex => &mut self.sex,
            Field::Phone => &mut self.phone,
            Field::VillageCode => &mut self.village_code,
            Field::Rt => &mut self.rt,
            Field::Rw => &mut self.rw,
            Field::Address => &mut self.address,
            Field::Category => &mut self.category,
            Field::Programmes => &mut self.jht,
            Field::MonthlyIncome => &mut self.monthly_income,
            Field::Payer => &mut self.payer,
            Field::Consent => &mut self.consent_method,
            Field::Origin | Field::Status | Field::ConfirmedWarnings => return None,
        })
    }

    /// The text form of a stored registration, as an officer would type it:
    /// what editing it and exporting it start from. Dates are `YYYY-MM-DD`,
    /// sex `L`/`P`, the phone in national form (`0812…`), vocabulary words as
    /// their Indonesian labels. Validating the result gives the same field
    /// values back (consent keeps its method and reference; the moment it was
    /// recorded is not part of the text form).
    pub fn from_registration(
        registration: &crate::registration::Registration,
    ) -> RegistrationInput {
        let optional_number = |n: Option<u16>| n.map(|n| n.to_string()).unwrap_or_default();
        RegistrationInput {
            nik: registration.nik.as_str().to_owned(),
            full_name: registration.full_name.clone(),
            birth_date: registration.birth_date.to_string(),
            sex: match registration.sex {
                Sex::Male => "L".to_owned(),
                Sex::Female => "P".to_owned(),
            },
            phone: registration
                .phone
                .as_ref()
                .map(|p| p.to_national())
                .unwrap_or_default(),
            village_code: registration.village_code.clone(),
            rt: optional_number(registration.rt),
            rw: optional_number(registration.rw),
            address: registration.address.clone().unwrap_or_default(),
            category: registration.category.label(Lang::Id).to_owned(),
            jht: if registration.programmes.jht {
                "ya"
            } else {
                "tidak"
            }
            .to_owned(),
            monthly_income: registration.monthly_income.to_string(),
            payer: registration.payer.kind.label(Lang::Id).to_owned(),
            payer_name: registration.payer.name.clone().unwrap_or_default(),
            consent_method: registration.consent.method.label(Lang::Id).to_owned(),
            consent_reference: registration.consent.reference.clone().unwrap_or_default(),
            confirmed_warnings: registration.confirmed_warnings.clone(),
        }
    }
}

impl ValidRegistration {
    /// The registration these values make, active, with its identity and origin.
    pub fn into_registration(
        self,
        id: crate::ids::RecordId,
        origin: crate::registration::Origin,
    ) -> crate::registration::Registration {
        crate::registration::Registration {
            id,
            origin,
            nik: self.nik,
            full_name: self.full_name,
            birth_date: self.birth_date,
            sex: self.sex,
            phone: self.phone,
            village_code: self.village_code,
            rt: self.rt,
            rw: self.rw,
            address: self.address,
            category: self.category,
            programmes: self.programmes,
            monthly_income: self.monthly_income,
            payer: self.payer,
            consent: self.consent,
            status: crate::registration::Status::Active,
            confirmed_warnings: self.confirmed_warnings,
        }
    }
}

/// Everything [`validate_registration`] needs besides the input.
#[derive(Clone, Copy, Debug)]
pub struct ValidationContext<'a> {
    /// The region index.
    pub regions: &'a Regions,
    /// Today's date where the officer is (birth dates, ages, century of a NIK).
    pub today: Date,
    /// Now, recorded as the moment consent was given.
    pub now: OffsetDateTime,
}

/// The validated field values of a new registration (without the identity
/// and origin, which the store assigns).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidRegistration {
    /// The NIK.
    pub nik: crate::nik::Nik,
    /// Full name, spaces tidied.
    pub full_name: String,
    /// Birth date.
    pub birth_date: Date,
    /// Sex.
    pub sex: Sex,
    /// Phone, normalised to `+62…`.
    pub phone: Option<Phone>,
    /// 10-digit village code.
    pub village_code: String,
    /// RT.
    pub rt: Option<u16>,
    /// RW.
    pub rw: Option<u16>,
    /// Address line.
    pub address: Option<String>,
    /// Category.
    pub category: Category,
    /// Programmes.
    pub programmes: Programmes,
    /// Monthly income in rupiah.
    pub monthly_income: u64,
    /// Payer.
    pub payer: Payer,
    /// Consent record.
    pub consent: Consent,
    /// Warning codes that were confirmed.
    pub confirmed_warnings: Vec<String>,
    /// Warnings that remain (informational, or confirmed).
    pub warnings: Vec<Message>,
}

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldIssue {
    /// Nothing was given for a required field.
    Required,
    /// A problem with the NIK.
    Nik(NikIssue),
    /// A problem with the phone number.
    Phone(PhoneIssue),
    /// The name has characters a name cannot have (digits, symbols).
    NameCharacters,
    /// The name is shorter than 2 or longer than 100 characters.
    NameLength,
    /// The text is not a date in a known format.
    DateFormat(String),
    /// The date lies after today.
    DateInFuture,
    /// The text is not a known sex.
    SexUnknown(String),
    /// The text is not a village code.
    VillageCodeFormat(String),
    /// No village has this code.
    VillageUnknown(String),
    /// The code is a region at another level (a district, say), not a village.
    NotAVillage {
        /// The code given.
        code: String,
        /// Its level.
        level: Level,
    },
    /// The RT/RW is not a whole number from 1 to 999.
    NeighbourhoodNumber(String),
    /// The text is longer than the field allows.
    TooLong(usize),
    /// A word outside a closed vocabulary.
    UnknownWord {
        /// The word given.
        word: String,
        /// The accepted codes.
        accepted: String,
    },
    /// The text is not an amount of rupiah.
    Amount(String),
    /// The amount is above [`MAX_MONTHLY_INCOME`].
    AmountTooLarge(u64),
    /// The payer kind needs the institution's name.
    PayerNameRequired(PayerKind),
    /// A warning the officer must confirm before saving.
    NeedsConfirmation(Message),
}

/// A problem with one field of a registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field.
    pub field: Field,
    /// What is wrong.
    pub issue: FieldIssue,
}

impl Problem for FieldProblem {
    fn code(&self) -> &'static str {
        match &self.issue {
            FieldIssue::Required => "field_required",
            FieldIssue::Nik(issue) => issue.code(),
            FieldIssue::Phone(issue) => issue.code(),
            FieldIssue::NameCharacters => "name_invalid_characters",
            FieldIssue::NameLength => "name_length",
            FieldIssue::DateFormat(_) => "date_format",
            FieldIssue::DateInFuture => "date_in_future",
            FieldIssue::SexUnknown(_) => "sex_unknown",
            FieldIssue::VillageCodeFormat(_) => "village_code_format",
            FieldIssue::VillageUnknown(_) => "village_unknown",
            FieldIssue::NotAVillage { .. } => "not_a_village",
            FieldIssue::NeighbourhoodNumber(_) => "rt_rw_number",
            FieldIssue::TooLong(_) => "too_long",
            FieldIssue::UnknownWord { .. } => "unknown_word",
            FieldIssue::Amount(_) => "amount_format",
            FieldIssue::AmountTooLarge(_) => "amount_too_large",
            FieldIssue::PayerNameRequired(_) => "payer_name_required",
            FieldIssue::NeedsConfirmation(_) => "needs_confirmation",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        let label = self.field.label(lang);
        match (&self.issue, lang) {
            (FieldIssue::Required, Lang::Id) => format!("{label} wajib diisi."),
            (FieldIssue::Required, Lang::En) => format!("{label} is required."),
            (FieldIssue::Nik(issue), _) => issue.message(lang),
            (FieldIssue::Phone(issue), _) => issue.message(lang),
            (FieldIssue::NameCharacters, Lang::Id) => format!(
                "{label} hanya boleh berisi huruf, spasi, titik, koma, tanda hubung dan apostrof."
            ),
            (FieldIssue::NameCharacters, Lang::En) => format!(
                "{label} may contain only letters, spaces, dots, commas, hyphens and apostrophes."
            ),
            (FieldIssue::NameLength, Lang::Id) => format!("{label} harus 2 sampai 100 karakter."),
            (FieldIssue::NameLength, Lang::En) => {
                format!("{label} must be 2 to 100 characters long.")
            }
            (FieldIssue::DateFormat(text), Lang::Id) => format!(
                "{label} \"{text}\" bukan tanggal yang sah; tulis seperti 31-01-1990 atau 1990-01-31."
            ),
            (FieldIssue::DateFormat(text), Lang::En) => format!(
                "{label} \"{text}\" is not a valid date; write it like 31-01-1990 or 1990-01-31."
            ),
            (FieldIssue::DateInFuture, Lang::Id) => {
                format!("{label} tidak boleh setelah hari ini.")
            }
            (FieldIssue::DateInFuture, Lang::En) => format!("{label} cannot be after today."),
            (FieldIssue::SexUnknown(text), Lang::Id) => {
                format!("{label} \"{text}\" tidak dikenal; isi L (laki-laki) atau P (perempuan).")
            }
            (FieldIssue::SexUnknown(text), Lang::En) => {
                format!("{label} \"{text}\" is not recognised; use L (male) or P (female).")
            }
            (FieldIssue::VillageCodeFormat(text), Lang::Id) => format!(
                "{label}: \"{text}\" bukan kode desa/kelurahan; kode terdiri dari 10 angka, misalnya 1311012001."
            ),
            (FieldIssue::VillageCodeFormat(text), Lang::En) => format!(
                "{label}: \"{text}\" is not a village code; a code has 10 digits, for example 1311012001."
            ),
            (FieldIssue::VillageUnknown(code), Lang::Id) => {
                format!("{label}: tidak ada desa/kelurahan dengan kode {code}.")
            }
            (FieldIssue::VillageUnknown(code), Lang::En) => {
                format!("{label}: no village has the code {code}.")
            }
            (FieldIssue::NotAVillage { code, level }, Lang::Id) => format!(
                "{label}: kode {code} adalah {}, bukan desa/kelurahan; pilih desa/kelurahan di dalamnya.",
                level.name_id()
            ),
            (FieldIssue::NotAVillage { code, level }, Lang::En) => format!(
                "{label}: code {code} is a {}, not a village; choose a village inside it.",
                level.name_en()
            ),
            (FieldIssue::NeighbourhoodNumber(text), Lang::Id) => {
                format!("{label} \"{text}\" harus berupa angka 1 sampai 999.")
            }
            (FieldIssue::NeighbourhoodNumber(text), Lang::En) => {
                format!("{label} \"{text}\" must be a number from 1 to 999.")
            }
            (FieldIssue::TooLong(max), Lang::Id) => {
                format!("{label} paling panjang {max} karakter.")
            }
            (FieldIssue::TooLong(max), Lang::En) => {
                format!("{label} can be at most {max} characters.")
            }
            (FieldIssue::UnknownWord { word, accepted }, Lang::Id) => {
                format!("{label} \"{word}\" tidak dikenal; pilihan: {accepted}.")
            }
            (FieldIssue::UnknownWord { word, accepted }, Lang::En) => {
                format!("{label} \"{word}\" is not recognised; choose one of: {accepted}.")
            }
            (FieldIssue::Amount(text), Lang::Id) => {
                format!("{label} \"{text}\" bukan jumlah rupiah; tulis seperti 1.500.000.")
            }
            (FieldIssue::Amount(text), Lang::En) => {
                format!("{label} \"{text}\" is not an amount of rupiah; write it like 1500000.")
            }
            (FieldIssue::AmountTooLarge(amount), Lang::Id) => format!(
                "{label} Rp {amount} terlalu besar (paling banyak Rp {MAX_MONTHLY_INCOME}); periksa jumlah angka nol."
            ),
            (FieldIssue::AmountTooLarge(amount), Lang::En) => format!(
                "{label} Rp {amount} is too large (at most Rp {MAX_MONTHLY_INCOME}); check the zeros."
            ),
            (FieldIssue::PayerNameRequired(kind), Lang::Id) => format!(
                "Nama penanggung iuran wajib diisi untuk {}.",
                kind.label(Lang::Id)
            ),
            (FieldIssue::PayerNameRequired(kind), Lang::En) => {
                format!("The payer's name is required for {}.", kind.label(Lang::En))
            }
            (FieldIssue::NeedsConfirmation(warning), Lang::Id) => format!(
                "{} Konfirmasi peringatan ini ({}) untuk tetap menyimpan.",
                warning.message_id, warning.code
            ),
            (FieldIssue::NeedsConfirmation(warning), Lang::En) => format!(
                "{} Confirm this warning ({}) to save anyway.",
                warning.message_en, warning.code
            ),
        }
    }

    fn to_message(&self) -> Message {
        Message {
            code: self.code().to_owned(),
            severity: self.severity(),
            field: Some(self.field.as_str().to_owned()),
            message_id: self.message(Lang::Id),
            message_en: self.message(Lang::En),
        }
    }
}

/// Every problem found in a registration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s): {}", problems.len(), problems.iter().map(|p| format!("{}: {}", p.field.as_str(), p.code())).collect::<Vec<_>>().join(", "))]
pub struct InvalidRegistration {
    /// The problems, in field order.
    pub problems: Vec<FieldProblem>,
}

impl InvalidRegistration {
    /// The problems as serialisable messages.
    pub fn messages(&self) -> Vec<Message> {
        self.problems.iter().map(Problem::to_message).collect()
    }
}

/// Validates a registration; returns all problems at once when any field is wrong.
pub fn validate_registration(
    input: &RegistrationInput,
    context: &ValidationContext<'_>,
) -> Result<ValidRegistration, InvalidRegistration> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut fail = |field: Field, issue: FieldIssue| problems.push(FieldProblem { field, issue });

    // NIK, and what it says about sex and birth date.
    let nik_check = validate_nik(&input.nik, context.today, context.regions);
    if input.nik.trim().is_empty() {
        fail(Field::Nik, FieldIssue::Required);
    } else {
        for issue in nik_check.errors() {
            fail(Field::Nik, FieldIssue::Nik(issue.clone()));
        }
    }
    for issue in nik_check.warnings() {
        warnings.push(issue.to_message().with_field(Field::Nik.as_str()));
    }

    let full_name = tidy(&input.full_name);
    if full_name.is_empty() {
        fail(Field::FullName, FieldIssue::Required);
    } else if !(2..=100).contains(&full_name.chars().count()) {
        fail(Field::FullName, FieldIssue::NameLength);
    } else if !full_name
        .chars()
        .all(|c| c.is_alphabetic() || " .,'’-`".contains(c))
    {
        fail(Field::FullName, FieldIssue::NameCharacters);
    }

    let entered_birth_date = match tidy(&input.birth_date).as_str() {
        "" => None,
        text => match parse_date(text) {
            Some(date) if date > context.today => {
                fail(Field::BirthDate, FieldIssue::DateInFuture);
                None
            }
            Some(date) => Some(date),
            None => {
                fail(Field::BirthDate, FieldIssue::DateFormat(clip(text)));
                None
            }
        },
    };
    let entered_sex = match tidy(&input.sex).as_str() {
        "" => None,
        text => match parse_sex(text) {
            Some(sex) => Some(sex),
            None => {
                fail(Field::Sex, FieldIssue::SexUnknown(clip(text)));
                None
            }
        },
    };
    let mismatches = compare_with_entered(&nik_check, entered_sex, entered_birth_date);
    for mismatch in &mismatches {
        let field = match mismatch {
            NikIssue::SexMismatch { .. } => Field::Sex,
            _ => Field::BirthDate,
        };
        let message = mismatch.to_message().with_field(field.as_str());
        let confirmed = input
            .confirmed_warnings
            .iter()
            .any(|c| c == mismatch.code());
        if MUST_CONFIRM.contains(&mismatch.code()) && !confirmed {
            fail(field, FieldIssue::NeedsConfirmation(message));
        } else {
            warnings.push(message);
        }
    }
    let birth_date = entered_birth_date.or(nik_check.birth_date);
    let sex = entered_sex.or(nik_check.sex);
    if birth_date.is_none() && nik_check.is_valid() {
        fail(Field::BirthDate, FieldIssue::Required);
    }

    let phone = match tidy(&input.phone).as_str() {
        "" => None,
        text => match normalize_phone(text) {
            Ok(phone) => Some(phone),
            Err(issue) => {
                fail(Field::Phone, FieldIssue::Phone(issue));
                None
            }
        },
    };

    let village_code =
        validate_village(&input.village_code, context.regions).unwrap_or_else(|issue| {
            fail(Field::VillageCode, issue);
            String::new()
        });

    let rt = parse_neighbourhood(&input.rt).unwrap_or_else(|issue| {
        fail(Field::Rt, issue);
        None
    });
    let rw = parse_neighbourhood(&input.rw).unwrap_or_else(|issue| {
        fail(Field::Rw, issue);
        None
    });

    let address = match tidy(&input.address) {
        text if text.is_empty() => None,
        text if text.chars().count() > 200 => {
            fail(Field::Address, FieldIssue::TooLong(200));
            None
        }
        text => Some(text),
    };

    let category = parse_word::<Category>(&input.category).unwrap_or_else(|issue| {
        fail(Field::Category, issue);
        None
    });

    let jht = match tidy(&input.jht).to_lowercase().as_str() {
        "" | "0" | "tidak" | "no" | "false" | "n" | "t" => false,
        "1" | "ya" | "yes" | "true" | "y" | "jht" => true,
        other => {
            fail(
                Field::Programmes,
                FieldIssue::UnknownWord {
                    word: clip(other),
                    accepted: "ya, tidak / yes, no".into(),
                },
            );
            false
        }
    };
    let programmes = Programmes { jht };

    let monthly_income = match tidy(&input.monthly_income).as_str() {
        "" => DEFAULT_MONTHLY_INCOME,
        text => match parse_rupiah(text) {
            Some(amount) if amount > MAX_MONTHLY_INCOME => {
                fail(Field::MonthlyIncome, FieldIssue::AmountTooLarge(amount));
                0
            }
            Some(amount) => amount,
            None => {
                fail(Field::MonthlyIncome, FieldIssue::Amount(clip(text)));
                0
            }
        },
    };

    let payer_kind = parse_word::<PayerKind>(&input.payer).unwrap_or_else(|issue| {
        fail(Field::Payer, issue);
        None
    });
    let payer_name = Some(tidy(&input.payer_name)).filter(|name| !name.is_empty());
    if let Some(kind) = payer_kind {
        if kind.requires_name() && payer_name.is_none() {
            fail(Field::Payer, FieldIssue::PayerNameRequired(kind));
        }
        if payer_name
            .as_ref()
            .is_some_and(|name| name.chars().count() > 120)
        {
            fail(Field::Payer, FieldIssue::TooLong(120));
        }
    }

    let consent_method =
        parse_word::<ConsentMethod>(&input.consent_method).unwrap_or_else(|issue| {
            fail(Field::Consent, issue);
            None
        });
    let consent_reference = Some(tidy(&input.consent_reference)).filter(|r| !r.is_empty());
    if consent_reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > 120)
    {
        fail(Field::Consent, FieldIssue::TooLong(120));
    }

    let confirmed_warnings: Vec<String> = {
        let mut codes: Vec<String> = input
            .confirmed_warnings
            .iter()
            .map(|c| c.trim().to_owned())
            .filter(|c| mismatches.iter().any(|m| m.code() == c))
            .collect();
        codes.sort();
        codes.dedup();
        codes
    };

    problems.sort_by_key(|p| Field::ALL.iter().position(|f| *f == p.field));
    match (
        nik_check.nik,
        birth_date,
        sex,
        category,
        payer_kind,
        consent_method,
    ) {
        (Some(nik), Some(birth_date), Some(sex), Some(category), Some(kind), Some(method))
            if problems.is_empty() =>
        {
            Ok(ValidRegistration {
                nik,
                full_name,
                birth_date,
                sex,
                phone,
                village_code,
                rt,
                rw,
                address,
                category,
                programmes,
                monthly_income,
                payer: Payer {
                    kind,
                    name: payer_name,
                },
                consent: Consent {
                    method,
                    recorded_at: context.now,
                    reference: consent_reference,
                },
                confirmed_warnings,
                warnings,
            })
        }
        _ => Err(InvalidRegistration { problems }),
    }
}

/// Checks a village code: 10 digits (dots allowed) naming an existing desa/kelurahan.
pub fn validate_village(input: &str, regions: &Regions) -> Result<String, FieldIssue> {
    let text = input.trim();
    if text.is_empty() {
        return Err(FieldIssue::Required);
    }
    let code = normalize_code(text).ok_or_else(|| FieldIssue::VillageCodeFormat(clip(text)))?;
    match regions.get(&code) {
        Some(region) if region.level == Level::Village => Ok(code),
        Some(region) => Err(FieldIssue::NotAVillage {
            code,
            level: region.level,
        }),
        None if code.len() == 10 => Err(FieldIssue::VillageUnknown(code)),
        None => Err(FieldIssue::VillageCodeFormat(clip(text))),
    }
}

/// Trims and collapses runs of whitespace to one space.
fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts echoed input to a length that is safe to show in a message.
fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Parses `YYYY-MM-DD`, `DD-MM-YYYY`, `DD/MM/YYYY` or `DD.MM.YYYY`.
pub fn parse_date(text: &str) -> Option<Date> {
    let parts: Vec<&str> = text.trim().split(['-', '/', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return None;
    };
    let number = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = if a.len() == 4 {
        (number(a)?, number(b)?, number(c)?)
    } else if c.len() == 4 {
        (number(c)?, number(b)?, number(a)?)
    } else {
        return None;
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

/// Parses how people write sex on Indonesian forms.
pub fn parse_sex(text: &str) -> Option<Sex> {
    match text.trim().to_lowercase().replace(['-', ' '], "").as_str() {
        "l" | "lk" | "lakilaki" | "laki" | "pria" | "m" | "male" | "man" => Some(Sex::Male),
        "p" | "pr" | "perempuan" | "wanita" | "f" | "female" | "woman" => Some(Sex::Female),
        _ => None,
    }
}

/// Parses an amount of rupiah: `1500000`, `1.500.000`, `Rp 1,500,000`, `Rp1.500.000,00`.
pub fn parse_rupiah(text: &str) -> Option<u64> {
    let mut body = text.trim().to_lowercase();
    if let Some(rest) = body.strip_prefix("rp") {
        body = rest.trim_start_matches('.').trim().to_owned();
    }
    // A decimal part of zero cents (",00" or ".00") is common in spreadsheets;
    // a thousands separator is always followed by three digits, never two.
    if let Some(rest) = body
        .strip_suffix(",00")
        .or_else(|| body.strip_suffix(".00"))
    {
        body = rest.to_owned();
    }
    let digits: String = body
        .chars()
        .filter(|c| !matches!(c, '.' | ',' | ' '))
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 15 {
        return None;
    }
    digits.parse().ok()
}

/// Parses an RT or RW: empty, or a whole number from 1 to 999 (leading zeros allowed).
fn parse_neighbourhood(text: &str) -> Result<Option<u16>, FieldIssue> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<u16>() {
        Ok(n) if (1..=999).contains(&n) && text.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(FieldIssue::NeighbourhoodNumber(clip(text))),
    }
}

/// Parses a required vocabulary word.
fn parse_word<T>(text: &str) -> Result<Option<T>, FieldIssue>
where
    T: std::str::FromStr<Err = crate::registration::UnknownWord>,
{
    let text = text.trim();
    if text.is_empty() {
        return Err(FieldIssue::Required);
    }
    text.parse::<T>()
        .map(Some)
        .map_err(|unknown| FieldIssue::UnknownWord {
            word: clip(text),
            accepted: unknown.accepted,
        })
}

#[cfg(test)]
mod tests;
