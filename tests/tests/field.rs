//! Field conditions: sync over a bad link (`lindung_tests::slow_link`).
//! How long 1,000 registrations take over the EDGE link is measured
//! by `cargo bench -p lindung-tests --bench field`, not asserted here.

use std::sync::atomic::Ordering;

use lindung_tests::Laptop;
use lindung_tests::central::Central;
use lindung_tests::slow_link::{LinkShape, SlowLink};
use serde_json::Value;

/// Writes a village CSV of `count` people starting at `first` and imports it.
/// Imports `count` workers (`lindung_tests::worker`) from `first` as a village file.
fn import(laptop: &Laptop, first: u64, count: u64) {
    let rows: Vec<String> = (first..first + count)
        .map(|i| {
            let (nik, name) = lindung_tests::worker(i);
            format!("{nik};{name};1311012001;nelayan")
        })
        .collect();
    let imported = laptop.import_workers(&rows);
    assert_eq!(imported.code, Some(0), "{}", imported.stderr);
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
