//! The store keeps every registration, encrypted, and refuses what would corrupt it.

use lindung_shared::region::regions;
use lindung_shared::registration::{Field, Status};
use lindung_shared::validation::{
    RegistrationInput, ValidRegistration, ValidationContext, validate_registration,
};
use time::macros::{date, datetime};

use super::*;

const PASSPHRASE: &str = "sandi-desa-lubuk";

fn now() -> OffsetDateTime {
    datetime!(2026-11-22 08:00 UTC)
}

fn valid(nik: &str, name: &str) -> ValidRegistration {
    let input = RegistrationInput {
        nik: nik.into(),
        full_name: name.into(),
        village_code: "1311012001".into(),
        category: "nelayan".into(),
        payer: "apbd".into(),
        consent_method: "signed_form".into(),
        ..RegistrationInput::default()
    };
    let context = ValidationContext {
        regions: regions(),
        today: date!(2026 - 11 - 22),
        now: now(),
    };
    validate_registration(&input, &context).expect("test input is valid")
}

fn new_store(dir: &Path) -> Store {
    Store::init(
        dir,
        "Rina Marlina",
        PASSPHRASE,
        KdfCost::InsecureFast,
        now(),
    )
    .expect("init")
}

fn saved(store: &mut Store, nik: &str, name: &str) -> Registration {
    store
        .register(valid(nik, name), now())
        .expect("store works")
        .expect("not a duplicate")
}

use lindung_shared::registration::Registration;

#[test]
fn a_registration_is_kept_with_its_operation_queued_for_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let siti = saved(&mut store, "1311014101900001", "Siti Aminah");
    let listed = store.list(&ListFilter::default()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].registration, siti);
    assert_eq!(listed[0].sync, SyncState::Pending);
    let status = store.status().unwrap();
    assert_eq!(
        (status.registrations, status.active, status.pending_changes),
        (1, 1, 1)
    );
    drop(store);
    // Reopened: still there, with the same device identity.
    let store = Store::open(dir.path(), PASSPHRASE).unwrap();
    assert_eq!(
        store
            .find(&siti.id.to_string())
            .unwrap()
            .map(|l| l.registration),
        Some(siti)
    );
}

#[test]
fn the_database_file_holds_no_nik_or_name_in_clear_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    saved(&mut store, "1311014101900001", "Siti Aminah Lubis");
    store
        .conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(store);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in ["1311014101900001", "Siti Aminah", "SQLite format 3"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret:?} found in clear text"
            );
        }
    }
}

#[test]
fn a_wrong_passphrase_opens_nothing_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    saved(&mut store, "1311014101900001", "Siti Aminah");
    drop(store);
    let before: Vec<_> = files(dir.path());
    let error = Store::open(dir.path(), "bukan-sandinya").expect_err("wrong passphrase");
    assert!(matches!(error, StoreError::WrongPassphrase), "{error}");
    assert_eq!(files(dir.path()), before, "the files are untouched");
    assert_eq!(
        Store::open(dir.path(), PASSPHRASE)
            .unwrap()
            .status()
            .unwrap()
            .registrations,
        1
    );
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn init_refuses_an_existing_store_and_weak_input() {
    let dir = tempfile::tempdir().unwrap();
    drop(new_store(dir.path()));
    let again = Store::init(dir.path(), "Lain", PASSPHRASE, KdfCost::InsecureFast, now());
    assert!(matches!(again, Err(StoreError::AlreadyInitialised(_))));
    let other = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::init(other.path(), "Rina", "pendek", KdfCost::InsecureFast, now()),
        Err(StoreError::PassphraseTooShort)
    ));
    assert!(matches!(
        Store::open(&other.path().join("x"), PASSPHRASE),
        Err(StoreError::NotInitialised(_))
    ));
}

#[test]
fn the_same_nik_is_refused_with_the_existing_record() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let first = saved(&mut store, "1311014101900001", "Siti Aminah");
    let refused = store
        .register(valid("1311014101900001", "Siti A."), now())
        .unwrap();
    match refused {
        Err(Refusal::DuplicateNik(d)) => assert_eq!(d.existing[0].registration.id, first.id),
        other => panic!("expected a duplicate refusal, got {other:?}"),
    }
    assert_eq!(
        store.status().unwrap().registrations,
        1,
        "nothing was added"
    );
}

