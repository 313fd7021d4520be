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

/// A store as schema version 2 wrote it: operation bodies in the wire form
/// (a JSON array of changes) and the registration's JSON in `registrations.data`.
fn version_2_store(dir: &Path, registration: &Registration) -> (DeviceId, Vec<Change>) {
    // Version 2 stores have 4,096-byte pages and a format 1 key file.
    let key_file = KeyFile::generate(KdfCost::InsecureFast)
        .unwrap()
        .with_page_size(key::LEGACY_PAGE_SIZE);
    assert_eq!(key_file.format, 1);
    key_file.save(&dir.join(KEY_FILE)).unwrap();
    let key = key_file.derive(PASSPHRASE).unwrap();
    let mut conn = Connection::open(dir.join(DATABASE_FILE)).unwrap();
    conn.execute_batch(&format!("PRAGMA key = {};", key.pragma_literal()))
        .unwrap();
    configure(&conn).unwrap();
    schema::migrate_to(&mut conn, 2).unwrap();
    let device_id = registration.origin.device_id;
    let changes = registration.to_changes();
    let hlc = Hlc::from_u64(1 << 20);
    for (name, value) in [
        ("device_id", device_id.to_string()),
        ("officer_id", registration.origin.officer_id.to_string()),
        ("officer_name", "Rina Marlina".to_owned()),
        ("created_at", rfc3339(now())),
        ("hlc_last", hlc.to_string()),
    ] {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![name, value],
        )
        .unwrap();
    }
    let id = registration.id.0.as_bytes().as_slice();
    conn.execute(
        "INSERT INTO operations (device_id, seq, record_id, hlc, body) VALUES (?1, 1, ?2, ?3, ?4)",
        params![
            device_id.0.as_bytes().as_slice(),
            id,
            hlc.to_u64() as i64,
            serde_json::to_string(&changes).unwrap()
        ],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO outbox (seq, record_id, state, created_at) VALUES (1, ?1, 'pending', ?2)",
        params![id, rfc3339(now())],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO registrations
             (id, complete, nik, full_name, birth_date, village_code, category, status, registered_at, data)
         VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8)",
        params![
            id,
            registration.nik.as_str(),
            registration.full_name,
            registration.birth_date.to_string(),
            registration.village_code,
            registration.category.code(),
            rfc3339(registration.origin.registered_at),
            serde_json::to_string(registration).unwrap()
        ],
    )
    .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, 2);
    (device_id, changes)
}

#[test]
fn a_store_from_schema_version_2_opens_with_every_registration_and_operation() {
    let template_dir = tempfile::tempdir().unwrap();
    let template = new_store(template_dir.path());
    let original =
        template.new_registration(valid("1311014101900001", "Siti Aminah"), false, now());
    drop(template);
    let dir = tempfile::tempdir().unwrap();
    let (device_id, changes) = version_2_store(dir.path(), &original);

    let mut store = Store::open(dir.path(), PASSPHRASE).expect("migrates");
    let version: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::SCHEMA_VERSION);
    assert_eq!(store.device_id(), device_id);
    let found = store.find_by_nik(&original.nik).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].registration, original);
    assert_eq!(found[0].sync, SyncState::Pending);
    assert_eq!(store.check().unwrap().problems, Vec::<String>::new());

    // New operations are stored in the compact form; old and new replay together.
    let mut edited = valid("1311014101900001", "Siti Aminah Lubis");
    edited.rt = Some(4);
    let operation = store
        .edit(&original, &edited, now())
        .unwrap()
        .expect("not a duplicate")
        .expect("something changed");
    assert_eq!(operation.seq, 2);
    let bodies: Vec<String> = store
        .conn
        .prepare("SELECT body FROM operations ORDER BY seq")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(bodies[0].starts_with('['));
    assert!(bodies[1].starts_with('{'));
    assert_eq!(body::decode(&bodies[0]).unwrap(), changes);
    assert_eq!(body::decode(&bodies[1]).unwrap(), operation.changes);
    let now_listed = store.find_by_nik(&original.nik).unwrap();
    assert_eq!(now_listed[0].registration.full_name, "Siti Aminah Lubis");
    assert_eq!(now_listed[0].registration.rt, Some(4));
    assert_eq!(store.check().unwrap().problems, Vec::<String>::new());

    // It keeps its 4,096-byte pages, also across a passphrase change.
    store
        .change_passphrase("sandi-baru-2026", KdfCost::InsecureFast)
        .unwrap();
    drop(store);
    let key_file = KeyFile::load(&dir.path().join(KEY_FILE)).unwrap();
    assert_eq!(
        (key_file.format, key_file.cipher_page_size),
        (1, key::LEGACY_PAGE_SIZE)
    );
    let reopened = Store::open(dir.path(), "sandi-baru-2026").unwrap();
    assert_eq!(reopened.check().unwrap().problems, Vec::<String>::new());
    assert_eq!(reopened.find_by_nik(&original.nik).unwrap().len(), 1);
}

