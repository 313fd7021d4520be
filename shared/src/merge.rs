//! The merge rule: how operations from many devices become one state.
//!
//! Every edit anywhere is an [`Operation`]: a set of [`Change`]s to fields of
//! one record, stamped with the device's hybrid-logical-clock time. A replica
//! (the agent's store, the server's store, or an in-memory [`Replica`]) keeps,
//! for every field of every record, the **set of all versions ever written**,
//! ordered by [`Stamp`]. The current value of a field is the greatest version.
//!
//! Because the state is a grow-only set of versions and "current" is a pure
//! function of that set (its maximum), applying operations is:
//! - **commutative**: the order of delivery does not matter;
//! - **associative**: how operations are split into batches does not matter;
//! - **idempotent**: applying an operation again adds nothing;
//!
//! and no overwritten value is ever lost: it stays in the field's history
//! ([`RecordState::history`]). The property tests at the bottom of this file
//! check these laws with five devices editing the same records.
//!
//! Precisely, for a field `f` of record `r`, the current value is the value
//! of the version with the greatest key `(hlc, device_id, seq, value)`,
//! compared lexicographically, over all operations on `r` that change `f`.
//! `(device_id, seq)` identifies an operation, so the `value` component only
//! matters for malformed input (one operation id reused with different
//! content, which the server rejects at ingestion); it keeps the rule
//! deterministic even then.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hlc::Hlc;
use crate::ids::{DeviceId, RecordId};
use crate::lang::{Lang, Problem, Severity};
use crate::registration::{Change, Field, Registration};

/// Identifies an operation everywhere: the device that made it and its
/// position in that device's dense sequence. Receiving the same id twice
/// changes nothing; the same id with different content is a device error
/// (a laptop restored from an old backup) that the server rejects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId {
    /// The device that made the operation.
    pub device_id: DeviceId,
    /// Its sequence number on that device, from 1.
    pub seq: u64,
}

impl std::fmt::Display for OpId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.device_id, self.seq)
    }
}

/// One change to one record, made on one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The device that made the change.
    pub device_id: DeviceId,
    /// Dense per-device sequence number, from 1: lets the server say "I have
    /// everything up to N" and the agent resume from there.
    pub seq: u64,
    /// The record changed.
    pub record_id: RecordId,
    /// When the change was made, by the device's hybrid logical clock.
    pub hlc: Hlc,
    /// The new field values; at least one, at most one per field.
    pub changes: Vec<Change>,
}

impl Operation {
    /// The operation's identity.
    pub fn op_id(&self) -> OpId {
        OpId {
            device_id: self.device_id,
            seq: self.seq,
        }
    }

    /// The ordering key of this operation's versions.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            hlc: self.hlc,
            device_id: self.device_id,
            seq: self.seq,
        }
    }

    /// Checks the shape of the operation (not the field values): at least one
    /// change, no field twice, a sequence number from 1 and a real timestamp.
    pub fn check_shape(&self) -> Result<(), OperationError> {
        if self.changes.is_empty() {
            return Err(OperationError::NoChanges);
        }
        if self.seq == 0 {
            return Err(OperationError::ZeroSequence);
        }
        if self.hlc == Hlc::ZERO {
            return Err(OperationError::ZeroTimestamp);
        }
        let mut seen = Vec::with_capacity(self.changes.len());
        for change in &self.changes {
            let field = change.field();
            if seen.contains(&field) {
                return Err(OperationError::FieldTwice(field));
            }
            seen.push(field);
        }
        Ok(())
    }
}

/// An operation whose shape is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OperationError {
    /// The operation changes nothing.
    #[error("operation has no changes")]
    NoChanges,
    /// Sequence numbers start at 1.
    #[error("operation sequence number is 0; sequence numbers start at 1")]
    ZeroSequence,
    /// The timestamp is zero.
    #[error("operation timestamp is zero")]
    ZeroTimestamp,
    /// One field appears twice.
    #[error("operation changes field {} twice", .0.as_str())]
    FieldTwice(Field),
}

impl Problem for OperationError {
    fn code(&self) -> &'static str {
        match self {
            OperationError::NoChanges => "op_no_changes",
            OperationError::ZeroSequence => "op_zero_sequence",
            OperationError::ZeroTimestamp => "op_zero_timestamp",
            OperationError::FieldTwice(_) => "op_field_twice",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (OperationError::NoChanges, Lang::Id) => "Perubahan tidak berisi data apa pun.".into(),
            (OperationError::ZeroSequence, Lang::Id) => {
                "Nomor urut perubahan 0 tidak sah; nomor urut dimulai dari 1.".into()
            }
            (OperationError::ZeroTimestamp, Lang::Id) => "Waktu perubahan kosong (nol).".into(),
            (OperationError::FieldTwice(field), Lang::Id) => {
                format!(
                    "Kolom {} diubah dua kali dalam satu perubahan.",
                    field.label(Lang::Id)
                )
            }
            (_, Lang::En) => format!("{self}."),
        }
    }
}

