//! What a push batch does, decided without I/O.
//!
//! Every storage backend runs a push the same way: in one transaction, it
//! loads a [`BatchContext`] (what it already holds about the batch's
//! operations, records and NIKs), calls [`plan_batch`], and writes the
//! [`BatchPlan`] back. All the policy lives here, so both backends behave
//! identically and the rules can be tested without a database:
//!
//! 1. an operation the server already holds (same device and sequence, same
//!    content) is a **duplicate**; the same id with other content is refused
//!    as `sequence_reused`; a refusal is remembered and repeated on retry;
//! 2. the shape and every field value are **validated again** on the
//!    registration as it would stand with this operation's changes;
//! 3. the registration's village must be in the **officer's scope**;
//! 4. a timestamp more than [`MAX_CLOCK_AHEAD_MS`] ahead of the server clock
//!    is **bounded** (the receipt tells the agent);
//! 5. the operation is **merged** with the rule from `lindung_shared::merge`
//!    (every overwritten value stays in the record's history) and gets the
//!    next **server sequence** number;
//! 6. a NIK held by more than one record forms a **duplicate group**: all its
//!    records are kept and marked, so pulls tell the agents;
//! 7. a value the merge rule overwrites although its writer and the
//!    overwriting device had not seen each other's change is a **conflict**,
//!    logged with both values for staff ([`ConflictFound`]).
//!
//! Staff changes (merging duplicates, resolving conflicts) are operations of
//! the server's own staff device ([`staff_operations`]), planned by the same
//! function, so they are validated, merged and pulled like any other.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use lindung_shared::hlc::{Hlc, HlcClock};
use lindung_shared::ids::{DeviceId, OfficerId, RecordId};
use lindung_shared::merge::{OpId, Operation, RecordState, Version};
use lindung_shared::nik::Nik;
use lindung_shared::protocol::{ErrorCode, Outcome, Receipt, WireError};
use lindung_shared::region::Regions;
use lindung_shared::registration::{Change, Field, Registration};
use lindung_shared::validation::{RegistrationInput, ValidationContext, validate_registration};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// How far ahead of the server clock a device timestamp may run before the
/// server bounds it (laptops with a wrong clock cannot win every conflict).
pub const MAX_CLOCK_AHEAD_MS: u64 = 5 * 60 * 1000;

/// The device sending a batch, as its token identified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceScope {
    /// The device.
    pub device_id: DeviceId,
    /// Its officer.
    pub officer_id: OfficerId,
    /// The officer's name.
    pub officer_name: String,
    /// Region codes (digits only) the officer may register in.
    pub regions: Vec<String>,
    /// The server sequence up to which the device says it has applied
    /// pulled changes (in the request being served; 0 when unknown).
    pub pulled_upto: u64,
}

impl DeviceScope {
    /// Whether a village lies in one of the officer's regions.
    pub fn covers(&self, village_code: &str) -> bool {
        covers(&self.regions, village_code)
    }
}

/// Whether a village code lies inside one of the region codes (codes nest by prefix).
pub fn covers(regions: &[String], village_code: &str) -> bool {
    regions
        .iter()
        .any(|region| village_code.starts_with(region.as_str()))
}

/// An operation of the sending device that the server already processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownOperation {
    /// [`fingerprint`] of what was received then.
    pub fingerprint: [u8; 32],
    /// The refusal, when it was refused.
    pub rejection: Option<WireError>,
    /// The timestamp it is stored with, when it was accepted (the one sent,
    /// or the bounded one).
    pub hlc: Option<Hlc>,
}

/// A record as the server holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredRecord {
    /// Every version of every field.
    pub state: RecordState,
    /// The officer whose device created the record, when known.
    pub officer_id: Option<OfficerId>,
}

/// What the backend loads before planning a batch.
#[derive(Clone, Debug, Default)]
pub struct BatchContext {
    /// The sending device's operations the server already holds, by sequence
    /// number (at least those whose numbers occur in the batch).
    pub known: HashMap<u64, KnownOperation>,
    /// The stored records the batch touches, by id.
    pub records: HashMap<RecordId, StoredRecord>,
    /// For every NIK the batch sets or the touched records hold now: the
    /// records currently holding it.
    pub nik_holders: HashMap<Nik, BTreeSet<RecordId>>,
    /// The greatest server sequence number assigned so far.
    pub last_server_seq: u64,
    /// The server sequence up to which the sending device has pulled (it has
    /// seen every change in its scope up to there); `u64::MAX` for staff.
    pub pulled_seq: u64,
    /// The server sequence of each operation [`versions_to_locate`] named.
    pub version_seqs: HashMap<OpId, u64>,
}

