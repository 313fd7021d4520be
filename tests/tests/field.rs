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
    let left = laptop.pending_changes();
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

#[test]
fn a_server_stopped_during_a_push_finishes_the_batch_before_it_exits() {
    let mut central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    // Slow enough that the first batch is still on its way when the stop comes.
    let link = SlowLink::start(
        central.address(),
        LinkShape {
            bits_per_second: 256_000,
            one_way: std::time::Duration::from_millis(40),
            loss: 0.0,
            seed: 1,
        },
    );
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &link.url());
    import(&laptop, 0, 1_000);
    let before = link.counters().delivered_up.load(Ordering::Relaxed);
    let sync = laptop
        .command()
        .args(["sync", "--json"])
        .spawn()
        .expect("sync starts");
    // The push is under way: the server has the start of the request and
    // the rest of the batch is still on the link.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while link.counters().delivered_up.load(Ordering::Relaxed) < before + 2_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the push never started"
        );
        std::thread::yield_now();
    }
    assert!(central.terminate(), "the server exits cleanly on SIGTERM");
    let _ = sync.wait_with_output();
    // The batch in flight was finished and answered: what the server stored
    // is exactly what the laptop counts as delivered, and nothing is lost.
    let stored = central.admin(["stats", "--json"]).json()["records"]
        .as_u64()
        .expect("records");
    assert!(stored > 0, "the batch in flight was stored");
    assert_eq!(
        stored,
        1_000 - laptop.pending_changes(),
        "and its answer arrived"
    );
    assert!(central.log().contains("stopped"), "{}", central.log());
}
