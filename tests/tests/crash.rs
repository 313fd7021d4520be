//! Power cuts and killed processes: SIGKILL at random moments while the agent
//! registers. Every registration the agent reported as saved must survive,
//! none may be half-written, the outbox sequence must have no gap, and
//! registering again after a kill must not create a duplicate.
//!
//! `LINDUNG_CRASH_SEED=<n>` replays a run; `LINDUNG_CRASH_ITERATIONS=<n>` runs longer.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use lindung_tests::{Laptop, Rng, env_number, run_killed_after, seed_from_env, worker};

const VILLAGE: &str = "1311012001";

fn register_command(laptop: &Laptop, nik: &str, name: &str) -> Command {
    laptop.register_command(nik, name, VILLAGE)
}

#[test]
fn killing_the_agent_while_it_registers_loses_nothing_it_reported_saved() {
    let seed = seed_from_env("LINDUNG_CRASH_SEED");
    let iterations = env_number("LINDUNG_CRASH_ITERATIONS").unwrap_or(24);
    println!(
        "crash test seed {seed} ({iterations} iterations): LINDUNG_CRASH_SEED={seed} replays it"
    );
    let mut rng = Rng(seed);
    let laptop = Laptop::init("Rina Marlina");
    // How long one registration takes here, so kills spread over its whole life.
    let (calibration_nik, calibration_name) = worker(iterations);
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
        let (nik, name) = worker(i);
        // Kill somewhere between start-up and well after the commit.
        let output = run_killed_after(
            register_command(&laptop, &nik, &name),
            Some(Duration::from_millis(rng.below(window_ms))),
        );
        if output.code == Some(0) {
            reported_saved.insert(name);
        } else if output.killed() {
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
        let (nik, name) = worker(i);
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

/// A village spreadsheet of `rows` distinct people (none a probable
/// duplicate of another).
fn large_file(dir: &std::path::Path, rows: u64) -> std::path::PathBuf {
    let mut text = String::from("NIK;Nama Lengkap;Kode Desa;Pekerjaan\n");
    for i in 0..rows {
        let (nik, name) = worker(i);
        text.push_str(&format!("{nik};{name};{VILLAGE};nelayan\n"));
    }
    let path = dir.join("besar.csv");
    std::fs::write(&path, text).expect("write the spreadsheet");
    path
}

#[test]
fn killing_an_import_keeps_whole_batches_and_the_rerun_completes_without_duplicates() {
    let seed = seed_from_env("LINDUNG_CRASH_SEED");
    let rows = env_number("LINDUNG_CRASH_ROWS").unwrap_or(3_000);
    println!("import crash test seed {seed}, {rows} rows: LINDUNG_CRASH_SEED={seed} replays it");
    let mut rng = Rng(seed);
    let scratch = tempfile::tempdir().expect("temporary directory");
    let path = large_file(scratch.path(), rows);

    // How long a whole import takes here, measured on a throwaway laptop.
    let calibration = Laptop::init("Kalibrasi");
    let started = std::time::Instant::now();
    assert!(
        calibration
            .import_command(&path)
            .output()
            .expect("runs")
            .status
            .success()
    );
    let window_ms = u64::try_from(started.elapsed().as_millis())
        .unwrap_or(1_000)
        .max(1);

    let laptop = Laptop::init("Rina Marlina");
    for attempt in 0..3 {
        run_killed_after(
            laptop.import_command(&path),
            Some(Duration::from_millis(rng.below(window_ms))),
        );
        let check = laptop.agent(["check", "--json"]);
        assert_eq!(
            check.code,
            Some(0),
            "attempt {attempt} (seed {seed}) left the store damaged: {}",
            check.stdout
        );
        let report = check.json();
        assert_eq!(
            report["own_operations"], report["registrations"],
            "no half-written registration (seed {seed})"
        );
        println!(
            "after kill {attempt}: {} registrations, all whole",
            report["registrations"]
        );
    }
    let before = laptop.agent(["check", "--json"]).json()["registrations"]
        .as_u64()
        .unwrap_or(0);
    let finish = laptop.import_command(&path).output().expect("runs");
    assert!(
        finish.status.success(),
        "{}",
        String::from_utf8_lossy(&finish.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&finish.stdout).expect("JSON summary");
    println!(
        "{before} rows survived the kills; the re-run created {} and found {} unchanged",
        summary["created"], summary["unchanged"]
    );
    assert_eq!(
        summary["unchanged"].as_u64(),
        Some(before),
        "every surviving row is recognised (seed {seed})"
    );
    assert_eq!(
        summary["created"].as_u64(),
        Some(rows - before),
        "the rest is created once (seed {seed})"
    );
    let report = laptop.agent(["check", "--json"]).json();
    assert_eq!(report["registrations"].as_u64(), Some(rows));
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(0));
}
