//! What an officer does, shared by the command line ([`crate::commands`]) and
//! the web UI ([`crate::ui`]): checking a NIK, choosing a village by name,
//! validating a registration, importing a spreadsheet, enrolling. Nothing
//! here prints; each caller shows the result its own way.

use std::collections::HashSet;
use std::path::Path;

use lindung_shared::ids::RecordId;
use lindung_shared::lang::{Lang, Message, Problem, Severity, age_on};
use lindung_shared::nik::{Nik, NikCheck, Sex, validate_nik};
use lindung_shared::region::{Level, SearchHit, SearchOptions, fold_name, normalize_code, regions};
use lindung_shared::registration::Change;
use lindung_shared::validation::{
    InvalidRegistration, RegistrationInput, ValidRegistration, ValidationContext,
    validate_registration,
};
use serde::Serialize;

use crate::output::{now, today};
use crate::spreadsheet::{ImportDefaults, RowProblem, SheetColumns, SheetError, read_rows};
use crate::store::{Enrollment, POSSIBLE_DUPLICATE, Store, StoreError, changes_between};
use crate::sync::SyncError;

/// The context registrations are validated in: the region index, today, now.
pub fn validation_context() -> ValidationContext<'static> {
    ValidationContext {
        regions: regions(),
        today: today(),
        now: now(),
    }
}

/// Validates a registration as typed. Besides what the shared rules check,
/// it keeps the officer's confirmation of a probable duplicate
/// ([`POSSIBLE_DUPLICATE`]), which only this laptop can detect, so that
/// [`Store::register`] sees it.
pub fn validate(input: &RegistrationInput) -> Result<ValidRegistration, InvalidRegistration> {
    validate_in(input, &validation_context())
}

/// [`validate`] in a given context (an import validates every row in one).
pub fn validate_in(
    input: &RegistrationInput,
    context: &ValidationContext<'_>,
) -> Result<ValidRegistration, InvalidRegistration> {
    let mut valid = validate_registration(input, context)?;
    let confirmed = input
        .confirmed_warnings
        .iter()
        .any(|c| c.trim() == POSSIBLE_DUPLICATE);
    if confirmed
        && !valid
            .confirmed_warnings
            .iter()
            .any(|c| c == POSSIBLE_DUPLICATE)
    {
        valid.confirmed_warnings.push(POSSIBLE_DUPLICATE.to_owned());
        valid.confirmed_warnings.sort();
    }
    Ok(valid)
}

/// What a village typed as a name (or a code) comes to.
#[derive(Debug)]
pub enum VillageChoice<'a> {
    /// Empty, or already a code: left for validation to judge.
    AsTyped,
    /// One village matches: its code.
    Code(String),
    /// No village has that name.
    NotFound,
    /// Several villages match; the officer must choose.
    Ambiguous(Vec<SearchHit<'a>>),
}

/// Resolves a village given by name to its code: the only match, or the only
/// exact (accent- and case-insensitive) match among several.
pub fn choose_village(text: &str) -> VillageChoice<'static> {
    let text = text.trim();
    if text.is_empty() || normalize_code(text).is_some() {
        return VillageChoice::AsTyped;
    }
    let options = SearchOptions {
        level: Some(Level::Village),
        within: None,
        limit: 8,
    };
    let hits = regions().search(text, &options);
    let wanted = fold_name(text);
    let exact: Vec<_> = hits
        .iter()
        .filter(|h| fold_name(h.region.name) == wanted)
        .collect();
    match (hits.len(), exact.len()) {
        (0, _) => VillageChoice::NotFound,
        (1, _) => VillageChoice::Code(hits[0].region.code.to_owned()),
        (_, 1) => VillageChoice::Code(exact[0].region.code.to_owned()),
        _ => VillageChoice::Ambiguous(hits),
    }
}

/// The problem with a village name that does not name exactly one village,
/// for the village field of a form.
pub fn village_choice_problem(text: &str, choice: &VillageChoice<'_>) -> Option<Message> {
    let (code, message_id, message_en) = match choice {
        VillageChoice::AsTyped | VillageChoice::Code(_) => return None,
        VillageChoice::NotFound => (
            "village_name_unknown",
            format!(
                "Tidak ada desa/kelurahan bernama \"{text}\"; periksa ejaan atau gunakan kodenya."
            ),
            format!("No village is named \"{text}\"; check the spelling or use its code."),
        ),
        VillageChoice::Ambiguous(hits) => {
            let names: Vec<String> = hits
                .iter()
                .map(|h| {
                    format!(
                        "{} {}",
                        h.region.code,
                        regions().full_name(h.region.code).unwrap_or_default()
                    )
                })
                .collect();
            (
                "village_name_ambiguous",
                format!(
                    "Beberapa desa cocok dengan \"{text}\"; pilih kodenya: {}.",
                    names.join("; ")
                ),
                format!(
                    "Several villages match \"{text}\"; choose its code: {}.",
                    names.join("; ")
                ),
            )
        }
    };
    Some(Message {
        code: code.to_owned(),
        severity: Severity::Error,
        field: Some("village_code".to_owned()),
        message_id,
        message_en,
    })
}