/// The ordering key of a version: later `hlc` wins; ties go to the greater
/// device id, then the greater sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// When the change was made.
    pub hlc: Hlc,
    /// Which device made it.
    pub device_id: DeviceId,
    /// Which of that device's operations carried it.
    pub seq: u64,
}

impl Stamp {
    /// The operation that wrote the version.
    pub fn op_id(&self) -> OpId {
        OpId {
            device_id: self.device_id,
            seq: self.seq,
        }
    }
}

/// One value a field had, and the stamp of the operation that wrote it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    /// Who wrote it and when.
    pub stamp: Stamp,
    /// The value written.
    pub change: Change,
}

/// Every version of every field of one record.
///
/// Serialised compactly, as the list of stamps that wrote it, each with the
/// changes it made (the shape of an [`Operation`] without the record id): a
/// record created by one operation stores each stamp once, not once per field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordState {
    /// Per field (at [`Field::index`]), all versions in ascending order; the
    /// last one is current. A fixed array of inline vectors (most fields of
    /// most records have one version, which then costs no allocation of its
    /// own), boxed so that moving a state moves a pointer.
    fields: Box<[FieldVersions; Field::COUNT]>,
}

/// The versions of one field of a record, ascending.
type FieldVersions = smallvec::SmallVec<[Version; 1]>;

/// One stamp and what it wrote, as a [`RecordState`] is serialised.
#[derive(Serialize)]
struct StampedChangesRef<'a> {
    hlc: Hlc,
    device_id: DeviceId,
    seq: u64,
    changes: Vec<&'a Change>,
}

#[derive(Deserialize)]
struct StampedChanges {
    hlc: Hlc,
    device_id: DeviceId,
    seq: u64,
    changes: Vec<Change>,
}

impl Serialize for RecordState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut groups: BTreeMap<Stamp, Vec<&Change>> = BTreeMap::new();
        for versions in self.fields.iter() {
            for version in versions {
                groups
                    .entry(version.stamp)
                    .or_default()
                    .push(&version.change);
            }
        }
        serializer.collect_seq(
            groups
                .into_iter()
                .map(|(stamp, changes)| StampedChangesRef {
                    hlc: stamp.hlc,
                    device_id: stamp.device_id,
                    seq: stamp.seq,
                    changes,
                }),
        )
    }
}

impl<'de> Deserialize<'de> for RecordState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let groups = Vec::<StampedChanges>::deserialize(deserializer)?;
        let mut state = RecordState::default();
        for group in groups {
            let stamp = Stamp {
                hlc: group.hlc,
                device_id: group.device_id,
                seq: group.seq,
            };
            for change in group.changes {
                let versions = &mut state.fields[change.field().index()];
                let version = Version { stamp, change };
                if let Err(position) = versions.binary_search(&version) {
                    versions.insert(position, version);
                }
            }
        }
        Ok(state)
    }
}

/// What applying an operation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Versions that were new to this replica (0 for a duplicate delivery).
    pub new_versions: usize,
    /// Fields whose current value changed.
    pub changed_fields: Vec<Field>,
}

impl Applied {
    /// Whether the operation had already been applied in full.
    pub fn was_duplicate(&self) -> bool {
        self.new_versions == 0
    }
}

impl RecordState {
    /// Applies one operation (whose `record_id` is this record's).
    pub fn apply(&mut self, op: &Operation) -> Applied {
        let stamp = op.stamp();
        let mut applied = Applied::default();
        for change in &op.changes {
            let field = change.field();
            let versions = &mut self.fields[field.index()];
            let version = Version {
                stamp,
                change: change.clone(),
            };
            match versions.binary_search(&version) {
                Ok(_) => {}
                Err(position) => {
                    let becomes_current = position == versions.len();
                    versions.insert(position, version);
                    applied.new_versions += 1;
                    if becomes_current {
                        applied.changed_fields.push(field);
                    }
                }
            }
        }
        applied
    }

    /// Adds every version another replica holds for this record (state-based
    /// merge: the union of both version sets).
    pub fn absorb(&mut self, other: &RecordState) -> Applied {
        let mut applied = Applied::default();
        for (field, theirs) in Field::ALL.iter().zip(other.fields.iter()) {
            if theirs.is_empty() {
                continue;
            }
            let ours = &mut self.fields[field.index()];
            let previous_current = ours.last().cloned();
            for version in theirs {
                if let Err(position) = ours.binary_search(version) {
                    ours.insert(position, version.clone());
                    applied.new_versions += 1;
                }
            }
            if ours.last() != previous_current.as_ref() {
                applied.changed_fields.push(*field);
            }
        }
        applied
    }

