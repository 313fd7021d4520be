//! Sneakernet (issue 9): a laptop's outbox carried to the office on a USB
//! stick (`lindung-agent bundle export`), applied by staff
//! (`lindung-server bundle import`, or the dashboard's upload screen), and
//! the receipt carried back (`lindung-agent bundle import`).

use std::path::{Path, PathBuf};

use lindung_tests::central::Central;
use lindung_tests::web::Browser as WebClient;
use lindung_tests::{Finished, Laptop};
use serde_json::Value;

const VILLAGE: &str = "1311012001";
const PASSWORD: &str = "rahasia-panjang-sekali";

/// Imports workers `first..first + count` (`lindung_tests::worker`).
fn import(laptop: &Laptop, first: u64, count: u64) {
    let rows: Vec<String> = (first..first + count)
        .map(|i| {
            let (nik, name) = lindung_tests::worker(i);
            format!("{nik};{name};{VILLAGE};nelayan")
        })
        .collect();
    let imported = laptop.import_workers(&rows);
    assert_eq!(imported.code, Some(0), "{}", imported.stderr);
}

/// `bundle export FILE --json` on the laptop; the bundle's summary.
fn export(laptop: &Laptop, file: &Path) -> Value {
    let out = laptop.agent(["bundle", "export", file.to_str().expect("utf-8"), "--json"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    out.json()["exported"].clone()
}

/// `bundle import FILE` on the server, as text.
fn server_import(central: &Central, file: &Path, receipt: &Path) -> Finished {
    central.admin([
        "bundle",
        "import",
        file.to_str().expect("utf-8"),
        "--receipt",
        receipt.to_str().expect("utf-8"),
    ])
}

fn records(central: &Central) -> u64 {
    central.stats()["records"].as_u64().expect("records")
}

fn stick() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a USB stick");
    let path = dir.path().to_owned();
    (dir, path)
}

fn receipt_import(laptop: &Laptop, receipt: &Path) -> Finished {
    laptop.agent([
        "bundle",
        "import",
        receipt.to_str().expect("utf-8"),
        "--json",
    ])
}

#[test]
fn a_bundle_carried_on_a_stick_is_applied_once_and_its_receipt_marks_the_changes_sent() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    import(&laptop, 0, 40);
    let (_stick, usb) = stick();

    // Exported: the changes stay pending; the file shows no NIK or name.
    let bundle = usb.join("paket.lindung");
    let exported = export(&laptop, &bundle);
    assert_eq!(exported["operations"], 40, "{exported}");
    assert_eq!(laptop.pending_changes(), 40);
    let status = laptop.agent(["status"]);
    assert!(
        status.stdout.contains("Paket flashdisk terakhir")
            && status.stdout.contains("40 perubahan"),
        "{}",
        status.stdout
    );
    let bytes = std::fs::read(&bundle).expect("bundle written");
    let (nik, name) = lindung_tests::worker(0);
    for secret in [nik.as_bytes(), name.as_bytes(), b"nelayan".as_slice()] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "the bundle shows {:?} in clear",
            String::from_utf8_lossy(secret)
        );
    }

    // Applied at the office like a push.
    let receipt = usb.join("tanda-terima.lindung");
    let applied = server_import(&central, &bundle, &receipt);
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    assert!(
        applied
            .stdout
            .contains("40 perubahan — 40 diterima, 0 sudah ada, 0 ditolak"),
        "{}",
        applied.stdout
    );
    assert!(applied.stdout.contains("40 accepted"), "{}", applied.stdout);
    assert_eq!(records(&central), 40);
    let first_receipt = std::fs::read(&receipt).expect("receipt written");

    // The same bundle again: nothing changes, the same receipt.
    let again = central.admin([
        "bundle",
        "import",
        bundle.to_str().expect("utf-8"),
        "--receipt",
        receipt.to_str().expect("utf-8"),
        "--json",
    ]);
    assert_eq!(again.code, Some(0), "{}{}", again.stdout, again.stderr);
    let again = again.json();
    assert_eq!(again["already_imported"], true, "{again}");
    assert_eq!(again["accepted"], 40, "{again}");
    assert_eq!(records(&central), 40);
    assert_eq!(std::fs::read(&receipt).expect("receipt"), first_receipt);
    let listed = central.admin(["bundle", "list", "--json"]).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");

    // Meanwhile the officer registered two more; the receipt leaves them pending.
    import(&laptop, 40, 2);
    let out = receipt_import(&laptop, &receipt);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let applied = out.json();
    assert_eq!(applied["tally"]["accepted"], 40, "{applied}");
    assert_eq!(applied["pending_after"], 2, "{applied}");
    let out = receipt_import(&laptop, &receipt);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.json()["applied_before"].is_string(), "{}", out.stdout);
    assert_eq!(laptop.pending_changes(), 2);

    // Back in signal: only the two new ones travel.
    let summary = laptop.sync();
    assert_eq!(summary["sent"], 2, "{summary}");
    assert_eq!(records(&central), 42);
    assert_eq!(laptop.pending_changes(), 0);

    // Nothing pending: no bundle is written.
    let empty = usb.join("kosong.lindung");
    let out = laptop.agent(["bundle", "export", empty.to_str().expect("utf-8")]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Tidak ada perubahan"), "{}", out.stdout);
    assert!(!empty.exists());
    let audit = central
        .admin(["audit", "list", "--action", "bundle.import", "--json"])
        .json();
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");
}

