//! The duplicate-person queue, without I/O: which records are probably or
//! certainly the same person, and what merging them writes.
//!
//! - **Certain**: records holding the same NIK.
//! - **Probable**: active records with different NIKs, the same birth date
//!   and similar names ([`NameKey::is_probable_match`]) in the same district
//!   (the first six digits of the village code). Pairs link into groups.
//!
//! A merge keeps one record (the survivor), copies onto it the values staff
//! chose from the others, and withdraws the others with a reason naming the
//! survivor; undoing it writes back what the merge overwrote
//! ([`crate::ingest::undo_of`]). Both are staff operations, so they sync to
//! the agents and coverage follows.

use std::collections::BTreeMap;

use lindung_shared::ids::RecordId;
use lindung_shared::person_name::NameKey;
use lindung_shared::registration::{Change, Status};

use crate::ingest::StaffEdit;
use crate::storage::{DuplicateCandidate, DuplicateKind};

/// Records that are (probably) the same person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// How sure.
    pub kind: DuplicateKind,
    /// The records, by id.
    pub members: Vec<DuplicateCandidate>,
}

/// Groups of records sharing a NIK (at least two each), by NIK.
pub fn certain_groups(candidates: Vec<DuplicateCandidate>) -> Vec<DuplicateGroup> {
    let mut by_nik: BTreeMap<String, Vec<DuplicateCandidate>> = BTreeMap::new();
    for candidate in candidates {
        if let Some(nik) = candidate.nik {
            by_nik
                .entry(nik.as_str().to_owned())
                .or_default()
                .push(candidate);
        }
    }
    by_nik
        .into_values()
        .filter(|members| members.len() > 1)
        .map(|mut members| {
            members.sort_by_key(|m| m.record_id);
            DuplicateGroup {
                kind: DuplicateKind::Certain,
                members,
            }
        })
        .collect()
}

