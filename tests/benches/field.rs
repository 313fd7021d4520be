//! Sync over a bad link (issue 9): 1,000 new registrations from one laptop
//! through `lindung_tests::slow_link` shaped like the issue's EDGE link
//! (64 kbit/s each way, 300 ms round trip, 5 % segment loss), real release
//! binaries on 127.0.0.1. Then the same sync cut in the middle and resumed:
//! how much is sent again.
//!
//! ```sh
//! cargo build --release -p lindung-server -p lindung-agent
//! cargo bench -p lindung-tests --bench field
//! ```
//!
//! Then sneakernet: `BENCH_BUNDLE_N` (10,000) registrations exported as one
//! USB bundle, applied by `lindung-server bundle import`, and the receipt
//! applied on the laptop: the sizes and the time of each step.
//!
//! Options (environment): `BENCH_N` (1000), `BENCH_RUNS` (3, one loss seed
//! each), `BENCH_BUNDLE_N` (10000; 0 skips it). Prints one JSON line per run.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use lindung_tests::Laptop;
use lindung_tests::central::Central;
use lindung_tests::slow_link::{LinkShape, SlowLink};
use serde_json::{Value, json};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A name part unique to `i` that compresses like a real name (names hold
/// no digits; a run of similar names would compress far better than real ones).
fn letters(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66;
    let mut name = String::new();
    for _ in 0..7 {
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        name.push(char::from(b'a' + (x % 26) as u8));
    }
    format!(
        "{name} {}",
        format!("{i:05}")
            .bytes()
            .map(|b| char::from(b'a' + (b - b'0')))
            .collect::<String>()
    )
}

fn import(laptop: &Laptop, count: u64) {
    let path = laptop.dir().join("desa.csv");
    let mut file = std::fs::File::create(&path).expect("csv");
    writeln!(file, "NIK;Nama Lengkap;Kode Desa;Pekerjaan;Nomor HP").expect("write");
    for i in 0..count {
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        let nik = format!("131101{:02}{month:02}85{:04}", day + 40, 1 + i / 336);
        writeln!(
            file,
            "{nik};Pekerja {};1311012001;nelayan;08127{:07}",
            letters(i),
            i * 7919 % 10_000_000
        )
        .expect("write");
    }
    drop(file);
    let out = laptop.agent([
        "import",
        path.to_str().expect("utf-8"),
        "--payer",
        "apbd",
        "--consent",
        "signed_form",
    ]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}

fn sync(laptop: &Laptop) -> (Option<i32>, Value) {
    let out = laptop.agent(["sync", "--json"]);
    let summary = serde_json::from_str::<Value>(&out.stdout)
        .map(|v| v["summary"].clone())
        .unwrap_or(Value::Null);
    (out.code, summary)
}

/// Times `run`, in seconds rounded to milliseconds.
fn timed<T>(run: impl FnOnce() -> T) -> (T, f64) {
    let started = Instant::now();
    let value = run();
    (
        value,
        (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    )
}

/// One laptop's `n` registrations carried to the server on a stick and the
/// receipt carried back.
fn sneakernet(n: u64) {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    import(&laptop, n);
    let dir = tempfile::tempdir().expect("a USB stick");
    let bundle = dir.path().join("paket.lindung");
    let receipt = dir.path().join("tanda-terima.lindung");
    let path = |p: &std::path::Path| p.to_str().expect("utf-8").to_owned();
    let (out, export_s) = timed(|| laptop.agent(["bundle", "export", &path(&bundle)]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let (out, import_s) = timed(|| {
        central.admin([
            "bundle",
            "import",
            &path(&bundle),
            "--receipt",
            &path(&receipt),
            "--json",
        ])
    });
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.json()["accepted"], n, "{}", out.stdout);
    let (out, receipt_s) = timed(|| laptop.agent(["bundle", "import", &path(&receipt)]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(laptop.pending_changes(), 0);
    let size = |p: &std::path::Path| std::fs::metadata(p).expect("written").len();
    println!(
        "{}",
        json!({
            "scenario": "usb_bundle",
            "registrations": n,
            "bundle_bytes": size(&bundle),
            "bundle_bytes_per_registration": (size(&bundle) as f64 / n as f64 * 10.0).round() / 10.0,
            "receipt_bytes": size(&receipt),
            "export_seconds": export_s,
            "server_import_seconds": import_s,
            "receipt_import_seconds": receipt_s,
        })
    );
}

fn main() {
    let bundle_n = env_number("BENCH_BUNDLE_N", 10_000);
    if bundle_n > 0 {
        sneakernet(bundle_n);
    }
    let n = env_number("BENCH_N", 1_000);
    let runs = env_number("BENCH_RUNS", 3);
    for seed in 1..=runs {
        // Clean run.
        let central = Central::start();
        let officer = central.add_officer("Rina Marlina", &["131101"]);
        let link = SlowLink::start(central.address(), LinkShape::edge(seed));
        let laptop = Laptop::init("Rina");
        laptop.enroll(&central, &officer, &link.url());
        import(&laptop, n);
        let (up0, down0) = (
            link.counters().up.load(Ordering::Relaxed),
            link.counters().down.load(Ordering::Relaxed),
        );
        let started = Instant::now();
        let (code, summary) = sync(&laptop);
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(code, Some(0), "{summary}");
        let up = link.counters().up.load(Ordering::Relaxed) - up0;
        let down = link.counters().down.load(Ordering::Relaxed) - down0;
        println!(
            "{}",
            json!({
                "scenario": "edge_initial_sync",
                "seed": seed,
                "registrations": n,
                "seconds": (seconds * 100.0).round() / 100.0,
                "bytes_up": up,
                "bytes_down": down,
                "segments_lost": link.counters().lost.load(Ordering::Relaxed),
                "requests": summary["requests"],
                "goal_seconds": 15,
            })
        );

        // Cut in the middle, then resumed.
        let central = Central::start();
        let officer = central.add_officer("Rina Marlina", &["131101"]);
        let link = SlowLink::start(central.address(), LinkShape::edge(seed));
        let laptop = Laptop::init("Rina");
        laptop.enroll(&central, &officer, &link.url());
        import(&laptop, n);
        let base = link.counters().up.load(Ordering::Relaxed);
        link.cut_after(up / 2);
        let started = Instant::now();
        let (cut_code, _) = sync(&laptop);
        let cut_seconds = started.elapsed().as_secs_f64();
        link.cut_after(0);
        let started = Instant::now();
        let (code, resumed) = sync(&laptop);
        let resumed_seconds = started.elapsed().as_secs_f64();
        assert_eq!(code, Some(0), "{resumed}");
        let total_up = link.counters().up.load(Ordering::Relaxed) - base;
        println!(
            "{}",
            json!({
                "scenario": "edge_cut_at_half_then_resumed",
                "seed": seed,
                "cut_sync_failed": cut_code != Some(0),
                "cut_after_bytes": up / 2,
                "seconds_before_cut": (cut_seconds * 100.0).round() / 100.0,
                "seconds_resumed": (resumed_seconds * 100.0).round() / 100.0,
                "registrations_sent_after_resume": resumed["sent"],
                "bytes_up_total": total_up,
                "bytes_up_clean_run": up,
                "bytes_sent_again": total_up.saturating_sub(up),
            })
        );
    }
}