/// The server's side of the batch: its time and the region index.
#[derive(Clone, Copy, Debug)]
pub struct BatchClock<'a> {
    /// Server time.
    pub now: OffsetDateTime,
    /// The region index for validation.
    pub regions: &'a Regions,
}

/// An operation to store, as accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptedOperation {
    /// Its place in the server's order.
    pub server_seq: u64,
    /// The operation, with its timestamp bounded if it ran ahead.
    pub operation: Operation,
    /// The timestamp the device sent.
    pub original_hlc: Hlc,
    /// [`fingerprint`] of the operation as received.
    pub fingerprint: [u8; 32],
    /// The JSON of its changes, encoded once for the fingerprint and reused
    /// for the stored body ([`crate::storage`]'s `operation_body`); empty if
    /// they could not be encoded.
    pub changes_json: String,
    /// The record's village after this operation (what pulls filter on).
    pub village_code: String,
    /// The record's village before, when this operation moved it.
    pub previous_village_code: Option<String>,
}

/// An operation refused for good, remembered so a retry gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedOperation {
    /// The device's sequence number.
    pub seq: u64,
    /// The record it was for.
    pub record_id: RecordId,
    /// [`fingerprint`] of the operation as received.
    pub fingerprint: [u8; 32],
    /// Why.
    pub error: WireError,
}

/// A record's state after the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordUpdate {
    /// The record.
    pub record_id: RecordId,
    /// Every version of every field.
    pub state: RecordState,
    /// Its current village (empty while the creating operation has not arrived).
    pub village_code: String,
    /// Its current NIK.
    pub nik: Option<Nik>,
    /// Whether it is active (counts in coverage).
    pub active: bool,
    /// Its current worker category (code), once known.
    pub category: Option<&'static str>,
    /// Its current payer kind (code), once known.
    pub payer: Option<&'static str>,
    /// The officer whose device created it.
    pub officer_id: Option<OfficerId>,
    /// Whether the record is new to the server.
    pub created: bool,
    /// The server sequence of the last accepted operation on it.
    pub updated_seq: u64,
    /// Whether the state is exactly one operation: the record is new to the
    /// server and this batch accepted one operation on it, the one at
    /// `updated_seq`. A backend may then store no copy of the state, since
    /// applying that stored operation to an empty state rebuilds it.
    pub single_operation: bool,
    /// Its current birth date (`YYYY-MM-DD`), once known: with `name_key`,
    /// what the probable-duplicate search compares.
    pub birth_date: Option<String>,
    /// The comparison key of its current name
    /// ([`lindung_shared::person_name::name_key`]), once known.
    pub name_key: Option<String>,
}

/// A concurrent value that the merge rule overwrote: both values are kept in
/// the record's history; this is the entry of the conflict log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictFound {
    /// The record.
    pub record_id: RecordId,
    /// The field both changes wrote.
    pub field: Field,
    /// The value that is now current (the merge rule's winner).
    pub kept: Version,
    /// The value that lost.
    pub overwritten: Version,
    /// The server sequence of the operation whose arrival revealed it.
    pub server_seq: u64,
    /// The record's village after that operation (for listing by region).
    pub village_code: String,
}

/// Everything a batch changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchPlan {
    /// One receipt per operation, in the order received.
    pub receipts: Vec<Receipt>,
    /// Operations to store.
    pub accepted: Vec<AcceptedOperation>,
    /// Refusals to remember.
    pub rejected: Vec<RejectedOperation>,
    /// Records to write.
    pub records: Vec<RecordUpdate>,
    /// Records whose duplicate group changed, and the server sequence at
    /// which it did (pulls after that sequence carry a notice).
    pub duplicate_marks: BTreeMap<RecordId, u64>,
    /// The greatest server sequence number after the batch.
    pub last_server_seq: u64,
    /// Every NIK whose person may have changed: held, before or after the
    /// batch, by a record the batch created or changed in a field that
    /// moves counts (NIK, village, category, payer, status). Coverage counts
    /// are refreshed for these.
    pub affected_niks: BTreeSet<Nik>,
    /// Affected NIKs that no stored record held before the batch: nobody
    /// was counted for them, and their representative is among `records`.
    pub unheld_before: BTreeSet<Nik>,
    /// Concurrent values the batch overwrote (or that overwrote it).
    pub conflicts: Vec<ConflictFound>,
}