#[test]
fn a_new_store_has_16_kib_pages_recorded_in_its_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    saved(&mut store, "1311014101900001", "Siti Aminah");
    // SQLCipher answers `page_size` as `cipher_page_size`, in text.
    let size: String = store
        .conn
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap();
    assert_eq!(size, key::NEW_STORE_PAGE_SIZE.to_string());
    store
        .change_passphrase("sandi-baru-2026", KdfCost::InsecureFast)
        .unwrap();
    drop(store);
    let key_file = KeyFile::load(&dir.path().join(KEY_FILE)).unwrap();
    assert_eq!(
        (key_file.format, key_file.cipher_page_size),
        (2, key::NEW_STORE_PAGE_SIZE)
    );
    // The pages really are 16 KiB: read as 4 KiB pages, the file is noise.
    let wrong_size = key_file.clone().with_page_size(key::LEGACY_PAGE_SIZE);
    let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    conn.execute_batch("PRAGMA cipher_log_level = NONE;")
        .unwrap();
    conn.execute_batch(&wrong_size.unlock_sql(&key_file.derive("sandi-baru-2026").unwrap()))
        .unwrap();
    assert!(
        conn.query_row("SELECT count(*) FROM registrations", [], |row| row
            .get::<_, i64>(0))
            .is_err()
    );
    drop(conn);
    let reopened = Store::open(dir.path(), "sandi-baru-2026").unwrap();
    assert_eq!(reopened.status().unwrap().registrations, 1);
    assert_eq!(reopened.check().unwrap().problems, Vec::<String>::new());
}

#[test]
fn a_second_connection_sees_the_same_store_and_the_passphrase_is_checked_against_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let other = store.another_connection().expect("a second connection");
    assert_eq!(other.device_id(), store.device_id());
    saved(&mut store, "1311014101900001", "Siti Aminah");
    assert_eq!(other.list(&ListFilter::default()).unwrap().len(), 1);
    assert!(store.passphrase_matches(PASSPHRASE).unwrap());
    assert!(!store.passphrase_matches("bukan-sandinya").unwrap());
    // After a passphrase change the new one is the store's.
    store
        .change_passphrase("sandi-baru-sekali", KdfCost::InsecureFast)
        .unwrap();
    assert!(store.passphrase_matches("sandi-baru-sekali").unwrap());
    assert!(!store.passphrase_matches(PASSPHRASE).unwrap());
}

#[test]
fn a_fix_of_a_refused_creation_carries_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let siti = saved(&mut store, "1311014101900001", "Siti Aminah");
    // The server refused the creating operation (seq 1).
    store
        .conn
        .execute(
            "UPDATE outbox SET state = 'rejected', error_code = 'out_of_scope' WHERE seq = 1",
            [],
        )
        .unwrap();
    assert!(store.refused_unseen(siti.id).unwrap());
    let listed = store.find(&siti.id.to_string()).unwrap().unwrap();
    assert_eq!(listed.sync, SyncState::Rejected);
    let mut edited = valid("1311014101900001", "Siti Aminah");
    edited.rt = Some(4);
    let fix = store.edit(&siti, &edited, now()).unwrap().unwrap().unwrap();
    assert_eq!(fix.changes.len(), Field::ALL.len(), "every field");
    // Once the server took the fix, the record is no longer refused.
    store
        .conn
        .execute("UPDATE outbox SET state = 'acked' WHERE seq = 2", [])
        .unwrap();
    assert!(!store.refused_unseen(siti.id).unwrap());
    let listed = store.find(&siti.id.to_string()).unwrap().unwrap();
    assert_eq!(listed.sync, SyncState::Synced);
    // A later edit carries only what changed.
    edited.rw = Some(2);
    let edit = store
        .edit(&listed.registration, &edited, now())
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(edit.changes.len(), 1);
}