#[test]
fn a_probable_duplicate_needs_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    saved(&mut store, "1311014101900001", "Siti Aminah");
    // Another NIK, same village and birth date, the same name written in capitals.
    let refused = store
        .register(valid("1311014101900002", "SITI AMINAH"), now())
        .unwrap();
    assert!(
        matches!(refused, Err(Refusal::ProbableDuplicate(_))),
        "{refused:?}"
    );
    let mut confirmed = valid("1311014101900002", "SITI AMINAH");
    confirmed.confirmed_warnings.push(POSSIBLE_DUPLICATE.into());
    let kept = store
        .register(confirmed, now())
        .unwrap()
        .expect("confirmed");
    assert_eq!(kept.confirmed_warnings, vec![POSSIBLE_DUPLICATE.to_owned()]);
    // Indonesian spelling variants of the same name are caught too.
    saved(&mut store, "1311010101900004", "Muhammad Rizki");
    let variant = store
        .register(valid("1311010101900005", "Moh. Rizky"), now())
        .unwrap();
    assert!(
        matches!(variant, Err(Refusal::ProbableDuplicate(_))),
        "{variant:?}"
    );
    // A different person in the same village is not a probable duplicate.
    assert!(
        store
            .register(valid("1311014101900003", "Budi Santoso"), now())
            .unwrap()
            .is_ok()
    );
}

#[test]
fn edits_and_withdrawals_are_operations_and_keep_the_old_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let siti = saved(&mut store, "1311014101900001", "Siti Aminah");
    let mut edited = valid("1311014101900001", "Siti Aminah Lubis");
    edited.consent = siti.consent.clone();
    let op = store
        .edit(&siti, &edited, now())
        .unwrap()
        .unwrap()
        .expect("a change");
    assert_eq!(op.seq, 2, "dense sequence");
    assert_eq!(
        op.changes,
        vec![Change::FullName("Siti Aminah Lubis".into())],
        "only what changed"
    );
    let current = store
        .find(&siti.id.to_string())
        .unwrap()
        .expect("exists")
        .registration;
    assert_eq!(current.full_name, "Siti Aminah Lubis");
    let mut back = valid("1311014101900001", "Siti Aminah");
    back.consent = siti.consent.clone();
    assert_eq!(
        store
            .edit(&current, &back, now())
            .unwrap()
            .unwrap()
            .map(|o| o.seq),
        Some(3)
    );
    assert_eq!(
        store.edit(&siti, &back, now()).unwrap().unwrap(),
        None,
        "no change, no operation"
    );
    store
        .set_status(
            siti.id,
            Status::Withdrawn {
                reason: "pindah".into(),
            },
            now(),
        )
        .unwrap();
    let state = store.record_state(siti.id).unwrap();
    assert_eq!(
        state.history(Field::FullName).len(),
        3,
        "every name ever written is kept"
    );
    let status = store.status().unwrap();
    assert_eq!(
        (status.active, status.withdrawn, status.pending_changes),
        (0, 1, 4)
    );
    let outbox: Vec<i64> = store
        .conn
        .prepare("SELECT seq FROM outbox ORDER BY seq")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(outbox, vec![1, 2, 3, 4]);
}

#[test]
fn changing_the_passphrase_rekeys_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    saved(&mut store, "1311014101900001", "Siti Aminah");
    store
        .change_passphrase("sandi-baru-2026", KdfCost::InsecureFast)
        .unwrap();
    drop(store);
    assert!(matches!(
        Store::open(dir.path(), PASSPHRASE),
        Err(StoreError::WrongPassphrase)
    ));
    assert_eq!(
        Store::open(dir.path(), "sandi-baru-2026")
            .unwrap()
            .status()
            .unwrap()
            .registrations,
        1
    );
}

#[test]
fn an_interrupted_passphrase_change_still_opens_with_the_new_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    saved(&mut store, "1311014101900001", "Siti Aminah");
    // Simulate a power cut after re-keying but before the key file was renamed.
    let new_file = KeyFile::generate(KdfCost::InsecureFast).unwrap();
    new_file.save(&pending_path(dir.path())).unwrap();
    let key = new_file.derive("sandi-baru-2026").unwrap();
    store
        .conn
        .execute_batch(&format!("PRAGMA rekey = {};", key.pragma_literal()))
        .unwrap();
    drop(store);
    let store = Store::open(dir.path(), "sandi-baru-2026").expect("opens with the new passphrase");
    assert_eq!(store.status().unwrap().registrations, 1);
    assert!(
        !pending_path(dir.path()).exists(),
        "the change was completed"
    );
}

#[test]
fn a_store_from_a_newer_agent_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(dir.path());
    store
        .conn
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    drop(store);
    let error = Store::open(dir.path(), PASSPHRASE).expect_err("too new");
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 99, .. }),
        "{error}"
    );
}
