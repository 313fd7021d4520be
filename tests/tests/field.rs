//! Field conditions: sync over a bad link (`lindung_tests::slow_link`).
//! How long 1,000 registrations take over the EDGE link is measured
//! by `cargo bench -p lindung-tests --bench field`, not asserted here.

use std::io::Write;
use std::sync::atomic::Ordering;

use lindung_tests::Laptop;
use lindung_tests::central::Central;
use lindung_tests::slow_link::{LinkShape, SlowLink};
use serde_json::Value;

/// Writes a village CSV of `count` people starting at `first` and imports it.
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

fn import(laptop: &Laptop, first: u64, count: u64) {
    let path = laptop.dir().join(format!("desa-{first}.csv"));
    let mut file = std::fs::File::create(&path).expect("csv");
    writeln!(file, "NIK;Nama Lengkap;Kode Desa;Pekerjaan").expect("write");
    for i in first..first + count {
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        let nik = format!("131101{:02}{month:02}85{:04}", day + 40, 1 + i / 336);
        writeln!(file, "{nik};Pekerja {};1311012001;nelayan", letters(i)).expect("write");
    }
    drop(file);
    let out = laptop.agent([
        "import",
        path.to_str().expect("utf-8 path"),
        "--payer",
        "apbd",
        "--consent",
        "signed_form",
        "--json",
    ]);
    assert_eq!(out.code, Some(0), "import: {}{}", out.stdout, out.stderr);
}

fn pending(laptop: &Laptop) -> u64 {
    let out = laptop.agent(["status", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.json()["status"]["pending_changes"]
        .as_u64()
        .expect("pending")
}

#[test]
fn a_sync_cut_on_a_slow_link_resumes_without_sending_acknowledged_batches_again() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    // A quarter of the EDGE link's bandwidth per second is still slow enough
    // for several batches, and keeps the test short.
    let link = SlowLink::start(
        central.address(),
        LinkShape {
            bits_per_second: 512_000,
            one_way: std::time::Duration::from_millis(40),
            loss: 0.05,
            seed: 7,
        },
    );
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &link.url());
    // What one first batch (500) weighs on this link.
    import(&laptop, 0, 500);
    let before = link.counters().up.load(Ordering::Relaxed);
    let first = laptop.agent(["sync", "--json"]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let batch_bytes = link.counters().up.load(Ordering::Relaxed) - before;

    import(&laptop, 500, 1_500);
    // The link goes down after the first batch went through, in the middle
    // of the second (up to 1,000 more).
    link.cut_after(batch_bytes * 3 / 2);
    let cut = laptop.agent(["sync", "--json"]);
    assert_ne!(cut.code, Some(0), "the cut sync fails: {}", cut.stdout);
    let left = pending(&laptop);
    assert!(
        left > 0 && left < 1_500,
        "the first batch is acknowledged, the rest waits: {left} pending"
    );
    let stored_before = central.stats()["records"].as_u64().expect("records");
    assert_eq!(
        stored_before,
        2_000 - left,
        "what the laptop calls sent is stored"
    );

    link.cut_after(0);
    let up_before = link.counters().up.load(Ordering::Relaxed);
    let resumed = laptop.agent(["sync", "--json"]);
    assert_eq!(
        resumed.code,
        Some(0),
        "{}{}",
        resumed.stdout,
        resumed.stderr
    );
    let summary: Value = resumed.json()["summary"].clone();
    assert_eq!(
        summary["sent"], left,
        "only what was not acknowledged: {summary}"
    );
    assert_eq!(summary["accepted"], left, "{summary}");
    assert_eq!(summary["pending_after"], 0, "{summary}");
    let resent_bytes = link.counters().up.load(Ordering::Relaxed) - up_before;
    assert!(resent_bytes > 0);
    assert_eq!(central.stats()["records"], 2_000);
}