    /// The current value of a field, if any operation wrote it.
    pub fn current(&self, field: Field) -> Option<&Change> {
        self.fields[field.index()].last().map(|v| &v.change)
    }

    /// The stamp of a field's current value.
    pub fn current_stamp(&self, field: Field) -> Option<Stamp> {
        self.fields[field.index()].last().map(|v| v.stamp)
    }

    /// Every version a field ever had, oldest first; the last is current.
    pub fn history(&self, field: Field) -> &[Version] {
        &self.fields[field.index()]
    }

    /// Every overwritten version (not current), field by field, oldest first.
    pub fn overwritten(&self) -> impl Iterator<Item = (Field, &Version)> {
        Field::ALL
            .iter()
            .zip(self.fields.iter())
            .flat_map(|(field, versions)| {
                let older = versions.len().saturating_sub(1);
                versions[..older].iter().map(move |v| (*field, v))
            })
    }

    /// Total number of versions held, current and overwritten.
    pub fn version_count(&self) -> usize {
        self.fields.iter().map(|versions| versions.len()).sum()
    }

    /// The registration as it stands, or the fields still missing (an edit
    /// can arrive before the operation that created the record).
    pub fn to_registration(&self, id: RecordId) -> Result<Registration, Incomplete> {
        let mut missing = Vec::new();
        macro_rules! take {
            ($variant:ident) => {
                match self.current(Field::$variant) {
                    Some(Change::$variant(value)) => Some(value.clone()),
                    _ => {
                        missing.push(Field::$variant);
                        None
                    }
                }
            };
        }
        let origin = take!(Origin);
        let nik = take!(Nik);
        let full_name = take!(FullName);
        let birth_date = take!(BirthDate);
        let sex = take!(Sex);
        let village_code = take!(VillageCode);
        let category = take!(Category);
        let programmes = take!(Programmes);
        let monthly_income = take!(MonthlyIncome);
        let payer = take!(Payer);
        let consent = take!(Consent);
        let status = take!(Status);
        let (
            Some(origin),
            Some(nik),
            Some(full_name),
            Some(birth_date),
            Some(sex),
            Some(village_code),
            Some(category),
            Some(programmes),
            Some(monthly_income),
            Some(payer),
            Some(consent),
            Some(status),
        ) = (
            origin,
            nik,
            full_name,
            birth_date,
            sex,
            village_code,
            category,
            programmes,
            monthly_income,
            payer,
            consent,
            status,
        )
        else {
            return Err(Incomplete { id, missing });
        };
        // Optional fields have a natural empty value when never written.
        let phone = match self.current(Field::Phone) {
            Some(Change::Phone(phone)) => phone.clone(),
            _ => None,
        };
        let rt = match self.current(Field::Rt) {
            Some(Change::Rt(rt)) => *rt,
            _ => None,
        };
        let rw = match self.current(Field::Rw) {
            Some(Change::Rw(rw)) => *rw,
            _ => None,
        };
        let address = match self.current(Field::Address) {
            Some(Change::Address(address)) => address.clone(),
            _ => None,
        };
        let confirmed_warnings = match self.current(Field::ConfirmedWarnings) {
            Some(Change::ConfirmedWarnings(codes)) => codes.clone(),
            _ => Vec::new(),
        };
        Ok(Registration {
            id,
            origin,
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
            payer,
            consent,
            status,
            confirmed_warnings,
        })
    }
}

/// A record whose required fields have not all arrived yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {id} is incomplete: missing {}", missing.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "))]
pub struct Incomplete {
    /// The record.
    pub id: RecordId,
    /// The required fields no operation has written yet.
    pub missing: Vec<Field>,
}

/// An in-memory replica: every record's state. The agent and server stores
/// persist the same versions in SQL and apply the same [`RecordState::apply`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replica {
    records: BTreeMap<RecordId, RecordState>,
}

impl Replica {
    /// Applies one operation.
    pub fn apply(&mut self, op: &Operation) -> Applied {
        self.records.entry(op.record_id).or_default().apply(op)
    }

    /// Adds everything another replica holds (the union of both).
    pub fn absorb(&mut self, other: &Replica) {
        for (id, theirs) in &other.records {
            self.records.entry(*id).or_default().absorb(theirs);
        }
    }

    /// The state of one record.
    pub fn record(&self, id: RecordId) -> Option<&RecordState> {
        self.records.get(&id)
    }

    /// All records, by id.
    pub fn records(&self) -> impl Iterator<Item = (RecordId, &RecordState)> {
        self.records.iter().map(|(id, state)| (*id, state))
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the replica holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests;
