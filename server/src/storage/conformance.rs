//! The behaviour every storage backend must show, run against each of them
//! (`sqlite::tests`, `postgres::tests`). Each check takes a fresh, empty store.

use std::collections::BTreeSet;

use lindung_shared::hlc::Hlc;
use lindung_shared::ids::{DeviceId, OfficerId, RecordId};
use lindung_shared::merge::{OpId, Operation, RecordState};
use lindung_shared::protocol::{ErrorCode, Outcome};
use lindung_shared::region::regions;
use lindung_shared::registration::{Change, Field, Origin, Registration, Status};
use lindung_shared::validation::{RegistrationInput, ValidationContext, validate_registration};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{
    DuplicateKind, EnrollRefusal, Enrollment, NewEnrollmentCode, Officer, PushResult, StaffAction,
    StaffOutcome, StaffRequest, Storage,
};
use crate::ingest::{DeviceScope, MAX_CLOCK_AHEAD_MS, StaffEdit, unix_ms};

/// The moment the checks pretend it is.
pub const NOW: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);

/// Every check, in order; a backend's test calls this with a factory of empty stores.
pub async fn run_all<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Box<dyn Storage>>,
{
    enrolment_gives_a_scoped_token(fresh().await.as_ref()).await;
    push_is_idempotent_and_acknowledged(fresh().await.as_ref()).await;
    pushes_at_once_each_get_their_own_answer(fresh().await.as_ref()).await;
    a_renewed_store_id_keeps_the_data(fresh().await.as_ref()).await;
    rejections_are_remembered_and_never_block(fresh().await.as_ref()).await;
    a_reused_sequence_number_is_refused(fresh().await.as_ref()).await;
    pull_pages_through_other_devices_changes_in_scope(fresh().await.as_ref()).await;
    the_same_nik_twice_forms_a_duplicate_group(fresh().await.as_ref()).await;
    concurrent_edits_keep_the_loser_in_history(fresh().await.as_ref()).await;
    a_clock_far_ahead_is_bounded(fresh().await.as_ref()).await;
    reference_data_is_replaced_a_year_at_a_time(fresh().await.as_ref()).await;
    coverage_counts_distinct_active_persons(fresh().await.as_ref()).await;
    the_pace_is_counted_per_region(fresh().await.as_ref()).await;
    contribution_rates_are_kept_by_date(fresh().await.as_ref()).await;
    incremental_coverage_equals_a_recompute(fresh().await.as_ref(), 7).await;
    incremental_coverage_equals_a_recompute(fresh().await.as_ref(), 2026).await;
    a_stored_record_is_the_merge_of_its_operations(fresh().await.as_ref()).await;
    conflicts_are_logged_and_resolved_by_staff(fresh().await.as_ref()).await;
    duplicates_are_merged_and_unmerged_by_staff(fresh().await.as_ref()).await;
    staff_accounts_authenticate_until_revoked(fresh().await.as_ref()).await;
    a_rotated_device_token_replaces_the_old_one_at_first_use(fresh().await.as_ref()).await;
    a_staff_token_is_replaced_at_once(fresh().await.as_ref()).await;
    staff_logins_sessions_and_failed_logins(fresh().await.as_ref()).await;
    the_audit_log_keeps_entries_newest_first(fresh().await.as_ref()).await;
    records_in_a_region_come_in_pages(fresh().await.as_ref()).await;
    bundle_keys_and_imports_are_kept(fresh().await.as_ref()).await;
}

/// An officer, enrolled with one device.
pub struct Enrolled {
    /// The officer.
    pub officer: Officer,
    /// The device's scope as the store authenticates it.
    pub scope: DeviceScope,
    /// Its token.
    pub token: String,
}

/// Adds an officer for `regions` and enrols one device for them.
pub async fn enrol(storage: &dyn Storage, name: &str, regions: &[&str]) -> Enrolled {
    let officer = Officer {
        id: OfficerId(Uuid::now_v7()),
        name: name.into(),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        created_at: NOW,
    };
    storage.add_officer(&officer).await.expect("officer added");
    let code = crate::secrets::new_enrollment_code().expect("random");
    storage
        .add_enrollment_code(&NewEnrollmentCode {
            code_hash: crate::secrets::enrollment_code_hash(&code),
            officer_id: officer.id,
            created_at: NOW,
            expires_at: NOW + Duration::hours(1),
        })
        .await
        .expect("code stored");
    let token = crate::secrets::new_token().expect("random");
    let device_id = DeviceId(Uuid::now_v7());
    storage
        .enroll(&Enrollment {
            code_hash: crate::secrets::enrollment_code_hash(&code),
            device_id,
            device_name: format!("laptop of {name}"),
            token_hash: crate::secrets::token_hash(&token),
            now: NOW,
        })
        .await
        .expect("storage works")
        .expect("code accepted");
    let scope = storage
        .authenticate(&crate::secrets::token_hash(&token))
        .await
        .expect("storage works")
        .expect("token known")
        .scope;
    Enrolled {
        officer,
        scope,
        token,
    }
}

/// A valid registration of a person in `village`.
pub fn registration(nik: &str, name: &str, village: &str, device: &DeviceScope) -> Registration {
    let input = RegistrationInput {
        nik: nik.into(),
        full_name: name.into(),
        village_code: village.into(),
        category: "Ketua RT".into(),
        payer: "APBD".into(),
        consent_method: "formulir".into(),
        ..RegistrationInput::default()
    };
    let context = ValidationContext {
        regions: regions(),
        today: NOW.date(),
        now: NOW,
    };
    validate_registration(&input, &context)
        .expect("valid test registration")
        .into_registration(
            RecordId(Uuid::now_v7()),
            Origin {
                officer_id: device.officer_id,
                device_id: device.device_id,
                registered_at: NOW,
            },
        )
}

/// The operation that creates `registration`.
pub fn create(
    device: &DeviceScope,
    seq: u64,
    hlc_ms: u64,
    registration: &Registration,
) -> Operation {
    Operation {
        device_id: device.device_id,
        seq,
        record_id: registration.id,
        hlc: Hlc::new(hlc_ms, 0).expect("small"),
        changes: registration.to_changes(),
    }
}

/// An operation that changes some fields.
pub fn edit(
    device: &DeviceScope,
    seq: u64,
    hlc_ms: u64,
    record: RecordId,
    changes: Vec<Change>,
) -> Operation {
    Operation {
        device_id: device.device_id,
        seq,
        record_id: record,
        hlc: Hlc::new(hlc_ms, 0).expect("small"),
        changes,
    }
}

/// A NIK of a woman born on `day` January 1990 in Sangir (1311 01), serial `serial`.
pub fn nik(day: u8, serial: u16) -> String {
    format!("131101{:02}0190{serial:04}", day + 40)
}

/// A minute before [`NOW`], in Unix milliseconds: where test timestamps start.
pub fn base_ms() -> u64 {
    unix_ms(NOW) - 60_000
}

async fn enrolment_gives_a_scoped_token(storage: &dyn Storage) {
    let first_id = storage.store_id().await.expect("store id");
    assert_eq!(storage.store_id().await.expect("store id"), first_id);
    let rina = enrol(storage, "Rina", &["1311"]).await;
    assert_eq!(rina.scope.officer_id, rina.officer.id);
    assert_eq!(rina.scope.officer_name, "Rina");
    assert_eq!(rina.scope.regions, vec!["1311".to_owned()]);
    assert_eq!(
        storage.officer(rina.officer.id).await.expect("works"),
        Some(rina.officer.clone())
    );
    assert_eq!(storage.officers().await.expect("works").len(), 1);

    // A code works once, not after it expires, and not when unknown.
    let code_hash = crate::secrets::enrollment_code_hash("AAAA-BBBB-CCCC");
    storage
        .add_enrollment_code(&NewEnrollmentCode {
            code_hash,
            officer_id: rina.officer.id,
            created_at: NOW,
            expires_at: NOW + Duration::hours(1),
        })
        .await
        .expect("stored");
    let attempt = |device: DeviceId, hash: [u8; 32], now: OffsetDateTime| Enrollment {
        code_hash: hash,
        device_id: device,
        device_name: "x".into(),
        token_hash: crate::secrets::token_hash(&crate::secrets::new_token().expect("random")),
        now,
    };
    let late = storage
        .enroll(&attempt(
            DeviceId(Uuid::now_v7()),
            code_hash,
            NOW + Duration::hours(2),
        ))
        .await
        .expect("works");
    assert_eq!(late, Err(EnrollRefusal::Expired));
    let unknown = storage
        .enroll(&attempt(
            DeviceId(Uuid::now_v7()),
            crate::secrets::enrollment_code_hash("ZZZZ-ZZZZ-ZZZZ"),
            NOW,
        ))
        .await
        .expect("works");
    assert_eq!(unknown, Err(EnrollRefusal::UnknownCode));
    let second_device = DeviceId(Uuid::now_v7());
    assert!(
        storage
            .enroll(&attempt(second_device, code_hash, NOW))
            .await
            .expect("works")
            .is_ok()
    );
    let again = storage
        .enroll(&attempt(DeviceId(Uuid::now_v7()), code_hash, NOW))
        .await
        .expect("works");
    assert_eq!(again, Err(EnrollRefusal::AlreadyUsed));
    assert_eq!(storage.devices().await.expect("works").len(), 2);

    // Revocation: the token still identifies the device, marked revoked; a
    // revoked device cannot enrol again.
    assert!(
        storage
            .revoke_device(rina.scope.device_id, NOW)
            .await
            .expect("works")
    );
    assert!(
        !storage
            .revoke_device(DeviceId(Uuid::now_v7()), NOW)
            .await
            .expect("works")
    );
    let revoked = storage
        .authenticate(&crate::secrets::token_hash(&rina.token))
        .await
        .expect("works")
        .expect("still known");
    assert!(revoked.revoked_at.is_some());
    let hash = crate::secrets::enrollment_code_hash("DDDD-EEEE-FFFF");
    storage
        .add_enrollment_code(&NewEnrollmentCode {
            code_hash: hash,
            officer_id: rina.officer.id,
            created_at: NOW,
            expires_at: NOW + Duration::hours(1),
        })
        .await
        .expect("stored");
    let refused = storage
        .enroll(&attempt(rina.scope.device_id, hash, NOW))
        .await
        .expect("works");
    assert_eq!(refused, Err(EnrollRefusal::DeviceRevoked));
    assert!(
        storage
            .authenticate(&crate::secrets::token_hash("not-a-token"))
            .await
            .expect("works")
            .is_none()
    );
}