#[test]
fn compaction_drops_only_acknowledged_overwritten_operations_and_keeps_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let siti = saved(&mut store, "1311014101900001", "Siti Aminah");
    let mut names = Vec::new();
    let mut current = siti.clone();
    for name in ["Siti Aminah Lubis", "Siti Aminah L", "Siti Aminah Lubis"] {
        let mut edited = valid("1311014101900001", name);
        edited.consent = siti.consent.clone();
        store.edit(&current, &edited, now()).unwrap().unwrap();
        current = store
            .find(&siti.id.to_string())
            .unwrap()
            .unwrap()
            .registration;
        names.push(name);
    }
    // seq 1 creates, 2–4 rename. The server acknowledged 1–3; 4 is pending.
    store
        .conn
        .execute("UPDATE outbox SET state = 'acked' WHERE seq <= 3", [])
        .unwrap();
    let later = now() + time::Duration::days(400);
    let tally = store.compact(later, true).unwrap();
    // seq 2 and 3 only renamed and were renamed again: gone. seq 1 still
    // decides every other field; seq 4 is pending and decides the name.
    assert_eq!(tally.operations_removed, 2, "{tally:?}");
    assert_eq!(tally.operations_kept, 2);
    let after = store.find(&siti.id.to_string()).unwrap().unwrap();
    assert_eq!(after.registration, current, "the same registration");
    assert_eq!(store.pending_count().unwrap(), 1);
    assert!(
        store.check().unwrap().problems.is_empty(),
        "the store is whole"
    );
    // Nothing younger than the retention goes, and a second pass finds nothing.
    assert_eq!(store.compact(now(), false).unwrap().operations_removed, 0);
    assert_eq!(store.compact(later, false).unwrap().operations_removed, 0);
    // Pending changes are never removed even when overwritten.
    let mut edited = valid("1311014101900001", "Siti");
    edited.consent = siti.consent.clone();
    store.edit(&current, &edited, now()).unwrap().unwrap();
    assert_eq!(store.compact(later, false).unwrap().operations_removed, 0);
    assert_eq!(store.pending_count().unwrap(), 2);
    // Once acknowledged, the overwritten rename goes, but never the newest
    // operation: the next sequence number follows it.
    store
        .conn
        .execute("UPDATE outbox SET state = 'acked'", [])
        .unwrap();
    assert_eq!(store.compact(later, false).unwrap().operations_removed, 1);
    let mut again = valid("1311014101900001", "Siti A");
    again.consent = siti.consent.clone();
    let current = store
        .find(&siti.id.to_string())
        .unwrap()
        .unwrap()
        .registration;
    let next = store
        .edit(&current, &again, now())
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(next.seq, 6, "no sequence number is used twice");
    assert!(store.check().unwrap().problems.is_empty());
}

#[test]
fn a_bounded_stamp_named_by_a_duplicate_receipt_replaces_the_laptops() {
    use lindung_shared::hlc::Hlc;
    use lindung_shared::ids::StoreId;
    use lindung_shared::protocol::{Outcome, PROTOCOL_VERSION, PushResponse, Receipt};

    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let siti = saved(&mut store, "1311014101900001", "Siti Aminah");
    let sent = store.pending_operations(10).unwrap();
    // The server bounded the laptop's stamp when it first took the
    // operation; that answer was lost, and the retry is a duplicate.
    let bounded = Hlc::new(sent[0].hlc.wall_ms() - 60_000, 0).unwrap();
    let answer = |outcome| PushResponse {
        protocol: PROTOCOL_VERSION,
        store_id: StoreId(Uuid::from_u128(7)),
        server_time_ms: bounded.wall_ms(),
        server_hlc: bounded,
        acknowledged_seq: 1,
        receipts: vec![Receipt { seq: 1, outcome }],
        handled_us: None,
    };
    let tally = store
        .apply_push_response(
            &sent,
            &answer(Outcome::Duplicate {
                bounded_hlc: Some(bounded),
            }),
        )
        .unwrap();
    assert_eq!((tally.duplicates, tally.bounded), (1, 1));
    assert_eq!(store.pending_count().unwrap(), 0);
    let state = store.record_state(siti.id).unwrap();
    assert_eq!(
        state.current_stamp(Field::FullName).map(|s| s.hlc),
        Some(bounded)
    );
    assert!(store.check().unwrap().problems.is_empty());
}