/// The operations whose server sequence [`plan_batch`] needs to tell a
/// conflict from an ordinary later edit: the current version, written by
/// another device, of every field the batch's operations change on a stored
/// record. The backend looks them up (by device and sequence) into
/// [`BatchContext::version_seqs`].
pub fn versions_to_locate(
    device: &DeviceScope,
    operations: &[Operation],
    records: &HashMap<RecordId, StoredRecord>,
) -> BTreeSet<OpId> {
    let mut wanted = BTreeSet::new();
    for operation in operations {
        let Some(record) = records.get(&operation.record_id) else {
            continue;
        };
        for change in &operation.changes {
            if let Some(stamp) = record.state.current_stamp(change.field())
                && stamp.device_id != device.device_id
            {
                wanted.insert(stamp.op_id());
            }
        }
    }
    wanted
}

/// A change staff make to one record (merging duplicates, resolving a conflict).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaffEdit {
    /// The record.
    pub record_id: RecordId,
    /// The new values.
    pub changes: Vec<Change>,
}

/// Edits that would restore what `edits` overwrite: the current value, in
/// `records`, of every field they write (fields without a value are left out).
pub fn undo_of(edits: &[StaffEdit], records: &HashMap<RecordId, StoredRecord>) -> Vec<StaffEdit> {
    edits
        .iter()
        .filter_map(|edit| {
            let record = records.get(&edit.record_id)?;
            let changes: Vec<Change> = edit
                .changes
                .iter()
                .filter_map(|change| record.state.current(change.field()).cloned())
                .collect();
            (!changes.is_empty()).then_some(StaffEdit {
                record_id: edit.record_id,
                changes,
            })
        })
        .collect()
}

/// The scope of the server's staff device: every region.
pub fn staff_scope(device_id: DeviceId) -> DeviceScope {
    DeviceScope {
        device_id,
        officer_id: OfficerId(uuid::Uuid::nil()),
        officer_name: "staf pusat / central staff".to_owned(),
        regions: vec![String::new()],
        pulled_upto: u64::MAX,
    }
}

/// The operations of the staff device for `edits`, numbered from
/// `first_seq`. Each is stamped after every version its record holds (and
/// not before `now`), so a staff decision wins over every value it saw.
pub fn staff_operations(
    device_id: DeviceId,
    first_seq: u64,
    now: OffsetDateTime,
    edits: &[StaffEdit],
    records: &HashMap<RecordId, StoredRecord>,
) -> Vec<Operation> {
    let now_ms = unix_ms(now);
    edits
        .iter()
        .zip(first_seq..)
        .map(|(edit, seq)| {
            let latest = records
                .get(&edit.record_id)
                .and_then(|record| {
                    Field::ALL
                        .iter()
                        .filter_map(|field| record.state.current_stamp(*field))
                        .map(|stamp| stamp.hlc)
                        .max()
                })
                .unwrap_or(Hlc::ZERO);
            Operation {
                device_id,
                seq,
                record_id: edit.record_id,
                hlc: HlcClock::resume(latest).tick(now_ms),
                changes: edit.changes.clone(),
            }
        })
        .collect()
}

/// A stable digest of an operation's content, to tell a retry from a reuse
/// of the same (device, sequence) for something else.
pub fn fingerprint(operation: &Operation) -> [u8; 32] {
    fingerprint_with(operation, &changes_json(operation))
}

/// The JSON of an operation's changes (empty if they cannot be encoded).
/// Their form is pinned by a test in `protocol`, so it is stable.
fn changes_json(operation: &Operation) -> String {
    serde_json::to_string(&operation.changes).unwrap_or_default()
}

/// [`fingerprint`], given the changes' JSON from [`changes_json`].
fn fingerprint_with(operation: &Operation, changes_json: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(operation.record_id.as_uuid().as_bytes());
    hasher.update(operation.hlc.to_u64().to_be_bytes());
    if changes_json.is_empty() {
        hasher.update(b"unserialisable");
    } else {
        hasher.update(changes_json.as_bytes());
    }
    hasher.finalize().into()
}

