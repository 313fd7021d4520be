//! What an officer sees when a registration form is right, wrong, or needs a confirmation.

use time::macros::{date, datetime};

use super::*;
use crate::region::regions;

fn context() -> ValidationContext<'static> {
    ValidationContext {
        regions: regions(),
        today: date!(2026 - 11 - 22),
        now: datetime!(2026-11-22 08:00 UTC),
    }
}

/// A woman born 1 January 1990, first registered in Sangir, Solok Selatan,
/// living in Lubuk Gadang (1311012001).
fn siti() -> RegistrationInput {
    RegistrationInput {
        nik: "1311014101900001".into(),
        full_name: "  Siti   Aminah ".into(),
        phone: "0812-3456-7890".into(),
        village_code: "13.11.01.2001".into(),
        rt: "003".into(),
        rw: "01".into(),
        category: "Ketua RT".into(),
        payer: "APBD".into(),
        consent_method: "formulir".into(),
        ..RegistrationInput::default()
    }
}

fn codes(error: &InvalidRegistration) -> Vec<(&'static str, &'static str)> {
    error
        .problems
        .iter()
        .map(|p| (p.field.as_str(), p.code()))
        .collect()
}

#[test]
fn a_complete_form_is_accepted_with_sex_and_birth_date_taken_from_the_nik() {
    let valid = validate_registration(&siti(), &context()).expect("valid");
    assert_eq!(valid.full_name, "Siti Aminah");
    assert_eq!(valid.sex, Sex::Female);
    assert_eq!(valid.birth_date, date!(1990 - 01 - 01));
    assert_eq!(valid.village_code, "1311012001");
    assert_eq!(
        valid.phone.as_ref().map(|p| p.as_str()),
        Some("+6281234567890")
    );
    assert_eq!((valid.rt, valid.rw), (Some(3), Some(1)));
    assert_eq!(valid.category, Category::RtHead);
    assert_eq!(valid.payer.kind, PayerKind::Apbd);
    assert_eq!(valid.monthly_income, DEFAULT_MONTHLY_INCOME);
    assert!(!valid.programmes.jht);
    assert_eq!(valid.consent.method, ConsentMethod::SignedForm);
    assert_eq!(valid.consent.recorded_at, context().now);
    assert!(valid.warnings.is_empty(), "{:?}", valid.warnings);
}

#[test]
fn an_empty_form_names_every_required_field_at_once() {
    let error =
        validate_registration(&RegistrationInput::default(), &context()).expect_err("empty");
    assert_eq!(
        codes(&error),
        vec![
            ("nik", "field_required"),
            ("full_name", "field_required"),
            ("village_code", "field_required"),
            ("category", "field_required"),
            ("payer", "field_required"),
            ("consent", "field_required"),
        ]
    );
    let messages = error.messages();
    assert_eq!(messages[0].message_id, "NIK wajib diisi.");
    assert_eq!(messages[1].message_en, "Full name is required.");
    assert_eq!(messages[1].field.as_deref(), Some("full_name"));
}

#[test]
fn every_wrong_field_is_reported_with_its_reason() {
    let input = RegistrationInput {
        nik: "1311014102900000".into(), // serial 0000
        full_name: "S1ti".into(),
        birth_date: "31/02/1990".into(),
        sex: "x".into(),
        phone: "+1 555 0100".into(),
        village_code: "131101".into(), // a district
        rt: "0".into(),
        rw: "abc".into(),
        category: "astronaut".into(),
        jht: "mungkin".into(),
        monthly_income: "Rp 5.000.000.000".into(),
        payer: "csr".into(),
        consent_method: "telepati".into(),
        ..RegistrationInput::default()
    };
    let error = validate_registration(&input, &context()).expect_err("all wrong");
    assert_eq!(
        codes(&error),
        vec![
            ("nik", "nik_serial_zero"),
            ("full_name", "name_invalid_characters"),
            ("birth_date", "date_format"),
            ("sex", "sex_unknown"),
            ("phone", "phone_not_indonesian"),
            ("village_code", "not_a_village"),
            ("rt", "rt_rw_number"),
            ("rw", "rt_rw_number"),
            ("category", "unknown_word"),
            ("programmes", "unknown_word"),
            ("monthly_income", "amount_too_large"),
            ("payer", "payer_name_required"),
            ("consent", "unknown_word"),
        ]
    );
    let village = &error.problems[5];
    assert!(
        village.message(Lang::Id).contains("kecamatan"),
        "{}",
        village.message(Lang::Id)
    );
    let category = error
        .problems
        .iter()
        .find(|p| p.field == Field::Category)
        .expect("category");
    assert!(
        category.message(Lang::En).contains("fisherman"),
        "lists the choices"
    );
}

#[test]
fn a_typed_birth_date_that_differs_from_the_nik_must_be_confirmed() {
    let mut input = siti();
    input.birth_date = "02-01-1990".into();
    let error = validate_registration(&input, &context()).expect_err("needs confirmation");
    assert_eq!(codes(&error), vec![("birth_date", "needs_confirmation")]);
    assert!(
        error.problems[0]
            .message(Lang::Id)
            .contains("nik_birth_date_mismatch")
    );

    input.confirmed_warnings = vec!["nik_birth_date_mismatch".into()];
    let valid = validate_registration(&input, &context()).expect("confirmed");
    assert_eq!(
        valid.birth_date,
        date!(1990 - 01 - 02),
        "what the officer typed is kept"
    );
    assert_eq!(
        valid.confirmed_warnings,
        vec!["nik_birth_date_mismatch".to_owned()]
    );
    assert_eq!(valid.warnings.len(), 1);
    assert_eq!(valid.warnings[0].field.as_deref(), Some("birth_date"));
}

