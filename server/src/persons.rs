//! Who counts in coverage, kept up to date in the push transaction.
//!
//! A **person** is a NIK with at least one active record. Each person is
//! counted once, at one place: its representative record, the active record
//! with the smallest id (UUIDv7 ids grow with time, so that is normally the
//! first registration). `person_counts` holds, per (village, category,
//! payer), how many persons are represented there, so every region's count
//! is a sum over its villages and the levels add up.
//!
//! After a push writes its records, the backend loads, for every NIK the
//! batch may have changed ([`crate::ingest::BatchPlan::affected_niks`]), the
//! stored person and the current representative, and applies
//! [`changes`]: the person rows to write and the count deltas. `coverage
//! recompute` rebuilds both tables from the records; a test checks that the
//! incremental tables always equal a recompute.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use lindung_shared::nik::Nik;

use crate::ingest::RecordUpdate;

/// Where a person is counted.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// The representative record's village.
    pub village_code: String,
    /// Its category code (`unknown` while missing).
    pub category: String,
    /// Its payer code (`unknown` while missing).
    pub payer: String,
}

/// What to write after a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonChanges {
    /// Persons to store (`Some`) or remove (`None`).
    pub persons: Vec<(Nik, Option<Place>)>,
    /// Count changes per place (never zero).
    pub deltas: BTreeMap<Place, i64>,
}

/// Compares the stored persons with the current representatives of the
/// affected NIKs.
pub fn changes(
    affected: &BTreeSet<Nik>,
    stored: &HashMap<Nik, Place>,
    current: &HashMap<Nik, Place>,
) -> PersonChanges {
    let mut out = PersonChanges::default();
    for nik in affected {
        let before = stored.get(nik);
        let after = current.get(nik);
        if before == after {
            continue;
        }
        if let Some(place) = before {
            *out.deltas.entry(place.clone()).or_default() -= 1;
        }
        if let Some(place) = after {
            *out.deltas.entry(place.clone()).or_default() += 1;
        }
        out.persons.push((*nik, after.cloned()));
    }
    out.deltas.retain(|_, delta| *delta != 0);
    out
}

/// The representatives of NIKs that only records of this batch hold: the
/// active record with the smallest id among `records`, per NIK in `niks`.
pub fn representatives_in_batch(
    records: &[RecordUpdate],
    niks: &BTreeSet<Nik>,
) -> HashMap<Nik, Place> {
    let mut best: HashMap<Nik, &RecordUpdate> = HashMap::new();
    for record in records {
        let Some(nik) = record.nik else { continue };
        if !record.active || !niks.contains(&nik) {
            continue;
        }
        best.entry(nik)
            .and_modify(|current| {
                if record.record_id < current.record_id {
                    *current = record;
                }
            })
            .or_insert(record);
    }
    best.into_iter()
        .map(|(nik, record)| {
            (
                nik,
                Place {
                    village_code: record.village_code.clone(),
                    category: record.category.unwrap_or("unknown").to_owned(),
                    payer: record.payer.unwrap_or("unknown").to_owned(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(village: &str, category: &str) -> Place {
        Place {
            village_code: village.into(),
            category: category.into(),
            payer: "apbd".into(),
        }
    }

    fn nik(serial: u16) -> Nik {
        Nik::from_digits(&format!("131101410190{serial:04}")).expect("digits")
    }

    #[test]
    fn a_person_who_moves_leaves_one_place_and_arrives_at_another() {
        let affected: BTreeSet<Nik> = [nik(1), nik(2), nik(3), nik(4)].into();
        let stored = HashMap::from([
            (nik(1), place("1311012001", "fisherman")),
            (nik(2), place("1311012001", "fisherman")),
            (nik(3), place("1311012002", "rt_head")),
        ]);
        let current = HashMap::from([
            (nik(1), place("1311012002", "fisherman")),
            (nik(2), place("1311012001", "fisherman")),
            (nik(4), place("1311012001", "fisherman")),
        ]);
        let changes = changes(&affected, &stored, &current);
        assert_eq!(
            changes.persons.len(),
            3,
            "the unchanged person is not rewritten"
        );
        assert_eq!(
            changes.deltas,
            BTreeMap::from([
                (place("1311012002", "fisherman"), 1),
                (place("1311012002", "rt_head"), -1),
            ]),
            "one left 2001 and one arrived: 2001 is unchanged"
        );
    }
}
