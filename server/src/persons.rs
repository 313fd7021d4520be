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
//! recompute` rebuilds the tables from the records; a test checks that the
//! incremental tables always equal a recompute.
//!
//! So that a national drill-down reads a few hundred rows, not a row per
//! village, the counts are also rolled up to the country, provinces and
//! regencies ([`ROLLUP_LENGTHS`]): `region_counts` per (region,
//! category, payer) and `region_days` per (region, day a person was first
//! counted: the representative record's first-stored UTC day), the latter
//! being the registration pace. Villages read `person_counts` and `persons`.

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

impl Place {
    /// The same category and payer in the region `code` (a prefix of the village).
    fn in_region(&self, code: &str) -> Place {
        Place {
            village_code: code.to_owned(),
            category: self.category.clone(),
            payer: self.payer.clone(),
        }
    }
}

/// Milliseconds in a day: a person's first day is its representative
/// record's first-stored time divided by this (UTC days since 1970).
pub const DAY_MS: i64 = 86_400_000;

/// The UTC day (days since 1970-01-01) of a Unix-milliseconds time.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Region code lengths whose counts are rolled up: the country (""),
/// provinces and regencies. A region code's length is its level in
/// `region_counts` and `region_days`. Districts and villages are summed
/// from their villages when asked (a regency has at most about a thousand
/// villages, an index range away), which keeps a push's upkeep small: a
/// batch touches far more districts than regencies.
pub const ROLLUP_LENGTHS: [usize; 3] = [0, 2, 4];

/// The rolled-up regions a village belongs to: the country, its province
/// and regency (shorter codes are skipped).
fn rollup_codes(village_code: &str) -> impl Iterator<Item = &str> {
    ROLLUP_LENGTHS
        .into_iter()
        .filter(move |length| *length == 0 || *length < village_code.len())
        .filter_map(move |length| village_code.get(..length))
}

/// A person as counted: where, and since which day.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Person {
    /// The representative record's village, category and payer.
    pub place: Place,
    /// The UTC day the representative record was first stored ([`day_of`]).
    pub first_day: i64,
}

/// What to write after a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonChanges {
    /// Persons to store (`Some`) or remove (`None`).
    pub persons: Vec<(Nik, Option<Person>)>,
    /// Count changes per village place (`person_counts`; never zero).
    pub deltas: BTreeMap<Place, i64>,
    /// Count changes per rolled-up region, category and payer
    /// (`region_counts`; the place's code is the region's; never zero).
    pub region_deltas: BTreeMap<Place, i64>,
    /// Changes of persons first counted per (rolled-up region, day)
    /// (`region_days`; never zero).
    pub day_deltas: BTreeMap<(String, i64), i64>,
}

impl PersonChanges {
    fn count(&mut self, person: &Person, delta: i64) {
        *self.deltas.entry(person.place.clone()).or_default() += delta;
        for code in rollup_codes(&person.place.village_code) {
            *self
                .region_deltas
                .entry(person.place.in_region(code))
                .or_default() += delta;
            *self
                .day_deltas
                .entry((code.to_owned(), person.first_day))
                .or_default() += delta;
        }
    }
}

/// Compares the stored persons with the current representatives of the
/// affected NIKs.
pub fn changes(
    affected: &BTreeSet<Nik>,
    stored: &HashMap<Nik, Person>,
    current: &HashMap<Nik, Person>,
) -> PersonChanges {
    let mut out = PersonChanges::default();
    for nik in affected {
        let before = stored.get(nik);
        let after = current.get(nik);
        if before == after {
            continue;
        }
        if let Some(person) = before {
            out.count(person, -1);
        }
        if let Some(person) = after {
            out.count(person, 1);
        }
        out.persons.push((*nik, after.cloned()));
    }
    out.deltas.retain(|_, delta| *delta != 0);
    out.region_deltas.retain(|_, delta| *delta != 0);
    out.day_deltas.retain(|_, delta| *delta != 0);
    out
}

/// The representatives of NIKs that only records of this batch hold: the
/// active record with the smallest id among `records`, per NIK in `niks`,
/// first counted on `today` (records new to the server are first stored
/// now). The second set holds the NIKs whose best record was already
/// stored (a NIK corrected to one no record held): the backend reads those
/// from the store, which knows when the record was first stored.
pub fn representatives_in_batch(
    records: &[RecordUpdate],
    niks: &BTreeSet<Nik>,
    today: i64,
) -> (HashMap<Nik, Person>, BTreeSet<Nik>) {
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
    let mut found = HashMap::new();
    let mut to_read = BTreeSet::new();
    for (nik, record) in best {
        if !record.created {
            to_read.insert(nik);
            continue;
        }
        found.insert(
            nik,
            Person {
                place: Place {
                    village_code: record.village_code.clone(),
                    category: record.category.unwrap_or("unknown").to_owned(),
                    payer: record.payer.unwrap_or("unknown").to_owned(),
                },
                first_day: today,
            },
        );
    }
    (found, to_read)
}