/// Groups of active records with different NIKs, the same birth date and
/// similar names in the same district.
pub fn probable_groups(candidates: Vec<DuplicateCandidate>) -> Vec<DuplicateGroup> {
    let mut buckets: BTreeMap<(String, String), Vec<DuplicateCandidate>> = BTreeMap::new();
    for candidate in candidates {
        let (Some(birth_date), true) = (&candidate.birth_date, candidate.active) else {
            continue;
        };
        let district: String = candidate.village_code.chars().take(6).collect();
        buckets
            .entry((district, birth_date.clone()))
            .or_default()
            .push(candidate);
    }
    let mut groups = Vec::new();
    for (_, bucket) in buckets {
        if bucket.len() < 2 {
            continue;
        }
        let keys: Vec<NameKey> = bucket
            .iter()
            .map(|c| NameKey::new(c.name_key.as_deref().unwrap_or("")))
            .collect();
        // Union-find over the pairs that match.
        let mut parent: Vec<usize> = (0..bucket.len()).collect();
        fn root(parent: &mut [usize], mut i: usize) -> usize {
            while parent[i] != i {
                parent[i] = parent[parent[i]];
                i = parent[i];
            }
            i
        }
        for i in 0..bucket.len() {
            for j in i + 1..bucket.len() {
                let same_nik = bucket[i].nik.is_some() && bucket[i].nik == bucket[j].nik;
                if !same_nik && keys[i].is_probable_match(&keys[j]) {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
        let mut components: BTreeMap<usize, Vec<DuplicateCandidate>> = BTreeMap::new();
        for (i, candidate) in bucket.into_iter().enumerate() {
            let r = root(&mut parent, i);
            components.entry(r).or_default().push(candidate);
        }
        groups.extend(
            components
                .into_values()
                // A group only of one NIK's records is a certain group, listed there.
                .filter(|members| {
                    members.len() > 1 && members.iter().any(|m| m.nik != members[0].nik)
                })
                .map(|members| DuplicateGroup {
                    kind: DuplicateKind::Probable,
                    members,
                }),
        );
    }
    groups
}

/// Why a merge cannot be made as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeProblem {
    /// The survivor is not one of the records merged.
    #[error("the record to keep must be one of the records merged")]
    SurvivorNotMember,
    /// Fewer than two records.
    #[error("a merge needs at least two records")]
    TooFew,
    /// A value taken from another record would withdraw or re-create it.
    #[error("field {0} cannot be taken from another record")]
    FieldNotTakeable(&'static str),
}

/// The edits of a merge: the survivor gets `taken` (values chosen from the
/// other records), every other member is withdrawn as merged into it.
pub fn merge_edits(
    survivor: RecordId,
    members: &[RecordId],
    taken: Vec<Change>,
) -> Result<Vec<StaffEdit>, MergeProblem> {
    if members.len() < 2 {
        return Err(MergeProblem::TooFew);
    }
    if !members.contains(&survivor) {
        return Err(MergeProblem::SurvivorNotMember);
    }
    if let Some(change) = taken
        .iter()
        .find(|c| matches!(c, Change::Status(_) | Change::Origin(_)))
    {
        return Err(MergeProblem::FieldNotTakeable(change.field().as_str()));
    }
    let mut edits = Vec::with_capacity(members.len());
    if !taken.is_empty() {
        edits.push(StaffEdit {
            record_id: survivor,
            changes: taken,
        });
    }
    edits.extend(
        members
            .iter()
            .filter(|m| **m != survivor)
            .map(|member| StaffEdit {
                record_id: *member,
                changes: vec![Change::Status(Status::Withdrawn {
                    reason: merged_reason(survivor),
                })],
            }),
    );
    Ok(edits)
}

/// The withdrawal reason of a merged record (both languages; agents show it).
pub fn merged_reason(survivor: RecordId) -> String {
    format!("digabung ke {survivor} / merged into {survivor}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;
    use lindung_shared::nik::Nik;
    use uuid::Uuid;

    fn candidate(n: u128, nik: &str, name: &str, birth: &str, village: &str) -> DuplicateCandidate {
        DuplicateCandidate {
            record_id: RecordId(Uuid::from_u128(n)),
            nik: Some(Nik::from_digits(nik).expect("valid NIK")),
            birth_date: Some(birth.into()),
            name_key: Some(lindung_shared::person_name::name_key(name)),
            village_code: village.into(),
            active: true,
        }
    }

    #[test]
    fn the_same_nik_is_a_certain_group() {
        let groups = certain_groups(vec![
            candidate(1, "1311014101900001", "Siti", "1990-01-01", "1311012001"),
            candidate(2, "1311014101900001", "Siti A", "1990-01-01", "1311022001"),
            candidate(3, "1311014101900002", "Rina", "1990-01-01", "1311012001"),
        ]);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].members.len(), 2);
    }

    #[test]
    fn similar_names_born_the_same_day_in_one_district_are_probable() {
        let groups = probable_groups(vec![
            candidate(
                1,
                "1311014101900001",
                "Achmad Fauzi",
                "1990-01-01",
                "1311012001",
            ),
            candidate(
                2,
                "1311014101900002",
                "Ahmad Fauzi",
                "1990-01-01",
                "1311012002",
            ),
            // Same name and day, another district: not compared.
            candidate(
                3,
                "1311014101900003",
                "Ahmad Fauzi",
                "1990-01-01",
                "1311022001",
            ),
            // Same district and day, another name.
            candidate(
                4,
                "1311014101900004",
                "Budi Santoso",
                "1990-01-01",
                "1311012001",
            ),
            // Same district and name, another day.
            candidate(
                5,
                "1311014101900005",
                "Ahmad Fauzi",
                "1990-01-02",
                "1311012001",
            ),
        ]);
        assert_eq!(groups.len(), 1, "{groups:?}");
        let ids: Vec<u128> = groups[0]
            .members
            .iter()
            .map(|m| m.record_id.0.as_u128())
            .collect();
        assert_eq!(ids, vec![1, 2]);
    }

    #[test]
    fn a_merge_withdraws_the_others_and_keeps_the_chosen_values() {
        let keep = RecordId(Uuid::from_u128(1));
        let other = RecordId(Uuid::from_u128(2));
        let edits = merge_edits(keep, &[keep, other], vec![Change::Rt(Some(3))]).expect("valid");
        assert_eq!(edits.len(), 2);
        assert_eq!(edits[0].record_id, keep);
        assert_eq!(
            edits[1].changes,
            vec![Change::Status(Status::Withdrawn {
                reason: merged_reason(keep)
            })]
        );
        assert_eq!(
            merge_edits(RecordId(Uuid::from_u128(9)), &[keep, other], vec![]),
            Err(MergeProblem::SurvivorNotMember)
        );
        assert_eq!(
            merge_edits(keep, &[keep], vec![]),
            Err(MergeProblem::TooFew)
        );
    }
}