/// What can be worked out about one operation before the backend's push
/// lock, from the operation alone ([`prepare`]): its encoded changes, its
/// fingerprint, and the full check it gets if it turns out to create its
/// record. [`plan_prepared`] uses it when the record is indeed new, so the
/// expensive part of checking an initial push runs outside the lock (and on
/// both cores).
#[derive(Clone, Debug)]
pub struct PreparedOperation {
    changes_json: String,
    fingerprint: [u8; 32],
    as_new: Result<NewRecord, WireError>,
}

/// An operation checked as the first one of a record the server does not hold.
#[derive(Clone, Debug)]
struct NewRecord {
    /// The record's state after the operation (with the timestamp as sent).
    state: RecordState,
    village_code: String,
    /// [`duplicate_keys`] of that state.
    keys: (Option<String>, Option<String>),
}

/// Operations at or above this count are prepared on two threads.
const PARALLEL_PREPARE_FROM: usize = 512;

/// Prepares every operation of a batch ([`PreparedOperation`]), on two
/// threads when the batch is large. Pure: the result depends only on the
/// arguments, so it may run before the push lock is taken.
pub fn prepare(
    device: &DeviceScope,
    operations: &[Operation],
    clock: BatchClock<'_>,
) -> Vec<PreparedOperation> {
    let validation = ValidationContext {
        regions: clock.regions,
        today: clock.now.date(),
        now: clock.now,
    };
    let one = |operation: &Operation| prepare_one(operation, device, &validation);
    if operations.len() < PARALLEL_PREPARE_FROM {
        return operations.iter().map(one).collect();
    }
    let (first, second) = operations.split_at(operations.len() / 2);
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| second.iter().map(one).collect::<Vec<_>>());
        let mut prepared: Vec<PreparedOperation> = first.iter().map(one).collect();
        match helper.join() {
            Ok(rest) => prepared.extend(rest),
            // A panic in the helper would be a bug; prepare its half here.
            Err(_) => prepared.extend(second.iter().map(one)),
        }
        prepared
    })
}

fn prepare_one(
    operation: &Operation,
    device: &DeviceScope,
    validation: &ValidationContext<'_>,
) -> PreparedOperation {
    let changes_json = changes_json(operation);
    let fingerprint = fingerprint_with(operation, &changes_json);
    let as_new = check_new(operation, device, validation);
    PreparedOperation {
        changes_json,
        fingerprint,
        as_new,
    }
}

/// Decides what a batch from `device` does. Never fails: every operation gets a receipt.
pub fn plan_batch(
    device: &DeviceScope,
    operations: &[Operation],
    context: BatchContext,
    clock: BatchClock<'_>,
) -> BatchPlan {
    let prepared = prepare(device, operations, clock);
    plan_prepared(device, operations, prepared, context, clock)
}