#[test]
fn a_typed_sex_that_differs_from_the_nik_must_be_confirmed() {
    let mut input = siti();
    input.sex = "L".into();
    let error = validate_registration(&input, &context()).expect_err("needs confirmation");
    assert_eq!(codes(&error), vec![("sex", "needs_confirmation")]);
    input.confirmed_warnings = vec!["nik_sex_mismatch".into(), "unrelated".into()];
    let valid = validate_registration(&input, &context()).expect("confirmed");
    assert_eq!(valid.sex, Sex::Male);
    assert_eq!(
        valid.confirmed_warnings,
        vec!["nik_sex_mismatch".to_owned()],
        "only real warnings are recorded"
    );
}

#[test]
fn unknown_villages_and_malformed_codes_are_told_apart() {
    let mut input = siti();
    input.village_code = "1311019999".into();
    let error = validate_registration(&input, &context()).expect_err("unknown village");
    assert_eq!(codes(&error), vec![("village_code", "village_unknown")]);
    input.village_code = "13110".into();
    let error = validate_registration(&input, &context()).expect_err("malformed");
    assert_eq!(codes(&error), vec![("village_code", "village_code_format")]);
}

#[test]
fn payers_that_need_a_name_accept_one() {
    let mut input = siti();
    input.payer = "Baznas".into();
    input.payer_name = "Baznas Kabupaten Solok Selatan".into();
    input.jht = "ya".into();
    input.monthly_income = "Rp 1.500.000,00".into();
    let valid = validate_registration(&input, &context()).expect("valid");
    assert_eq!(
        valid.payer.name.as_deref(),
        Some("Baznas Kabupaten Solok Selatan")
    );
    assert!(valid.programmes.jht);
    assert_eq!(valid.monthly_income, 1_500_000);
}

#[test]
fn region_warnings_from_the_nik_do_not_block_saving() {
    let mut input = siti();
    // First registered in Merauke before the 2022 Papua split (910101 → 930101).
    input.nik = "9101014101900001".into();
    let valid =
        validate_registration(&input, &context()).expect("a retired district is only a warning");
    assert!(
        valid
            .warnings
            .iter()
            .any(|w| w.code == "nik_retired_district"),
        "{:?}",
        valid.warnings
    );
}

#[test]
fn dates_amounts_and_sexes_parse_as_people_write_them() {
    assert_eq!(parse_date("1990-01-31"), Some(date!(1990 - 01 - 31)));
    assert_eq!(parse_date("31-01-1990"), Some(date!(1990 - 01 - 31)));
    assert_eq!(parse_date("31/1/1990"), Some(date!(1990 - 01 - 31)));
    assert_eq!(parse_date("29.02.2000"), Some(date!(2000 - 02 - 29)));
    assert_eq!(parse_date("29-02-1900"), None);
    assert_eq!(
        parse_date("31-01-90"),
        None,
        "two-digit years are ambiguous"
    );
    assert_eq!(parse_date("kemarin"), None);
    assert_eq!(parse_rupiah("1500000"), Some(1_500_000));
    assert_eq!(parse_rupiah("1.500.000"), Some(1_500_000));
    assert_eq!(parse_rupiah("Rp 1,500,000"), Some(1_500_000));
    assert_eq!(parse_rupiah("Rp1.500.000,00"), Some(1_500_000));
    assert_eq!(parse_rupiah("satu juta"), None);
    assert_eq!(parse_rupiah("-5"), None);
    assert_eq!(parse_sex("Laki-laki"), Some(Sex::Male));
    assert_eq!(parse_sex("P"), Some(Sex::Female));
    assert_eq!(parse_sex("?"), None);
}

#[test]
fn a_stored_registration_turns_back_into_the_same_fields() {
    use crate::ids::{DeviceId, OfficerId, RecordId};
    use crate::registration::{Origin, Registration, Status};
    let mut input = siti();
    input.birth_date = "02-01-1990".into();
    input.confirmed_warnings = vec!["nik_birth_date_mismatch".into()];
    input.jht = "ya".into();
    input.address = "Jorong Pasar".into();
    let valid = validate_registration(&input, &context()).expect("valid");
    let registration = Registration {
        id: RecordId(uuid::Uuid::from_u128(1)),
        origin: Origin {
            officer_id: OfficerId(uuid::Uuid::from_u128(2)),
            device_id: DeviceId(uuid::Uuid::from_u128(3)),
            registered_at: context().now,
        },
        nik: valid.nik,
        full_name: valid.full_name.clone(),
        birth_date: valid.birth_date,
        sex: valid.sex,
        phone: valid.phone.clone(),
        village_code: valid.village_code.clone(),
        rt: valid.rt,
        rw: valid.rw,
        address: valid.address.clone(),
        category: valid.category,
        programmes: valid.programmes,
        monthly_income: valid.monthly_income,
        payer: valid.payer.clone(),
        consent: valid.consent.clone(),
        status: Status::Active,
        confirmed_warnings: valid.confirmed_warnings.clone(),
    };
    let again = validate_registration(
        &RegistrationInput::from_registration(&registration),
        &context(),
    )
    .expect("what was stored validates again");
    assert_eq!(again, valid);

    // Setting every field of another registration makes this one equal to it.
    let mut other = registration.clone();
    other.full_name = "Siti Rahmawati".into();
    other.rt = None;
    other.status = Status::Withdrawn {
        reason: "pindah".into(),
    };
    other.confirmed_warnings.clear();
    let mut copy = registration.clone();
    for change in other.to_changes() {
        copy.set(&change);
    }
    assert_eq!(copy, other);
}