#[test]
fn an_acknowledged_number_beyond_the_batch_leaves_later_entries_pending() {
    use lindung_shared::ids::StoreId;
    use lindung_shared::protocol::{Outcome, PROTOCOL_VERSION, PushResponse, Receipt};

    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    saved(&mut store, "1311014101900001", "Siti Aminah");
    saved(&mut store, "1311014102900001", "Aminah Lubis");
    let first = store.pending_operations(1).unwrap();
    let hlc = first[0].hlc;
    // The server holds both (an earlier answer was lost); only the first
    // was in this batch. The second is sent again, so that its receipt can
    // name a bounded stamp.
    store
        .apply_push_response(
            &first,
            &PushResponse {
                protocol: PROTOCOL_VERSION,
                store_id: StoreId(Uuid::from_u128(7)),
                server_time_ms: hlc.wall_ms(),
                server_hlc: hlc,
                acknowledged_seq: 2,
                receipts: vec![Receipt {
                    seq: 1,
                    outcome: Outcome::Duplicate { bounded_hlc: None },
                }],
                handled_us: None,
            },
        )
        .unwrap();
    let pending = store.pending_operations(10).unwrap();
    assert_eq!(pending.iter().map(|op| op.seq).collect::<Vec<_>>(), [2]);
}

#[test]
fn an_enrolment_keeps_its_certificate_trust_until_the_next_one_and_a_rotated_token() {
    use lindung_shared::ids::{OfficerId, StoreId};
    use lindung_shared::protocol::{EnrollResponse, OfficerInfo};
    let dir = tempfile::tempdir().unwrap();
    let mut store = new_store(dir.path());
    let response = EnrollResponse {
        protocol: 1,
        store_id: StoreId(uuid::Uuid::from_u128(7)),
        token: "first".into(),
        officer: OfficerInfo {
            id: OfficerId(uuid::Uuid::from_u128(8)),
            name: "Rina Marlina".into(),
            regions: vec!["1311".into()],
        },
        server_time_ms: 0,
    };
    let pinned = ServerTrust {
        ca_pem: Some("-----BEGIN CERTIFICATE-----".into()),
        private_ca: true,
        pinned_certificate: Some("AB:CD".into()),
    };
    store
        .save_enrollment("https://server", &response, &pinned, now())
        .unwrap();
    let enrolled = store.enrollment().unwrap().unwrap();
    assert_eq!(enrolled.trust, pinned);
    assert_eq!(enrolled.token_issued_at, rfc3339(now()));
    // Neither the token nor the CA's text is printed with the enrolment.
    let shown = serde_json::to_string(&enrolled).unwrap();
    assert!(
        shown.contains("\"pinned_certificate\":\"AB:CD\""),
        "{shown}"
    );
    assert!(
        !shown.contains("first") && !shown.contains("BEGIN"),
        "{shown}"
    );

    let later = now() + time::Duration::days(31);
    store.replace_token("second", later).unwrap();
    let rotated = store.enrollment().unwrap().unwrap();
    assert_eq!(rotated.token, "second");
    assert_eq!(rotated.token_issued_at, rfc3339(later));
    assert_eq!(rotated.trust, pinned);

    // Enrolling again decides the trust afresh: no pin, no CA left behind.
    store
        .save_enrollment("https://server", &response, &ServerTrust::default(), later)
        .unwrap();
    assert_eq!(
        store.enrollment().unwrap().unwrap().trust,
        ServerTrust::default()
    );
}
