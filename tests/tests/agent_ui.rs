//! `lindung-agent serve`, driven over plain HTTP as a browser would: first
//! run, unlock, CSRF, registering (invalid then valid), the list and the
//! record page, languages, auto-lock, DNS-rebinding protection, import and
//! the JSON checks behind the inline validation.

use lindung_tests::ui::{AgentUi, Browser, Page};

const PASSPHRASE: &str = "sandi-uji-lapangan";
const VALID_NIK: &str = "1311014101900001";
/// 31 February: not a date.
const INVALID_NIK: &str = "1311013102900001";

/// What maud does to text in HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Sets up a fresh UI from its first-run page and returns an unlocked browser.
fn set_up(ui: &AgentUi) -> Browser {
    let mut browser = ui.browser();
    let page = browser.get("/setup");
    assert_eq!(page.status, 200, "{}", page.body);
    let answer = browser.post(
        "/setup",
        &[
            ("csrf", &page.csrf()),
            ("officer", "Rina Marlina"),
            ("passphrase", PASSPHRASE),
            ("passphrase_again", PASSPHRASE),
        ],
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    browser
}

fn register_fields<'a>(csrf: &'a str, nik: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("nik", nik),
        ("full_name", name),
        ("village_code", "1311012001"),
        ("rt", "3"),
        ("rw", "1"),
        ("category", "fisherman"),
        ("payer", "apbd"),
        ("consent_method", "signed_form"),
    ]
}

fn registrations_in(ui: &AgentUi) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(lindung_tests::binary("lindung-agent"))
        .args(["list", "--json"])
        .env_remove("LINDUNG_LANG")
        .env("LINDUNG_DATA_DIR", ui.dir())
        .env("LINDUNG_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("lindung-agent list runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .expect("JSON")
        .as_array()
        .cloned()
        .expect("a list")
}