/// Flips one byte in the middle of a copy of `file`.
fn tampered_copy(file: &Path, to: &Path) {
    let mut bytes = std::fs::read(file).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(to, bytes).expect("written");
}

#[test]
fn tampered_foreign_and_revoked_bundles_are_refused_with_a_reason_and_nothing_is_lost() {
    let central = Central::start();
    let rina_id = central.add_officer("Rina Marlina", &["131101"]);
    let budi_id = central.add_officer("Budi Santoso", &["131101"]);
    let (rina, budi) = (Laptop::init("Rina"), Laptop::init("Budi"));
    rina.enroll(&central, &rina_id, &central.url());
    budi.enroll(&central, &budi_id, &central.url());
    import(&rina, 0, 5);
    let (_stick, usb) = stick();
    let bundle = usb.join("paket.lindung");
    export(&rina, &bundle);
    let receipt = usb.join("tanda-terima.lindung");

    // Altered or cut short on the way: refused (exit 1), nothing applied.
    let altered = usb.join("diubah.lindung");
    tampered_copy(&bundle, &altered);
    let out = server_import(&central, &altered, &receipt);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("diubah atau rusak"), "{}", out.stderr);
    assert!(out.stderr.contains("altered or damaged"), "{}", out.stderr);
    let cut = usb.join("terpotong.lindung");
    let bytes = std::fs::read(&bundle).expect("read");
    std::fs::write(&cut, &bytes[..60]).expect("written");
    let out = server_import(&central, &cut, &receipt);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("terpotong"), "{}", out.stderr);
    let not_bundle = usb.join("foto.jpg");
    std::fs::write(&not_bundle, b"\xff\xd8\xff\xe0 a photo").expect("written");
    let out = server_import(&central, &not_bundle, &receipt);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("bukan paket Lindung"), "{}", out.stderr);
    assert_eq!(records(&central), 0);
    assert!(!receipt.exists());

    // The real one is applied; its receipt is refused by another laptop,
    // refused altered, and by the server (it is for a laptop).
    let out = server_import(&central, &bundle, &receipt);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(records(&central), 5);
    let out = receipt_import(&budi, &receipt);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("laptop lain"), "{}", out.stderr);
    let altered_receipt = usb.join("tanda-terima-diubah.lindung");
    tampered_copy(&receipt, &altered_receipt);
    let out = receipt_import(&rina, &altered_receipt);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("bundle_tampered"), "{}", out.stderr);
    assert_eq!(rina.pending_changes(), 5, "nothing marked sent");
    let out = server_import(&central, &receipt, &usb.join("x.lindung"));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("tanda terima"), "{}", out.stderr);
    let out = receipt_import(&rina, &receipt);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(rina.pending_changes(), 0);

    // A revoked laptop's bundle is refused; its changes stay on the laptop.
    import(&rina, 5, 3);
    let later = usb.join("paket-2.lindung");
    export(&rina, &later);
    let device = central.admin(["device", "list", "--json"]).json();
    let rina_device = device
        .as_array()
        .and_then(|devices| devices.iter().find(|d| d["officer_name"] == "Rina Marlina"))
        .and_then(|d| d["id"].as_str())
        .expect("Rina's device")
        .to_owned();
    let out = central.admin(["device", "revoke", &rina_device]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = server_import(&central, &later, &usb.join("tanda-terima-2.lindung"));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("dicabut"), "{}", out.stderr);
    assert!(out.stderr.contains("revoked"), "{}", out.stderr);
    assert_eq!(records(&central), 5);
    assert_eq!(rina.pending_changes(), 3);
    // A bundle applied before the revocation is still answered as applied.
    let out = server_import(&central, &bundle, &receipt);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("sudah diterapkan"), "{}", out.stdout);
}

