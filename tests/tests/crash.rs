//! Power cuts and killed processes: SIGKILL at random moments while the agent
//! registers. Every registration the agent reported as saved must survive,
//! none may be half-written, the outbox sequence must have no gap, and
//! registering again after a kill must not create a duplicate.
//!
//! `LINDUNG_CRASH_SEED=<n>` replays a run; `LINDUNG_CRASH_ITERATIONS=<n>` runs longer.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lindung_tests::Laptop;

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
    let mut command = laptop.command();
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
        ]);
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

/// A village spreadsheet of `rows` distinct people (unique birth dates per
/// name, so none is a probable duplicate of another).
fn large_file(dir: &std::path::Path, rows: u64) -> std::path::PathBuf {
    let mut text = String::from("NIK;Nama Lengkap;Kode Desa;Pekerjaan\n");
    for i in 0..rows {
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        let year = 60 + (i / 336) % 40;
        let letters: String = [i % 26, (i / 26) % 26, (i / 676) % 26]
            .iter()
            .map(|n| char::from(b'a' + u8::try_from(*n).unwrap_or(0)))
            .collect();
        text.push_str(&format!(
            "131101{:02}{month:02}{year:02}{:04};Pekerja {letters};1311012001;nelayan\n",
            day + 40,
            1 + i
        ));
    }
    let path = dir.join("besar.csv");
    std::fs::write(&path, text).expect("write the spreadsheet");
    path
}

fn import_command(laptop: &Laptop, path: &std::path::Path) -> Command {
    let mut command = laptop.command();
    command
        .arg("import")
        .arg(path)
        .args(["--payer", "apbd", "--consent", "verbal", "--json"]);
    command
}

#[test]
fn killing_an_import_keeps_whole_batches_and_the_rerun_completes_without_duplicates() {
    let seed = env_number("LINDUNG_CRASH_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
    });
    let rows = env_number("LINDUNG_CRASH_ROWS").unwrap_or(3_000);
    println!("import crash test seed {seed}, {rows} rows: LINDUNG_CRASH_SEED={seed} replays it");
    let mut rng = Rng(seed);
    let scratch = tempfile::tempdir().expect("temporary directory");
    let path = large_file(scratch.path(), rows);

    // How long a whole import takes here, measured on a throwaway laptop.
    let calibration = Laptop::init("Kalibrasi");
    let started = std::time::Instant::now();
    assert!(
        import_command(&calibration, &path)
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
        let mut child = import_command(&laptop, &path)
            .spawn()
            .expect("agent starts");
        std::thread::sleep(Duration::from_millis(rng.next() % window_ms));
        let _ = child.kill();
        let _ = child.wait();
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
    let finish = import_command(&laptop, &path).output().expect("runs");
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
