//! Benchmarks of the pure core, printed as figures for BENCHMARKS.md.
//!
//! `cargo bench -p lindung-shared --bench core` (add `-- --quick` for a smoke run).
//! A plain timing harness (no criterion): each figure is measured over many
//! iterations after a warm-up and printed with its unit, so the output can be
//! pasted into BENCHMARKS.md as it is.

use std::hint::black_box;
use std::time::{Duration, Instant};

use lindung_shared::hlc::{Hlc, HlcClock};
use lindung_shared::ids::{DeviceId, RecordId};
use lindung_shared::merge::{Operation, Replica};
use lindung_shared::nik::validate_nik;
use lindung_shared::person_name::{NameKey, is_probable_match};
use lindung_shared::region::{Level, SearchOptions, regions};
use lindung_shared::registration::{Category, Change, Status};
use time::macros::date;
use uuid::Uuid;

/// A small deterministic generator (SplitMix64), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // The modulo bias is irrelevant for a benchmark workload.
        (self.next() % n as u64) as usize
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 20 } else { 1 };
    println!(
        "lindung-shared core benchmarks{}",
        if quick { " (quick)" } else { "" }
    );

    // --- Region index: first use decodes the embedded data.
    let started = Instant::now();
    let index = regions();
    let decode = started.elapsed();
    let counts = index.counts();
    println!(
        "region index decode (first use): {:.1} ms for {} villages; embedded {} KB compressed, {:.2} MB on the heap",
        decode.as_secs_f64() * 1e3,
        counts.villages,
        lindung_shared::region::embedded_data_bytes() / 1000,
        index.heap_bytes() as f64 / 1e6
    );

    let mut villages: Vec<String> = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(code) = stack.pop() {
        for child in index.children(&code) {
            if child.level == Level::Village {
                villages.push(child.code.to_string());
            } else {
                stack.push(child.code.to_string());
            }
        }
    }
    villages.sort();

    // --- Region lookup by code, all levels.
    let mut rng = Rng(1);
    let lookups = 2_000_000 / scale;
    let codes: Vec<String> = (0..10_000)
        .map(|_| {
            let village = &villages[rng.below(villages.len())];
            let len = [2, 4, 6, 10][rng.below(4)];
            village[..len].to_owned()
        })
        .collect();
    let started = Instant::now();
    let mut found = 0usize;
    for i in 0..lookups {
        found += usize::from(black_box(index.get(&codes[i % codes.len()])).is_some());
    }
    let elapsed = started.elapsed();
    assert_eq!(found, lookups, "every generated code exists");
    println!(
        "region lookup by code: {:.1} M lookups/s ({:.0} ns each)",
        lookups as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_nanos() as f64 / lookups as f64
    );

    // --- Type-ahead search: an officer types a village name letter by letter.
    let mut latencies = Vec::new();
    let names = if quick { 20 } else { 300 };
    for _ in 0..names {
        let code = &villages[rng.below(villages.len())];
        let name = index
            .get(code)
            .map(|r| r.name.to_lowercase())
            .unwrap_or_default();
        let typed: Vec<char> = name.chars().collect();
        for end in 2..=typed.len().min(10) {
            let query: String = typed[..end].iter().collect();
            let started = Instant::now();
            let hits = black_box(index.search(&query, &SearchOptions::default()));
            latencies.push(started.elapsed());
            black_box(hits.len());
        }
    }
    latencies.sort();
    println!(
        "type-ahead name search over all levels ({} queries, 2-10 letters): p50 {}, p99 {}, max {}",
        latencies.len(),
        micros(percentile(&latencies, 0.50)),
        micros(percentile(&latencies, 0.99)),
        micros(percentile(&latencies, 1.0)),
    );
    let mut latencies = Vec::new();
    for _ in 0..names {
        let code = &villages[rng.below(villages.len())];
        let village = index
            .get(code)
            .map(|r| r.name.to_lowercase())
            .unwrap_or_default();
        let regency = index
            .ancestors(code)
            .get(1)
            .map(|r| r.name.to_lowercase())
            .unwrap_or_default();
        let regency_word = regency.split_whitespace().last().unwrap_or("").to_owned();
        let query = format!(
            "{} {regency_word}",
            village.split_whitespace().next().unwrap_or("")
        );
        let started = Instant::now();
        black_box(index.search(
            &query,
            &SearchOptions {
                level: Some(Level::Village),
                ..SearchOptions::default()
            },
        ));
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "two-word search (village word + regency word, villages only, {} queries): p50 {}, p99 {}",
        latencies.len(),
        micros(percentile(&latencies, 0.50)),
        micros(percentile(&latencies, 0.99)),
    );

    // --- NIK validation.
    let today = date!(2026 - 11 - 22);
    let niks: Vec<String> = (0..10_000)
        .map(|i| {
            let village = &villages[rng.below(villages.len())];
            // Days up to 31 in every month: 30 and 31 February and the like are invalid.
            let day = 1 + rng.below(31) + if i % 2 == 0 { 40 } else { 0 };
            let month = 1 + rng.below(12);
            let year = rng.below(100);
            let serial = rng.below(10_000);
            format!("{}{day:02}{month:02}{year:02}{serial:04}", &village[..6])
        })
        .collect();
    let validations = 2_000_000 / scale;
    let started = Instant::now();
    let mut valid = 0usize;
    for i in 0..validations {
        valid +=
            usize::from(black_box(validate_nik(&niks[i % niks.len()], today, index)).is_valid());
    }
    let elapsed = started.elapsed();
    println!(
        "NIK validation (structure, date, regions): {:.2} M NIKs/s ({:.0} ns each; {:.1}% valid)",
        validations as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_nanos() as f64 / validations as f64,
        100.0 * valid as f64 / validations as f64
    );

    // --- Merge: one million operations from 5 devices over 100,000 records.
    let total_ops = 1_000_000 / scale;
    let records = 100_000 / scale;
    let devices: Vec<DeviceId> = (0..5)
        .map(|d| DeviceId(Uuid::from_u128(0xD0 + d)))
        .collect();
    let record_ids: Vec<RecordId> = (0..records)
        .map(|r| RecordId(Uuid::from_u128(r as u128 + 1)))
        .collect();
    let mut clocks = vec![HlcClock::default(); devices.len()];
    let mut seqs = vec![0u64; devices.len()];
    let ops: Vec<Operation> = (0..total_ops)
        .map(|i| {
            let d = rng.below(devices.len());
            seqs[d] += 1;
            let change = match rng.below(4) {
                0 => Change::FullName(format!("Nama {i}")),
                1 => Change::Rt(Some((rng.below(20) + 1) as u16)),
                2 => Change::Category(Category::ALL[rng.below(Category::ALL.len())]),
                _ => Change::Status(Status::Active),
            };
            Operation {
                device_id: devices[d],
                seq: seqs[d],
                record_id: record_ids[rng.below(records)],
                hlc: clocks[d].tick(1_763_797_620_000 + i as u64 / 3),
                changes: vec![change],
            }
        })
        .collect();
    let started = Instant::now();
    let mut replica = Replica::default();
    for op in &ops {
        black_box(replica.apply(op));
    }
    let first = started.elapsed();
    let started = Instant::now();
    for op in &ops {
        black_box(replica.apply(op));
    }
    let again = started.elapsed();
    println!(
        "merge {} operations into {} records: {:.2} s ({:.2} M ops/s); re-applying all (duplicates): {:.2} s",
        total_ops,
        replica.len(),
        first.as_secs_f64(),
        total_ops as f64 / first.as_secs_f64() / 1e6,
        again.as_secs_f64()
    );
    black_box(Hlc::ZERO);

    // --- Person-name similarity (duplicate detection).
    let first = [
        "Muhammad", "Siti", "Ahmad", "Nur", "Budi", "Made", "Rahmat", "Dewi", "Agus", "Sri",
    ];
    let second = [
        "Rizki", "Aminah", "Fauzi", "Aini", "Santoso", "Wirawan", "Hidayat", "Lestari", "Salim",
        "Wahyuni",
    ];
    let names: Vec<String> = (0..2_000)
        .map(|_| {
            let mut name = format!(
                "{} {}",
                first[rng.below(first.len())],
                second[rng.below(second.len())]
            );
            if rng.below(3) == 0 {
                name.push_str(&format!(" {}", second[rng.below(second.len())]));
            }
            name
        })
        .collect();
    let comparisons = 400_000 / scale;
    let started = Instant::now();
    let mut matches = 0usize;
    for i in 0..comparisons {
        matches += usize::from(black_box(is_probable_match(
            &names[i % names.len()],
            &names[(i * 7 + 3) % names.len()],
        )));
    }
    let elapsed = started.elapsed();
    let keys: Vec<NameKey> = names.iter().map(|n| NameKey::new(n)).collect();
    let started = Instant::now();
    for i in 0..comparisons {
        black_box(keys[i % keys.len()].similarity(&keys[(i * 7 + 3) % keys.len()]));
    }
    let prepared = started.elapsed();
    println!(
        "person-name similarity: {:.2} M comparisons/s from text ({:.1} µs each; {:.1}% probable matches), {:.2} M/s with prepared keys",
        comparisons as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_secs_f64() * 1e6 / comparisons as f64,
        100.0 * matches as f64 / comparisons as f64,
        comparisons as f64 / prepared.as_secs_f64() / 1e6,
    );
}