fn assert_security_headers(page: &Page) {
    assert_eq!(
        page.header("content-security-policy")
            .map(|v| v.starts_with("default-src 'self'")),
        Some(true),
        "{:?}",
        page.headers
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
}

#[test]
fn first_run_unlock_register_list_and_record() {
    let ui = AgentUi::start(&[]);
    let mut browser = ui.browser();

    // No store yet: every page leads to the first-run setup.
    let home = browser.get("/");
    assert_eq!(home.status, 303);
    assert_eq!(home.header("location"), Some("/setup"));
    let cookie = home.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let setup = browser.get("/setup");
    assert_security_headers(&setup);
    assert_eq!(setup.header("cache-control"), Some("no-store"));
    assert!(setup.body.contains("id=\"setup-form\""));

    // A POST without the CSRF token is refused, and nothing is created.
    let forged = browser.post(
        "/setup",
        &[
            ("officer", "Rina"),
            ("passphrase", PASSPHRASE),
            ("passphrase_again", PASSPHRASE),
        ],
    );
    assert_eq!(forged.status, 403);
    assert!(!ui.dir().join("agent.db").exists());
    // Two different passphrases: refused, named at the field, nothing created.
    let differ = browser.post(
        "/setup",
        &[
            ("csrf", &setup.csrf()),
            ("officer", "Rina Marlina"),
            ("passphrase", PASSPHRASE),
            ("passphrase_again", "sandi-lain-sekali"),
        ],
    );
    assert_eq!(differ.status, 400);
    assert!(differ.body.contains("id=\"passphrase_again-error\""));
    assert!(differ.body.contains("Kedua kata sandi tidak sama"));
    assert!(!ui.dir().join("agent.db").exists());
    let done = browser.post(
        "/setup",
        &[
            ("csrf", &setup.csrf()),
            ("officer", "Rina Marlina"),
            ("passphrase", PASSPHRASE),
            ("passphrase_again", PASSPHRASE),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(ui.dir().join("agent.db").exists());

    // Lock, then unlock: wrong passphrase first.
    let page = browser.get("/registrations");
    assert_eq!(page.status, 200, "{}", page.body);
    let locked = browser.post("/lock", &[("csrf", &page.csrf())]);
    assert_eq!(locked.header("location"), Some("/unlock"));
    assert_eq!(
        browser.get("/registrations").header("location"),
        Some("/unlock")
    );
    let unlock = browser.get("/unlock");
    let wrong = browser.post(
        "/unlock",
        &[("csrf", &unlock.csrf()), ("passphrase", "bukan-sandinya")],
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Kata sandi salah"), "{}", wrong.body);
    assert_eq!(
        browser.get("/registrations").header("location"),
        Some("/unlock")
    );
    let unlock = browser.get("/unlock");
    let right = browser.post(
        "/unlock",
        &[("csrf", &unlock.csrf()), ("passphrase", PASSPHRASE)],
    );
    assert_eq!(right.status, 303, "{}", right.body);
    assert_eq!(right.header("location"), Some("/registrations"));

    // An invalid NIK: the form comes back naming the NIK field and the
    // Indonesian reason, keeping what was typed; nothing is saved.
    let form = browser.get("/register");
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    let invalid = browser.post(
        "/register",
        &register_fields(&csrf, INVALID_NIK, "Siti Aminah"),
    );
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    let reason = lindung_agent::actions::nik_verdict(INVALID_NIK).errors[0]
        .message_id
        .clone();
    assert!(
        invalid.body.contains("id=\"nik-error\""),
        "{}",
        invalid.body
    );
    assert!(
        invalid.body.contains(&escape(&reason)),
        "{reason} not in {}",
        invalid.body
    );
    assert!(invalid.body.contains("value=\"Siti Aminah\""));
    assert!(registrations_in(&ui).is_empty());

    // A valid one is saved and listed with its NIK masked.
    let saved = browser.post(
        "/register",
        &register_fields(&csrf, VALID_NIK, "Siti Aminah"),
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let location = saved.header("location").expect("to the record").to_owned();
    assert!(location.starts_with("/registrations/"));
    let list = browser.get("/registrations");
    assert!(list.body.contains("1311********0001"), "{}", list.body);
    assert!(!list.body.contains(VALID_NIK), "the list shows a full NIK");
    assert!(list.body.contains("Siti Aminah"));
    // Its own page shows the full NIK.
    let record = browser.get(&location);
    assert_eq!(record.status, 200);
    assert!(
        record
            .body
            .contains(&format!("id=\"record-nik\">{VALID_NIK}<")),
        "{}",
        record.body
    );
    assert_eq!(registrations_in(&ui).len(), 1);

    // The same NIK again is refused at the NIK field.
    let again = browser.post("/register", &register_fields(&csrf, VALID_NIK, "Siti A."));
    assert_eq!(again.status, 409);
    assert!(again.body.contains("NIK ini sudah terdaftar di laptop ini"));
    assert_eq!(registrations_in(&ui).len(), 1);

    // Edit the RT: the earlier value stays in the history.
    let id = location
        .trim_start_matches("/registrations/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let edit = browser.get(&format!("/registrations/{id}/edit"));
    assert!(edit.body.contains(&format!("value=\"{VALID_NIK}\"")));
    let mut fields = register_fields(&csrf, VALID_NIK, "Siti Aminah");
    fields.retain(|(name, _)| *name != "rt");
    fields.push(("rt", "4"));
    let edited = browser.post(&format!("/registrations/{id}/edit"), &fields);
    assert_eq!(edited.status, 303, "{}", edited.body);
    let record = browser.get(&format!("/registrations/{id}"));
    assert!(
        record.body.contains("id=\"record-rt\">004<"),
        "{}",
        record.body
    );
    assert!(record.body.contains("data-testid=\"history-row\""));

    // Withdrawal needs a reason.
    let refused = browser.post(
        &format!("/registrations/{id}/withdraw"),
        &[("csrf", &csrf), ("reason", " ")],
    );
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Alasan penarikan wajib diisi"));
    let withdrawn = browser.post(
        &format!("/registrations/{id}/withdraw"),
        &[("csrf", &csrf), ("reason", "pindah domisili")],
    );
    assert_eq!(withdrawn.status, 303);
    let record = browser.get(&format!("/registrations/{id}"));
    assert!(record.body.contains("ditarik: pindah domisili"));

    // Sync status: not enrolled, the changes wait.
    let sync = browser.get("/sync");
    assert!(
        sync.body.contains("Belum terdaftar ke server"),
        "{}",
        sync.body
    );
    assert!(
        sync.body.contains("id=\"pending-count\">3<"),
        "{}",
        sync.body
    );
}

#[test]
fn english_on_request_and_progress_in_a_village() {
    let ui = AgentUi::start(&[]);
    let mut browser = set_up(&ui);
    let form = browser.get("/register?lang=en");
    assert!(form.body.contains("<html lang=\"en\""));
    assert!(form.body.contains("Register a worker"));
    let invalid = browser.post(
        "/register",
        &register_fields(&form.csrf(), INVALID_NIK, "Siti Aminah"),
    );
    let reason = lindung_agent::actions::nik_verdict(INVALID_NIK).errors[0]
        .message_en
        .clone();
    assert!(
        invalid.body.contains(&escape(&reason)),
        "{reason} not in {}",
        invalid.body
    );
    // The choice sticks (a cookie) until switched back.
    assert!(browser.get("/registrations").body.contains("Registrations"));
    assert!(
        browser
            .get("/registrations?lang=id")
            .body
            .contains("Pendaftaran")
    );

    let csrf = form.csrf();
    let mut fields = register_fields(&csrf, VALID_NIK, "Siti Aminah");
    fields.retain(|(name, _)| *name != "category");
    fields.push(("category", "rt_head"));
    assert_eq!(browser.post("/register", &fields).status, 303);
    let set = browser.post(
        "/progress/positions",
        &[
            ("csrf", &csrf),
            ("village", "1311012001"),
            ("rt", "12"),
            ("rw", "4"),
        ],
    );
    assert_eq!(set.status, 303, "{}", set.body);
    let progress = browser.get("/progress?village=1311012001");
    assert!(
        progress.body.contains("id=\"rt-progress\""),
        "{}",
        progress.body
    );
    assert!(
        progress.body.contains(" 1 / 12 (11 belum)"),
        "{}",
        progress.body
    );
    assert!(
        progress.body.contains("id=\"provisional\""),
        "not synced yet: provisional"
    );
}

#[test]
fn auto_lock_ends_an_idle_session() {
    // Zero seconds: any pause between two requests is too long.
    let ui = AgentUi::start(&[("LINDUNG_UI_LOCK_AFTER_SECONDS", "0")]);
    let mut browser = set_up(&ui);
    let page = browser.get("/registrations");
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/unlock?locked=1"));
    let unlock = browser.get("/unlock?locked=1");
    assert!(unlock.body.contains("id=\"locked\""));
    // The JSON checks are locked too.
    let api = browser.get("/api/check/nik?nik=1311014101900001");
    assert_eq!(api.status, 401);
}

#[test]
fn a_foreign_host_header_is_refused() {
    let ui = AgentUi::start(&[]);
    let mut browser = ui.browser();
    browser.host = "lindung.evil.example".into();
    let page = browser.get("/setup");
    assert_eq!(page.status, 403);
    assert!(!page.body.contains("setup-form"));
    browser.host = format!("localhost:{}", ui.address().port());
    assert_eq!(browser.get("/setup").status, 200);
}

#[test]
fn serve_refuses_a_non_loopback_address() {
    let out = lindung_tests::agent(["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.code, Some(2), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("loopback"), "{}", out.stderr);
}

#[test]
fn import_shows_the_row_report() {
    let ui = AgentUi::start(&[]);
    let mut browser = set_up(&ui);
    let form = browser.get("/import");
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    let csv = "NIK;Nama Lengkap;Kode Desa;Pekerjaan\n1311010202850002;Budi Santoso;1311012001;nelayan\n1311013102900003;Sari Dewi;1311012001;nelayan\n";
    let report = browser.post_file(
        "/import",
        &[
            ("csrf", &form.csrf()),
            ("payer", "apbd"),
            ("consent_method", "signed_form"),
        ],
        "file",
        "desa.csv",
        csv.as_bytes(),
    );
    assert_eq!(report.status, 200, "{}", report.body);
    assert!(report.body.contains("id=\"created\">1<"), "{}", report.body);
    assert!(report.body.contains("id=\"refused\">1<"));
    let row = report
        .body
        .split("data-testid=\"import-problem\"")
        .nth(1)
        .expect("a problem row");
    assert!(
        row.contains("<td class=\"num\">3</td><td>NIK</td>"),
        "{row}"
    );
    let reason = lindung_agent::actions::nik_verdict("1311013102900003").errors[0]
        .message_id
        .clone();
    assert!(row.contains(&escape(&reason)), "{row}");
    assert_eq!(registrations_in(&ui).len(), 1);
    // Without the token the upload is refused.
    let forged = browser.post_file("/import", &[], "file", "desa.csv", csv.as_bytes());
    assert_eq!(forged.status, 403);
}

#[test]
fn json_checks_behind_the_inline_validation() {
    let ui = AgentUi::start(&[]);
    let mut browser = set_up(&ui);
    let verdict = browser.get(&format!("/api/check/nik?nik={VALID_NIK}"));
    assert_eq!(verdict.status, 200);
    assert_eq!(verdict.header("cache-control"), Some("no-store"));
    let json = verdict.json();
    assert_eq!(json["valid"], true);
    assert_eq!(json["sex"], "female");
    assert_eq!(json["sex_code"], "P");
    assert_eq!(json["birth_date"], "1990-01-01");
    assert!(json["message"].as_str().unwrap().starts_with("NIK sah"));
    let wrong = browser
        .get(&format!("/api/check/nik?nik={INVALID_NIK}"))
        .json();
    assert_eq!(wrong["valid"], false);
    assert!(!wrong["errors"].as_array().unwrap().is_empty());

    let villages = browser.get("/api/villages?q=lubuk+gadang").json();
    let codes: Vec<&str> = villages["villages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["code"].as_str())
        .collect();
    assert!(codes.contains(&"1311012001"), "{villages}");

    // Duplicate check before saving: nothing yet, then the same NIK.
    let query = format!(
        "/api/check/duplicate?nik={VALID_NIK}&full_name=Siti+Aminah&village_code=1311012001"
    );
    assert!(browser.get(&query).json()["message"].is_null());
    let form = browser.get("/register");
    assert_eq!(
        browser
            .post(
                "/register",
                &register_fields(&form.csrf(), VALID_NIK, "Siti Aminah")
            )
            .status,
        303
    );
    let duplicate = browser.get(&query).json();
    assert_eq!(duplicate["same_nik"].as_array().unwrap().len(), 1);
    assert_eq!(duplicate["same_nik"][0]["nik"], "1311********0001");
    // A probable duplicate: another NIK, same village and birth date, similar name.
    let similar = browser
        .get("/api/check/duplicate?nik=1311014101900002&full_name=Siti+Aminah&village_code=lubuk+gadang")
        .json();
    assert_eq!(
        similar["probable"].as_array().unwrap().len(),
        1,
        "{similar}"
    );
}

/// Reloads a page until `ready` holds (the background sync runs on its own
/// thread); fails after 10 seconds.
fn reload_until(browser: &mut Browser, path: &str, ready: impl Fn(&Page) -> bool) -> Page {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let page = browser.get(path);
        if ready(&page) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never ready:\n{}",
            page.body
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

#[test]
fn enrolment_sync_now_and_a_refused_change_fixed_from_the_sync_page() {
    let central = lindung_tests::central::Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let ui = AgentUi::start(&[]);
    let mut browser = set_up(&ui);

    // Enrol with a code from staff; a wrong code is named and nothing changes.
    let enroll = browser.get("/enroll");
    let csrf = enroll.csrf();
    let wrong = browser.post(
        "/enroll",
        &[
            ("csrf", &csrf),
            ("server", &central.url()),
            ("code", "AAAA-BBBB-CCCC"),
        ],
    );
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("id=\"enroll-error\""));
    let code = central.enroll_code(&officer);
    let enrolled = browser.post(
        "/enroll",
        &[("csrf", &csrf), ("server", &central.url()), ("code", &code)],
    );
    assert_eq!(
        enrolled.header("location"),
        Some("/sync?requested=1"),
        "{}",
        enrolled.body
    );

    // A registration in a village outside the officer's district: refused by the server.
    let mut fields = register_fields(&csrf, VALID_NIK, "Siti Aminah");
    fields.retain(|(name, _)| *name != "village_code");
    fields.push(("village_code", "1311022001"));
    let saved = browser.post("/register", &fields);
    assert_eq!(saved.status, 303, "{}", saved.body);
    let id = saved
        .header("location")
        .unwrap()
        .trim_start_matches("/registrations/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let now = browser.post("/sync/now", &[("csrf", &csrf)]);
    assert_eq!(now.status, 303);
    let sync = reload_until(&mut browser, "/sync", |p| {
        p.body.contains("data-testid=\"rejected-row\"")
    });
    assert!(sync.body.contains("class=\"online\""), "{}", sync.body);
    assert!(
        sync.body
            .contains(&format!("href=\"/registrations/{id}/edit\"")),
        "a way to fix it"
    );
    assert!(sync.body.contains("id=\"pending-count\">0<"));
    let record = browser.get(&format!("/registrations/{id}"));
    assert!(record.body.contains("data-testid=\"record-rejected\""));

    // The fix (a village in the district) is a new change, and the server takes it.
    let mut fields = register_fields(&csrf, VALID_NIK, "Siti Aminah");
    fields.retain(|(name, _)| *name != "village_code");
    fields.push(("village_code", "1311012001"));
    let fixed = browser.post(&format!("/registrations/{id}/edit"), &fields);
    assert_eq!(fixed.status, 303, "{}", fixed.body);
    browser.post("/sync/now", &[("csrf", &csrf)]);
    reload_until(&mut browser, &format!("/registrations/{id}"), |p| {
        p.body.contains("id=\"record-sync\">terkirim<")
    });
    let stats = central.stats();
    assert_eq!(stats["records"], 1, "{stats}");
    // The refusal stays listed, marked fixed; the history shows the village
    // it had, not a copy of every field the fix re-sent.
    let sync = browser.get("/sync");
    assert!(sync.body.contains("diperbaiki sesudahnya"), "{}", sync.body);
    let record = browser.get(&format!("/registrations/{id}"));
    let history: Vec<&str> = record
        .body
        .split("data-testid=\"history-row\"")
        .skip(1)
        .collect();
    assert_eq!(history.len(), 1, "{}", record.body);
    assert!(history[0].contains("1311022001"));
}

#[test]
fn a_probable_duplicate_is_saved_only_once_confirmed() {
    let ui = AgentUi::start(&[]);
    let mut browser = set_up(&ui);
    let csrf = browser.get("/register").csrf();
    assert_eq!(
        browser
            .post(
                "/register",
                &register_fields(&csrf, VALID_NIK, "Siti Aminah")
            )
            .status,
        303
    );
    // Another NIK, same village and birth date, nearly the same name.
    let other_nik = "1311014101900002";
    let first = browser.post(
        "/register",
        &register_fields(&csrf, other_nik, "Siti Aminah"),
    );
    assert_eq!(first.status, 409, "{}", first.body);
    assert!(first.body.contains("id=\"confirm-possible_duplicate\""));
    assert_eq!(registrations_in(&ui).len(), 1);
    let mut fields = register_fields(&csrf, other_nik, "Siti Aminah");
    fields.push(("confirm", "possible_duplicate"));
    let confirmed = browser.post("/register", &fields);
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    assert_eq!(registrations_in(&ui).len(), 2);
}

/// The confirmation is kept by the validation both the UI and the command
/// line use (`actions::validate`): `--confirm possible_duplicate` saves.
#[test]
fn the_command_line_saves_a_probable_duplicate_once_confirmed() {
    let laptop = lindung_tests::Laptop::init("Rina Marlina");
    laptop.register(VALID_NIK, "Siti Aminah", "1311012001");
    let args = [
        "register",
        "--nik",
        "1311014101900002",
        "--name",
        "Siti Aminah",
        "--village",
        "1311012001",
        "--category",
        "nelayan",
        "--payer",
        "apbd",
        "--consent",
        "signed_form",
    ];
    let refused = laptop.agent(args);
    assert_eq!(refused.code, Some(1), "{}", refused.stdout);
    assert!(refused.stdout.contains("--confirm possible_duplicate"));
    let confirmed = laptop.agent(
        args.iter()
            .copied()
            .chain(["--confirm", "possible_duplicate"]),
    );
    assert_eq!(
        confirmed.code,
        Some(0),
        "{}{}",
        confirmed.stdout,
        confirmed.stderr
    );
    assert_eq!(laptop.registrations().len(), 2);
}

/// No signal: the sync page offers the outbox as a USB bundle to download,
/// and takes the receipt from the office back.
#[test]
fn a_usb_bundle_is_downloaded_from_the_sync_page_and_its_receipt_applied_there() {
    let central = lindung_tests::central::Central::start();
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let ui = AgentUi::start(&[]);
    let mut browser = set_up(&ui);
    let csrf = browser.get("/enroll").csrf();
    let code = central.enroll_code(&officer);
    let enrolled = browser.post(
        "/enroll",
        &[("csrf", &csrf), ("server", &central.url()), ("code", &code)],
    );
    assert_eq!(enrolled.status, 303, "{}", enrolled.body);
    // The first sync (woken by the enrolment) is done before the village work.
    reload_until(&mut browser, "/sync", |p| {
        p.body.contains("class=\"online\"")
    });
    let saved = browser.post(
        "/register",
        &register_fields(&csrf, VALID_NIK, "Siti Aminah"),
    );
    assert_eq!(saved.status, 303, "{}", saved.body);

    let download = browser.post("/bundle/export", &[("csrf", &csrf)]);
    assert_eq!(download.status, 200, "{}", download.body);
    assert!(
        download
            .header("content-disposition")
            .is_some_and(|v| v.starts_with("attachment; filename=\"paket-")),
        "{:?}",
        download.headers
    );
    assert!(download.bytes.starts_with(b"LINDUNGB"));
    let sync = browser.get("/sync");
    assert!(
        sync.body.contains("id=\"pending-count\">1<"),
        "still pending"
    );
    assert!(sync.body.contains("id=\"last-bundle\""), "{}", sync.body);

    let stick = tempfile::tempdir().expect("a USB stick");
    let bundle = stick.path().join("paket.lindung");
    std::fs::write(&bundle, &download.bytes).expect("saved");
    let receipt = stick.path().join("tanda-terima.lindung");
    let out = central.admin([
        "bundle",
        "import",
        bundle.to_str().expect("utf-8"),
        "--receipt",
        receipt.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let receipt = std::fs::read(&receipt).expect("receipt");

    // The bundle itself is not a receipt: refused, with the reason.
    let wrong = browser.post_file(
        "/bundle/receipt",
        &[("csrf", &csrf)],
        "receipt",
        "paket.lindung",
        &download.bytes,
    );
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("bukan tanda terima"), "{}", wrong.body);
    let applied = browser.post_file(
        "/bundle/receipt",
        &[("csrf", &csrf)],
        "receipt",
        "tanda-terima.lindung",
        &receipt,
    );
    assert_eq!(applied.status, 200, "{}", applied.body);
    assert!(applied.body.contains("1 diterima"), "{}", applied.body);
    assert!(
        applied.body.contains("id=\"pending-count\">0<"),
        "{}",
        applied.body
    );
    assert_eq!(central.stats()["records"], 1);
    // Nothing left: no bundle is made.
    let empty = browser.post("/bundle/export", &[("csrf", &csrf)]);
    assert_eq!(empty.status, 200);
    assert!(
        empty.body.contains("Tidak ada perubahan yang menunggu"),
        "{}",
        empty.body
    );
}