/// The verdict on one NIK: what `lindung-agent nik --json` prints and the
/// UI's inline check returns.
#[derive(Debug, Serialize)]
pub struct NikVerdict {
    /// What was typed.
    pub input: String,
    /// The digits.
    pub normalized: String,
    /// No error (warnings allowed).
    pub valid: bool,
    /// Sex encoded in the NIK.
    pub sex: Option<Sex>,
    /// Birth date encoded in the NIK.
    pub birth_date: Option<time::Date>,
    /// Age today.
    pub age: Option<u32>,
    /// The district the NIK was first registered in.
    pub district: Option<NikDistrict>,
    /// Errors, each in both languages.
    pub errors: Vec<Message>,
    /// Warnings, each in both languages.
    pub warnings: Vec<Message>,
}

/// The district a NIK was first registered in.
#[derive(Debug, Serialize)]
pub struct NikDistrict {
    /// Its six-digit code.
    pub code: String,
    /// Its name, current or retired.
    pub name: Option<String>,
    /// Its name with regency and province.
    pub full_name: Option<String>,
    /// The code was retired (a Papua split, say).
    pub retired: bool,
    /// The district that took over a retired code.
    pub successor_code: Option<String>,
}

/// Checks a NIK as of today.
pub fn nik_verdict(input: &str) -> NikVerdict {
    let today = today();
    verdict_of(input, &validate_nik(input, today, regions()), today)
}

fn verdict_of(input: &str, check: &NikCheck, today: time::Date) -> NikVerdict {
    let index = regions();
    let district = check.nik.map(|nik| {
        let code = nik.district_code().to_string();
        let current = index.get(&code);
        let retired = index.retired_district(&code);
        NikDistrict {
            name: current
                .map(|r| r.name.to_string())
                .or_else(|| retired.as_ref().map(|r| r.name.to_string())),
            full_name: index.full_name(&code),
            retired: current.is_none() && retired.is_some(),
            successor_code: retired.and_then(|r| r.successor_code.map(|c| c.to_string())),
            code,
        }
    });
    NikVerdict {
        input: input.to_owned(),
        normalized: check.normalized.clone(),
        valid: check.is_valid(),
        sex: check.sex,
        birth_date: check.birth_date,
        age: check.birth_date.map(|birth| age_on(birth, today)),
        district,
        errors: check.errors().map(Problem::to_message).collect(),
        warnings: check.warnings().map(Problem::to_message).collect(),
    }
}

/// What an import did, row by row.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Rows read.
    pub read: usize,
    /// New registrations saved.
    pub created: usize,
    /// Registrations updated (a row from a Lindung export, or a known NIK with new values).
    pub updated: usize,
    /// Rows already here with the same values.
    pub unchanged: usize,
    /// Rows refused.
    pub refused: usize,
    /// Headers that name no known column (ignored).
    pub unknown_columns: Vec<String>,
    /// Why each refused row was refused: line, column, reason.
    #[serde(skip)]
    pub problems: Vec<RowProblem>,
}

/// Why an import stopped as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read as a spreadsheet.
    #[error(transparent)]
    Sheet(#[from] SheetError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ImportError {
    /// The message for the officer.
    pub fn message(&self, lang: Lang) -> String {
        match self {
            ImportError::Sheet(e) => e.message(lang),
            ImportError::Store(e) => e.message(lang),
        }
    }
}

/// Rows saved per transaction: large enough for speed, small enough that a
/// crash loses little work (the unsaved rows are simply imported again).
/// Every commit rewrites the index pages its rows touched (NIKs and birth
/// dates land all over their indexes): 2,000 rows per commit wrote 40 % fewer
/// bytes than 500 and imported about a quarter faster (BENCHMARKS.md).
const BATCH_ROWS: usize = 2000;

/// A refusal of one row that is not a validation error: a duplicate.
fn duplicate_problem(
    line: usize,
    code: &str,
    message_id: String,
    message_en: String,
    columns: &SheetColumns,
) -> RowProblem {
    let message = Message {
        code: code.to_owned(),
        severity: Severity::Error,
        field: Some("nik".into()),
        message_id,
        message_en,
    };
    RowProblem::from_message(line, &message, columns)
}