/// [`plan_batch`] given [`prepare`]'s result for the same operations, device
/// and clock (prepared before the backend loaded `context`).
pub fn plan_prepared(
    device: &DeviceScope,
    operations: &[Operation],
    prepared: Vec<PreparedOperation>,
    mut context: BatchContext,
    clock: BatchClock<'_>,
) -> BatchPlan {
    let now_ms = unix_ms(clock.now);
    let validation = ValidationContext {
        regions: clock.regions,
        today: clock.now.date(),
        now: clock.now,
    };
    debug_assert_eq!(prepared.len(), operations.len());
    let mut prepared = prepared.into_iter();
    // New records' checked states, by record, until the plan takes them.
    // (Sized up front: growing a map rehashes everything in it.)
    let mut new_states: HashMap<RecordId, NewRecord> = HashMap::with_capacity(operations.len());
    // Duplicate keys of records created by one operation.
    let mut new_keys: HashMap<RecordId, (Option<String>, Option<String>)> =
        HashMap::with_capacity(operations.len());
    let mut plan = BatchPlan {
        last_server_seq: context.last_server_seq,
        receipts: Vec::with_capacity(operations.len()),
        accepted: Vec::with_capacity(operations.len()),
        ..BatchPlan::default()
    };
    let mut seen_in_batch: HashMap<u64, usize> = HashMap::with_capacity(operations.len());
    context.records.reserve(operations.len());
    // NIKs no stored record held before this batch: their persons can be
    // worked out from the batch alone (see `persons`).
    let unheld_before: BTreeSet<Nik> = context
        .nik_holders
        .iter()
        .filter(|(_, holders)| holders.is_empty())
        .map(|(nik, _)| *nik)
        .collect();
    // Per record: whether it was new, its last server sequence, how many
    // operations on it were accepted.
    let mut touched: BTreeMap<RecordId, (bool, u64, u32)> = BTreeMap::new();
    // NIKs held, before or after, by a record that an accepted operation
    // created or changed in a way that can move a person in the counts.
    let mut counted_niks: BTreeSet<Nik> = BTreeSet::new();

    for operation in operations {
        let seq = operation.seq;
        let Some(PreparedOperation {
            changes_json: changes,
            fingerprint: print,
            as_new,
        }) = prepared.next()
        else {
            break;
        };
        let outcome = if operation.device_id != device.device_id {
            // Not remembered: its sequence number is another device's and
            // must not occupy one of the sender's.
            Outcome::Rejected {
                error: WireError::new(
                    ErrorCode::InvalidOperation,
                    "operation belongs to another device",
                    "perubahan ini milik perangkat lain",
                ),
            }
        } else if let Some(known) = context.known.get(&seq) {
            if known.fingerprint != print {
                sequence_reused(seq)
            } else if let Some(error) = &known.rejection {
                Outcome::Rejected {
                    error: error.clone(),
                }
            } else {
                // A retry of an operation whose timestamp was bounded: the
                // answer that said so may have been lost, so say it again.
                Outcome::Duplicate {
                    bounded_hlc: known.hlc.filter(|stored| *stored != operation.hlc),
                }
            }
        } else if let Some(&index) = seen_in_batch.get(&seq) {
            // The same sequence twice in one batch: a retry glued onto itself.
            let first = &operations[index];
            if fingerprint(first) == print {
                Outcome::Duplicate {
                    bounded_hlc: match &plan.receipts[index].outcome {
                        Outcome::Accepted { bounded_hlc } => *bounded_hlc,
                        _ => None,
                    },
                }
            } else {
                sequence_reused(seq)
            }
        } else {
            seen_in_batch.insert(seq, plan.receipts.len());
            let stored_versions = context
                .records
                .get(&operation.record_id)
                .map_or(0, |record| record.state.version_count());
            let checked = if stored_versions == 0 {
                // The first operation of a record the server does not hold:
                // `prepare` checked it as such already.
                as_new.map(|new| {
                    let checked = Checked {
                        village_before: None,
                        village_after: new.village_code.clone(),
                    };
                    new_states.insert(operation.record_id, new);
                    checked
                })
            } else {
                check(operation, device, &context, &validation)
            };
            match checked {
                Err(error) => reject(error, operation, print, &mut plan),
                Ok(checked) => {
                    let mut accepted = operation.clone();
                    let mut bounded_hlc = None;
                    if let Some(bounded) = accepted.hlc.bounded_by(now_ms, MAX_CLOCK_AHEAD_MS) {
                        // Counter 0: ties between this device's bounded
                        // operations are then ordered by their sequence.
                        let bounded = Hlc::new(bounded.wall_ms(), 0).unwrap_or(bounded);
                        accepted.hlc = bounded;
                        bounded_hlc = Some(bounded);
                    }
                    plan.last_server_seq += 1;
                    let server_seq = plan.last_server_seq;
                    let stored = context.records.get(&operation.record_id);
                    let was_new = stored.is_none_or(|record| record.state.version_count() == 0);
                    let nik_before = stored.and_then(|record| current_nik(&record.state));
                    // The versions this operation meets, to tell conflicts.
                    let met: Vec<Option<Version>> = match stored {
                        Some(record) if !was_new => accepted
                            .changes
                            .iter()
                            .map(|change| record.state.history(change.field()).last().cloned())
                            .collect(),
                        _ => Vec::new(),
                    };
                    // A new record's state as `prepare` checked it (the
                    // operation applied), when its timestamp stands.
                    let checked_state = match new_states.remove(&operation.record_id) {
                        Some(new) if was_new => {
                            new_keys.insert(operation.record_id, new.keys);
                            bounded_hlc.is_none().then_some(new.state)
                        }
                        _ => None,
                    };
                    let record = match (context.records.entry(operation.record_id), checked_state) {
                        (Entry::Vacant(entry), Some(state)) => entry.insert(StoredRecord {
                            state,
                            officer_id: None,
                        }),
                        (Entry::Occupied(entry), Some(state)) => {
                            let record = entry.into_mut();
                            record.state = state;
                            record
                        }
                        (entry, None) => {
                            let record = entry.or_default();
                            record.state.apply(&accepted);
                            record
                        }
                    };
                    for (change, previous) in accepted.changes.iter().zip(met) {
                        if let Some(conflict) = conflict_with(
                            &accepted,
                            change,
                            previous,
                            &record.state,
                            context.pulled_seq,
                            &context.version_seqs,
                        ) {
                            plan.conflicts.push(ConflictFound {
                                record_id: operation.record_id,
                                field: change.field(),
                                kept: conflict.0,
                                overwritten: conflict.1,
                                server_seq,
                                village_code: checked.village_after.clone(),
                            });
                        }
                    }
                    if was_new {
                        record.officer_id = Some(device.officer_id);
                    }
                    let nik_after = current_nik(&record.state);
                    if was_new || accepted.changes.iter().any(|c| moves_counts(c.field())) {
                        counted_niks.extend(nik_before);
                        counted_niks.extend(nik_after);
                    }
                    let entry = touched
                        .entry(operation.record_id)
                        .or_insert((was_new, 0, 0));
                    entry.1 = server_seq;
                    entry.2 += 1;
                    if nik_before != nik_after {
                        regroup(
                            operation.record_id,
                            nik_before,
                            nik_after,
                            server_seq,
                            &mut context.nik_holders,
                            &mut plan.duplicate_marks,
                        );
                    }
                    plan.accepted.push(AcceptedOperation {
                        server_seq,
                        operation: accepted,
                        original_hlc: operation.hlc,
                        fingerprint: print,
                        changes_json: changes,
                        village_code: checked.village_after,
                        previous_village_code: checked.village_before,
                    });
                    Outcome::Accepted { bounded_hlc }
                }
            }
        };
        plan.receipts.push(Receipt { seq, outcome });
    }

    for (record_id, (created, updated_seq, n_accepted)) in touched {
        let Some(record) = context.records.remove(&record_id) else {
            continue;
        };
        let village_code = match record.state.current(Field::VillageCode) {
            Some(Change::VillageCode(code)) => code.clone(),
            _ => String::new(),
        };
        let active = match record.state.current(Field::Status) {
            Some(Change::Status(status)) => *status == lindung_shared::registration::Status::Active,
            _ => false,
        };
        let category = match record.state.current(Field::Category) {
            Some(Change::Category(category)) => Some(category.code()),
            _ => None,
        };
        let payer = match record.state.current(Field::Payer) {
            Some(Change::Payer(payer)) => Some(payer.kind.code()),
            _ => None,
        };
        let single_operation = created && n_accepted == 1;
        let (birth_date, name_key) = match new_keys.remove(&record_id) {
            Some(keys) if single_operation => keys,
            _ => duplicate_keys(&record.state),
        };
        plan.records.push(RecordUpdate {
            birth_date,
            name_key,
            record_id,
            category,
            payer,
            nik: current_nik(&record.state),
            state: record.state,
            village_code,
            active,
            officer_id: record.officer_id,
            created,
            updated_seq,
            single_operation,
        });
    }
    plan.unheld_before = unheld_before.intersection(&counted_niks).copied().collect();
    plan.affected_niks = counted_niks;
    plan
}

