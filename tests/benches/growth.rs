//! Storage growth of the agent (issue 9): a year of heavy use on one
//! laptop — 100,000 registrations, a fifth of them edited (name, phone, RT),
//! some edited again, one in fifty withdrawn — synced to a real server so
//! the server acknowledges everything, then compacted as it would be a year
//! later. Prints the store's size on disk at each step.
//!
//! ```sh
//! cargo build --release -p lindung-server -p lindung-agent
//! cargo bench -p lindung-tests --bench growth          # BENCH_N=20000 for a quick run
//! ```

#![allow(clippy::expect_used, clippy::unwrap_used)]

use lindung_agent::store::{KdfCost, Store};
use lindung_agent::sync;
use lindung_shared::ids::RecordId;
use lindung_shared::region::regions;
use lindung_shared::registration::{Change, Origin, Status};
use lindung_shared::validation::{RegistrationInput, ValidationContext, validate_registration};
use lindung_tests::central::Central;
use serde_json::json;
use time::OffsetDateTime;

/// splitmix64: the same workload every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn word(&mut self, letters: usize) -> String {
        let mut word: String = (0..letters)
            .map(|_| char::from(b'a' + (self.next() % 26) as u8))
            .collect();
        word[..1].make_ascii_uppercase();
        word
    }
    fn phone(&mut self) -> String {
        format!("0812{:08}", self.next() % 100_000_000)
    }
}

fn phone(rng: &mut Rng) -> lindung_shared::phone::Phone {
    lindung_shared::phone::normalize_phone(&rng.phone()).expect("a mobile number")
}

fn store_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("agent.db"))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

fn line(step: &str, dir: &std::path::Path, operations: u64) {
    let bytes = store_bytes(dir);
    println!(
        "{}",
        json!({ "step": step, "operations": operations, "store_bytes": bytes,
                "store_mb": (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0 })
    );
}

fn main() {
    let n: u64 = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let central = Central::start();
    let officer = central.add_officer("Petugas Bench", &["1311"]);
    let code = central.enroll_code(&officer);
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let mut store = Store::init(
        dir.path(),
        "Petugas Bench",
        "bench-passphrase",
        KdfCost::InsecureFast,
        now,
    )
    .unwrap();
    sync::enroll(&mut store, &central.url(), &code, "bench", now).unwrap();
    let context = ValidationContext {
        regions: regions(),
        today: now.date(),
        now,
    };
    let villages = ["1311012001", "1311012002", "1311022001", "1311032001"];
    let mut rng = Rng(2026);
    let mut ids = Vec::with_capacity(n as usize);
    let mut batch = Vec::new();
    for i in 0..n {
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        let input = RegistrationInput {
            nik: format!(
                "131101{:02}{month:02}8{}{:04}",
                day + 40,
                i / 3_360_000 % 10,
                1 + i / 336 % 9999
            ),
            full_name: format!("{} {}", rng.word(6), rng.word(8)),
            village_code: villages[(i % 4) as usize].into(),
            category: "nelayan".into(),
            payer: "apbd".into(),
            consent_method: "signed_form".into(),
            phone: rng.phone(),
            rt: format!("{}", 1 + rng.next() % 12),
            rw: format!("{}", 1 + rng.next() % 6),
            ..RegistrationInput::default()
        };
        let Ok(valid) = validate_registration(&input, &context) else {
            continue;
        };
        let id = RecordId(uuid::Uuid::now_v7());
        let registration = valid.into_registration(
            id,
            Origin {
                officer_id: store.officer_id(),
                device_id: store.device_id(),
                registered_at: now,
            },
        );
        batch.push((id, registration.to_changes()));
        ids.push(id);
        if batch.len() == 5_000 {
            store
                .apply_local_batch(std::mem::take(&mut batch), now)
                .unwrap();
        }
    }
    store
        .apply_local_batch(std::mem::take(&mut batch), now)
        .unwrap();
    let mut operations = ids.len() as u64;
    line("registered", dir.path(), operations);

    // A fifth edited (name, phone, RT); a third of those edited again; one in fifty withdrawn.
    let mut edits = Vec::new();
    for (k, id) in ids.iter().enumerate() {
        if k % 5 == 0 {
            edits.push((*id, vec![Change::Phone(Some(phone(&mut rng)))]));
            edits.push((
                *id,
                vec![Change::FullName(format!("{} {}", rng.word(6), rng.word(9)))],
            ));
        }
        if k % 15 == 0 {
            edits.push((
                *id,
                vec![Change::Phone(Some(phone(&mut rng))), Change::Rt(Some(3))],
            ));
        }
        if k % 50 == 0 {
            edits.push((
                *id,
                vec![Change::Status(Status::Withdrawn {
                    reason: "pindah kerja".into(),
                })],
            ));
        }
    }
    operations += edits.len() as u64;
    for chunk in edits.chunks(5_000) {
        store.apply_local_batch(chunk.to_vec(), now).unwrap();
    }
    line("edited", dir.path(), operations);

    let summary = sync::sync_once(&mut store, &mut |_| {}, OffsetDateTime::now_utc).unwrap();
    assert_eq!(summary.pending_after, 0, "{summary:?}");
    line("synced", dir.path(), operations);

    // A year later, keeping the default 180 days.
    let later = now + time::Duration::days(365);
    let tally = store
        .compact(later - time::Duration::days(180), true)
        .unwrap();
    println!("{}", json!({ "step": "compaction", "tally": tally }));
    line("compacted_a_year_later", dir.path(), tally.operations_kept);
}
