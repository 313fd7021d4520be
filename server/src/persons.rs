//! Who counts in coverage, kept up to date in the push transaction.
//!
//! A **person** is a NIK with at least one active record. Each person is
//! counted once, at one place: its representative record, the active record
//! with the smallest id (UUIDv7 ids grow with time, so that is normally the
//! first registration). `person_counts` holds, per (village, category,
//! payer), how many persons are represented there, so every region's count
//! is a sum over its villages and the levels add up. Persons are not stored
//! one by one: the records are the truth, and the representative of a NIK is
//! an index lookup away (`records` by NIK).
//!
//! Before a push writes its records, the backend reads, for every NIK the
//! batch may have changed ([`crate::ingest::BatchPlan::affected_niks`]) that
//! some stored record already held, its representative (the person as
//! counted so far); after the writes, the current representatives; and
//! applies [`changes`]: the count deltas. A NIK no stored record held (most
//! registrations) costs no read at all. `coverage recompute` rebuilds the
//! tables from the records ([`Recount`]); a test checks that the
//! incremental tables always equal a recompute.
//!
//! So that a national drill-down reads a few hundred rows, not a row per
//! village, the counts are also rolled up to the country, provinces and
//! regencies ([`ROLLUP_LENGTHS`]): `region_counts` per (region,
//! category, payer) and `region_days` per (region, day a person was first
//! counted: the representative record's first-stored UTC day), the latter
//! being the registration pace. Villages and districts read `person_counts`,
//! and their pace counts the representative records first stored since the
//! day asked (`records` by village and first-stored time).

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
    /// Adds another batch's changes to these (the counts are sums, so the
    /// changes of batches applied one after the other add up), keeping no
    /// zero entries: what a group of pushes writes once.
    pub fn add(&mut self, other: PersonChanges) {
        fn add_into<K: Ord>(into: &mut BTreeMap<K, i64>, from: BTreeMap<K, i64>) {
            for (key, delta) in from {
                *into.entry(key).or_default() += delta;
            }
            into.retain(|_, delta| *delta != 0);
        }
        add_into(&mut self.deltas, other.deltas);
        add_into(&mut self.region_deltas, other.region_deltas);
        add_into(&mut self.day_deltas, other.day_deltas);
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.deltas.is_empty() && self.region_deltas.is_empty() && self.day_deltas.is_empty()
    }

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

/// Compares the persons as counted before a batch with the current representatives of the
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
/// A rebuild counts millions of persons in random village order, so
/// counting one touches two hash tables whose keys are plain numbers (no
/// string to follow into memory, nothing allocated for a place seen
/// before): region codes become [`CodeKeys`], categories and payers small
/// numbers.
#[derive(Debug, Default)]
pub struct Tally {
    keys: CodeKeys,
    /// Category and payer codes, numbered in order of appearance.
    labels: Vec<Box<str>>,
    /// The same, [`packed`].
    packed_labels: Vec<u128>,
    /// (village, category, payer) → persons.
    places: foldhash::HashMap<(u64, u32, u32), u64>,
    /// (longest rolled-up code, day) → persons first counted that day.
    days: foldhash::HashMap<(u64, i64), u64>,
    /// The code of every key used.
    codes: foldhash::HashMap<u64, Box<str>>,
    persons: u64,
}

/// Numbers region codes without allocating: a code of at most 17 digits
/// is its value and length; any other code gets a number of its own (the
/// top bit set) when first seen.
#[derive(Debug, Default)]
struct CodeKeys {
    other: foldhash::HashMap<Box<str>, u64>,
}

/// Adds `persons` to `key`'s count; whether the key was new.
fn add_to<K: std::hash::Hash + Eq>(
    counts: &mut foldhash::HashMap<K, u64>,
    key: K,
    persons: u64,
) -> bool {
    use std::collections::hash_map::Entry;
    match counts.entry(key) {
        Entry::Occupied(mut entry) => {
            *entry.get_mut() += persons;
            false
        }
        Entry::Vacant(entry) => {
            entry.insert(persons);
            true
        }
    }
}