async fn push_is_idempotent_and_acknowledged(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["131101"]).await;
    let ops: Vec<Operation> = (1..=3)
        .map(|i| {
            let person = registration(&nik(i as u8, 1), "Siti Aminah", "1311012001", &rina.scope);
            create(&rina.scope, i, base_ms() + i, &person)
        })
        .collect();
    let first = storage.push(&rina.scope, &ops, NOW).await.expect("push");
    assert_eq!(first.acknowledged_seq, 3);
    assert!(
        first
            .receipts
            .iter()
            .all(|r| r.outcome == Outcome::Accepted { bounded_hlc: None })
    );
    // The response was lost; the agent sends the same batch again.
    let again = storage.push(&rina.scope, &ops, NOW).await.expect("push");
    assert_eq!(again.acknowledged_seq, 3);
    assert!(
        again
            .receipts
            .iter()
            .all(|r| r.outcome == Outcome::Duplicate { bounded_hlc: None })
    );
    let counts = storage.counts().await.expect("counts");
    assert_eq!((counts.records, counts.operations), (3, 3));
    let stored = storage
        .record(ops[0].record_id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(stored.officer_id, Some(rina.officer.id));
    assert_eq!(
        stored
            .state
            .to_registration(ops[0].record_id)
            .expect("complete")
            .full_name,
        "Siti Aminah"
    );
    let devices = storage.devices().await.expect("works");
    assert_eq!(devices[0].acknowledged_seq, 3);
    assert!(devices[0].last_seen_at.is_some());
    assert!(storage.last_hlc().await.expect("works") >= ops[2].hlc);
}

async fn a_renewed_store_id_keeps_the_data(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["131101"]).await;
    let person = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    let op = create(&rina.scope, 1, base_ms() + 1, &person);
    storage
        .push(&rina.scope, std::slice::from_ref(&op), NOW)
        .await
        .expect("push");
    let before = storage.store_id().await.expect("id");
    let renewed = storage.renew_store_id().await.expect("renews");
    assert_ne!(renewed, before);
    assert_eq!(storage.store_id().await.expect("id"), renewed);
    // Everything stays; the agent's re-sent operation is a duplicate.
    let again = storage
        .push(&rina.scope, std::slice::from_ref(&op), NOW)
        .await
        .expect("push");
    assert!(matches!(
        again.receipts[0].outcome,
        Outcome::Duplicate { .. }
    ));
    assert_eq!(storage.counts().await.expect("counts").records, 1);
}

async fn rejections_are_remembered_and_never_block(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["131101"]).await;
    // Outside Sangir (1311 02 is another district).
    let outside = registration(&nik(1, 1), "Siti Aminah", "1311022001", &rina.scope);
    let inside = registration(&nik(2, 1), "Dewi Lestari", "1311012001", &rina.scope);
    let mut bad_name = create(&rina.scope, 3, base_ms() + 3, &inside);
    bad_name.record_id = RecordId(Uuid::now_v7());
    for change in &mut bad_name.changes {
        if let Change::FullName(name) = change {
            *name = "X".into();
        }
    }
    let ops = vec![
        create(&rina.scope, 1, base_ms() + 1, &outside),
        create(&rina.scope, 2, base_ms() + 2, &inside),
        bad_name,
        Operation {
            changes: Vec::new(),
            ..edit(&rina.scope, 4, base_ms() + 4, inside.id, Vec::new())
        },
    ];
    let result = storage.push(&rina.scope, &ops, NOW).await.expect("push");
    let codes: Vec<Option<ErrorCode>> = result
        .receipts
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Rejected { error } => Some(error.code),
            _ => None,
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            Some(ErrorCode::OutOfScope),
            None,
            Some(ErrorCode::InvalidValue),
            Some(ErrorCode::InvalidOperation)
        ]
    );
    if let Outcome::Rejected { error } = &result.receipts[2].outcome {
        assert_eq!(error.field.as_deref(), Some("full_name"));
        assert!(error.message_id.is_some());
    }
    // Refused operations still count as received: nothing blocks seq 5.
    assert_eq!(result.acknowledged_seq, 4);
    let retry = storage.push(&rina.scope, &ops, NOW).await.expect("push");
    assert_eq!(retry.receipts[0].outcome, result.receipts[0].outcome);
    assert_eq!(
        retry.receipts[1].outcome,
        Outcome::Duplicate { bounded_hlc: None }
    );
    let counts = storage.counts().await.expect("counts");
    assert_eq!((counts.records, counts.rejections), (1, 3));

    // An operation of another device smuggled into the batch is refused
    // without taking the sender's sequence number 5.
    let budi = enrol(storage, "Budi", &["131101"]).await;
    let dewi = registration(&nik(3, 1), "Dewi Sartika", "1311012001", &rina.scope);
    let foreign = create(&budi.scope, 5, base_ms() + 5, &dewi);
    let own = create(&rina.scope, 5, base_ms() + 6, &dewi);
    let result = storage
        .push(&rina.scope, &[foreign, own], NOW)
        .await
        .expect("push");
    assert!(matches!(
        &result.receipts[0].outcome,
        Outcome::Rejected { error } if error.code == ErrorCode::InvalidOperation
    ));
    assert_eq!(
        result.receipts[1].outcome,
        Outcome::Accepted { bounded_hlc: None }
    );
    assert_eq!(result.acknowledged_seq, 5);
}

/// Five registrations by `device`, sequence numbers `after + 1` to
/// `after + 5`, of the persons with NIKs `nik(1..=5, serial)`, in `village`.
pub fn five_registrations(
    device: &DeviceScope,
    serial: u16,
    village: &str,
    after: u64,
) -> Vec<Operation> {
    (1..=5u8)
        .map(|day| {
            let person = registration(&nik(day, serial), "Siti Aminah", village, device);
            let seq = after + u64::from(day);
            create(device, seq, base_ms() + seq, &person)
        })
        .collect()
}

/// What a group of pushes left: `records` records and as many operations,
/// `persons` persons in regency 1311, and coverage counts equal to a
/// recompute.
pub async fn assert_group_stored(storage: &dyn Storage, records: u64, persons: u64) {
    let counts = storage.counts().await.expect("counts");
    assert_eq!((counts.records, counts.operations), (records, records));
    let coverage = storage.coverage_counts("1311", 0).await.expect("coverage");
    assert_eq!(coverage.persons, persons);
    let maintained = storage.coverage_tables().await.expect("counts");
    storage.recompute_coverage().await.expect("recompute");
    assert_eq!(storage.coverage_tables().await.expect("counts"), maintained);
}

