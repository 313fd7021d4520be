//! Sync between real agents and a real server on 127.0.0.1: convergence,
//! conflicts, duplicates, revocation, wrong clocks, killed servers and a
//! network that loses answers and cuts requests.

use std::io::Write;
use std::time::Duration;

use lindung_tests::Laptop;
use lindung_tests::central::Central;
use lindung_tests::fault_proxy::{Fault, FaultProxy};
use serde_json::Value;

/// A woman's NIK from Sangir with a birth date unique to `i` (no two alike).
fn nik(i: u64) -> String {
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    format!("131101{:02}{month:02}90{:04}", day + 40, 1 + i / 336)
}

/// A name unique to `i` that is not similar to the others.
fn name(i: u64) -> String {
    let letters: String = format!("{i:05}")
        .bytes()
        .map(|b| char::from(b'a' + (b - b'0')))
        .collect();
    format!("Pekerja {letters}")
}

/// Writes a village CSV of `count` people starting at `first` and imports it.
fn import(laptop: &Laptop, first: u64, count: u64) {
    let path = laptop.dir().join(format!("desa-{first}.csv"));
    let mut file = std::fs::File::create(&path).expect("csv");
    writeln!(file, "NIK;Nama Lengkap;Kode Desa;Pekerjaan").expect("write");
    for i in first..first + count {
        writeln!(file, "{};{};1311012001;nelayan", nik(i), name(i)).expect("write");
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

fn show(laptop: &Laptop, id: &str) -> Value {
    let out = laptop.agent(["show", id, "--json"]);
    assert_eq!(out.code, Some(0), "show: {}{}", out.stdout, out.stderr);
    out.json()
}

fn count(stats: &Value, key: &str) -> u64 {
    stats[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {stats}"))
}

#[test]
fn offline_registrations_on_two_laptops_end_up_the_same_everywhere() {
    let central = Central::start();
    let rina = central.add_officer("Rina Marlina", &["131101"]);
    let budi = central.add_officer("Budi Santoso", &["131101"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    // Days in the villages with no signal.
    a.register(&nik(1), &name(1), "1311012001");
    a.register(&nik(2), &name(2), "1311012002");
    b.register(&nik(3), &name(3), "1311012001");
    import(&b, 100, 40);
    // Back in range.
    a.enroll(&central, &rina, &central.url());
    b.enroll(&central, &budi, &central.url());
    let first = a.sync();
    assert_eq!(first["accepted"], 2);
    let second = b.sync();
    assert_eq!(second["accepted"], 41);
    assert_eq!(second["received"], 2);
    let third = a.sync();
    assert_eq!(third["received"], 41);
    assert_eq!(a.registrations(), b.registrations());
    assert_eq!(a.registrations().len(), 43);
    let stats = central.stats();
    assert_eq!(count(&stats, "records"), 43);
    assert_eq!(count(&stats, "operations"), 43);
    assert_eq!(a.pending_changes() + b.pending_changes(), 0);
    // Nothing left to do: one request, nothing moves.
    let idle = a.sync();
    assert_eq!(
        (idle["sent"].as_u64(), idle["received"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(idle["requests"], 1);
}

#[test]
fn concurrent_edits_converge_and_the_overwritten_value_is_kept() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Rina (laptop 2)"));
    a.enroll(&central, &officer, &central.url());
    b.enroll(&central, &officer, &central.url());
    let id = a.register(&nik(1), "Siti Aminah", "1311012001");
    a.sync();
    b.sync();
    // Both edit the same field offline; Budi's edit is the later one.
    let edit = |laptop: &Laptop, value: &str| {
        let out = laptop.agent(["edit", &id, "--name", value, "--json"]);
        assert_eq!(out.code, Some(0), "edit: {}{}", out.stdout, out.stderr);
    };
    edit(&a, "Siti Aminah Nasution");
    std::thread::sleep(Duration::from_millis(5));
    edit(&b, "Siti Aminah Lubis");
    // Sync in the "wrong" order: the later edit arrives first.
    b.sync();
    a.sync();
    b.sync();
    for laptop in [&a, &b] {
        let shown = show(laptop, &id);
        assert_eq!(shown["registration"]["full_name"], "Siti Aminah Lubis");
        let history = shown["history"].to_string();
        assert!(
            history.contains("Siti Aminah Nasution"),
            "loser kept: {history}"
        );
    }
    assert_eq!(a.registrations(), b.registrations());
}

#[test]
fn the_same_nik_from_two_laptops_is_kept_twice_and_flagged() {
    let central = Central::start();
    let rina = central.add_officer("Rina Marlina", &["131101"]);
    let budi = central.add_officer("Budi Santoso", &["131101"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    a.enroll(&central, &rina, &central.url());
    b.enroll(&central, &budi, &central.url());
    let by_a = a.register(&nik(7), "Siti Aminah", "1311012001");
    b.register(&nik(7), "Siti Aminah", "1311012002");
    a.sync();
    let synced = b.sync();
    assert_eq!(synced["rejected"], 0, "not an error of the sync");
    a.sync();
    let stats = central.stats();
    assert_eq!(count(&stats, "records"), 2);
    assert_eq!(count(&stats, "records_in_duplicate_groups"), 2);
    assert_eq!(a.status()["records_with_duplicate_notice"], 2);
    let shown = show(&a, &by_a);
    let others = shown["also_registered"].as_array().expect("notice");
    assert_eq!(others.len(), 1);
    assert_eq!(others[0]["officer_name"], "Budi Santoso");
    assert_eq!(others[0]["village_code"], "1311012002");
    // The officer sees it in Bahasa Indonesia.
    let text = a.agent(["show", &by_a]);
    assert!(text.stdout.contains("juga didaftarkan"), "{}", text.stdout);
}

#[test]
fn a_revoked_laptop_is_refused_clearly_and_keeps_its_unsent_work() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    laptop.register(&nik(1), &name(1), "1311012001");
    laptop.sync();
    let devices = central.admin(["device", "list", "--json"]).json();
    let device = devices[0]["id"].as_str().expect("device id").to_owned();
    let revoked = central.admin(["device", "revoke", &device]);
    assert_eq!(revoked.code, Some(0), "{}", revoked.stderr);
    laptop.register(&nik(2), &name(2), "1311012001");
    let refused = laptop.agent(["sync"]);
    assert_eq!(refused.code, Some(2));
    assert!(refused.stderr.contains("dicabut"), "{}", refused.stderr);
    let in_english = laptop.agent(["--lang", "en", "sync"]);
    assert!(
        in_english.stderr.contains("revoked"),
        "{}",
        in_english.stderr
    );
    assert_eq!(laptop.pending_changes(), 1);
    assert_eq!(laptop.registrations().len(), 2);
    assert_eq!(count(&central.stats(), "records"), 1);
}

/// The agent with its clock shifted by `skew_s` seconds, as a laptop whose
/// date is wrong.
fn skewed(laptop: &Laptop, skew_s: i64, args: &[&str]) -> std::process::Output {
    let out = laptop
        .command()
        .env("LINDUNG_CLOCK_SKEW_SECONDS", skew_s.to_string())
        .args(args)
        .output()
        .expect("agent runs");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const YEAR_S: i64 = 365 * 86_400;

#[test]
fn a_laptop_a_year_ahead_cannot_make_its_edits_win_forever() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let (ahead, right) = (Laptop::init("Rina"), Laptop::init("Budi"));
    ahead.enroll(&central, &officer, &central.url());
    right.enroll(&central, &officer, &central.url());
    let id = right.register(&nik(1), "Siti Aminah", "1311012001");
    right.sync();
    ahead.sync();
    let edit = skewed(
        &ahead,
        YEAR_S,
        &["edit", &id, "--name", "Siti Aminah Lubis"],
    );
    assert!(edit.status.success());
    let bounded = skewed(&ahead, YEAR_S, &["sync", "--json"]);
    let summary: Value = serde_json::from_slice(&bounded.stdout).expect("json");
    assert_eq!(summary["summary"]["bounded"], 1, "{summary}");
    let offset = summary["summary"]["clock_offset_s"]
        .as_i64()
        .expect("offset");
    assert!((offset - YEAR_S).abs() < 60, "{summary}");
    let warned = skewed(&ahead, YEAR_S, &["edit", &id, "--rt", "4"]);
    assert!(warned.status.success());
    let again = skewed(&ahead, YEAR_S, &["sync"]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("Jam laptop ini terlalu maju sekitar 365 hari"),
        "{text}"
    );
    // A colleague with a right clock corrects the name after seeing the edit: it wins.
    right.sync();
    let fix = right.agent(["edit", &id, "--name", "Siti Aminah"]);
    assert_eq!(fix.code, Some(0), "{}", fix.stderr);
    right.sync();
    ahead.sync();
    for laptop in [&ahead, &right] {
        assert_eq!(
            show(laptop, &id)["registration"]["full_name"],
            "Siti Aminah"
        );
    }
}

#[test]
fn a_laptop_a_year_behind_keeps_working_and_is_told_to_fix_its_clock() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let (behind, right) = (Laptop::init("Rina"), Laptop::init("Budi"));
    behind.enroll(&central, &officer, &central.url());
    right.enroll(&central, &officer, &central.url());
    let seen = right.register(&nik(1), "Siti Aminah", "1311012001");
    right.sync();
    // The laptop a year behind receives the colleague's record and is told, in
    // its language, how far off its clock is.
    let first = skewed(&behind, -YEAR_S, &["sync"]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("Jam laptop ini terlalu mundur sekitar 365 hari"),
        "{text}"
    );
    // Its work goes through: a new registration, and an edit of the record it
    // has seen, which wins over that record although the laptop's clock says
    // last year (its clock moved past everything it received).
    let registered = skewed(
        &behind,
        -YEAR_S,
        &[
            "register",
            "--nik",
            &nik(2),
            "--name",
            "Budi Santoso",
            "--village",
            "1311012001",
            "--category",
            "nelayan",
            "--payer",
            "apbd",
            "--consent",
            "signed_form",
            "--json",
        ],
    );
    let new_id = serde_json::from_slice::<Value>(&registered.stdout).expect("json")["registration"]
        ["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let edit = skewed(
        &behind,
        -YEAR_S,
        &["edit", &seen, "--name", "Siti Aminah Lubis"],
    );
    assert!(edit.status.success());
    let pushed = skewed(&behind, -YEAR_S, &["sync", "--json"]);
    let summary: Value = serde_json::from_slice(&pushed.stdout).expect("json");
    assert_eq!(summary["summary"]["accepted"], 2, "{summary}");
    assert_eq!(summary["summary"]["rejected"], 0, "{summary}");
    assert_eq!(summary["summary"]["pending_after"], 0, "{summary}");
    let offset = summary["summary"]["clock_offset_s"]
        .as_i64()
        .expect("offset");
    assert!((offset + YEAR_S).abs() < 60, "{summary}");
    right.sync();
    for laptop in [&behind, &right] {
        assert_eq!(
            show(laptop, &seen)["registration"]["full_name"],
            "Siti Aminah Lubis"
        );
        assert_eq!(
            show(laptop, &new_id)["registration"]["full_name"],
            "Budi Santoso"
        );
    }
    assert_eq!(count(&central.stats(), "records"), 2);
}

#[test]
fn a_server_killed_during_pushes_loses_and_duplicates_nothing() {
    let mut central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    let mut total = 0;
    let mut kills = 0;
    for round in 0..4u64 {
        import(&laptop, total, 1_500);
        total += 1_500;
        let mut sync = laptop
            .command()
            .args(["sync", "--json"])
            .spawn()
            .expect("sync starts");
        // Kill the server at a different moment each round.
        std::thread::sleep(Duration::from_millis(20 + round * 60));
        central.kill();
        kills += 1;
        let _ = sync.wait();
        central.restart();
        // The officer syncs again until it goes through.
        let mut tries = 0;
        loop {
            let out = laptop.agent(["sync", "--json"]);
            if out.code == Some(0) {
                break;
            }
            tries += 1;
            assert!(
                tries < 5,
                "sync keeps failing: {}{}",
                out.stdout,
                out.stderr
            );
        }
        let stats = central.stats();
        assert_eq!(count(&stats, "records"), total, "round {round}");
        assert_eq!(
            count(&stats, "operations"),
            total,
            "round {round}: no duplicate"
        );
        assert_eq!(laptop.pending_changes(), 0);
    }
    println!("{kills} server kills, {total} registrations, none lost or doubled");
}

#[test]
fn lost_answers_cut_and_reset_requests_truncated_answers_and_delays_change_nothing() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let proxy = FaultProxy::start(central.address());
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &proxy.url());
    import(&laptop, 0, 800);
    proxy.inject(Fault::DropResponse);
    proxy.inject(Fault::CutRequest { bytes: 300 });
    proxy.inject(Fault::ResetRequest { bytes: 600 });
    proxy.inject(Fault::Delay(Duration::from_millis(50)));
    proxy.inject(Fault::TruncateResponse { bytes: 40 });
    proxy.inject(Fault::DropResponse);
    let mut failures = 0;
    loop {
        let out = laptop.agent(["sync", "--json"]);
        if out.code == Some(0) && proxy.queued() == 0 {
            break;
        }
        if out.code != Some(0) {
            failures += 1;
            assert!(
                out.stderr.contains("tidak dapat dihubungi"),
                "a network failure is reported as such: {}",
                out.stderr
            );
        }
        assert!(failures < 10, "never got through");
        // More registrations between attempts, as in the field.
        import(&laptop, 1_000 + failures * 10, 10);
    }
    assert!(
        failures >= 5,
        "the faults were felt ({failures} failed runs)"
    );
    assert_eq!(proxy.injected(), 6);
    let expected = 800 + failures * 10;
    let stats = central.stats();
    assert_eq!(count(&stats, "records"), expected);
    assert_eq!(count(&stats, "operations"), expected, "no duplicate");
    assert_eq!(laptop.pending_changes(), 0);
    // A second laptop of the same officer, straight to the server, gets the same state.
    let other = Laptop::init("Rina (laptop 2)");
    other.enroll(&central, &officer, &central.url());
    other.sync();
    assert_eq!(other.registrations(), laptop.registrations());
}

#[test]
fn a_server_reset_to_empty_gets_everything_again() {
    let mut central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    import(&laptop, 0, 25);
    laptop.sync();
    // The server loses its disk and starts empty (a new store id); staff
    // enrol the officer again.
    central.reset();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    laptop.enroll(&central, &officer, &central.url());
    let summary = laptop.sync();
    assert_eq!(summary["accepted"], 25, "{summary}");
    assert_eq!(count(&central.stats(), "records"), 25);
}

#[test]
fn the_background_loop_waits_for_the_server_and_then_delivers() {
    use std::io::BufRead;
    let mut central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    central.kill();
    laptop.register(&nik(1), &name(1), "1311012001");
    let mut watch = laptop
        .command()
        .args(["sync", "--watch", "--interval", "1", "--json"])
        .spawn()
        .expect("the loop starts");
    let mut lines = std::io::BufReader::new(watch.stdout.take().expect("stdout")).lines();
    // First round: no server. The loop says so and backs off instead of giving up.
    let first: Value =
        serde_json::from_str(&lines.next().expect("a line").expect("utf-8")).expect("json");
    assert_eq!(first["transient"], true, "{first}");
    assert!(first["next_in_s"].as_u64().is_some(), "{first}");
    central.restart();
    let mut delivered = false;
    for line in lines.by_ref().take(10) {
        let round: Value = serde_json::from_str(&line.expect("utf-8")).expect("json");
        if round["summary"]["accepted"] == 1 {
            delivered = true;
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(
        delivered,
        "the registration reached the server once it was back"
    );
    assert_eq!(count(&central.stats(), "records"), 1);
}

#[test]
fn a_server_restored_from_a_backup_gets_back_from_the_laptop_what_it_lacks() {
    let mut central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    for i in 1..=2 {
        laptop.register(&nik(i), &name(i), "1311012001");
    }
    laptop.sync();
    let dir = tempfile::tempdir().expect("dir");
    let backup = dir.path().join("cadangan.sqlite");
    let backup_arg = backup.to_str().expect("utf-8");
    // Taken while the server serves.
    let done = central.admin(["backup", backup_arg]);
    assert_eq!(done.code, Some(0), "{}{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("backup written"), "{}", done.stdout);
    let again = central.admin(["backup", backup_arg]);
    assert_ne!(again.code, Some(0), "a backup never overwrites");
    assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    for i in 3..=5 {
        laptop.register(&nik(i), &name(i), "1311012001");
    }
    laptop.sync();
    assert_eq!(count(&central.stats(), "records"), 5);

    // Not under a running server.
    let refused = central.admin(["restore", backup_arg]);
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains("stop it before restoring"),
        "{}",
        refused.stderr
    );
    assert_eq!(count(&central.stats(), "records"), 5, "nothing changed");

    central.kill();
    let restored = central.admin(["restore", backup_arg]);
    assert_eq!(
        restored.code,
        Some(0),
        "{}{}",
        restored.stdout,
        restored.stderr
    );
    assert!(
        restored.stdout.contains("before-restore"),
        "{}",
        restored.stdout
    );
    assert_eq!(count(&central.stats(), "records"), 2, "the backup's state");
    central.restart();

    // The laptop notices the other store and sends again what it lacks;
    // what the backup has is answered "duplicate".
    let summary = laptop.sync();
    assert_eq!(summary["server_changed"], true, "{summary}");
    assert_eq!(summary["accepted"], 3, "{summary}");
    assert_eq!(summary["duplicates"], 2, "{summary}");
    let stats = central.stats();
    assert_eq!(count(&stats, "records"), 5);
    assert_eq!(count(&stats, "operations"), 5);
    let audit = central.admin(["audit", "list", "--json"]).json();
    let actions: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert!(actions.contains(&"store.restore"), "{actions:?}");

    // USB bundles work with the restored server: the laptop registered its
    // bundle key again when it noticed the other store.
    laptop.register(&nik(6), &name(6), "1311012001");
    let stick = dir.path().join("paket.lindung");
    let stick_arg = stick.to_str().expect("utf-8");
    let out = laptop.agent(["bundle", "export", stick_arg]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let receipt = dir.path().join("tanda-terima.lindung");
    let receipt_arg = receipt.to_str().expect("utf-8");
    let out = central.admin(["bundle", "import", stick_arg, "--receipt", receipt_arg]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = laptop.agent(["bundle", "import", receipt_arg]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(laptop.pending_changes(), 0);
    assert_eq!(count(&central.stats(), "records"), 6);
}

#[test]
fn two_batches_in_flight_are_applied_in_order_and_once_even_when_an_answer_is_lost() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let proxy = FaultProxy::start(central.address());
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &proxy.url());
    // Five rounds of 200 operations, one batch each: 197 new workers, and
    // new phone numbers for three workers of the round before. So every
    // batch edits records the batch before it creates: were the server to
    // take a batch before the one it follows, it would not know those
    // records and refuse the edits.
    let phone = |i: u64| format!("0812345{i:05}");
    let mut edited = Vec::new();
    for round in 0..5u64 {
        import(&laptop, round * 197, 197);
        let previous = round.checked_sub(1).map(|r| r * 197);
        for i in previous
            .map(|first| [first + 10, first + 100, first + 190])
            .unwrap_or_default()
        {
            let out = laptop.agent(["edit", &nik(i), "--phone", &phone(i)]);
            assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
            edited.push(i);
        }
    }
    // Batches of 200: this loopback link carries them well within the
    // target, so two are in flight at once (on two connections). The first
    // connection is slow, so the batch on the second overtakes it; a later
    // connection's answer is lost after the server committed (the answer
    // to a later batch may still say the server holds those operations:
    // the agent then counts them as sent).
    let made = laptop.pending_changes();
    proxy.inject(Fault::Delay(Duration::from_millis(20)));
    proxy.inject(Fault::DropResponse);
    let sync = |laptop: &Laptop| {
        let mut command = laptop.command();
        command
            .args(["sync", "--json"])
            .env("LINDUNG_PUSH_BATCH", "200");
        lindung_tests::Finished::from_output(command.output().expect("agent runs"))
    };
    let cut = sync(&laptop);
    assert_ne!(cut.code, Some(0), "the lost answer is felt: {}", cut.stdout);
    assert!(laptop.pending_changes() > 0);
    let done = sync(&laptop);
    assert_eq!(done.code, Some(0), "{}{}", done.stdout, done.stderr);
    let summary = &done.json()["summary"];
    assert_eq!(summary["rejected"].as_u64(), Some(0), "{}", done.stdout);
    assert_eq!(proxy.queued(), 0, "both faults were used");
    let stats = central.stats();
    assert_eq!(count(&stats, "records"), 5 * 197);
    assert_eq!(count(&stats, "operations"), made, "no duplicate");
    assert_eq!(laptop.pending_changes(), 0);
    // Every edit reached the server: a second laptop pulls them.
    let other = Laptop::init("Rina (laptop 2)");
    other.enroll(&central, &officer, &central.url());
    other.sync();
    for i in edited {
        let shown = other.agent(["show", &nik(i), "--json"]).json();
        let expected = format!("+62{}", &phone(i)[1..]);
        assert_eq!(shown["registration"]["phone"], expected.as_str(), "{shown}");
    }
}
