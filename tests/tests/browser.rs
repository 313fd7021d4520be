//! The web interfaces in a real headless Chromium (issue 6).

use lindung_shared::lang::{Lang, Problem};
use lindung_tests::Laptop;
use lindung_tests::browser::Browser;
use lindung_tests::central::Central;
use lindung_tests::ui::AgentUi;

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
pub(crate) fn staff_logs_in(central: &Central, browser: &Browser) {
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
    browser.wait_for_url("/coverage");
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
    central.import_reference(&format!(
        "{year};13.11;90.000;15.273;28,30\n{year};13.11.01;12.000;3.100;28,30\n\
         {year};13.11.02;9.000;1.200;28,30\n{year};13.11.03;15.000;4.900;28,30\n"
    ));

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
    browser.screenshot("dashboard-merges");
    // The other screens, for the README's pictures.
    for (path, element, name) in [
        ("/conflicts", "#conflicts-empty", "dashboard-conflicts"),
        ("/officers", "#add-officer-form", "dashboard-officers"),
        ("/reference", "#reference-form", "dashboard-reference"),
        ("/exports", "#export-form", "dashboard-exports"),
        ("/audit", "#audit-table", "dashboard-audit"),
    ] {
        browser.goto(&format!("{}{path}", central.url()));
        browser.find(element);
        browser.screenshot(name);
    }
    assert!(
        browser.text("#audit-table").contains("duplicates.merge"),
        "the merge is audited"
    );

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

/// The figure `#summary-persons` on the dashboard's coverage page of `region`.
fn dashboard_persons(browser: &Browser, central: &Central, region: &str) -> String {
    browser.goto(&format!("{}/coverage?region={region}", central.url()));
    browser.text("#summary-persons")
}

/// An officer sets up a laptop, enrols it and registers a worker in the
/// agent's web UI (a NIK with an impossible birth month is refused first,
/// with its reason next to the field), sees the worker in the list with a
/// masked NIK, syncs from the sync page, and staff see the coverage of the
/// district grow on the dashboard.
#[test]
fn a_worker_registered_in_the_agent_ui_reaches_the_dashboard() {
    let Some(browser) = Browser::start("a_worker_registered_in_the_agent_ui_reaches_the_dashboard")
    else {
        return;
    };
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let code = central.enroll_code(&officer);
    staff_logs_in(&central, &browser);
    assert_eq!(dashboard_persons(&browser, &central, "13.11.01"), "0");

    let ui = AgentUi::start(&[]);
    let agent = format!("http://{}", ui.address());
    browser.goto(&format!("{agent}/"));
    browser.fill("#officer", "Rina Marlina");
    browser.fill("#passphrase", "kopi-susu-pagi-hari");
    browser.fill("#passphrase_again", "kopi-susu-pagi-hari");
    browser.screenshot("agent-setup");
    browser.click("#setup");
    // A new laptop is led on to enrolment.
    browser.wait_for_url("/enroll");
    browser.screenshot("agent-enroll");
    browser.fill("#server", &central.url());
    browser.fill("#code", &code);
    browser.click("#enroll");
    browser.wait_for_url("/sync");

    // A NIK whose birth month is 13: the verdict appears as it is typed,
    // and saving is refused with the same reason next to the NIK field.
    let bad = "1311014113900003";
    let today = time::OffsetDateTime::now_utc().date();
    let check = lindung_shared::nik::validate_nik(bad, today, lindung_shared::region::regions());
    let reason = check
        .errors()
        .next()
        .expect("an impossible month is an error")
        .message(Lang::Id);
    browser.goto(&format!("{agent}/register"));
    browser.fill("#nik", bad);
    browser.wait_for_text("#nik-verdict", &reason);
    browser.fill("#full_name", "Siti Aminah");
    browser.fill("#village_code", "1311012001");
    browser.select("#category", "fisherman");
    browser.select("#payer", "apbd");
    browser.select("#consent_method", "signed_form");
    browser.click("#save");
    let error = browser.text("#nik-error");
    assert!(error.contains(&reason), "{error}");
    assert_eq!(
        browser.value("#full_name"),
        "Siti Aminah",
        "what was typed is kept"
    );
    browser.screenshot("agent-register-refused");

    // The right NIK: birth date and sex are filled in from it.
    let good = "1311014101900003";
    browser.fill("#nik", good);
    browser.wait_for_text("#nik-verdict", "");
    let started = std::time::Instant::now();
    while browser.value("#birth_date") != "1990-01-01" {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "birth date not derived from the NIK: {:?}",
            browser.value("#birth_date")
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(browser.value("#sex"), "P", "day 41 is a woman's");
    browser.screenshot("agent-register");
    browser.click("#save");
    browser.wait_for_url("saved=1");
    assert_eq!(
        browser.text("#record-nik"),
        good,
        "the record's own page shows the full NIK"
    );
    browser.goto(&format!("{agent}/registrations"));
    let row = browser.text("[data-testid=registration-row]");
    assert!(
        row.contains("1311********0003") && row.contains("Siti Aminah"),
        "{row}"
    );
    assert!(
        !browser.body_text().contains(good),
        "no full NIK in the list"
    );
    browser.screenshot("agent-list");

    // Sync from the sync page; the pending change goes.
    browser.goto(&format!("{agent}/sync"));
    assert_eq!(browser.text("#pending-count"), "1");
    browser.click("#sync-now");
    let started = std::time::Instant::now();
    loop {
        browser.goto(&format!("{agent}/sync"));
        if browser.text("#pending-count") == "0" {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "still pending: {}",
            browser.body_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    browser.screenshot("agent-sync");
    for (path, element, name) in [
        (
            "/progress?village=1311012001",
            "#positions-form",
            "agent-progress",
        ),
        ("/import", "#import-form", "agent-import"),
    ] {
        browser.goto(&format!("{agent}{path}"));
        browser.find(element);
        browser.screenshot(name);
    }
    browser.click("#lock");
    browser.wait_for_url("/unlock");
    browser.screenshot("agent-unlock");

    assert_eq!(dashboard_persons(&browser, &central, "13.11.01"), "1");
}

/// Keyboard only: from the top of the page, Tab reaches every field of the
/// registration form in turn, typing fills them (selects included), and
/// Enter on the save button saves.
#[test]
fn the_registration_form_works_from_the_keyboard_alone() {
    use lindung_shared::registration::{Category, ConsentMethod, PayerKind};
    use lindung_tests::browser::{ENTER, TAB};

    let Some(browser) = Browser::start("the_registration_form_works_from_the_keyboard_alone")
    else {
        return;
    };
    let ui = AgentUi::start(&[]);
    let agent = format!("http://{}", ui.address());
    browser.goto(&format!("{agent}/"));
    browser.fill("#officer", "Rina Marlina");
    browser.fill("#passphrase", "kopi-susu-pagi-hari");
    browser.fill("#passphrase_again", "kopi-susu-pagi-hari");
    browser.keys(ENTER);
    browser.wait_for_url("/enroll");

    browser.goto(&format!("{agent}/register"));
    let values = std::collections::BTreeMap::from([
        ("nik", "1311014101900003"),
        ("full_name", "Siti Aminah"),
        ("village_code", "1311012001"),
        ("category", Category::Fisherman.label(Lang::Id)),
        ("payer", PayerKind::Apbd.label(Lang::Id)),
        ("consent_method", ConsentMethod::SignedForm.label(Lang::Id)),
    ]);
    let mut visited = Vec::new();
    let mut typed = std::collections::BTreeSet::new();
    for _ in 0..80 {
        browser.keys(TAB);
        let id = browser.focused_id();
        visited.push(id.clone());
        if let Some(value) = values.get(id.as_str())
            && typed.insert(id.clone())
        {
            browser.keys(value);
        }
        if id == "save" {
            break;
        }
    }
    assert_eq!(
        typed.len(),
        values.len(),
        "Tab reached {visited:?}, not every required field"
    );
    assert_eq!(
        visited.last().map(String::as_str),
        Some("save"),
        "{visited:?}"
    );
    let order: Vec<&str> = visited
        .iter()
        .map(String::as_str)
        .filter(|id| values.contains_key(id))
        .collect();
    assert_eq!(
        order,
        [
            "nik",
            "full_name",
            "village_code",
            "category",
            "payer",
            "consent_method"
        ],
        "fields in reading order"
    );
    browser.keys(ENTER);
    browser.wait_for_url("saved=1");
    assert_eq!(browser.text("#record-nik"), "1311014101900003");
}