/// Whether a change of `field` can move a person in the coverage counts:
/// who it is (NIK), where (village), as what (category, payer) and whether
/// it counts (status). A person is counted at the active record with the
/// smallest id among those holding its NIK, so any other edit (a phone
/// number, an RT, a name) leaves every count as it was and costs the
/// upkeep nothing.
fn moves_counts(field: Field) -> bool {
    matches!(
        field,
        Field::Nik | Field::VillageCode | Field::Category | Field::Payer | Field::Status
    )
}

/// Whether `change` of the accepted `operation` met a concurrent value:
/// `(kept, overwritten)`. It did when it lost to another device's value
/// (had its device seen that value, its timestamp would be later), or when
/// it overwrote another device's value stored after what its device had
/// pulled. Equal values are no conflict.
fn conflict_with(
    operation: &Operation,
    change: &Change,
    previous: Option<Version>,
    state: &RecordState,
    pulled_seq: u64,
    version_seqs: &HashMap<OpId, u64>,
) -> Option<(Version, Version)> {
    let field = change.field();
    let current = state.history(field).last()?;
    let mine = Version {
        stamp: operation.stamp(),
        change: change.clone(),
    };
    if current.stamp != mine.stamp {
        // Lost on arrival.
        return (current.stamp.device_id != operation.device_id && current.change != *change)
            .then(|| (current.clone(), mine));
    }
    let previous = previous?;
    let unseen = version_seqs
        .get(&previous.stamp.op_id())
        .is_some_and(|seq| *seq > pulled_seq);
    (previous.stamp.device_id != operation.device_id && unseen && previous.change != *change)
        .then_some((mine, previous))
}