/// Several laptops pushing at the same moment (SQLite may apply them in one
/// transaction): each gets the answers for its own operations, a batch sent
/// twice at once is stored once, a refused operation stays with its batch,
/// and the server sequence numbers stay unique and gapless.
async fn pushes_at_once_each_get_their_own_answer(storage: &dyn Storage) {
    let officers = [
        enrol(storage, "Rina", &["131101"]).await,
        enrol(storage, "Budi", &["131101"]).await,
        enrol(storage, "Andi", &["131101"]).await,
    ];
    let batches: Vec<Vec<Operation>> = officers
        .iter()
        .enumerate()
        .map(|(device, officer)| {
            (1..=30u64)
                .map(|seq| {
                    let day = u8::try_from(seq).expect("small");
                    let serial = u16::try_from(device + 1).expect("small");
                    // Andi's 7th is outside his district: refused, alone.
                    let village = if device == 2 && seq == 7 {
                        "1311022001"
                    } else {
                        "1311012001"
                    };
                    let person =
                        registration(&nik(day, serial), "Siti Aminah", village, &officer.scope);
                    create(&officer.scope, seq, base_ms() + seq, &person)
                })
                .collect()
        })
        .collect();
    let push = |i: usize| storage.push(&officers[i].scope, &batches[i], NOW);
    let (rina, rina_again, budi, andi) = tokio::join!(push(0), push(0), push(1), push(2));
    let (rina, rina_again, budi, andi) = (
        rina.expect("push"),
        rina_again.expect("push"),
        budi.expect("push"),
        andi.expect("push"),
    );
    let outcomes = |result: &PushResult| -> Vec<&'static str> {
        result
            .receipts
            .iter()
            .map(|r| match &r.outcome {
                Outcome::Accepted { .. } => "accepted",
                Outcome::Duplicate { .. } => "duplicate",
                Outcome::Rejected { .. } => "rejected",
            })
            .collect()
    };
    // One of Rina's two identical batches was stored, the other is all duplicates.
    let mut rina_both = [outcomes(&rina), outcomes(&rina_again)];
    rina_both.sort();
    assert_eq!(rina_both, [vec!["accepted"; 30], vec!["duplicate"; 30]]);
    assert_eq!(
        (rina.acknowledged_seq, rina_again.acknowledged_seq),
        (30, 30)
    );
    assert_eq!(outcomes(&budi), vec!["accepted"; 30]);
    let mut andi_expected = vec!["accepted"; 30];
    andi_expected[6] = "rejected";
    assert_eq!(outcomes(&andi), andi_expected);
    for (result, batch) in [(&budi, &batches[1]), (&andi, &batches[2])] {
        let seqs: Vec<u64> = result.receipts.iter().map(|r| r.seq).collect();
        let sent: Vec<u64> = batch.iter().map(|op| op.seq).collect();
        assert_eq!(seqs, sent);
        assert_eq!(result.acknowledged_seq, 30);
    }
    let counts = storage.counts().await.expect("counts");
    assert_eq!((counts.records, counts.operations), (89, 89));
    // Another device in the district pulls all 89, in gapless server order.
    let reader = enrol(storage, "Dewi", &["131101"]).await;
    let (cursor, pulled) = pull_all(storage, &reader.scope, 0).await;
    assert_eq!(pulled.len(), 89);
    assert_eq!(cursor, 89);
    let distinct: BTreeSet<OpId> = pulled.iter().map(Operation::op_id).collect();
    assert_eq!(distinct.len(), 89);

    // The coverage counts of pushes applied together (PostgreSQL writes a
    // group's count changes once, as their sum) are those of a recompute:
    // 89 persons. Then Budi and Andi, at the same moment, register five of
    // Rina's persons again in another village: the same NIKs in two pushes
    // of one group still count once each.
    let persons =
        |tables: &super::CoverageTables| -> u64 { tables.villages.iter().map(|(_, n)| n).sum() };
    let maintained = storage.coverage_tables().await.expect("counts");
    assert_eq!(persons(&maintained), 89);
    let again = |device: usize| five_registrations(&officers[device].scope, 1, "1311012002", 30);
    let (budi_again, andi_again) = (again(1), again(2));
    let (budi, andi) = tokio::join!(
        storage.push(&officers[1].scope, &budi_again, NOW),
        storage.push(&officers[2].scope, &andi_again, NOW),
    );
    assert_eq!(outcomes(&budi.expect("push")), vec!["accepted"; 5]);
    assert_eq!(outcomes(&andi.expect("push")), vec!["accepted"; 5]);
    let maintained = storage.coverage_tables().await.expect("counts");
    assert_eq!(persons(&maintained), 89);
    storage.recompute_coverage().await.expect("recompute");
    assert_eq!(storage.coverage_tables().await.expect("counts"), maintained);
}

async fn a_reused_sequence_number_is_refused(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let siti = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    let dewi = registration(&nik(2, 1), "Dewi Lestari", "1311012001", &rina.scope);
    storage
        .push(
            &rina.scope,
            &[create(&rina.scope, 1, base_ms(), &siti)],
            NOW,
        )
        .await
        .expect("push");
    // A laptop restored from an old backup numbers a new registration 1 again.
    let result = storage
        .push(
            &rina.scope,
            &[create(&rina.scope, 1, base_ms() + 5, &dewi)],
            NOW,
        )
        .await
        .expect("push");
    match &result.receipts[0].outcome {
        Outcome::Rejected { error } => assert_eq!(error.code, ErrorCode::SequenceReused),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(storage.counts().await.expect("counts").records, 1);
}

async fn pull_pages_through_other_devices_changes_in_scope(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["131101"]).await;
    let budi = enrol(storage, "Budi", &["1311012001"]).await;
    let andi = enrol(storage, "Andi", &["131102"]).await;
    let mut rina_ops = Vec::new();
    for i in 1..=5u64 {
        let village = if i % 2 == 0 {
            "1311012001"
        } else {
            "1311012002"
        };
        let person = registration(&nik(i as u8, 1), "Siti Aminah", village, &rina.scope);
        rina_ops.push(create(&rina.scope, i, base_ms() + i, &person));
    }
    storage
        .push(&rina.scope, &rina_ops, NOW)
        .await
        .expect("push");
    let andi_person = registration(&nik(9, 2), "Agus Santoso", "1311022001", &andi.scope);
    storage
        .push(
            &andi.scope,
            &[create(&andi.scope, 1, base_ms(), &andi_person)],
            NOW,
        )
        .await
        .expect("push");

    // Budi sees only Lubuk Gadang (1311012001): Rina's 2nd and 4th.
    let page = storage.pull(&budi.scope, 0, 1).await.expect("pull");
    assert_eq!(page.operations.len(), 1);
    assert!(page.has_more);
    assert_eq!(page.operations[0].op_id(), rina_ops[1].op_id());
    let rest = storage
        .pull(&budi.scope, page.next_cursor, 10)
        .await
        .expect("pull");
    assert_eq!(rest.operations.len(), 1);
    assert_eq!(rest.operations[0].op_id(), rina_ops[3].op_id());
    assert!(!rest.has_more);
    let done = storage
        .pull(&budi.scope, rest.next_cursor, 10)
        .await
        .expect("pull");
    assert!(done.operations.is_empty());
    assert_eq!(done.next_cursor, rest.next_cursor);

    // Rina does not get her own operations back, nor Andi's district.
    let own = storage.pull(&rina.scope, 0, 100).await.expect("pull");
    assert!(own.operations.is_empty());
    assert_eq!(own.next_cursor, 6);
    // Budi edits one of them; Rina receives the edit.
    let edit_op = edit(
        &budi.scope,
        1,
        base_ms() + 100,
        rina_ops[1].record_id,
        vec![Change::Rt(Some(7))],
    );
    let pushed = storage
        .push(&budi.scope, std::slice::from_ref(&edit_op), NOW)
        .await
        .expect("push");
    assert_eq!(
        pushed.receipts[0].outcome,
        Outcome::Accepted { bounded_hlc: None }
    );
    let news = storage
        .pull(&rina.scope, own.next_cursor, 100)
        .await
        .expect("pull");
    assert_eq!(news.operations, vec![edit_op]);
    // Moving a record out of Budi's village: Budi is told (previous village).
    let moved = edit(
        &rina.scope,
        6,
        base_ms() + 200,
        rina_ops[3].record_id,
        vec![Change::VillageCode("1311012002".into())],
    );
    storage
        .push(&rina.scope, std::slice::from_ref(&moved), NOW)
        .await
        .expect("push");
    let told = storage
        .pull(&budi.scope, done.next_cursor, 100)
        .await
        .expect("pull");
    assert_eq!(told.operations, vec![moved.clone()]);
    // Edited where Budi does not see it, then moved back into his village:
    // with the move comes what he missed, so his copy is whole again (the
    // convergence simulation found copies that lacked the creation).
    let unseen = edit(
        &rina.scope,
        7,
        base_ms() + 300,
        rina_ops[3].record_id,
        vec![Change::FullName("Siti Aminah Lubis".into())],
    );
    let back = edit(
        &rina.scope,
        8,
        base_ms() + 400,
        rina_ops[3].record_id,
        vec![Change::VillageCode("1311012001".into())],
    );
    storage
        .push(&rina.scope, &[unseen.clone(), back.clone()], NOW)
        .await
        .expect("push");
    let returned = storage
        .pull(&budi.scope, told.next_cursor, 100)
        .await
        .expect("pull");
    // Budi's own edit of it is not sent back; the rest comes in server order.
    assert_eq!(
        returned.operations,
        vec![rina_ops[3].clone(), moved, unseen, back]
    );
    // Andi, who never saw the record, gets nothing of it.
    let andi_page = storage.pull(&andi.scope, 0, 100).await.expect("pull");
    assert!(andi_page.operations.is_empty());
}

async fn the_same_nik_twice_forms_a_duplicate_group(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["131101"]).await;
    let budi = enrol(storage, "Budi", &["131101"]).await;
    let by_rina = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    let by_budi = registration(&nik(1, 1), "Siti Aminah", "1311012002", &budi.scope);
    storage
        .push(
            &rina.scope,
            &[create(&rina.scope, 1, base_ms(), &by_rina)],
            NOW,
        )
        .await
        .expect("push");
    let result = storage
        .push(
            &budi.scope,
            &[create(&budi.scope, 1, base_ms() + 1, &by_budi)],
            NOW,
        )
        .await
        .expect("push");
    // Not an error of the sync: both are kept.
    assert_eq!(
        result.receipts[0].outcome,
        Outcome::Accepted { bounded_hlc: None }
    );
    let counts = storage.counts().await.expect("counts");
    assert_eq!((counts.records, counts.records_in_duplicate_groups), (2, 2));
    let page = storage.pull(&rina.scope, 0, 100).await.expect("pull");
    let mut notices = page.duplicates.clone();
    notices.sort_by_key(|n| n.record_id);
    assert_eq!(notices.len(), 2);
    let mine = notices
        .iter()
        .find(|n| n.record_id == by_rina.id)
        .expect("Rina hears about her record");
    assert_eq!(mine.others.len(), 1);
    assert_eq!(mine.others[0].record_id, by_budi.id);
    assert_eq!(mine.others[0].village_code, "1311012002");
    assert_eq!(mine.others[0].officer_name.as_deref(), Some("Budi"));
    // Correcting Budi's NIK dissolves the group, and Rina hears that too.
    let fixed = edit(
        &budi.scope,
        2,
        base_ms() + 50,
        by_budi.id,
        vec![Change::Nik(
            lindung_shared::nik::Nik::from_digits(&nik(1, 2)).expect("digits"),
        )],
    );
    storage
        .push(&budi.scope, &[fixed], NOW)
        .await
        .expect("push");
    let later = storage
        .pull(&rina.scope, page.next_cursor, 100)
        .await
        .expect("pull");
    let mine = later
        .duplicates
        .iter()
        .find(|n| n.record_id == by_rina.id)
        .expect("notice of the change");
    assert!(mine.others.is_empty());
    assert_eq!(
        storage
            .counts()
            .await
            .expect("counts")
            .records_in_duplicate_groups,
        0
    );
}

