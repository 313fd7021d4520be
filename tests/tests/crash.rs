//! Power cuts and killed processes: SIGKILL at random moments while the agent
//! registers. Every registration the agent reported as saved must survive,
//! none may be half-written, the outbox sequence must have no gap, and
//! registering again after a kill must not create a duplicate.
//!
//! `LINDUNG_CRASH_SEED=<n>` replays a run; `LINDUNG_CRASH_ITERATIONS=<n>` runs longer.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lindung_tests::{Laptop, TEST_PASSPHRASE, binary};

/// A small deterministic generator so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// A woman with a birth date unique to `i`, so no two are probable duplicates.
fn nik_for(i: u64) -> (String, String) {
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let nik = format!("131101{:02}{month:02}90{:04}", day + 40, 1 + i / 336);
    let letters: String = format!("{i:04}")
        .bytes()
        .map(|b| char::from(b'a' + (b - b'0')))
        .collect();
    (nik, format!("Pekerja {letters}"))
}

fn register_command(laptop: &Laptop, nik: &str, name: &str) -> Command {
    let mut command = Command::new(binary("lindung-agent"));
    command
        .args([
            "register",
            "--nik",
            nik,
            "--name",
            name,
            "--village",
            "1311012001",
        ])
        .args([
            "--category",
            "nelayan",
            "--payer",
            "apbd",
            "--consent",
            "signed_form",
            "--json",
        ])
        .env("LINDUNG_DATA_DIR", laptop.dir())
        .env("LINDUNG_PASSPHRASE", TEST_PASSPHRASE)
        .env_remove("LINDUNG_LANG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn killing_the_agent_while_it_registers_loses_nothing_it_reported_saved() {
    let seed = env_number("LINDUNG_CRASH_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let iterations = env_number("LINDUNG_CRASH_ITERATIONS").unwrap_or(24);
    println!(
        "crash test seed {seed} ({iterations} iterations): LINDUNG_CRASH_SEED={seed} replays it"
    );
    let mut rng = Rng(seed);
    let laptop = Laptop::init("Rina Marlina");
    // How long one registration takes here, so kills spread over its whole life.
    let (calibration_nik, calibration_name) = nik_for(iterations);
    let started = std::time::Instant::now();
    let calibration = register_command(&laptop, &calibration_nik, &calibration_name)
        .output()
        .expect("agent runs");
    assert!(
        calibration.status.success(),
        "{}",
        String::from_utf8_lossy(&calibration.stdout)
    );
    let window_ms = u64::try_from(started.elapsed().as_millis())
        .unwrap_or(100)
        .max(1)
        * 3
        / 2;
    let mut reported_saved = BTreeSet::from([calibration_name]);
    let mut killed = 0;
    for i in 0..iterations {
        let (nik, name) = nik_for(i);
        let mut child = register_command(&laptop, &nik, &name)
            .spawn()
            .expect("agent starts");
        // Kill somewhere between start-up and well after the commit.
        std::thread::sleep(Duration::from_millis(rng.next() % window_ms));
        let kill_sent = child.kill().is_ok();
        let output = child.wait_with_output().expect("agent ends");
        if output.status.success() {
            reported_saved.insert(name);
        } else if kill_sent {
            killed += 1;
        }
    }
    println!(
        "{killed} of {iterations} processes killed (window {window_ms} ms), {} reported saved",
        reported_saved.len() - 1
    );

    let check = laptop.agent(["check", "--json"]);
    assert_eq!(
        check.code,
        Some(0),
        "store damaged after kills (seed {seed}): {}",
        check.stdout
    );
    let report = check.json();
    let listed = laptop.agent(["list", "--json", "--limit", "100000"]).json();
    let names: BTreeSet<String> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["full_name"].as_str().map(str::to_owned))
        .collect();
    assert!(
        reported_saved.is_subset(&names),
        "a registration reported saved is missing (seed {seed})"
    );
    assert_eq!(
        report["own_operations"], report["registrations"],
        "one operation per registration, no half-writes"
    );

    // Registering everyone again: the committed ones are refused as duplicates, the rest saved once.
    for i in 0..iterations {
        let (nik, name) = nik_for(i);
        let output = register_command(&laptop, &nik, &name)
            .output()
            .expect("agent runs");
        let code = output.status.code();
        assert!(
            code == Some(0) || code == Some(1),
            "unexpected failure for {name} (seed {seed})"
        );
        assert_eq!(
            code == Some(1),
            names.contains(&name),
            "{name}: saved state and refusal disagree (seed {seed})"
        );
    }
    let final_report = laptop.agent(["check", "--json"]).json();
    assert_eq!(
        final_report["registrations"],
        iterations + 1,
        "everyone exactly once (seed {seed})"
    );
    assert_eq!(final_report["problems"].as_array().map(Vec::len), Some(0));
}