/// A code of at most 15 bytes as one integer (its bytes and its length),
/// so equal codes are equal integers; 0 for longer codes.
fn packed(code: &str) -> u128 {
    let bytes = code.as_bytes();
    if bytes.len() > 15 {
        return 0;
    }
    let mut buffer = [0u8; 16];
    buffer[..bytes.len()].copy_from_slice(bytes);
    buffer[15] = bytes.len() as u8 + 1;
    u128::from_le_bytes(buffer)
}

/// A code of at most 17 digits as one integer (its value and length, so
/// "01" and "1" differ), below 2^63; `None` for any other code.
fn numeric_key(code: &str) -> Option<u64> {
    if code.len() <= 17 && code.bytes().all(|b| b.is_ascii_digit()) {
        let value = code
            .bytes()
            .fold(0u64, |value, b| value * 10 + u64::from(b - b'0'));
        return Some(value * 32 + code.len() as u64);
    }
    None
}

impl CodeKeys {
    fn key(&mut self, code: &str) -> u64 {
        if let Some(key) = numeric_key(code) {
            return key;
        }
        if let Some(key) = self.other.get(code) {
            return *key;
        }
        let key = (1 << 63) | self.other.len() as u64;
        self.other.insert(code.into(), key);
        key
    }
}

impl Tally {
    /// Counts one person.
    pub fn add(&mut self, person: &Person) {
        self.count(
            &person.place.village_code,
            &person.place.category,
            &person.place.payer,
            person.first_day,
        );
    }

    /// Counts one person at `village_code`, `category` and `payer`, first
    /// counted on `first_day`.
    pub fn count(&mut self, village_code: &str, category: &str, payer: &str, first_day: i64) {
        self.persons += 1;
        self.add_place(village_code, category, payer, 1);
        let rollup_code = rollup_codes(village_code).last().unwrap_or_default();
        self.add_day(rollup_code, first_day, 1);
    }

    /// Adds another tally's counts (a rebuild that scanned in parallel).
    pub fn merge(&mut self, other: &Tally) {
        self.persons += other.persons;
        for ((village, category, payer), persons) in &other.places {
            let category = other.label_str(*category);
            let payer = other.label_str(*payer);
            self.add_place(other.code_of(*village), category, payer, *persons);
        }
        for ((rollup, day), persons) in &other.days {
            self.add_day(other.code_of(*rollup), *day, *persons);
        }
    }

    fn add_place(&mut self, village_code: &str, category: &str, payer: &str, persons: u64) {
        let category = self.label(category);
        let payer = self.label(payer);
        let village = self.keys.key(village_code);
        if add_to(&mut self.places, (village, category, payer), persons) {
            self.codes
                .entry(village)
                .or_insert_with(|| village_code.into());
        }
    }

    fn add_day(&mut self, rollup_code: &str, day: i64, persons: u64) {
        let rollup = self.keys.key(rollup_code);
        if add_to(&mut self.days, (rollup, day), persons) {
            self.codes
                .entry(rollup)
                .or_insert_with(|| rollup_code.into());
        }
    }