#[test]
fn a_receipt_from_before_a_server_restore_is_refused_and_the_laptop_resends_online() {
    let mut central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    import(&laptop, 0, 4);
    let (_stick, usb) = stick();
    let bundle = usb.join("paket.lindung");
    export(&laptop, &bundle);
    let receipt = usb.join("tanda-terima.lindung");
    let out = server_import(&central, &bundle, &receipt);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);

    // The server takes a new identity (as after a restore) before the
    // receipt reaches the laptop, which meanwhile syncs online.
    central.kill();
    let out = central.admin(["store-id", "--renew"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    central.restart();
    let summary = laptop.sync();
    assert_eq!(summary["duplicates"], 4, "{summary}");
    let out = receipt_import(&laptop, &receipt);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("server lain"), "{}", out.stderr);
    assert_eq!(laptop.pending_changes(), 0);
    assert_eq!(records(&central), 4);
}

#[test]
fn staff_apply_a_bundle_on_the_dashboard_and_download_its_receipt() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    import(&laptop, 0, 12);
    let (_stick, usb) = stick();
    let bundle = usb.join("paket.lindung");
    export(&laptop, &bundle);
    let bytes = std::fs::read(&bundle).expect("bundle");
    for (name, login, role) in [
        ("Dewi Lestari", "dewi", "staff"),
        ("Vina Peninjau", "vina", "viewer"),
    ] {
        let added = central.admin_with_env(
            ["staff", "add", name, "--login", login, "--role", role],
            &[("LINDUNG_STAFF_PASSWORD", PASSWORD)],
        );
        assert_eq!(added.code, Some(0), "{}{}", added.stdout, added.stderr);
    }
    let added = central.admin_with_env(
        [
            "staff",
            "add",
            "Sari Pengawas",
            "--login",
            "sari",
            "--role",
            "supervisor",
            "--region",
            "15",
        ],
        &[("LINDUNG_STAFF_PASSWORD", PASSWORD)],
    );
    assert_eq!(added.code, Some(0), "{}{}", added.stdout, added.stderr);

    // A supervisor of another province may not apply this officer's bundle.
    let supervisor = WebClient::new(central.address());
    assert_eq!(supervisor.login("sari", PASSWORD).status, 303);
    let token = supervisor.get("/bundles").csrf().expect("token");
    let page = supervisor.post_multipart(
        "/bundles",
        &[("csrf", &token)],
        &[("file", "paket.lindung", &bytes)],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("di luar wilayah"), "{}", page.body);

    // A viewer sees the list, not the form, and may not upload.
    let viewer = WebClient::new(central.address());
    assert_eq!(viewer.login("vina", PASSWORD).status, 303);
    let page = viewer.get("/bundles");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("id=\"bundle-form\""));
    let token = page.csrf().expect("token");
    let page = viewer.post_multipart(
        "/bundles",
        &[("csrf", &token)],
        &[("file", "paket.lindung", &bytes)],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert_eq!(records(&central), 0);

    let staff = WebClient::new(central.address());
    assert_eq!(staff.login("dewi", PASSWORD).status, 303);
    let page = staff.get("/bundles");
    assert!(page.body.contains("id=\"bundle-form\""), "{}", page.body);
    let token = page.csrf().expect("token");

    // An altered file: the reason, nothing applied.
    let mut altered = bytes.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 1;
    let page = staff.post_multipart(
        "/bundles",
        &[("csrf", &token)],
        &[("file", "paket.lindung", &altered)],
    );
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        page.body.contains("data-code=\"bundle_tampered\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("diubah atau rusak"), "{}", page.body);
    assert_eq!(records(&central), 0);

    // The real one: applied, with the receipt to download.
    let page = staff.post_multipart(
        "/bundles",
        &[("csrf", &token)],
        &[("file", "paket.lindung", &bytes)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("12 perubahan — 12 diterima, 0 sudah ada, 0 ditolak"),
        "{}",
        page.body
    );
    assert_eq!(records(&central), 12);
    let start = page.body.find("/bundles/").expect("receipt link");
    let link: String = page.body[start..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    assert!(link.ends_with("/receipt"), "{link}");
    let receipt = staff.get(&link);
    assert_eq!(receipt.status, 200);
    assert!(
        receipt
            .header("content-disposition")
            .is_some_and(|v| v.contains("tanda-terima-")),
        "{:?}",
        receipt.header("content-disposition")
    );
    // Uploaded twice: the same receipt, nothing applied again.
    let page = staff.post_multipart(
        "/bundles",
        &[("csrf", &token)],
        &[("file", "paket.lindung", &bytes)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-again=\"true\""), "{}", page.body);
    assert!(page.body.contains("sudah diterapkan"), "{}", page.body);
    assert_eq!(records(&central), 12);
    assert_eq!(viewer.get(&link).status, 403);
    assert_eq!(supervisor.get(&link).status, 403);
    let list = supervisor.get("/bundles");
    assert!(list.body.contains("id=\"no-bundles\""), "{}", list.body);
}

/// The upload screen in a real Chromium: the file picked in the form,
/// applied, and the receipt downloaded by the page's link taken back to
/// the laptop, which then has nothing left to send.
#[test]
fn a_bundle_uploaded_in_chromium_comes_back_as_a_receipt_the_laptop_applies() {
    let Some(browser) = lindung_tests::browser::Browser::start(
        "a_bundle_uploaded_in_chromium_comes_back_as_a_receipt_the_laptop_applies",
    ) else {
        return;
    };
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    import(&laptop, 0, 7);
    let (_stick, usb) = stick();
    let bundle = usb.join("paket.lindung");
    export(&laptop, &bundle);
    super::browser::staff_logs_in(&central, &browser);

    browser.click("#nav-bundles");
    browser.wait_for_url("/bundles");
    browser.choose_file("#bundle-file", &bundle);
    browser.click("#bundle-submit");
    let result = browser.wait_for_text("#bundle-result", "7 diterima");
    assert!(result.contains("7 perubahan"), "{result}");
    browser.screenshot("dashboard-bundle-applied");
    assert_eq!(records(&central), 7);
    let href = browser
        .script("return document.getElementById('receipt-download').getAttribute('href');")
        .as_str()
        .expect("a receipt link")
        .to_owned();
    let receipt = usb.join("tanda-terima.lindung");
    std::fs::write(&receipt, browser.download(&href)).expect("receipt saved");
    let out = receipt_import(&laptop, &receipt);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert_eq!(laptop.pending_changes(), 0);
    // The list shows it, newest first.
    browser.goto(&format!("{}/bundles", central.url()));
    let table = browser.text("#bundles-table");
    assert!(table.contains("Rina Marlina"), "{table}");
}
