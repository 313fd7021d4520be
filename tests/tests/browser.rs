//! The web interfaces in a real headless Chromium (issue 6).

use lindung_tests::Laptop;
use lindung_tests::browser::Browser;
use lindung_tests::central::Central;

/// The harness itself: Chromium opens a page the real server serves.
#[test]
fn chromium_opens_a_page_of_the_server() {
    let Some(browser) = Browser::start("chromium_opens_a_page_of_the_server") else {
        return;
    };
    let central = Central::start();
    browser.goto(&format!("{}/health", central.url()));
    let text = browser.wait_for_text("body", "ok");
    assert!(text.contains("ok"), "{text}");
}

const STAFF_PASSWORD: &str = "rahasia-panjang-sekali";

/// A staff account with a password, logged in in `browser`.
fn staff_logs_in(central: &Central, browser: &Browser) {
    let added = central.admin_with_env(
        [
            "staff",
            "add",
            "Dewi Lestari",
            "--login",
            "dewi",
            "--role",
            "staff",
        ],
        &[("LINDUNG_STAFF_PASSWORD", STAFF_PASSWORD)],
    );
    assert_eq!(added.code, Some(0), "{}{}", added.stdout, added.stderr);
    browser.goto(&format!("{}/login", central.url()));
    browser.screenshot("dashboard-login");
    browser.fill("#login", "dewi");
    browser.fill("#password", STAFF_PASSWORD);
    browser.click("#login-submit");
    browser.find("#logout");
}

/// Staff merge a person registered twice on the dashboard; after their next
/// sync, both laptops hold the merged record withdrawn into the kept one.
#[test]
fn a_duplicate_resolved_on_the_dashboard_reaches_the_laptops() {
    let Some(browser) = Browser::start("a_duplicate_resolved_on_the_dashboard_reaches_the_laptops")
    else {
        return;
    };
    let central = Central::start();
    let rina = central.add_officer("Rina Marlina", &["1311"]);
    let budi = central.add_officer("Budi Santoso", &["1311"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    a.enroll(&central, &rina, &central.url());
    b.enroll(&central, &budi, &central.url());
    let nik = "1311014101900003";
    let first = a.register(nik, "Siti Aminah", "1311012001");
    let second = b.register(nik, "Siti Aminah", "1311012002");
    a.sync();
    b.sync();

    // Reference figures, so the drill-down has bars against its targets.
    let year = time::OffsetDateTime::now_utc().year();
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = dir.path().join("acuan.csv");
    std::fs::write(
        &reference,
        format!(
            "tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n\
             {year};13.11;90.000;15.273;28,30\n{year};13.11.01;12.000;3.100;28,30\n\
             {year};13.11.02;9.000;1.200;28,30\n{year};13.11.03;15.000;4.900;28,30\n"
        ),
    )
    .expect("written");
    let loaded = central.admin(["reference", "import", reference.to_str().expect("utf-8")]);
    assert_eq!(loaded.code, Some(0), "{}{}", loaded.stdout, loaded.stderr);

    staff_logs_in(&central, &browser);
    browser.goto(&format!("{}/coverage?region=13.11", central.url()));
    let covered = browser.text("#summary-covered");
    assert_eq!(
        covered, "15.274",
        "15,273 outside Lindung and Siti, registered twice, once"
    );
    browser.find("#coverage-chart");
    browser.screenshot("dashboard-coverage");
    browser.goto(&format!("{}/duplicates", central.url()));
    let group = browser.text("#group-0");
    assert!(group.contains("1311********0003"), "NIK masked: {group}");
    assert!(!group.contains(nik), "{group}");
    assert!(
        group.contains("Rina Marlina") && group.contains("Budi Santoso"),
        "{group}"
    );
    browser.screenshot("dashboard-duplicates");
    // Keep the first registration (checked by default) and merge.
    browser.click_and_confirm("#merge-0");
    let notice = browser.text("#notice");
    assert!(!notice.is_empty(), "the merge is confirmed on the page");
    browser.goto(&format!("{}/merges", central.url()));
    let merges = browser.text("#merges-table");
    assert!(merges.contains("Dewi Lestari"), "{merges}");

    // The laptops learn it on their next sync.
    for laptop in [&a, &b] {
        laptop.sync();
        let show = |id: &str| {
            let out = laptop.agent(["show", id, "--json"]);
            assert_eq!(out.code, Some(0), "show: {}{}", out.stdout, out.stderr);
            out.json()["registration"]["status"].to_string()
        };
        assert!(show(&first).contains("active"), "{}", show(&first));
        let merged = show(&second);
        assert!(merged.contains("digabung ke"), "{merged}");
    }
}