    fn label_str(&self, index: u32) -> &str {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.labels.get(index))
            .map_or("", |label| label)
    }

    /// The number of a category or payer code (a handful exist). Codes
    /// are compared as [`packed`] integers, not strings: this runs twice
    /// per person.
    fn label(&mut self, code: &str) -> u32 {
        let packed = packed(code);
        let found =
            self.labels
                .iter()
                .zip(&self.packed_labels)
                .position(|(label, label_packed)| {
                    *label_packed == packed && (packed != 0 || **label == *code)
                });
        let index = match found {
            Some(index) => index,
            None => {
                self.labels.push(code.into());
                self.packed_labels.push(packed);
                self.labels.len() - 1
            }
        };
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    fn code_of(&self, key: u64) -> &str {
        self.codes.get(&key).map_or("", |code| code)
    }

    fn label_of(&self, index: u32) -> String {
        self.label_str(index).to_owned()
    }

    /// How many persons were counted.
    pub fn persons(&self) -> u64 {
        self.persons
    }

    /// Persons per village place (`person_counts`), sorted (so a table
    /// keyed by place is written in key order).
    pub fn villages(&self) -> Vec<(Place, u64)> {
        let mut villages: Vec<(Place, u64)> = self
            .places
            .iter()
            .map(|((village, category, payer), persons)| {
                (
                    Place {
                        village_code: self.code_of(*village).to_owned(),
                        category: self.label_of(*category),
                        payer: self.label_of(*payer),
                    },
                    *persons,
                )
            })
            .collect();
        villages.sort_unstable();
        villages
    }

    /// Persons per rolled-up region, category and payer (`region_counts`).
    pub fn regions(&self) -> BTreeMap<Place, u64> {
        let mut summed: HashMap<(&str, u32, u32), u64> = HashMap::new();
        for ((village, category, payer), persons) in &self.places {
            for code in rollup_codes(self.code_of(*village)) {
                *summed.entry((code, *category, *payer)).or_default() += persons;
            }
        }
        summed
            .into_iter()
            .map(|((code, category, payer), persons)| {
                (
                    Place {
                        village_code: code.to_owned(),
                        category: self.label_of(category),
                        payer: self.label_of(payer),
                    },
                    persons,
                )
            })
            .collect()
    }

    /// Persons first counted per rolled-up region and day (`region_days`).
    pub fn days(&self) -> BTreeMap<(String, i64), u64> {
        let mut summed: HashMap<(&str, i64), u64> = HashMap::new();
        for ((rollup, day), persons) in &self.days {
            // The longest rolled-up code of its villages: itself and its
            // shorter prefixes are all of them.
            let rollup_code = self.code_of(*rollup);
            let codes = ROLLUP_LENGTHS
                .into_iter()
                .filter_map(|length| rollup_code.get(..length));
            for code in codes {
                *summed.entry((code, *day)).or_default() += persons;
            }
        }
        summed
            .into_iter()
            .map(|((code, day), persons)| ((code.to_owned(), day), persons))
            .collect()
    }
}

/// An active record with a NIK, as a rebuild reads it.
#[derive(Clone, Copy, Debug)]
pub struct CountedRecord<'a> {
    /// The record's NIK.
    pub nik: &'a str,
    /// Its id (the representative is the smallest, compared as stored).
    pub id: &'a str,
    /// Its village.
    pub village_code: &'a str,
    /// Its category code, if any.
    pub category: Option<&'a str>,
    /// Its payer code, if any.
    pub payer: Option<&'a str>,
    /// When the server first stored it (Unix milliseconds), if known.
    pub created_ms: Option<i64>,
}

/// A rebuild of the coverage tables in one pass over the active records
/// with a NIK, in any order. The backend first lists the NIKs that more
/// than one record holds (an index-only query); every other record is its
/// NIK's only one and so its representative, counted at once. Records of
/// shared NIKs wait until the pass is over, keeping the one with the
/// smallest id. Memory grows with the shared NIKs, not with the records.
#[derive(Debug, Default)]
pub struct Recount {
    /// Shared NIKs as [`numeric_key`]s (every valid NIK is one).
    shared: foldhash::HashSet<u64>,
    /// Shared NIKs that are not numbers (none, unless the store holds
    /// something no check let through).
    shared_other: foldhash::HashSet<Box<str>>,
    contested: foldhash::HashMap<Box<str>, (Box<str>, Person)>,
    tally: Tally,
}

impl Recount {
    /// A rebuild where `shared_niks` are the NIKs held by more than one
    /// record (active or not; a superset is fine).
    pub fn new(shared_niks: impl IntoIterator<Item = Box<str>>) -> Self {
        let mut recount = Recount::default();
        for nik in shared_niks {
            match numeric_key(&nik) {
                Some(key) => recount.shared.insert(key),
                None => recount.shared_other.insert(nik),
            };
        }
        recount
    }

    fn is_shared(&self, nik: &str) -> bool {
        match numeric_key(nik) {
            Some(key) => self.shared.contains(&key),
            None => self.shared_other.contains(nik),
        }
    }