/// What the probable-duplicate search compares of a record: its birth date
/// (`YYYY-MM-DD`) and its name's comparison key, once known.
pub fn duplicate_keys(state: &RecordState) -> (Option<String>, Option<String>) {
    let birth_date = match state.current(Field::BirthDate) {
        Some(Change::BirthDate(date)) => Some(crate::storage::date_text(*date)),
        _ => None,
    };
    let name_key = match state.current(Field::FullName) {
        Some(Change::FullName(name)) => Some(lindung_shared::person_name::name_key(name)),
        _ => None,
    };
    (birth_date, name_key)
}

/// The operations of a plan that were refused, with why.
pub fn refusals(operations: &[Operation], plan: &BatchPlan) -> Vec<(RecordId, WireError)> {
    plan.receipts
        .iter()
        .zip(operations)
        .filter_map(|(receipt, operation)| match &receipt.outcome {
            Outcome::Rejected { error } => Some((operation.record_id, error.clone())),
            _ => None,
        })
        .collect()
}

/// Why a staff action on `what` number `id` cannot be applied: `closed` is
/// `None` when it does not exist, `Some(true)` when it was already closed.
pub fn staleness(what: &str, id: i64, closed: Option<bool>) -> Option<String> {
    match closed {
        None => Some(format!("{what} {id} does not exist")),
        Some(true) => Some(format!("{what} {id} was already closed")),
        Some(false) => None,
    }
}

/// What [`check`] learned about an acceptable operation.
struct Checked {
    village_before: Option<String>,
    village_after: String,
}

fn check(
    operation: &Operation,
    device: &DeviceScope,
    context: &BatchContext,
    validation: &ValidationContext<'_>,
) -> Result<Checked, WireError> {
    operation
        .check_shape()
        .map_err(|problem| WireError::from_problem(ErrorCode::InvalidOperation, &problem))?;
    let stored = context.records.get(&operation.record_id);
    let base = match stored {
        Some(record) if record.state.version_count() > 0 => {
            Some(record.state.to_registration(operation.record_id))
        }
        _ => None,
    };
    let (view, village_before) = match base {
        Some(Ok(mut registration)) => {
            let before = registration.village_code.clone();
            for change in &operation.changes {
                registration.set(change);
            }
            (registration, Some(before))
        }
        Some(Err(_)) | None => {
            // A record the server knows only in part: this operation must
            // complete it.
            let mut state = stored.map(|r| r.state.clone()).unwrap_or_default();
            state.apply(operation);
            (complete(&state, operation.record_id)?, None)
        }
    };
    if let Some(before) = &village_before
        && !device.covers(before)
    {
        return Err(out_of_scope(before));
    }
    if !device.covers(&view.village_code) {
        return Err(out_of_scope(&view.village_code));
    }
    validate_view(&view, validation)?;
    let village_after = view.village_code.clone();
    let village_before = village_before.filter(|before| *before != village_after);
    Ok(Checked {
        village_before,
        village_after,
    })
}

/// [`check`] of an operation on a record the server does not hold: the
/// operation must carry every field. Returns the record's state after it.
fn check_new(
    operation: &Operation,
    device: &DeviceScope,
    validation: &ValidationContext<'_>,
) -> Result<NewRecord, WireError> {
    operation
        .check_shape()
        .map_err(|problem| WireError::from_problem(ErrorCode::InvalidOperation, &problem))?;
    let mut state = RecordState::default();
    state.apply(operation);
    let view = complete(&state, operation.record_id)?;
    if !device.covers(&view.village_code) {
        return Err(out_of_scope(&view.village_code));
    }
    validate_view(&view, validation)?;
    let keys = duplicate_keys(&state);
    Ok(NewRecord {
        state,
        village_code: view.village_code,
        keys,
    })
}

/// The registration a state describes, or why the server cannot take it
/// (fields missing from a record it does not know).
fn complete(state: &RecordState, record_id: RecordId) -> Result<Registration, WireError> {
    state.to_registration(record_id).map_err(|incomplete| {
        let missing: Vec<&str> = incomplete.missing.iter().map(|f| f.as_str()).collect();
        WireError::new(
            ErrorCode::InvalidOperation,
            format!(
                "the server does not know this record and the operation lacks: {}",
                missing.join(", ")
            ),
            format!(
                "server belum mengenal data ini dan perubahan ini tidak memuat: {}",
                missing.join(", ")
            ),
        )
    })
}