async fn concurrent_edits_keep_the_loser_in_history(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let budi = enrol(storage, "Budi", &["1311"]).await;
    let person = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    storage
        .push(
            &rina.scope,
            &[create(&rina.scope, 1, base_ms(), &person)],
            NOW,
        )
        .await
        .expect("push");
    let later = edit(
        &budi.scope,
        1,
        base_ms() + 20,
        person.id,
        vec![Change::FullName("Siti Aminah Lubis".into())],
    );
    let earlier = edit(
        &rina.scope,
        2,
        base_ms() + 10,
        person.id,
        vec![Change::FullName("Siti Aminah Nasution".into())],
    );
    // The later edit arrives first; the earlier one must not overwrite it.
    storage
        .push(&budi.scope, &[later], NOW)
        .await
        .expect("push");
    storage
        .push(&rina.scope, &[earlier], NOW)
        .await
        .expect("push");
    let stored = storage
        .record(person.id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(
        stored.state.current(Field::FullName),
        Some(&Change::FullName("Siti Aminah Lubis".into()))
    );
    let names: Vec<&Change> = stored
        .state
        .history(Field::FullName)
        .iter()
        .map(|v| &v.change)
        .collect();
    assert_eq!(names.len(), 3, "every value kept: {names:?}");
    // A withdrawal is a change like any other.
    let withdraw = edit(
        &budi.scope,
        2,
        base_ms() + 30,
        person.id,
        vec![Change::Status(Status::Withdrawn {
            reason: "pindah".into(),
        })],
    );
    storage
        .push(&budi.scope, &[withdraw], NOW)
        .await
        .expect("push");
    assert_eq!(storage.counts().await.expect("counts").active_records, 0);
}

async fn a_clock_far_ahead_is_bounded(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let budi = enrol(storage, "Budi", &["1311"]).await;
    let person = registration(&nik(1, 1), "Siti Aminah", "1311012001", &budi.scope);
    storage
        .push(
            &budi.scope,
            &[create(&budi.scope, 1, base_ms(), &person)],
            NOW,
        )
        .await
        .expect("push");
    // Rina's laptop thinks it is a year later.
    let year_ahead = unix_ms(NOW) + 365 * 86_400_000;
    let ahead = edit(
        &rina.scope,
        1,
        year_ahead,
        person.id,
        vec![Change::FullName("Siti Aminah Lubis".into())],
    );
    let result = storage
        .push(&rina.scope, std::slice::from_ref(&ahead), NOW)
        .await
        .expect("push");
    let Outcome::Accepted {
        bounded_hlc: Some(bounded),
    } = result.receipts[0].outcome
    else {
        panic!(
            "expected a bounded timestamp, got {:?}",
            result.receipts[0].outcome
        );
    };
    assert_eq!(bounded.wall_ms(), unix_ms(NOW) + MAX_CLOCK_AHEAD_MS);
    // That answer was lost: the retry is a duplicate that names the stored
    // stamp again (found by the convergence simulation: the laptop kept its
    // year-ahead stamp while every other replica had the bounded one).
    let retry = storage
        .push(
            &rina.scope,
            &[ahead.clone(), ahead],
            NOW + Duration::minutes(1),
        )
        .await
        .expect("push");
    assert_eq!(
        retry
            .receipts
            .iter()
            .map(|r| r.outcome.clone())
            .collect::<Vec<_>>(),
        vec![
            Outcome::Duplicate {
                bounded_hlc: Some(bounded)
            };
            2
        ]
    );
    // The same within one batch: the copy names the stamp just bounded.
    let twice = edit(
        &rina.scope,
        2,
        year_ahead,
        person.id,
        vec![Change::Rt(Some(4))],
    );
    let glued = storage
        .push(&rina.scope, &[twice.clone(), twice], NOW)
        .await
        .expect("push");
    let Outcome::Accepted {
        bounded_hlc: Some(second),
    } = glued.receipts[0].outcome
    else {
        panic!(
            "expected a bounded timestamp, got {:?}",
            glued.receipts[0].outcome
        );
    };
    assert_eq!(
        glued.receipts[1].outcome,
        Outcome::Duplicate {
            bounded_hlc: Some(second)
        }
    );
    // A correction made ten minutes later with a right clock wins.
    let correction = edit(
        &budi.scope,
        2,
        unix_ms(NOW) + 10 * 60_000,
        person.id,
        vec![Change::FullName("Siti Aminah".into())],
    );
    storage
        .push(&budi.scope, &[correction], NOW + Duration::minutes(10))
        .await
        .expect("push");
    let stored = storage
        .record(person.id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(
        stored.state.current(Field::FullName),
        Some(&Change::FullName("Siti Aminah".into()))
    );
    // Pulled by others with the bounded stamp.
    let page = storage.pull(&budi.scope, 0, 100).await.expect("pull");
    assert_eq!(page.operations[0].hlc, bounded);
}

async fn a_stored_record_is_the_merge_of_its_operations(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let alone = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    let edited = registration(&nik(2, 1), "Dewi Lestari", "1311012001", &rina.scope);
    // Created a year ahead (bounded when stored), created and edited in one
    // batch, and created then edited in a later batch.
    let year_ahead = unix_ms(NOW) + 365 * 86_400_000;
    let later = registration(&nik(3, 1), "Rahmawati", "1311012001", &rina.scope);
    let batch = vec![
        create(&rina.scope, 1, year_ahead, &alone),
        create(&rina.scope, 2, base_ms(), &edited),
        edit(
            &rina.scope,
            3,
            base_ms() + 1,
            edited.id,
            vec![Change::FullName("Dewi Lestari Putri".into())],
        ),
        create(&rina.scope, 4, base_ms() + 2, &later),
    ];
    let first = storage.push(&rina.scope, &batch, NOW).await.expect("push");
    let Outcome::Accepted {
        bounded_hlc: Some(bounded),
    } = first.receipts[0].outcome
    else {
        panic!("expected a bounded timestamp, got {:?}", first.receipts[0]);
    };
    let edit_later = edit(
        &rina.scope,
        5,
        base_ms() + 3,
        later.id,
        vec![Change::FullName("Rahmawati Saragih".into())],
    );
    storage
        .push(&rina.scope, std::slice::from_ref(&edit_later), NOW)
        .await
        .expect("push");
    let mut bounded_creation = batch[0].clone();
    bounded_creation.hlc = bounded;
    let expected = [
        (alone.id, vec![bounded_creation]),
        (edited.id, vec![batch[1].clone(), batch[2].clone()]),
        (later.id, vec![batch[3].clone(), edit_later]),
    ];
    for (id, operations) in expected {
        let mut state = RecordState::default();
        for operation in &operations {
            state.apply(operation);
        }
        let stored = storage.record(id).await.expect("works").expect("stored");
        assert_eq!(stored.state, state, "record {id}");
        assert_eq!(stored.officer_id, Some(rina.officer.id));
    }
}

async fn reference_data_is_replaced_a_year_at_a_time(storage: &dyn Storage) {
    use crate::reference::ReferenceRow;
    use lindung_shared::registration::Category;
    let row = |year: i32, region: &str, population: u64| ReferenceRow {
        year,
        region_code: region.into(),
        working_population: Some(population),
        baseline: Some(population / 10),
        target_bp: Some(2_830),
        category_denominators: [(Category::RtHead, 12), (Category::Fisherman, 300)]
            .into_iter()
            .collect(),
    };
    let first = storage
        .replace_reference(&[
            row(2024, "1311", 90_000),
            row(2025, "1311", 100_000),
            row(2025, "1503", 112_000),
        ])
        .await
        .expect("stored");
    assert_eq!(
        (first.years.clone(), first.removed, first.stored),
        (vec![2024, 2025], 0, 3)
    );
    assert_eq!(
        storage.reference(2025).await.expect("read"),
        vec![row(2025, "1311", 100_000), row(2025, "1503", 112_000)]
    );
    // Importing 2025 again replaces 2025 only; doing it twice changes nothing more.
    for _ in 0..2 {
        storage
            .replace_reference(&[row(2025, "1311", 101_000)])
            .await
            .expect("replaced");
    }
    assert_eq!(
        storage.reference(2025).await.expect("read"),
        vec![row(2025, "1311", 101_000)]
    );
    assert_eq!(
        storage.reference(2024).await.expect("read"),
        vec![row(2024, "1311", 90_000)]
    );
    let empty = ReferenceRow {
        working_population: None,
        baseline: None,
        target_bp: None,
        category_denominators: Default::default(),
        ..row(2026, "13", 0)
    };
    storage
        .replace_reference(std::slice::from_ref(&empty))
        .await
        .expect("stored");
    assert_eq!(storage.reference(2026).await.expect("read"), vec![empty]);
}

async fn coverage_counts_distinct_active_persons(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let budi = enrol(storage, "Budi", &["1311"]).await;
    // The same person registered by both officers, in two villages; one other person.
    let siti_a = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    let siti_b = registration(&nik(1, 1), "Siti Aminah", "1311012002", &budi.scope);
    let dewi = registration(&nik(2, 1), "Dewi Lestari", "1311022001", &rina.scope);
    storage
        .push(
            &rina.scope,
            &[
                create(&rina.scope, 1, base_ms(), &siti_a),
                create(&rina.scope, 2, base_ms() + 1, &dewi),
            ],
            NOW,
        )
        .await
        .expect("push");
    storage
        .push(
            &budi.scope,
            &[create(&budi.scope, 1, base_ms() + 2, &siti_b)],
            NOW,
        )
        .await
        .expect("push");
    let since = crate::storage::ms(NOW - Duration::days(30));
    let all = storage.coverage_counts("", since).await.expect("counts");
    assert_eq!(
        (all.persons, all.persons_since),
        (2, 2),
        "a duplicate counts once"
    );
    assert_eq!(all.by_category.get("rt_head"), Some(&2));
    assert_eq!(all.by_payer.get("apbd"), Some(&2));
    assert_eq!(
        storage
            .coverage_counts("131101", since)
            .await
            .expect("counts")
            .persons,
        1
    );
    let by_village = storage.persons_by_region("1311", 10).await.expect("counts");
    assert_eq!(
        by_village.into_iter().collect::<Vec<_>>(),
        vec![("1311012001".to_owned(), 1), ("1311022001".to_owned(), 1)]
    );
    let by_district = storage.persons_by_region("", 6).await.expect("counts");
    assert_eq!(by_district.get("131101"), Some(&1));
    assert_eq!(by_district.get("131102"), Some(&1));
    // A person registered twice counts once, at the first registration's village.
    assert_eq!(
        storage
            .coverage_counts("1311012002", since)
            .await
            .expect("counts")
            .persons,
        0
    );
    assert_eq!(
        storage
            .coverage_counts("1311022001", since)
            .await
            .expect("counts")
            .persons,
        1
    );
    assert_eq!(
        storage
            .coverage_counts("1371", since)
            .await
            .expect("counts")
            .persons,
        0
    );
    let later = crate::storage::ms(NOW + Duration::days(1));
    assert_eq!(
        storage
            .coverage_counts("", later)
            .await
            .expect("counts")
            .persons_since,
        0
    );
    // A withdrawal leaves the count; moving a person moves the count.
    let withdraw = edit(
        &rina.scope,
        3,
        base_ms() + 10,
        dewi.id,
        vec![Change::Status(Status::Withdrawn {
            reason: "meninggal".into(),
        })],
    );
    let moved = edit(
        &budi.scope,
        2,
        base_ms() + 11,
        siti_b.id,
        vec![Change::VillageCode("1311012001".into())],
    );
    storage
        .push(&rina.scope, &[withdraw], NOW)
        .await
        .expect("push");
    storage
        .push(&budi.scope, &[moved], NOW)
        .await
        .expect("push");
    assert_eq!(
        storage
            .coverage_counts("", since)
            .await
            .expect("counts")
            .persons,
        1
    );
    assert_eq!(
        storage
            .coverage_counts("1311012002", since)
            .await
            .expect("counts")
            .persons,
        0
    );
    assert_eq!(
        storage
            .coverage_counts("1311012001", since)
            .await
            .expect("counts")
            .persons,
        1
    );
}

/// `pace_by_region` groups what `coverage_counts` gives one region as
/// `persons_since`: persons first counted (where coverage counts them) on
/// or after a day.
async fn the_pace_is_counted_per_region(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let budi = enrol(storage, "Budi", &["1311"]).await;
    // Forty days ago, before the window: Ani in Lubuk Gadang (1311012001).
    let ani = registration(&nik(1, 1), "Ani Suryani", "1311012001", &rina.scope);
    storage
        .push(
            &rina.scope,
            &[create(&rina.scope, 1, base_ms(), &ani)],
            NOW - Duration::days(40),
        )
        .await
        .expect("push");
    // Today, inside the window: Siti in 1311012001 (registered again by
    // Budi in 1311012002: one person, counted where first registered), Dewi
    // in 1311022001, and Wati in 1311012002, who then withdraws.
    let siti = registration(&nik(2, 1), "Siti Aminah", "1311012001", &rina.scope);
    let siti_again = registration(&nik(2, 1), "Siti Aminah", "1311012002", &budi.scope);
    let dewi = registration(&nik(3, 1), "Dewi Lestari", "1311022001", &rina.scope);
    let wati = registration(&nik(4, 1), "Wati Handayani", "1311012002", &rina.scope);
    storage
        .push(
            &rina.scope,
            &[
                create(&rina.scope, 2, base_ms() + 1, &siti),
                create(&rina.scope, 3, base_ms() + 2, &dewi),
                create(&rina.scope, 4, base_ms() + 3, &wati),
                edit(
                    &rina.scope,
                    5,
                    base_ms() + 4,
                    wati.id,
                    vec![Change::Status(Status::Withdrawn {
                        reason: "pindah".into(),
                    })],
                ),
            ],
            NOW,
        )
        .await
        .expect("push");
    storage
        .push(
            &budi.scope,
            &[create(&budi.scope, 1, base_ms() + 5, &siti_again)],
            NOW,
        )
        .await
        .expect("push");
    let since = crate::storage::ms(NOW - Duration::days(30));
    let pairs = |map: std::collections::BTreeMap<String, u64>| map.into_iter().collect::<Vec<_>>();
    let by_district = storage
        .pace_by_region("1311", 6, since)
        .await
        .expect("pace");
    assert_eq!(
        pairs(by_district.clone()),
        vec![("131101".to_owned(), 1), ("131102".to_owned(), 1)],
        "Ani is older than the window, Wati withdrew, Siti counts once"
    );
    let by_village = storage
        .pace_by_region("1311", 10, since)
        .await
        .expect("pace");
    assert_eq!(
        pairs(by_village.clone()),
        vec![("1311012001".to_owned(), 1), ("1311022001".to_owned(), 1)],
        "a person counts where coverage counts them: Siti at her first registration"
    );
    assert_eq!(
        pairs(storage.pace_by_region("", 2, since).await.expect("pace")),
        vec![("13".to_owned(), 2)]
    );
    assert_eq!(
        pairs(storage.pace_by_region("", 0, since).await.expect("pace")),
        vec![(String::new(), 2)]
    );
    assert_eq!(
        pairs(
            storage
                .pace_by_region("131101", 10, crate::storage::ms(NOW - Duration::days(50)))
                .await
                .expect("pace")
        ),
        vec![("1311012001".to_owned(), 2)],
        "a wider window includes Ani"
    );
    assert!(
        storage
            .pace_by_region("1371", 6, since)
            .await
            .expect("pace")
            .is_empty()
    );
    // Each listed figure is the one region's own `persons_since`, and the
    // levels add up.
    for (code, pace) in by_district.into_iter().chain(by_village) {
        let counts = storage.coverage_counts(&code, since).await.expect("counts");
        assert_eq!(counts.persons_since, pace, "{code}");
    }
    for code in ["", "13", "1311"] {
        let counts = storage.coverage_counts(code, since).await.expect("counts");
        assert_eq!((counts.persons, counts.persons_since), (3, 2), "{code:?}");
    }
}

/// Random streams of registrations, moves, category changes, withdrawals,
/// reinstatements, NIK corrections and RT edits from three laptops, in random batches:
/// after every push the maintained counts equal a recompute from the records.
pub async fn incremental_coverage_equals_a_recompute(storage: &dyn Storage, seed: u64) {
    use lindung_shared::nik::Nik;
    use lindung_shared::registration::Category;
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let devices = [
        enrol(storage, "Rina", &["1311"]).await,
        enrol(storage, "Budi", &["1311"]).await,
        enrol(storage, "Dewi", &["1311"]).await,
    ];
    let villages = ["1311012001", "1311012002", "1311022001", "1311032002"];
    let categories = [
        Category::RtHead,
        Category::Fisherman,
        Category::StreetVendor,
    ];
    let mut seqs = [0u64; 3];
    let mut records: Vec<RecordId> = Vec::new();
    let mut clock = base_ms();
    // Pushes arrive over several days, so persons have different first days.
    let mut arrival = NOW;
    for _ in 0..40 {
        arrival += Duration::hours(i64::try_from(next(30)).expect("small"));
        let d = next(3) as usize;
        let device = &devices[d].scope;
        let mut batch = Vec::new();
        for _ in 0..=next(6) {
            seqs[d] += 1;
            clock += 1 + next(3);
            let choice = next(100);
            let op = if records.is_empty() || choice < 45 {
                let person = registration(
                    &nik(1, 1 + next(12) as u16),
                    "Siti Aminah",
                    villages[next(4) as usize],
                    device,
                );
                records.push(person.id);
                create(device, seqs[d], clock, &person)
            } else {
                let record = records[next(records.len() as u64) as usize];
                let change = match choice {
                    45..=64 => Change::VillageCode(villages[next(4) as usize].into()),
                    65..=79 => Change::Category(categories[next(3) as usize]),
                    80..=87 => Change::Status(if next(2) == 0 {
                        Status::Withdrawn {
                            reason: "pindah".into(),
                        }
                    } else {
                        Status::Active
                    }),
                    // An edit that moves no count (skipped by the upkeep).
                    88..=91 => Change::Rt(Some(1 + next(20) as u16)),
                    _ => {
                        Change::Nik(Nik::from_digits(&nik(1, 1 + next(12) as u16)).expect("digits"))
                    }
                };
                edit(device, seqs[d], clock, record, vec![change])
            };
            batch.push(op);
        }
        storage.push(device, &batch, arrival).await.expect("push");
        let maintained = storage.coverage_tables().await.expect("counts");
        storage.recompute_coverage().await.expect("recompute");
        let recomputed = storage.coverage_tables().await.expect("counts");
        assert_eq!(maintained, recomputed, "seed {seed}");
        // The pace of districts and villages (read from the records) adds
        // up to the rolled-up pace of their regency.
        let since = crate::storage::ms(arrival - Duration::days(10));
        let rolled_up = storage.pace_by_region("13", 4, since).await.expect("pace");
        for length in [6, 10] {
            let mut summed = std::collections::BTreeMap::<String, u64>::new();
            for (code, pace) in storage
                .pace_by_region("13", length, since)
                .await
                .expect("pace")
            {
                *summed.entry(code[..4].to_owned()).or_default() += pace;
            }
            assert_eq!(summed, rolled_up, "seed {seed}, length {length}");
        }
    }
    let persons: u64 = storage
        .coverage_tables()
        .await
        .expect("counts")
        .villages
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert!(
        persons > 0 && persons <= 12,
        "seed {seed}: {persons} persons"
    );
}

async fn contribution_rates_are_kept_by_date(storage: &dyn Storage) {
    use lindung_shared::coverage::ContributionRates;
    use time::macros::date;
    assert!(storage.contribution_rates().await.expect("read").is_empty());
    let normal = ContributionRates::pp44_2015(date!(2015 - 07 - 01));
    let relief = ContributionRates {
        effective_from: date!(2020 - 08 - 01),
        jkm_flat: 68,
        jkk_min: 100,
        ..normal
    };
    storage
        .set_contribution_rates(&relief)
        .await
        .expect("stored");
    storage
        .set_contribution_rates(&normal)
        .await
        .expect("stored");
    assert_eq!(
        storage.contribution_rates().await.expect("read"),
        vec![normal, relief]
    );
    let corrected = ContributionRates {
        jkm_flat: 70,
        ..relief
    };
    storage
        .set_contribution_rates(&corrected)
        .await
        .expect("replaced");
    assert_eq!(
        storage.contribution_rates().await.expect("read"),
        vec![normal, corrected]
    );
}

/// Pulls everything after `cursor` for `device`; returns the new cursor.
async fn pull_all(
    storage: &dyn Storage,
    device: &DeviceScope,
    mut cursor: u64,
) -> (u64, Vec<Operation>) {
    let mut operations = Vec::new();
    loop {
        let page = storage.pull(device, cursor, 1000).await.expect("pull");
        operations.extend(page.operations);
        cursor = page.next_cursor;
        if !page.has_more {
            // Asking once more from the end tells the store what was seen.
            storage.pull(device, cursor, 1).await.expect("pull");
            return (cursor, operations);
        }
    }
}

async fn conflicts_are_logged_and_resolved_by_staff(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let budi = enrol(storage, "Budi", &["1311"]).await;
    let person = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    storage
        .push(
            &rina.scope,
            &[create(&rina.scope, 1, base_ms(), &person)],
            NOW,
        )
        .await
        .expect("push");
    // Budi has seen the registration: his edit is an ordinary later edit.
    let (budi_cursor, seen) = pull_all(storage, &budi.scope, 0).await;
    assert_eq!(seen.len(), 1);
    let lubis = Change::FullName("Siti Aminah Lubis".into());
    storage
        .push(
            &budi.scope,
            &[edit(
                &budi.scope,
                1,
                base_ms() + 20,
                person.id,
                vec![lubis.clone()],
            )],
            NOW,
        )
        .await
        .expect("push");
    assert!(
        storage
            .conflicts("", false, 10)
            .await
            .expect("list")
            .is_empty()
    );
    // Rina, offline, changed the name earlier: hers loses on arrival.
    let nasution = Change::FullName("Siti Aminah Nasution".into());
    storage
        .push(
            &rina.scope,
            &[edit(
                &rina.scope,
                2,
                base_ms() + 10,
                person.id,
                vec![nasution.clone()],
            )],
            NOW,
        )
        .await
        .expect("push");
    // Rina sets RT 3; Budi, who has not pulled since, sets RT 5 later: his
    // wins over a value he never saw.
    storage
        .push(
            &rina.scope,
            &[edit(
                &rina.scope,
                3,
                base_ms() + 30,
                person.id,
                vec![Change::Rt(Some(3))],
            )],
            NOW,
        )
        .await
        .expect("push");
    storage
        .push(
            &budi.scope,
            &[edit(
                &budi.scope,
                2,
                base_ms() + 40,
                person.id,
                vec![Change::Rt(Some(5))],
            )],
            NOW,
        )
        .await
        .expect("push");
    let open = storage.conflicts("1311", false, 10).await.expect("list");
    assert_eq!(open.len(), 2, "{open:?}");
    let (rt, name) = (&open[0], &open[1]);
    assert_eq!(name.field, Field::FullName);
    assert_eq!(name.kept.change, lubis);
    assert_eq!(name.kept.stamp.device_id, budi.scope.device_id);
    assert_eq!(name.overwritten.change, nasution);
    assert_eq!(name.overwritten.stamp.device_id, rina.scope.device_id);
    assert_eq!(rt.field, Field::Rt);
    assert_eq!(rt.kept.change, Change::Rt(Some(5)));
    assert_eq!(rt.overwritten.change, Change::Rt(Some(3)));
    assert!(
        storage
            .conflicts("1312", false, 10)
            .await
            .expect("list")
            .is_empty()
    );

    // An invalid resolution is refused and changes nothing.
    let refused = storage
        .staff_edit(
            StaffRequest {
                actor: "ani".into(),
                edits: vec![StaffEdit {
                    record_id: person.id,
                    changes: vec![Change::VillageCode("9999999999".into())],
                }],
                action: StaffAction::ResolveConflict {
                    conflict_id: name.id,
                    how: "new".into(),
                },
            },
            NOW,
        )
        .await
        .expect("works");
    assert!(
        matches!(refused, StaffOutcome::Refused(ref r) if r.len() == 1),
        "{refused:?}"
    );
    assert_eq!(
        storage.conflicts("", false, 10).await.expect("list").len(),
        2
    );

    // Staff take the overwritten name.
    let resolve = StaffRequest {
        actor: "ani".into(),
        edits: vec![StaffEdit {
            record_id: person.id,
            changes: vec![name.overwritten.change.clone()],
        }],
        action: StaffAction::ResolveConflict {
            conflict_id: name.id,
            how: "other".into(),
        },
    };
    let outcome = storage
        .staff_edit(resolve.clone(), NOW)
        .await
        .expect("works");
    assert_eq!(
        outcome,
        StaffOutcome::Applied {
            operations: 1,
            merge_id: None
        }
    );
    let stored = storage
        .record(person.id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(stored.state.current(Field::FullName), Some(&nasution));
    let closed = storage
        .conflict(name.id)
        .await
        .expect("works")
        .expect("kept");
    let resolution = closed.resolved.expect("resolved");
    assert_eq!(
        (resolution.by.as_str(), resolution.how.as_str()),
        ("ani", "other")
    );
    assert_eq!(
        storage.conflicts("", false, 10).await.expect("list").len(),
        1
    );
    assert_eq!(
        storage.conflicts("", true, 10).await.expect("list").len(),
        2
    );
    // Twice is refused.
    assert!(matches!(
        storage.staff_edit(resolve, NOW).await.expect("works"),
        StaffOutcome::Stale(_)
    ));
    // Both laptops receive the staff decision; the staff device is no field device.
    let (_, received) = pull_all(storage, &budi.scope, budi_cursor).await;
    let staff = storage.staff_device().await.expect("staff device");
    assert!(
        received
            .iter()
            .any(|op| op.device_id == staff && op.changes == vec![nasution.clone()]),
        "{received:?}"
    );
    assert!(
        storage
            .devices()
            .await
            .expect("devices")
            .iter()
            .all(|d| d.id != staff)
    );
    assert_eq!(storage.officers().await.expect("officers").len(), 2);
    assert_eq!(storage.counts().await.expect("counts").devices, 2);
}

async fn duplicates_are_merged_and_unmerged_by_staff(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let budi = enrol(storage, "Budi", &["1311"]).await;
    let first = registration(&nik(1, 1), "Siti Aminah", "1311012001", &rina.scope);
    let mut second = registration(&nik(1, 1), "Siti Aminah", "1311012002", &budi.scope);
    second.rt = Some(7);
    let probable_a = registration(&nik(2, 1), "Achmad Fauzi", "1311012001", &rina.scope);
    let probable_b = registration(&nik(2, 2), "Ahmad Fauzi", "1311012002", &budi.scope);
    storage
        .push(
            &rina.scope,
            &[
                create(&rina.scope, 1, base_ms(), &first),
                create(&rina.scope, 2, base_ms(), &probable_a),
            ],
            NOW,
        )
        .await
        .expect("push");
    storage
        .push(
            &budi.scope,
            &[
                create(&budi.scope, 1, base_ms(), &second),
                create(&budi.scope, 2, base_ms(), &probable_b),
            ],
            NOW,
        )
        .await
        .expect("push");
    let certain = crate::duplicates::certain_groups(
        storage
            .duplicate_candidates("1311", DuplicateKind::Certain)
            .await
            .expect("candidates"),
    );
    assert_eq!(certain.len(), 1);
    let mut members: Vec<RecordId> = certain[0].members.iter().map(|m| m.record_id).collect();
    members.sort();
    let mut expected = vec![first.id, second.id];
    expected.sort();
    assert_eq!(members, expected);
    let probable = crate::duplicates::probable_groups(
        storage
            .duplicate_candidates("131101", DuplicateKind::Probable)
            .await
            .expect("candidates"),
    );
    assert_eq!(probable.len(), 1, "{probable:?}");
    let mut found: Vec<RecordId> = probable[0].members.iter().map(|m| m.record_id).collect();
    found.sort();
    let mut expected = vec![probable_a.id, probable_b.id];
    expected.sort();
    assert_eq!(found, expected);
    assert!(
        storage
            .duplicate_candidates("1312", DuplicateKind::Certain)
            .await
            .expect("candidates")
            .is_empty()
    );

    // Keep Rina's record, take Budi's RT.
    let edits =
        crate::duplicates::merge_edits(first.id, &[first.id, second.id], vec![Change::Rt(Some(7))])
            .expect("valid merge");
    let outcome = storage
        .staff_edit(
            StaffRequest {
                actor: "ani".into(),
                edits,
                action: StaffAction::Merge {
                    survivor: first.id,
                    members: vec![first.id, second.id],
                },
            },
            NOW,
        )
        .await
        .expect("works");
    let StaffOutcome::Applied {
        operations: 2,
        merge_id: Some(merge_id),
    } = outcome
    else {
        panic!("merge applied: {outcome:?}");
    };
    let survivor = storage
        .record(first.id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(
        survivor.state.current(Field::Rt),
        Some(&Change::Rt(Some(7)))
    );
    let merged = storage
        .record(second.id)
        .await
        .expect("works")
        .expect("stored");
    assert!(matches!(
        merged.state.current(Field::Status),
        Some(Change::Status(Status::Withdrawn { .. }))
    ));
    assert_eq!(
        storage
            .coverage_counts("1311", 0)
            .await
            .expect("counts")
            .persons,
        3
    );
    let merge = storage
        .merge(merge_id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(merge.survivor, first.id);
    assert_eq!(merge.actor, "ani");
    assert_eq!(merge.undo.len(), 2, "{:?}", merge.undo);

    // Undo: both active again, the survivor's RT back to what it was.
    let unmerge = StaffRequest {
        actor: "ani".into(),
        edits: merge.undo.clone(),
        action: StaffAction::Unmerge { merge_id },
    };
    assert!(matches!(
        storage
            .staff_edit(unmerge.clone(), NOW)
            .await
            .expect("works"),
        StaffOutcome::Applied { operations: 2, .. }
    ));
    let survivor = storage
        .record(first.id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(
        survivor.state.current(Field::Rt),
        first.to_changes().iter().find(|c| c.field() == Field::Rt)
    );
    let restored = storage
        .record(second.id)
        .await
        .expect("works")
        .expect("stored");
    assert_eq!(
        restored.state.current(Field::Status),
        Some(&Change::Status(Status::Active))
    );
    assert!(
        storage
            .merge(merge_id)
            .await
            .expect("works")
            .expect("kept")
            .undone
            .is_some()
    );
    assert!(matches!(
        storage.staff_edit(unmerge, NOW).await.expect("works"),
        StaffOutcome::Stale(_)
    ));
    assert_eq!(storage.merges(10).await.expect("merges").len(), 1);
    // Staff decisions are no conflicts.
    assert!(
        storage
            .conflicts("", true, 10)
            .await
            .expect("list")
            .is_empty()
    );
}

async fn the_audit_log_keeps_entries_newest_first(storage: &dyn Storage) {
    use super::{AuditEntry, AuditFilter};
    let all = |limit| AuditFilter {
        limit,
        action: None,
        since_ms: None,
    };
    assert!(
        storage
            .audit_entries(&all(10))
            .await
            .expect("read")
            .is_empty()
    );
    let entries = [
        ("officer.add", "a", 0),
        ("enroll_code.create", "b", 1),
        ("officer.add", "c", 2),
        ("export.registrations", "1311", 3),
    ];
    for (action, subject, minutes) in entries {
        storage
            .record_audit(&AuditEntry {
                at: NOW + Duration::minutes(minutes),
                actor: "Sari Wulandari".into(),
                action: action.into(),
                subject: subject.into(),
                details: serde_json::json!({ "rows": minutes, "file": "cakupan.xlsx" }),
            })
            .await
            .expect("recorded");
    }
    let newest = storage.audit_entries(&all(10)).await.expect("read");
    assert_eq!(
        newest
            .iter()
            .map(|e| e.subject.as_str())
            .collect::<Vec<_>>(),
        vec!["1311", "c", "b", "a"]
    );
    assert!(newest.windows(2).all(|w| w[0].id > w[1].id));
    let first = &newest[0];
    assert_eq!(first.actor, "Sari Wulandari");
    assert_eq!(first.action, "export.registrations");
    assert_eq!(first.at, NOW + Duration::minutes(3));
    assert_eq!(
        first.details,
        serde_json::json!({ "rows": 3, "file": "cakupan.xlsx" })
    );
    assert_eq!(storage.audit_entries(&all(2)).await.expect("read").len(), 2);
    let officers = storage
        .audit_entries(&AuditFilter {
            limit: 10,
            action: Some("officer.add".into()),
            since_ms: None,
        })
        .await
        .expect("read");
    assert_eq!(
        officers
            .iter()
            .map(|e| e.subject.as_str())
            .collect::<Vec<_>>(),
        vec!["c", "a"]
    );
    let recent = storage
        .audit_entries(&AuditFilter {
            limit: 10,
            action: Some("officer.add".into()),
            since_ms: Some(crate::storage::ms(NOW + Duration::minutes(1))),
        })
        .await
        .expect("read");
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].subject, "c");
}

async fn records_in_a_region_come_in_pages(storage: &dyn Storage) {
    let rina = enrol(storage, "Rina", &["13"]).await;
    let mut operations = Vec::new();
    let mut in_sangir = Vec::new();
    // Seven persons in Sangir (1311 01), two elsewhere in Solok Selatan.
    for serial in 1..=9u16 {
        let village = if serial <= 7 {
            "1311012001"
        } else {
            "1311022001"
        };
        let person = registration(&nik(1, serial), "Siti Aminah", village, &rina.scope);
        operations.push(create(&rina.scope, u64::from(serial), base_ms(), &person));
        if serial <= 7 {
            in_sangir.push(person);
        }
    }
    // One of Sangir's persons withdraws; her record is left out.
    let withdrawn = in_sangir.remove(2);
    operations.push(edit(
        &rina.scope,
        10,
        base_ms() + 1,
        withdrawn.id,
        vec![Change::Status(Status::Withdrawn {
            reason: "pindah".into(),
        })],
    ));
    storage
        .push(&rina.scope, &operations, NOW)
        .await
        .expect("push");
    let mut found = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = storage
            .records_in_region("131101", after, 2)
            .await
            .expect("page");
        let Some(last) = page.last_id else { break };
        assert!(page.registrations.len() <= 2);
        found.extend(page.registrations);
        after = Some(last);
        pages += 1;
    }
    assert_eq!(pages, 3, "6 active records in pages of 2");
    in_sangir.sort_by_key(|r| r.id);
    assert_eq!(found, in_sangir);
    let everywhere = storage
        .records_in_region("", None, 100)
        .await
        .expect("page");
    assert_eq!(everywhere.registrations.len(), 8);
}

async fn staff_accounts_authenticate_until_revoked(storage: &dyn Storage) {
    let account = super::StaffAccount {
        id: Uuid::now_v7(),
        name: "Ani".into(),
        created_at: NOW,
        revoked_at: None,
        login: None,
        role: super::Role::Staff,
        region: None,
    };
    let hash = crate::secrets::token_hash("token of ani");
    storage
        .add_staff_account(&account, &hash, None)
        .await
        .expect("added");
    assert_eq!(
        storage.staff_account_by_token(&hash).await.expect("works"),
        Some(account.clone())
    );
    assert_eq!(
        storage
            .staff_account_by_token(&crate::secrets::token_hash("another"))
            .await
            .expect("works"),
        None
    );
    assert!(
        storage
            .revoke_staff_account(account.id, NOW)
            .await
            .expect("works")
    );
    assert!(
        !storage
            .revoke_staff_account(Uuid::now_v7(), NOW)
            .await
            .expect("works")
    );
    let found = storage
        .staff_account_by_token(&hash)
        .await
        .expect("works")
        .expect("still there");
    assert_eq!(found.revoked_at, Some(NOW));
    assert_eq!(storage.staff_accounts().await.expect("list").len(), 1);
}

async fn a_rotated_device_token_replaces_the_old_one_at_first_use(storage: &dyn Storage) {
    use crate::secrets::token_hash;
    let rina = enrol(storage, "Rina", &["1311"]).await;
    let budi = enrol(storage, "Budi", &["1311"]).await;
    let device = rina.scope.device_id;
    let old = token_hash(&rina.token);
    let first = token_hash("first next token");
    let second = token_hash("second next token");
    let known = async |hash: &[u8; 32]| {
        storage
            .authenticate(hash)
            .await
            .expect("works")
            .map(|found| found.scope.device_id)
    };

    // Rotating needs the device's current token.
    assert!(
        !storage
            .rotate_device_token(device, &token_hash(&budi.token), &first)
            .await
            .expect("works")
    );
    assert!(
        storage
            .rotate_device_token(device, &old, &first)
            .await
            .expect("works")
    );
    // The answer was lost: the old token still works, and rotating again
    // replaces the next token that was never used.
    assert_eq!(known(&old).await, Some(device));
    assert!(
        storage
            .rotate_device_token(device, &old, &second)
            .await
            .expect("works")
    );
    assert_eq!(known(&first).await, None);
    assert_eq!(known(&old).await, Some(device));
    // Its first use makes it the token: the old one is unknown from then on.
    let found = storage
        .authenticate(&second)
        .await
        .expect("works")
        .expect("the next token is known");
    assert_eq!(found.scope, rina.scope);
    assert_eq!(known(&second).await, Some(device));
    assert_eq!(known(&old).await, None);
    assert!(
        !storage
            .rotate_device_token(device, &old, &first)
            .await
            .expect("works")
    );
    // Other devices are untouched.
    assert_eq!(
        known(&token_hash(&budi.token)).await,
        Some(budi.scope.device_id)
    );
    // A revoked device cannot rotate.
    assert!(storage.revoke_device(device, NOW).await.expect("works"));
    assert!(
        !storage
            .rotate_device_token(device, &second, &first)
            .await
            .expect("works")
    );
}

async fn a_staff_token_is_replaced_at_once(storage: &dyn Storage) {
    let account = super::StaffAccount {
        id: Uuid::now_v7(),
        name: "Ani".into(),
        created_at: NOW,
        revoked_at: None,
        login: None,
        role: super::Role::Staff,
        region: None,
    };
    let old = crate::secrets::token_hash("old token of ani");
    let new = crate::secrets::token_hash("new token of ani");
    storage
        .add_staff_account(&account, &old, None)
        .await
        .expect("added");
    assert!(
        storage
            .set_staff_token(account.id, &new)
            .await
            .expect("works")
    );
    assert_eq!(
        storage.staff_account_by_token(&new).await.expect("works"),
        Some(account.clone())
    );
    assert_eq!(
        storage.staff_account_by_token(&old).await.expect("works"),
        None
    );
    assert!(
        !storage
            .set_staff_token(Uuid::now_v7(), &old)
            .await
            .expect("works")
    );
}

async fn staff_logins_sessions_and_failed_logins(storage: &dyn Storage) {
    use super::{NewStaffSession, Role, StaffAccount};
    let supervisor = StaffAccount {
        id: Uuid::now_v7(),
        name: "Budi Pengawas".into(),
        created_at: NOW,
        revoked_at: None,
        login: Some("budi".into()),
        role: Role::Supervisor,
        region: Some("1311".into()),
    };
    storage
        .add_staff_account(
            &supervisor,
            &crate::secrets::token_hash("token of budi"),
            Some("argon2id$first"),
        )
        .await
        .expect("added");
    // A second account may not take the same login.
    let mut twin = supervisor.clone();
    twin.id = Uuid::now_v7();
    assert!(
        storage
            .add_staff_account(&twin, &crate::secrets::token_hash("other"), None)
            .await
            .is_err(),
        "a login is unique"
    );
    let (found, hash) = storage
        .staff_account_by_login("budi")
        .await
        .expect("works")
        .expect("found");
    assert_eq!(found, supervisor);
    assert_eq!(hash.as_deref(), Some("argon2id$first"));
    assert!(
        storage
            .staff_account_by_login("nobody")
            .await
            .expect("works")
            .is_none()
    );

    // Sessions: found by the hash of their id, touched, expired, deleted.
    let session = NewStaffSession {
        id_hash: crate::secrets::token_hash("session one"),
        account_id: supervisor.id,
        csrf_token: "csrf-one".into(),
        created_at: NOW,
    };
    storage
        .create_staff_session(&session)
        .await
        .expect("created");
    let stored = storage
        .staff_session(&session.id_hash)
        .await
        .expect("works")
        .expect("found");
    assert_eq!(stored.account, supervisor);
    assert_eq!(stored.csrf_token, "csrf-one");
    assert_eq!((stored.created_at, stored.last_seen_at), (NOW, NOW));
    let later = NOW + Duration::minutes(10);
    storage
        .touch_staff_session(&session.id_hash, later)
        .await
        .expect("touched");
    let stored = storage
        .staff_session(&session.id_hash)
        .await
        .expect("works")
        .expect("found");
    assert_eq!(stored.last_seen_at, later);
    assert!(
        storage
            .staff_session(&crate::secrets::token_hash("session two"))
            .await
            .expect("works")
            .is_none()
    );
    // Idle since before `later + 1 min`: expired and deleted.
    let second = NewStaffSession {
        id_hash: crate::secrets::token_hash("session two"),
        created_at: later + Duration::minutes(5),
        ..session.clone()
    };
    storage
        .create_staff_session(&second)
        .await
        .expect("created");
    let removed = storage
        .delete_expired_staff_sessions(NOW - Duration::hours(1), later + Duration::minutes(1))
        .await
        .expect("works");
    assert_eq!(removed, 1);
    assert!(
        storage
            .staff_session(&session.id_hash)
            .await
            .expect("works")
            .is_none()
    );
    assert!(
        storage
            .delete_staff_session(&second.id_hash)
            .await
            .expect("works")
    );
    assert!(
        !storage
            .delete_staff_session(&second.id_hash)
            .await
            .expect("works")
    );

    // A new password ends every session of the account.
    storage
        .create_staff_session(&session)
        .await
        .expect("created");
    assert!(
        storage
            .set_staff_password(supervisor.id, "argon2id$second")
            .await
            .expect("works")
    );
    assert!(
        storage
            .staff_session(&session.id_hash)
            .await
            .expect("works")
            .is_none()
    );
    let (_, hash) = storage
        .staff_account_by_login("budi")
        .await
        .expect("works")
        .expect("found");
    assert_eq!(hash.as_deref(), Some("argon2id$second"));
    assert!(
        !storage
            .set_staff_password(Uuid::now_v7(), "x")
            .await
            .expect("works")
    );

    // Failed logins are counted per key within the window, and cleared.
    let keys = vec!["login:budi".to_owned(), "ip:127.0.0.1".to_owned()];
    for minute in 0..3 {
        storage
            .record_login_failure(&keys, NOW + Duration::minutes(minute))
            .await
            .expect("recorded");
    }
    let failures = |key: &'static str, since: OffsetDateTime| async move {
        storage.login_failures(key, since).await.expect("works")
    };
    assert_eq!(failures("login:budi", NOW).await, 3);
    assert_eq!(
        failures("ip:127.0.0.1", NOW + Duration::minutes(1)).await,
        2
    );
    assert_eq!(failures("login:ani", NOW).await, 0);
    storage
        .clear_login_failures("login:budi", NOW)
        .await
        .expect("cleared");
    assert_eq!(failures("login:budi", NOW).await, 0);
    assert_eq!(failures("ip:127.0.0.1", NOW).await, 3);
    // Clearing also forgets old failures under every key.
    storage
        .clear_login_failures("login:none", NOW + Duration::minutes(2))
        .await
        .expect("cleared");
    assert_eq!(failures("ip:127.0.0.1", NOW).await, 1);
}

async fn bundle_keys_and_imports_are_kept(storage: &dyn Storage) {
    use super::{BundleImport, ServerBundleKeys};
    let budi = enrol(storage, "Budi", &["3201"]).await;
    let device = budi.scope.device_id;
    // Unknown devices are not found; a known one has no key until it registers one.
    assert_eq!(
        storage
            .bundle_device(DeviceId(Uuid::now_v7()))
            .await
            .expect("read"),
        None
    );
    let found = storage
        .bundle_device(device)
        .await
        .expect("read")
        .expect("known");
    assert_eq!(found.scope.regions, vec!["3201".to_owned()]);
    assert_eq!(found.scope.officer_name, "Budi");
    assert_eq!(found.public_key, None);
    assert_eq!(found.revoked_at, None);
    storage
        .set_bundle_public_key(device, &[7; 32])
        .await
        .expect("kept");
    storage
        .set_bundle_public_key(device, &[8; 32])
        .await
        .expect("replaced");
    storage.revoke_device(device, NOW).await.expect("revoked");
    let found = storage
        .bundle_device(device)
        .await
        .expect("read")
        .expect("known");
    assert_eq!(found.public_key, Some([8; 32]));
    assert_eq!(found.revoked_at, Some(NOW));

    // The first keys offered are kept for good.
    let first = ServerBundleKeys {
        signing_seed: [1; 32],
        device_secret_root: [2; 32],
    };
    let second = ServerBundleKeys {
        signing_seed: [3; 32],
        device_secret_root: [4; 32],
    };
    assert_eq!(
        storage.server_bundle_keys(&first).await.expect("made"),
        first
    );
    assert_eq!(
        storage.server_bundle_keys(&second).await.expect("kept"),
        first
    );

    // An import is recorded once; a second record of it keeps the first receipt.
    let bundle_id = Uuid::now_v7();
    assert_eq!(storage.bundle_import(bundle_id).await.expect("read"), None);
    let import = BundleImport {
        bundle_id,
        device_id: device,
        imported_at: NOW,
        imported_by: "cli".into(),
        operations: 3,
        accepted: 2,
        duplicates: 1,
        rejected: 0,
        receipt: vec![1, 2, 3],
    };
    storage
        .record_bundle_import(&import)
        .await
        .expect("recorded");
    storage
        .record_bundle_import(&BundleImport {
            receipt: vec![9],
            imported_at: NOW + Duration::minutes(5),
            ..import.clone()
        })
        .await
        .expect("ignored");
    assert_eq!(
        storage.bundle_import(bundle_id).await.expect("read"),
        Some(import.clone())
    );
    let later = BundleImport {
        bundle_id: Uuid::now_v7(),
        imported_at: NOW + Duration::hours(1),
        ..import.clone()
    };
    storage
        .record_bundle_import(&later)
        .await
        .expect("recorded");
    // Listed without the receipts.
    let listed = |import: &BundleImport| BundleImport {
        receipt: Vec::new(),
        ..import.clone()
    };
    assert_eq!(
        storage.bundle_imports(10).await.expect("listed"),
        vec![listed(&later), listed(&import)]
    );
    assert_eq!(
        storage.bundle_imports(1).await.expect("listed"),
        vec![listed(&later)]
    );
}