    /// Counts one active record with a NIK.
    pub fn add(&mut self, record: CountedRecord<'_>) {
        let category = record.category.unwrap_or("unknown");
        let payer = record.payer.unwrap_or("unknown");
        let first_day = day_of(record.created_ms.unwrap_or(0));
        if !self.is_shared(record.nik) {
            self.tally
                .count(record.village_code, category, payer, first_day);
            return;
        }
        if let Some((id, _)) = self.contested.get(record.nik)
            && **id <= *record.id
        {
            return;
        }
        self.contested.insert(
            record.nik.into(),
            (
                record.id.into(),
                Person {
                    place: Place {
                        village_code: record.village_code.to_owned(),
                        category: category.to_owned(),
                        payer: payer.to_owned(),
                    },
                    first_day,
                },
            ),
        );
    }

    /// An empty rebuild with the same shared NIKs, for another thread's
    /// part of the records ([`Recount::merge`] it back).
    pub fn part(&self) -> Recount {
        Recount {
            shared: self.shared.clone(),
            shared_other: self.shared_other.clone(),
            ..Recount::default()
        }
    }

    /// Adds a [`Recount::part`] that counted other records.
    pub fn merge(&mut self, other: Recount) {
        self.tally.merge(&other.tally);
        for (nik, (id, person)) in other.contested {
            let keep = self
                .contested
                .get(&nik)
                .is_some_and(|(kept, _)| **kept <= *id);
            if !keep {
                self.contested.insert(nik, (id, person));
            }
        }
    }

    /// The counts, once every record was added.
    pub fn finish(mut self) -> Tally {
        for (_, person) in self.contested.values() {
            self.tally.add(person);
        }
        self.tally
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
    fn changes_of_consecutive_batches_add_up_to_the_changes_of_both() {
        // Batch 1 registers a person; batch 2 moves them to another village.
        let affected: BTreeSet<Nik> = [nik(1)].into();
        let nobody = HashMap::new();
        let first_place = HashMap::from([(nik(1), person("1311012001", "fisherman", 100))]);
        let second_place = HashMap::from([(nik(1), person("1311012002", "fisherman", 100))]);
        let mut group = changes(&affected, &nobody, &first_place);
        group.add(changes(&affected, &first_place, &second_place));
        assert_eq!(group, changes(&affected, &nobody, &second_place));
        // The first village is back to zero and not written at all.
        assert!(!group.deltas.contains_key(&place("1311012001", "fisherman")));
        // Registering and withdrawing in one group leaves nothing to write.
        let mut undone = changes(&affected, &nobody, &first_place);
        undone.add(changes(&affected, &first_place, &nobody));
        assert!(undone.is_empty());
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
        tally.add(&person("1311012001", "fisherman", 100));
        tally.add(&person("1311012002", "fisherman", 100));
        tally.add(&person("1311022001", "rt_head", 101));
        tally.add(&person("1371011001", "rt_head", 101));
        tally.add(&person("1371011001", "rt_head", 102));
        assert_eq!(tally.persons(), 5);
        let villages: BTreeMap<Place, u64> = tally.villages().into_iter().collect();
        assert_eq!(villages.len(), 4);
        assert_eq!(villages.get(&place("1371011001", "rt_head")), Some(&2));
        let regions = tally.regions();
        assert_eq!(regions.get(&place("", "fisherman")), Some(&2));
        assert_eq!(regions.get(&place("", "rt_head")), Some(&3));
        assert_eq!(regions.get(&place("13", "rt_head")), Some(&3));
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
        assert_eq!(day("1371", 102), Some(1));
        assert_eq!(days.len(), 3 + 3 + 4, "country, province, regencies");
    }

    #[test]
    fn codes_get_keys_and_labels_of_their_own() {
        let mut keys = CodeKeys::default();
        let codes = [
            "",
            "0",
            "00",
            "1",
            "01",
            "1311012001",
            "13.11",
            "x",
            "99999999999999999",
        ];
        let numbered: HashMap<u64, &str> =
            codes.iter().map(|code| (keys.key(code), *code)).collect();
        assert_eq!(numbered.len(), codes.len(), "every code has its own key");
        assert_eq!(keys.key("13.11"), keys.key("13.11"));
        let mut tally = Tally::default();
        let long = "a_category_longer_than_fifteen_bytes";
        let other_long = "a_category_longer_than_fifteen_bytez";
        for category in ["rt", "rt_head", long, other_long, "rt", long] {
            tally.count("1311012001", category, "apbd", 1);
        }
        let villages: BTreeMap<String, u64> = tally
            .villages()
            .into_iter()
            .map(|(place, persons)| (place.category, persons))
            .collect();
        assert_eq!(
            villages,
            BTreeMap::from([
                ("rt".to_owned(), 2),
                ("rt_head".to_owned(), 1),
                (long.to_owned(), 2),
                (other_long.to_owned(), 1),
            ])
        );
    }

    #[test]
    fn a_recount_counts_a_shared_nik_once_at_its_smallest_id() {
        let record = |nik: &'static str, id: &'static str, village: &'static str| CountedRecord {
            nik,
            id,
            village_code: village,
            category: Some("fisherman"),
            payer: None,
            created_ms: Some(100 * DAY_MS + 5),
        };
        let shared = [
            Box::<str>::from("1311014101900002"),
            Box::<str>::from("x-1"),
        ];
        let mut recount = Recount::new(shared);
        recount.add(record("1311014101900001", "0193-b", "1311012001"));
        // The same person registered three times, the first one last.
        recount.add(record("1311014101900002", "0193-c", "1311012002"));
        recount.add(record("1311014101900002", "0193-a", "1311022001"));
        recount.add(record("1311014101900002", "0193-d", "1311012002"));
        // Not a number: held by two records all the same.
        recount.add(record("x-1", "0193-f", "1311012002"));
        recount.add(record("x-1", "0193-e", "1311012001"));
        let tally = recount.finish();
        assert_eq!(tally.persons(), 3);
        let villages: BTreeMap<Place, u64> = tally.villages().into_iter().collect();
        let at = |village: &str| Place {
            village_code: village.into(),
            category: "fisherman".into(),
            payer: "unknown".into(),
        };
        assert_eq!(
            villages,
            BTreeMap::from([(at("1311012001"), 2), (at("1311022001"), 1)]),
            "a shared NIK counts once, where its smallest id is"
        );
        assert_eq!(tally.days().get(&(String::new(), 100)), Some(&3));
    }

