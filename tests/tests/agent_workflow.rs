//! An officer's day on an offline laptop: set up, register, be stopped by a
//! duplicate, fix mistakes, withdraw, see the village's progress.

use lindung_tests::Laptop;

/// Fields of a valid registration in Lubuk Gadang, Solok Selatan.
fn siti() -> Vec<&'static str> {
    vec![
        "register",
        "--nik",
        "1311014101900001",
        "--name",
        "Siti Aminah",
        "--village",
        "1311012001",
        "--rt",
        "3",
        "--rw",
        "1",
        "--category",
        "nelayan",
        "--payer",
        "apbd",
        "--consent",
        "signed_form",
    ]
}

#[test]
fn a_registration_is_saved_listed_with_a_masked_nik_and_shown_in_full() {
    let laptop = Laptop::init("Rina Marlina");
    let out = laptop.agent(siti());
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Tersimpan: 1311********0001 Siti Aminah"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Lubuk Gadang"), "{}", out.stdout);

    let list = laptop.agent(["list"]);
    assert!(list.stdout.contains("1311********0001"), "{}", list.stdout);
    assert!(
        !list.stdout.contains("1311014101900001"),
        "a list never shows the full NIK"
    );
    assert!(list.stdout.contains("belum terkirim"), "{}", list.stdout);
    let json = laptop.agent(["list", "--json"]).json();
    assert_eq!(json[0]["nik"], "1311********0001");
    let id = json[0]["id"].as_str().expect("id").to_owned();

    let show = laptop.agent(["show", &id[..8]]);
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    assert!(
        show.stdout.contains("1311014101900001"),
        "the record's own page shows the full NIK"
    );
    assert!(
        show.stdout.contains("perempuan"),
        "sex derived from the NIK: {}",
        show.stdout
    );
    let by_nik = laptop.agent(["show", "1311014101900001", "--json"]).json();
    assert_eq!(by_nik["registration"]["id"], id.as_str());

    let status = laptop.agent(["status", "--json"]).json();
    assert_eq!(status["status"]["registrations"], 1);
    assert_eq!(status["status"]["pending_changes"], 1);
    assert_eq!(status["officer"], "Rina Marlina");
}

#[test]
fn the_same_nik_is_refused_and_the_existing_registration_shown() {
    let laptop = Laptop::init("Rina Marlina");
    assert_eq!(laptop.agent(siti()).code, Some(0));
    let mut again = siti();
    again[4] = "Siti A.";
    let out = laptop.agent(again.iter().chain(["--json"].iter()));
    assert_eq!(out.code, Some(1));
    let json = out.json();
    assert_eq!(json["saved"], false);
    assert_eq!(json["code"], "duplicate_nik");
    assert_eq!(json["existing"][0]["nik"], "1311********0001");
    assert_eq!(json["existing"][0]["full_name"], "Siti Aminah");
    let text = laptop.agent(siti());
    assert!(text.stdout.contains("sudah terdaftar"), "{}", text.stdout);
    assert_eq!(
        laptop.agent(["status", "--json"]).json()["status"]["registrations"],
        1
    );
}

