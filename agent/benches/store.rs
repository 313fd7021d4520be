//! Benchmarks of the agent's encrypted store, printed for BENCHMARKS.md.
//!
//! `cargo bench -p lindung-agent --bench store` (add `-- --quick` for a smoke run).
//! Saves go through the same path as `lindung-agent register`: duplicate
//! checks, then one durable transaction (WAL, `synchronous = FULL`) on a
//! SQLCipher database, in a temporary directory on this machine's disk.

// A benchmark that cannot set up must stop with the reason.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use lindung_agent::store::{KdfCost, Store};
use lindung_shared::region::regions;
use lindung_shared::validation::{RegistrationInput, ValidationContext, validate_registration};
use time::OffsetDateTime;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let saves: u64 = if quick { 200 } else { 3_000 };
    let dir = std::env::temp_dir().join(format!("lindung-bench-{}", std::process::id()));
    let now = OffsetDateTime::now_utc();

    let started = Instant::now();
    let mut store = Store::init(
        &dir,
        "Bench Officer",
        "benchmark-passphrase",
        KdfCost::Standard,
        now,
    )
    .expect("the store initialises");
    println!(
        "init with the standard argon2id key derivation (19 MiB, 2 passes): {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    drop(store);
    let started = Instant::now();
    store = Store::open(&dir, "benchmark-passphrase").expect("opens");
    println!(
        "unlock (key derivation + open + migrations check): {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    let context = ValidationContext {
        regions: regions(),
        today: now.date(),
        now,
    };
    let villages = ["1311012001", "1311012002", "1311012003", "1311012004"];
    let mut latencies = Vec::with_capacity(saves as usize);
    for i in 0..saves {
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        let input = RegistrationInput {
            nik: format!("131101{:02}{month:02}85{:04}", day + 40, 1 + i / 336),
            full_name: format!(
                "Pekerja {}",
                (0..4)
                    .map(|k| char::from(b'a' + ((i >> (k * 4)) % 16) as u8))
                    .collect::<String>()
            ),
            village_code: villages[(i % 4) as usize].into(),
            category: "nelayan".into(),
            payer: "apbd".into(),
            consent_method: "signed_form".into(),
            ..RegistrationInput::default()
        };
        let valid = validate_registration(&input, &context).expect("generated input is valid");
        let started = Instant::now();
        let saved = store.register(valid, now).expect("store works");
        latencies.push(started.elapsed());
        black_box(saved.is_ok());
    }
    latencies.sort();
    println!(
        "save (duplicate checks + one durable transaction, encrypted), {saves} saves: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3,
    );
    let size: u64 = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    println!(
        "store size after {saves} registrations: {:.1} KB ({:.2} KB each)",
        size as f64 / 1e3,
        size as f64 / 1e3 / saves as f64
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