    #[test]
    fn a_recount_in_parts_equals_one_in_a_single_pass() {
        let records: Vec<(String, String, String, &str, i64)> = (0..60u32)
            .map(|i| {
                (
                    format!("13110141019{:05}", i % 23),
                    format!("0193-{:03}", (i * 37) % 60),
                    format!("13110{}200{}", 1 + i % 2, i % 5),
                    ["rt_head", "fisherman", "a_category_longer_than_fifteen"][i as usize % 3],
                    i64::from(i % 7) * DAY_MS,
                )
            })
            .collect();
        let shared: Vec<Box<str>> = (0..23u32)
            .map(|i| format!("13110141019{i:05}").into())
            .collect();
        let add = |recount: &mut Recount, slice: &[(String, String, String, &str, i64)]| {
            for (nik, id, village, category, created_ms) in slice {
                recount.add(CountedRecord {
                    nik,
                    id,
                    village_code: village,
                    category: Some(category),
                    payer: None,
                    created_ms: Some(*created_ms),
                });
            }
        };
        let mut whole = Recount::new(shared.clone());
        add(&mut whole, &records);
        let whole = whole.finish();
        let mut first = Recount::new(shared);
        let mut second = first.part();
        add(&mut first, &records[..25]);
        add(&mut second, &records[25..]);
        first.merge(second);
        let merged = first.finish();
        assert_eq!(merged.persons(), 23);
        assert_eq!(merged.villages(), whole.villages());
        assert_eq!(merged.regions(), whole.regions());
        assert_eq!(merged.days(), whole.days());
    }
}