/// Imports a spreadsheet: validates every row like `register` does, runs the
/// same duplicate checks, and saves valid rows in batches (one transaction
/// each). `on_row` is called after each row read (a progress bar).
pub fn import_file(
    store: &mut Store,
    path: &Path,
    defaults: &ImportDefaults,
    on_row: &dyn Fn(),
) -> Result<ImportReport, ImportError> {
    let rows = read_rows(path, defaults)?;
    let columns = rows.columns().clone();
    let mut report = ImportReport {
        unknown_columns: columns.unknown().iter().map(|c| c.header.clone()).collect(),
        ..ImportReport::default()
    };
    let now = now();
    let context = ValidationContext {
        regions: regions(),
        today: today(),
        now,
    };
    let mut batch: Vec<(RecordId, Vec<Change>)> = Vec::new();
    let mut niks_seen: HashSet<Nik> = HashSet::new();

    store.begin_read()?;
    for row in rows {
        let row = row?;
        report.read += 1;
        on_row();
        let valid = match (row.problems.is_empty(), validate_in(&row.input, &context)) {
            (true, Ok(valid)) => valid,
            (_, Ok(_)) => {
                report.problems.extend(row.problems.clone());
                report.refused += 1;
                continue;
            }
            (_, Err(invalid)) => {
                report
                    .problems
                    .extend(row.problems_with(&invalid.messages(), &columns));
                report.refused += 1;
                continue;
            }
        };
        if !niks_seen.insert(valid.nik) {
            report.problems.push(duplicate_problem(
                row.line,
                "duplicate_nik_in_file",
                format!(
                    "NIK {} muncul lebih dari sekali di berkas ini; baris ini dilewati.",
                    valid.nik.masked()
                ),
                format!(
                    "NIK {} appears more than once in this file; this row was skipped.",
                    valid.nik.masked()
                ),
                &columns,
            ));
            report.refused += 1;
            continue;
        }
        // A row exported by Lindung names its registration: update it.
        let exported = match row.id {
            Some(id) => store.find(&id.to_string())?,
            None => None,
        };
        let same_nik = store.find_by_nik(&valid.nik)?;
        let target = exported.or_else(|| same_nik.first().cloned());
        if let Some(existing) = target {
            let clash = same_nik
                .iter()
                .any(|r| r.registration.id != existing.registration.id);
            if clash {
                report.problems.push(duplicate_problem(
                    row.line,
                    "duplicate_nik",
                    format!("NIK {} sudah terdaftar untuk pendaftaran lain; baris ini tidak disimpan.", valid.nik.masked()),
                    format!("NIK {} is already registered for another registration; this row was not saved.", valid.nik.masked()),
                    &columns,
                ));
                report.refused += 1;
                continue;
            }
            let changes = changes_between(&existing.registration, &valid);
            if changes.is_empty() {
                report.unchanged += 1;
            } else {
                batch.push((existing.registration.id, changes));
                report.updated += 1;
            }
        } else {
            let confirmed = valid
                .confirmed_warnings
                .iter()
                .any(|c| c == POSSIBLE_DUPLICATE);
            let candidates = store.probable_duplicates(&valid)?;
            if !candidates.is_empty() && !confirmed {
                let other = &candidates[0].registration;
                report.problems.push(duplicate_problem(
                    row.line,
                    POSSIBLE_DUPLICATE,
                    format!(
                        "Mungkin orang yang sama dengan {} ({}): desa dan tanggal lahir sama, nama mirip. Jika orang berbeda, isi kolom Peringatan Dikonfirmasi dengan possible_duplicate.",
                        other.full_name,
                        other.nik.masked()
                    ),
                    format!(
                        "Probably the same person as {} ({}): same village and birth date, similar name. If it is someone else, put possible_duplicate in the Confirmed Warnings column.",
                        other.full_name,
                        other.nik.masked()
                    ),
                    &columns,
                ));
                report.refused += 1;
                continue;
            }
            let registration = store.new_registration(valid, !candidates.is_empty(), now);
            batch.push((registration.id, registration.to_changes()));
            report.created += 1;
        }
        if batch.len() >= BATCH_ROWS {
            store.end_read()?;
            store.apply_local_batch(std::mem::take(&mut batch), now)?;
            store.begin_read()?;
        }
    }
    store.end_read()?;
    if !batch.is_empty() {
        store.apply_local_batch(batch, now)?;
    }
    Ok(report)
}