/// The coverage tables built from scratch, one person at a time (`coverage
/// recompute`): village counts, and the rolled-up region counts and days.
#[derive(Debug, Default)]
pub struct Tally {
    villages: HashMap<Place, u64>,
    /// Persons first counted per (longest rolled-up code, day).
    rollup_days: HashMap<String, HashMap<i64, u64>>,
    persons: u64,
}

impl Tally {
    /// Counts one person.
    pub fn add(&mut self, person: Person) {
        self.persons += 1;
        let district = rollup_codes(&person.place.village_code)
            .last()
            .unwrap_or_default();
        match self.rollup_days.get_mut(district) {
            Some(days) => *days.entry(person.first_day).or_default() += 1,
            None => {
                self.rollup_days
                    .insert(district.to_owned(), HashMap::from([(person.first_day, 1)]));
            }
        }
        *self.villages.entry(person.place).or_default() += 1;
    }

    /// How many persons were counted.
    pub fn persons(&self) -> u64 {
        self.persons
    }

    /// Persons per village place (`person_counts`).
    pub fn villages(&self) -> &HashMap<Place, u64> {
        &self.villages
    }

    /// Persons per rolled-up region, category and payer (`region_counts`).
    pub fn regions(&self) -> BTreeMap<Place, u64> {
        let mut out = BTreeMap::new();
        for (place, persons) in &self.villages {
            for code in rollup_codes(&place.village_code) {
                *out.entry(place.in_region(code)).or_default() += persons;
            }
        }
        out
    }

    /// Persons first counted per rolled-up region and day (`region_days`).
    pub fn days(&self) -> BTreeMap<(String, i64), u64> {
        let mut out = BTreeMap::new();
        for (district, days) in &self.rollup_days {
            // `district` is the longest rolled-up code of its villages:
            // itself and its shorter prefixes are all of them.
            let codes = ROLLUP_LENGTHS
                .into_iter()
                .filter_map(|length| district.get(..length));
            for code in codes {
                for (day, persons) in days {
                    *out.entry((code.to_owned(), *day)).or_default() += persons;
                }
            }
        }
        out
    }
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

    fn person(village: &str, category: &str, first_day: i64) -> Person {
        Person {
            place: place(village, category),
            first_day,
        }
    }

    fn nik(serial: u16) -> Nik {
        Nik::from_digits(&format!("131101410190{serial:04}")).expect("digits")
    }

    #[test]
    fn a_person_who_moves_leaves_one_place_and_arrives_at_another() {
        let affected: BTreeSet<Nik> = [nik(1), nik(2), nik(3), nik(4)].into();
        let stored = HashMap::from([
            (nik(1), person("1311012001", "fisherman", 100)),
            (nik(2), person("1311012001", "fisherman", 100)),
            (nik(3), person("1311012002", "rt_head", 100)),
        ]);
        let current = HashMap::from([
            (nik(1), person("1311012002", "fisherman", 100)),
            (nik(2), person("1311012001", "fisherman", 100)),
            (nik(4), person("1311012001", "fisherman", 130)),
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
        // Every level above the villages: one fisherman more, one RT head less.
        for code in ["", "13", "1311"] {
            assert_eq!(
                changes.region_deltas.get(&place(code, "fisherman")),
                Some(&1)
            );
            assert_eq!(
                changes.region_deltas.get(&place(code, "rt_head")),
                Some(&-1)
            );
            // Day 100 lost one person (nik 3) and day 130 gained one (nik 4).
            assert_eq!(changes.day_deltas.get(&(code.to_owned(), 100)), Some(&-1));
            assert_eq!(changes.day_deltas.get(&(code.to_owned(), 130)), Some(&1));
        }
        assert_eq!(changes.region_deltas.len(), 6);
        assert_eq!(changes.day_deltas.len(), 6);
    }

    #[test]
    fn a_tally_rolls_villages_up_to_every_level() {
        let mut tally = Tally::default();
        tally.add(person("1311012001", "fisherman", 100));
        tally.add(person("1311012002", "fisherman", 100));
        tally.add(person("1311022001", "rt_head", 101));
        tally.add(person("1371011001", "rt_head", 101));
        assert_eq!(tally.persons(), 4);
        assert_eq!(tally.villages().len(), 4);
        let regions = tally.regions();
        assert_eq!(regions.get(&place("", "fisherman")), Some(&2));
        assert_eq!(regions.get(&place("", "rt_head")), Some(&2));
        assert_eq!(regions.get(&place("13", "rt_head")), Some(&2));
        assert_eq!(regions.get(&place("1311", "rt_head")), Some(&1));
        assert_eq!(regions.get(&place("1311", "fisherman")), Some(&2));
        assert_eq!(
            regions.get(&place("131101", "fisherman")),
            None,
            "districts are not rolled up"
        );
        let days = tally.days();
        let day = |code: &str, day: i64| days.get(&(code.to_owned(), day)).copied();
        assert_eq!(day("", 100), Some(2));
        assert_eq!(day("", 101), Some(2));
        assert_eq!(day("1311", 101), Some(1));
        assert_eq!(day("1311", 100), Some(2));
        assert_eq!(day("1371", 101), Some(1));
        assert_eq!(days.len(), 2 + 2 + 3, "country, province, regencies");
    }
}