#[test]
fn every_invalid_field_is_named_and_nothing_is_saved() {
    let laptop = Laptop::init("Rina Marlina");
    let out = laptop.agent([
        "register",
        "--nik",
        "1311013102900001",
        "--name",
        "S1ti",
        "--village",
        "131101",
        "--category",
        "astronaut",
        "--payer",
        "apbd",
        "--consent",
        "signed_form",
        "--rt",
        "0",
    ]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    for field in ["nik:", "full_name:", "village_code:", "rt:", "category:"] {
        assert!(
            out.stdout.contains(field),
            "{field} missing from:\n{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("Tidak disimpan"), "{}", out.stdout);
    let english = laptop.agent(["--lang", "en", "register", "--nik", "1311013102900001"]);
    assert!(english.stdout.contains("Not saved"), "{}", english.stdout);
    assert_eq!(
        laptop.agent(["status", "--json"]).json()["status"]["registrations"],
        0
    );
}

#[test]
fn a_wrong_or_missing_passphrase_is_refused_clearly() {
    let laptop = Laptop::init("Rina Marlina");
    assert_eq!(laptop.agent(siti()).code, Some(0));
    let wrong = laptop.agent_with_passphrase(["status"], Some("bukan-sandinya"));
    assert_eq!(wrong.code, Some(2));
    assert!(
        wrong.stderr.contains("Kata sandi salah"),
        "{}",
        wrong.stderr
    );
    assert!(
        !wrong.stderr.contains("sqlite3Codec"),
        "no library noise: {}",
        wrong.stderr
    );
    let missing = laptop.agent_with_passphrase(["status"], None);
    assert_eq!(missing.code, Some(2));
    assert!(
        missing.stderr.contains("LINDUNG_PASSPHRASE"),
        "{}",
        missing.stderr
    );
    assert_eq!(
        laptop.agent(["status", "--json"]).json()["status"]["registrations"],
        1,
        "data intact"
    );
}

#[test]
fn a_village_can_be_given_by_name() {
    let laptop = Laptop::init("Rina Marlina");
    let mut args = siti();
    args[6] = "lubuk gadang";
    let out = laptop.agent(args);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let json = laptop.agent(["list", "--json"]).json();
    assert_eq!(json[0]["village_code"], "1311012001");
    let mut ambiguous = siti();
    ambiguous[2] = "1311014101900002";
    ambiguous[6] = "koto";
    let out = laptop.agent(ambiguous);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("beberapa desa"), "{}", out.stderr);
}

#[test]
fn edits_keep_earlier_values_and_withdrawals_stop_counting() {
    let laptop = Laptop::init("Rina Marlina");
    assert_eq!(laptop.agent(siti()).code, Some(0));
    let edit = laptop.agent([
        "edit",
        "1311014101900001",
        "--name",
        "Siti Aminah Lubis",
        "--rt",
        "4",
    ]);
    assert_eq!(edit.code, Some(0), "{}{}", edit.stdout, edit.stderr);
    assert!(
        edit.stdout.contains("full_name") && edit.stdout.contains("rt"),
        "{}",
        edit.stdout
    );
    let show = laptop.agent(["show", "1311014101900001"]);
    assert!(show.stdout.contains("Siti Aminah Lubis"), "{}", show.stdout);
    assert!(
        show.stdout.contains("\"Siti Aminah\""),
        "the earlier name is kept: {}",
        show.stdout
    );

    let bad_edit = laptop.agent(["edit", "1311014101900001", "--phone", "+1 555 0100"]);
    assert_eq!(bad_edit.code, Some(1));
    assert!(bad_edit.stdout.contains("phone:"), "{}", bad_edit.stdout);

    let withdraw = laptop.agent([
        "withdraw",
        "1311014101900001",
        "--reason",
        "pindah ke luar daerah",
    ]);
    assert_eq!(withdraw.code, Some(0), "{}", withdraw.stderr);
    let status = laptop.agent(["status", "--json"]).json();
    assert_eq!(status["status"]["active"], 0);
    assert_eq!(status["status"]["withdrawn"], 1);
    assert_eq!(status["status"]["pending_changes"], 3);
}

#[test]
fn village_progress_counts_categories_against_recorded_positions() {
    let laptop = Laptop::init("Rina Marlina");
    let mut rt_head = siti();
    rt_head[12] = "ketua rt";
    assert_eq!(laptop.agent(rt_head).code, Some(0));
    let out = laptop.agent([
        "village",
        "set-positions",
        "--village",
        "1311012001",
        "--rt",
        "12",
        "--rw",
        "4",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let progress = laptop
        .agent(["progress", "--village", "1311012001", "--json"])
        .json();
    assert_eq!(progress["rt_heads"], 1);
    assert_eq!(progress["progress"]["rt_positions"], 12);
    assert_eq!(progress["progress"]["provisional"], true);
    let text = laptop.agent(["progress", "--village", "1311012001"]);
    assert!(text.stdout.contains("1 / 12 (11 belum)"), "{}", text.stdout);
}

#[test]
fn on_a_terminal_register_asks_for_what_is_missing_including_optional_fields() {
    // `script` (util-linux) gives the agent a real terminal and types the answers.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let laptop = Laptop::init("Rina Marlina");
    let answers = "1311014101900001\nSiti Aminah\nlubuk gadang\n3\n\n081234567890\nnelayan\ncsr\nPT Semen Padang\nsigned_form\n";
    let agent = lindung_tests::binary("lindung-agent");
    let mut script = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} register", agent.display()),
            "/dev/null",
        ])
        .env("LINDUNG_DATA_DIR", laptop.dir())
        .env("LINDUNG_PASSPHRASE", lindung_tests::TEST_PASSPHRASE)
        .env_remove("LINDUNG_LANG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script runs");
    use std::io::Write as _;
    script
        .stdin
        .take()
        .expect("stdin")
        .write_all(answers.as_bytes())
        .expect("answers typed");
    let output = script.wait_with_output().expect("script ends");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("RT (boleh kosong)"), "{printed}");
    assert!(printed.contains("nama perusahaan/lembaga"), "{printed}");
    assert!(printed.contains("Tersimpan"), "{printed}");
    let shown = laptop.agent(["show", "1311014101900001", "--json"]).json();
    let registration = &shown["registration"];
    assert_eq!(registration["village_code"], "1311012001");
    assert_eq!(registration["rt"], 3);
    assert_eq!(registration["rw"], serde_json::Value::Null);
    assert_eq!(registration["payer"]["name"], "PT Semen Padang");
    assert_eq!(registration["phone"], "+6281234567890");
}