fn validate_view(view: &Registration, context: &ValidationContext<'_>) -> Result<(), WireError> {
    let input = RegistrationInput::from_registration(view);
    match validate_registration(&input, context) {
        Ok(_) => Ok(()),
        Err(invalid) => {
            let details = invalid.messages();
            let mut error = match invalid.problems.first() {
                Some(first) => WireError::from_problem(ErrorCode::InvalidValue, first),
                None => WireError::new(
                    ErrorCode::InvalidValue,
                    "invalid registration",
                    "data pendaftaran tidak sah",
                ),
            };
            error.field = invalid
                .problems
                .first()
                .map(|p| p.field.as_str().to_owned());
            error.details = details;
            Err(error)
        }
    }
}

fn out_of_scope(village_code: &str) -> WireError {
    let mut error = WireError::new(
        ErrorCode::OutOfScope,
        format!("village {village_code} is outside the officer's assigned regions"),
        format!("desa/kelurahan {village_code} di luar wilayah tugas petugas"),
    );
    error.field = Some(Field::VillageCode.as_str().to_owned());
    error
}

fn sequence_reused(seq: u64) -> Outcome {
    Outcome::Rejected {
        error: WireError::new(
            ErrorCode::SequenceReused,
            format!(
                "sequence number {seq} of this device was already used for another change \
                 (was the laptop restored from an old backup?)"
            ),
            format!(
                "nomor urut {seq} perangkat ini sudah dipakai untuk perubahan lain \
                 (apakah laptop dipulihkan dari cadangan lama?)"
            ),
        ),
    }
}

fn reject(
    error: WireError,
    operation: &Operation,
    fingerprint: [u8; 32],
    plan: &mut BatchPlan,
) -> Outcome {
    plan.rejected.push(RejectedOperation {
        seq: operation.seq,
        record_id: operation.record_id,
        fingerprint,
        error: error.clone(),
    });
    Outcome::Rejected { error }
}

fn current_nik(state: &RecordState) -> Option<Nik> {
    match state.current(Field::Nik) {
        Some(Change::Nik(nik)) => Some(*nik),
        _ => None,
    }
}

/// Moves `record` from the holders of `before` to those of `after`, marking
/// every record whose group changed.
fn regroup(
    record: RecordId,
    before: Option<Nik>,
    after: Option<Nik>,
    server_seq: u64,
    holders: &mut HashMap<Nik, BTreeSet<RecordId>>,
    marks: &mut BTreeMap<RecordId, u64>,
) {
    if let Some(before) = before
        && let Some(group) = holders.get_mut(&before)
    {
        group.remove(&record);
        if !group.is_empty() {
            marks.insert(record, server_seq);
            for other in group.iter() {
                marks.insert(*other, server_seq);
            }
        }
    }
    if let Some(after) = after {
        let group = holders.entry(after).or_default();
        group.insert(record);
        if group.len() > 1 {
            for member in group.iter() {
                marks.insert(*member, server_seq);
            }
        }
    }
}

/// Unix milliseconds of a time (0 before 1970).
pub fn unix_ms(time: OffsetDateTime) -> u64 {
    u64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// The highest sequence number below which the device's operations are all
/// held, given what was held before and every sequence number held now above it.
pub fn advance_acknowledged(
    mut acknowledged: u64,
    held_above: impl IntoIterator<Item = u64>,
) -> u64 {
    let mut held: Vec<u64> = held_above
        .into_iter()
        .filter(|s| *s > acknowledged)
        .collect();
    held.sort_unstable();
    for seq in held {
        if seq == acknowledged + 1 {
            acknowledged = seq;
        } else if seq > acknowledged + 1 {
            break;
        }
    }
    acknowledged
}

/// The NIKs whose holders the backend must load for a batch: those the
/// operations set, plus those the touched records hold now (loaded by the
/// caller from the records).
pub fn niks_set_by(operations: &[Operation]) -> BTreeSet<Nik> {
    operations
        .iter()
        .flat_map(|op| op.changes.iter())
        .filter_map(|change| match change {
            Change::Nik(nik) => Some(*nik),
            _ => None,
        })
        .collect()
}