/// Why enrolment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The address is not an http(s) URL.
    #[error("the server address must start with http:// or https:// (e.g. http://10.0.0.5:8080)")]
    BadAddress,
    /// No code was given.
    #[error("the enrolment code from staff is required")]
    NoCode,
    /// A CA or a pin was given for a plain `http://` address.
    #[error("a CA file or a pinned certificate needs an https:// server address")]
    TlsNeedsHttps,
    /// The CA file holds no certificate.
    #[error("the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    BadCa,
    /// The fingerprint to pin is not a SHA-256.
    #[error(
        "the certificate fingerprint must be 64 hexadecimal digits (SHA-256, colons allowed), as the server prints it"
    )]
    BadFingerprint,
    /// The server refused, or could not be reached.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// How an enrolment checks the server's certificate (`https://` only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrollTls {
    /// A private CA's certificate(s), PEM: trusted instead of the usual roots.
    pub ca_pem: Option<String>,
    /// Pin the server's certificate: `Some("")` pins the one it presents
    /// now; `Some(fingerprint)` only accepts that one.
    pub pin: Option<String>,
}

impl EnrollError {
    /// The message for the officer.
    pub fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (EnrollError::BadAddress, Lang::Id) => {
                "alamat server harus diawali http:// atau https:// (contoh: http://10.0.0.5:8080)"
                    .to_owned()
            }
            (EnrollError::NoCode, Lang::Id) => "kode pendaftaran dari staf wajib diisi".to_owned(),
            (EnrollError::TlsNeedsHttps, Lang::Id) => {
                "berkas CA atau penyematan sertifikat memerlukan alamat server https://".to_owned()
            }
            (EnrollError::BadCa, Lang::Id) => {
                "berkas CA tidak berisi sertifikat PEM (-----BEGIN CERTIFICATE-----)".to_owned()
            }
            (EnrollError::BadFingerprint, Lang::Id) => {
                "sidik jari sertifikat harus 64 digit heksadesimal (SHA-256, boleh dengan titik dua), seperti yang dicetak server"
                    .to_owned()
            }
            (EnrollError::Sync(error), lang) => error.text(lang),
            (other, Lang::En) => other.to_string(),
        }
    }
}

/// Enrols this laptop with a server, using a one-time code from staff; an
/// `https://` server's certificate is checked as `tls` says (by default
/// against the usual roots).
pub fn enroll(
    store: &mut Store,
    server: &str,
    code: &str,
    tls: &EnrollTls,
) -> Result<Enrollment, EnrollError> {
    use crate::sync::tls::{Pin, Trust, parse_ca, parse_fingerprint};
    let server = server.trim();
    let https = server.starts_with("https://");
    if !(server.starts_with("http://") || https) {
        return Err(EnrollError::BadAddress);
    }
    let code = code.trim();
    if code.is_empty() {
        return Err(EnrollError::NoCode);
    }
    if !https && (tls.ca_pem.is_some() || tls.pin.is_some()) {
        return Err(EnrollError::TlsNeedsHttps);
    }
    if let Some(pem) = &tls.ca_pem {
        parse_ca(pem).map_err(|_| EnrollError::BadCa)?;
    }
    let pin = match tls.pin.as_deref().map(str::trim) {
        None => Pin::None,
        Some("") => Pin::FirstUse,
        Some(text) => {
            Pin::Expect(parse_fingerprint(text).map_err(|_| EnrollError::BadFingerprint)?)
        }
    };
    let trust = Trust {
        ca_pem: tls.ca_pem.clone(),
        pin,
    };
    let device_name = store.officer().1.to_owned();
    Ok(crate::sync::enroll_with(
        store,
        server,
        code,
        &device_name,
        &trust,
        now(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unique_village_name_becomes_its_code_and_codes_stay_as_typed() {
        assert!(matches!(choose_village(""), VillageChoice::AsTyped));
        assert!(matches!(
            choose_village("1311012001"),
            VillageChoice::AsTyped
        ));
        match choose_village("lubuk gadang") {
            VillageChoice::Code(code) => assert_eq!(code, "1311012001"),
            other => panic!("expected one village, got {other:?}"),
        }
        let nowhere = choose_village("zzzz qqqq");
        assert!(matches!(nowhere, VillageChoice::NotFound));
        let problem = village_choice_problem("zzzz qqqq", &nowhere).expect("a problem");
        assert_eq!(problem.field.as_deref(), Some("village_code"));
        assert!(problem.message_id.contains("Tidak ada desa"));
    }

    #[test]
    fn a_nik_verdict_derives_sex_and_birth_date() {
        let verdict = nik_verdict("1311014101900001");
        assert!(verdict.valid);
        assert_eq!(verdict.sex, Some(Sex::Female));
        assert_eq!(
            verdict.birth_date.map(|d| d.to_string()).as_deref(),
            Some("1990-01-01")
        );
        let wrong = nik_verdict("1311013102900001");
        assert!(!wrong.valid);
        assert!(!wrong.errors.is_empty());
    }
}
