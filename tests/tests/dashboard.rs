//! The staff web dashboard over HTTP against the real server: accounts made
//! with the CLI, login with rate limiting, sessions and CSRF, coverage
//! figures from imported reference data and synced registrations, roles
//! enforced on the server (dashboard and staff API), security headers.

use lindung_tests::Laptop;
use lindung_tests::central::Central;
use lindung_tests::web::{Browser, Page};

const PASSWORD: &str = "rahasia-panjang-sekali";

/// `staff add NAME --login LOGIN --role ROLE [--region R] --json` with the
/// password in the environment; returns the API token.
fn add_staff(
    central: &Central,
    name: &str,
    login: &str,
    role: &str,
    region: Option<&str>,
) -> String {
    let mut args = vec![
        "staff", "add", name, "--login", login, "--role", role, "--json",
    ];
    if let Some(region) = region {
        args.extend(["--region", region]);
    }
    let out = central.admin_with_env(args, &[("LINDUNG_STAFF_PASSWORD", PASSWORD)]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD));
    let token = out.json()["token"].as_str().expect("token").to_owned();
    central.remember_secret(&token);
    token
}

/// The accounts of the role tests: Dewi (staff), Vina (viewer) and Sari,
/// supervisor of `supervised`.
fn add_three_roles(central: &Central, supervised: &str) {
    add_staff(central, "Dewi Lestari", "dewi", "staff", None);
    add_staff(central, "Vina Peninjau", "vina", "viewer", None);
    add_staff(
        central,
        "Sari Pengawas",
        "sari",
        "supervisor",
        Some(supervised),
    );
}

fn logged_in(central: &Central, login: &str) -> Browser {
    let browser = Browser::new(central.address());
    let page = browser.login(login, PASSWORD);
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.header("location"), Some("/coverage"));
    browser
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

/// Reference data for 13.11 (1,000 workers, 150 covered outside Lindung,
/// target 28.30 %) and two persons registered and synced in Lubuk Gadang,
/// one of them twice (a duplicate group). Returns the two records of the
/// duplicate and the NIK.
fn seed(central: &Central) -> (String, String, &'static str) {
    let year = time::OffsetDateTime::now_utc().year();
    central.import_reference(&format!("{year};13.11;1.000;150;28,30\n"));
    let rina = central.add_officer("Rina Marlina", &["1311"]);
    let budi = central.add_officer("Budi Santoso", &["1311"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    a.enroll(central, &rina, &central.url());
    b.enroll(central, &budi, &central.url());
    let nik = "1311014101900003";
    let first = a.register(nik, "Siti Aminah", "1311012001");
    a.register("1311010202850002", "Budi Santoso", "1311012001");
    let second = b.register(nik, "Siti Aminah", "1311012002");
    a.sync();
    b.sync();
    (first, second, nik)
}

#[test]
fn staff_log_in_see_coverage_merge_duplicates_and_log_out() {
    let central = Central::start();
    let (first, second, nik) = seed(&central);
    add_staff(&central, "Dewi Lestari", "dewi", "staff", None);
    let browser = Browser::new(central.address());

    // Without a session every page leads to the login form.
    let page = browser.get("/coverage");
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/login"));
    assert_security_headers(&page);
    let page = browser.get("/login");
    assert_eq!(page.status, 200);
    assert_security_headers(&page);
    assert!(page.body.contains("Kata sandi"), "Indonesian by default");

    // A wrong password is refused with a message; the right one opens a session.
    let page = browser.login("dewi", "salah sekali ini");
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("Nama login atau kata sandi salah"),
        "{}",
        page.body
    );
    assert!(browser.cookie("lindung_session").is_none());
    let page = browser.login("Dewi", PASSWORD);
    assert_eq!(page.status, 303, "{}", page.body);
    let cookie = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("lindung_session="))
        .expect("a session cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = browser.cookie("lindung_session").expect("kept");

    // Coverage of the regency: 150 + 2 persons of 1,000 against 28.30 %.
    let page = browser.get("/coverage?region=13.11");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_security_headers(&page);
    assert!(
        page.body.contains("id=\"summary-covered\">152<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"summary-coverage\">15,20 %<"));
    assert!(page.body.contains("id=\"summary-target\">28,30 %<"));
    assert!(
        page.body.contains("id=\"summary-gap\">131<"),
        "283 needed, 152 covered"
    );
    // The district of Lubuk Gadang is listed with its 2 persons and no denominator,
    // with a link one level down.
    assert!(page.body.contains("id=\"region-131101\""), "{}", page.body);
    assert!(
        page.body
            .contains("href=\"/coverage?region=131101&amp;year=")
    );
    assert!(page.body.contains("tanpa penyebut"));
    assert!(
        !page.body.contains("style="),
        "no inline styles under the CSP"
    );
    // The province level shows the regency with its bar against the target.
    let page = browser.get("/coverage?region=13");
    assert!(page.body.contains("id=\"region-1311\""));
    assert!(page.body.contains("id=\"coverage-chart\""));
    assert!(page.body.contains("class=\"target\""));

    // English on request, on every page.
    let page = browser.get("/lang/en?next=/coverage%3Fregion%3D1311");
    assert_eq!(page.status, 303);
    let page = browser.get("/coverage?region=1311");
    assert!(
        page.body.contains("id=\"summary-coverage\">15.20 %<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Pace per 30 days"));
    browser.get("/lang/id?next=/");

    // A POST without its CSRF token is refused before anything happens.
    let page = browser.post(
        "/duplicates/merge",
        &[("keep", &first), ("member", &first), ("member", &second)],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("csrf"));
    let page = browser.post(
        "/duplicates/merge",
        &[
            ("csrf", "guessed"),
            ("keep", &first),
            ("member", &first),
            ("member", &second),
        ],
    );
    assert_eq!(page.status, 403);

    // The duplicate queue shows masked NIKs; the record page the full one.
    let page = browser.get("/duplicates?region=1311");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("1311********0003"), "{}", page.body);
    assert!(!page.body.contains(nik), "lists never show a full NIK");
    assert!(page.body.contains(&format!("/records/{first}")));
    let token = page.csrf().expect("the merge form carries the token");
    let record = browser.get(&format!("/records/{first}"));
    assert_eq!(record.status, 200);
    assert!(record.body.contains(nik));

    // Merging through the dashboard: the same merge as the CLI, audited.
    let page = browser.post(
        "/duplicates/merge",
        &[
            ("csrf", &token),
            ("keep", &first),
            ("member", &first),
            ("member", &second),
        ],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.header("location").expect("to the merges").to_owned();
    assert!(location.starts_with("/merges?done=merged-"), "{location}");
    let merges = central.admin(["duplicates", "merges", "--json"]);
    assert_eq!(
        merges.json()[0]["actor"],
        "Dewi Lestari",
        "{}",
        merges.stdout
    );
    let page = browser.get("/audit?action=duplicates.merge");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Dewi Lestari"));
    // Exports are downloads, audited, NIK masked.
    let page = browser.post(
        "/exports",
        &[
            ("csrf", &token),
            ("kind", "registrations"),
            ("region", "1311"),
            ("format", "csv"),
        ],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.header("content-disposition")
            .is_some_and(|d| d.contains("attachment"))
    );
    assert!(page.body.contains("1311********0002") && !page.body.contains("1311010202850002"));

    // Every screen opens, with its headers, and offers the language switch.
    for path in [
        "/officers",
        "/reference",
        "/exports",
        "/conflicts",
        "/merges",
        "/audit",
    ] {
        let page = browser.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_security_headers(&page);
        assert!(page.body.contains("id=\"lang-switch\""), "{path}");
        assert!(page.body.contains("id=\"skip-link\""), "{path}");
    }

    // Logging out ends the session: the old cookie no longer opens a page.
    let page = browser.post("/logout", &[("csrf", &token)]);
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/login"));
    browser.set_cookie("lindung_session", &session);
    let page = browser.get("/coverage");
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/login"));
}

#[test]
fn roles_are_enforced_on_the_server_for_pages_and_api_tokens() {
    let central = Central::start();
    let (first, second, _) = seed(&central);
    let viewer_token = add_staff(&central, "Vina Peninjau", "vina", "viewer", None);
    let supervisor_token = add_staff(
        &central,
        "Sari Pengawas",
        "sari",
        "supervisor",
        Some("13.11"),
    );
    let listed = central.admin(["staff", "list"]);
    assert!(
        listed.stdout.contains("viewer") && listed.stdout.contains("supervisor"),
        "{}",
        listed.stdout
    );

    // A viewer reads everything but cannot merge, even with a valid token.
    let viewer = logged_in(&central, "vina");
    let page = viewer.get("/duplicates?region=1311");
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("data-testid=\"merge-button\""),
        "no merge button"
    );
    let token = page.csrf().expect("logout form token");
    let page = viewer.post(
        "/duplicates/merge",
        &[
            ("csrf", &token),
            ("keep", &first),
            ("member", &first),
            ("member", &second),
        ],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("hanya-baca"), "{}", page.body);
    assert_eq!(viewer.get("/coverage?region=15").status, 200);
    assert_eq!(
        central.admin(["duplicates", "merges", "--json"]).json(),
        serde_json::json!([])
    );

    // A supervisor of 13.11 starts there, may go down, not up or sideways.
    let supervisor = logged_in(&central, "sari");
    let page = supervisor.get("/coverage");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"summary-covered\">152<"),
        "{}",
        page.body
    );
    assert_eq!(supervisor.get("/coverage?region=131101").status, 200);
    let page = supervisor.get("/coverage?region=15");
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("di luar wilayah"));
    assert_eq!(supervisor.get("/coverage?region=13").status, 403);
    assert_eq!(supervisor.get("/audit").status, 403);

    // The staff API: the same roles for the accounts' tokens.
    let call = |method: &str, path: &str, token: &str, body: &str| {
        lindung_tests::raw_request(
            central.address(),
            &format!(
                "{method} {path} HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json"
            ),
            body.as_bytes(),
        )
    };
    let merge = format!("{{\"keep\":\"{first}\",\"with\":[\"{second}\"]}}");
    let (status, body) = call(
        "POST",
        "/api/v1/staff/duplicates/merge",
        &viewer_token,
        &merge,
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("forbidden"), "{body}");
    let (status, body) = call(
        "GET",
        "/api/v1/staff/coverage?region=1311",
        &viewer_token,
        "",
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        "GET",
        "/api/v1/staff/coverage?region=15",
        &supervisor_token,
        "",
    );
    assert_eq!(status, 403, "{body}");
    let (status, body) = call("GET", "/api/v1/staff/coverage", &supervisor_token, "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"region_code\":\"1311\""), "{body}");
    let (status, body) = call(
        "PUT",
        "/api/v1/staff/reference",
        &supervisor_token,
        "tahun;kode_wilayah\n",
    );
    assert_eq!(status, 403, "{body}");
    // Inside their region a supervisor may act.
    let (status, body) = call(
        "POST",
        "/api/v1/staff/duplicates/merge",
        &supervisor_token,
        &merge,
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn repeated_failed_logins_are_refused_for_a_while_even_with_the_right_password() {
    let central = Central::start();
    add_staff(&central, "Dewi Lestari", "dewi", "staff", None);
    let browser = Browser::new(central.address());
    for _ in 0..5 {
        assert_eq!(browser.login("dewi", "tebakan yang salah").status, 401);
    }
    let page = browser.login("dewi", PASSWORD);
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(
        page.body.contains("Terlalu banyak percobaan"),
        "{}",
        page.body
    );
    assert!(browser.cookie("lindung_session").is_none());
    // The login form itself refuses a post without its own token.
    let page = browser.post("/login", &[("login", "dewi"), ("password", PASSWORD)]);
    assert_eq!(page.status, 403);
}

/// The HTML of the element whose `id` is given, up to the end of its
/// `</section>` (conflicts and duplicate groups are sections).
fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id} in {body}"));
    let end = body[start..]
        .find("</section>")
        .map_or(body.len(), |end| start + end);
    &body[start..end]
}

/// The value of the first attribute `id="PREFIX…"` on the page, without the prefix.
fn id_after(body: &str, prefix: &str) -> Option<String> {
    let at = body.find(&format!("id=\"{prefix}"))? + "id=\"".len() + prefix.len();
    Some(body[at..at + body[at..].find('"')?].to_owned())
}

fn show(laptop: &Laptop, id: &str) -> serde_json::Value {
    let out = laptop.agent(["show", id, "--json"]);
    assert_eq!(out.code, Some(0), "show: {}{}", out.stdout, out.stderr);
    out.json()["registration"].clone()
}

fn edit(laptop: &Laptop, id: &str, args: &[&str]) {
    let mut all = vec!["edit", id, "--json"];
    all.extend_from_slice(args);
    let out = laptop.agent(all);
    assert_eq!(out.code, Some(0), "edit: {}{}", out.stdout, out.stderr);
}

/// Two enrolled laptops of officers of `region`.
fn two_laptops(central: &Central, region: &str) -> (Laptop, Laptop) {
    let rina = central.add_officer("Rina Marlina", &[region]);
    let budi = central.add_officer("Budi Santoso", &[region]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Budi"));
    a.enroll(central, &rina, &central.url());
    b.enroll(central, &budi, &central.url());
    (a, b)
}

fn audit_actors(central: &Central, action: &str) -> Vec<String> {
    let out = central.admin(["audit", "list", "--action", action, "--json"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    out.json()
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["actor"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn staff_resolve_conflicts_three_ways_and_both_laptops_get_the_decided_values() {
    let central = Central::start();
    let (a, b) = two_laptops(&central, "1311");
    let id = a.register("1311014101900001", "Siti Aminah", "1311012001");
    a.sync();
    b.sync();
    // Both change name, category and payer offline; Budi's edit is later
    // and wins each field, Rina's values are overwritten: three conflicts.
    edit(
        &a,
        &id,
        &[
            "--name",
            "Siti Aminah Nasution",
            "--category",
            "petani",
            "--payer",
            "apbdes",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    edit(
        &b,
        &id,
        &[
            "--name",
            "Siti Aminah Lubis",
            "--category",
            "pedagang",
            "--payer",
            "self",
        ],
    );
    b.sync();
    a.sync();
    let listed = central.admin(["conflicts", "list", "--json"]).json();
    let conflict_of = |field: &str| {
        listed
            .as_array()
            .expect("conflicts")
            .iter()
            .find(|c| c["field"] == field)
            .unwrap_or_else(|| panic!("no {field} conflict in {listed}"))["id"]
            .to_string()
    };
    let (name, category, payer) = (
        conflict_of("full_name"),
        conflict_of("category"),
        conflict_of("payer"),
    );
    add_three_roles(&central, "15.01");
    let staff = logged_in(&central, "dewi");

    // The queue names both values by their labels, not their codes.
    let page = staff.get("/conflicts");
    assert_eq!(page.status, 200, "{}", page.body);
    let shown = section(&page.body, &format!("conflict-{category}"));
    assert!(
        shown.contains("data-field=\"kept\">Pedagang kaki lima<"),
        "{shown}"
    );
    assert!(
        shown.contains("data-field=\"overwritten\">Petani<"),
        "{shown}"
    );
    let shown = section(&page.body, &format!("conflict-{payer}"));
    assert!(shown.contains(">Mandiri (dibayar sendiri)<"), "{shown}");
    assert!(shown.contains(">APBDes / Dana Desa / ADD<"), "{shown}");
    assert!(!page.body.contains(">street_vendor<") && !page.body.contains(">apbdes<"));
    staff.get("/lang/en?next=/conflicts");
    let page = staff.get("/conflicts");
    let shown = section(&page.body, &format!("conflict-{category}"));
    assert!(
        shown.contains(">Street vendor<") && shown.contains(">Farmer<"),
        "{shown}"
    );
    staff.get("/lang/id?next=/conflicts");

    // A viewer sees the queue without forms and cannot resolve; a
    // supervisor of another region cannot either. Nothing changes.
    let viewer = logged_in(&central, "vina");
    let page = viewer.get("/conflicts");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&format!("id=\"resolve-{name}\"")));
    let token = page.csrf().expect("logout form token");
    let page = viewer.post(
        &format!("/conflicts/{name}/resolve"),
        &[("csrf", &token), ("how", "keep")],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("hanya-baca"), "{}", page.body);
    let supervisor = logged_in(&central, "sari");
    let token = supervisor.get("/conflicts").csrf().expect("token");
    let page = supervisor.post(
        &format!("/conflicts/{name}/resolve"),
        &[("csrf", &token), ("how", "keep")],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("di luar wilayah"), "{}", page.body);

    // A new name that is not valid comes back with its reason next to the
    // field, the typed value kept; nothing is decided.
    let page = staff.get("/conflicts");
    let token = page.csrf().expect("token");
    let page = staff.post(
        &format!("/conflicts/{name}/resolve"),
        &[("csrf", &token), ("how", "new"), ("value", "Siti 4minah")],
    );
    assert_eq!(page.status, 422, "{}", page.body);
    let form = section(&page.body, &format!("conflict-{name}"));
    assert!(
        form.contains(&format!("id=\"value-error-{name}\"")),
        "{form}"
    );
    assert!(
        form.contains("Nama lengkap hanya boleh berisi huruf"),
        "{form}"
    );
    assert!(form.contains("value=\"Siti 4minah\""), "{form}");
    assert!(form.contains("aria-invalid=\"true\""), "{form}");
    assert_eq!(
        central
            .admin(["conflicts", "list", "--json"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(3)
    );

    // The three ways: a new name, Rina's category, Budi's payer.
    for (conflict, fields) in [
        (
            &name,
            vec![("how", "new"), ("value", "Siti Aminah Nasution Lubis")],
        ),
        (&category, vec![("how", "other"), ("value", "")]),
        (&payer, vec![("how", "keep"), ("value", "")]),
    ] {
        let mut form = vec![("csrf", token.as_str())];
        form.extend(fields);
        let page = staff.post(&format!("/conflicts/{conflict}/resolve"), &form);
        assert_eq!(page.status, 303, "{conflict}: {}", page.body);
        assert_eq!(
            page.header("location"),
            Some(format!("/conflicts?done={conflict}").as_str())
        );
    }
    let page = staff.get("/conflicts");
    assert!(
        page.body.contains("id=\"conflicts-empty\""),
        "{}",
        page.body
    );
    let page = staff.get("/conflicts?all=1");
    assert_eq!(
        page.body.matches("Diselesaikan ").count(),
        3,
        "{}",
        page.body
    );
    assert_eq!(
        audit_actors(&central, "conflict.resolve"),
        vec!["Dewi Lestari"; 3]
    );
    // Deciding again is refused.
    let page = staff.post(
        &format!("/conflicts/{payer}/resolve"),
        &[("csrf", &token), ("how", "other")],
    );
    assert_eq!(page.status, 409, "{}", page.body);

    // Both laptops hold the decided values after their next sync.
    a.sync();
    b.sync();
    for laptop in [&a, &b] {
        let registration = show(laptop, &id);
        assert_eq!(registration["full_name"], "Siti Aminah Nasution Lubis");
        assert_eq!(registration["category"], "farmer", "{registration}");
        assert_eq!(registration["payer"]["kind"], "self", "{registration}");
    }
    assert_eq!(a.registrations(), b.registrations());

    // The record's own page names every vocabulary by its label.
    let page = staff.get(&format!("/records/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    for (field, label) in [
        ("category", "Petani"),
        ("payer", "Mandiri (dibayar sendiri)"),
        ("consent", "Formulir bertanda tangan"),
        ("status", "aktif"),
        ("full_name", "Siti Aminah Nasution Lubis"),
    ] {
        assert!(
            page.body.contains(&format!("id=\"field-{field}\">{label}")),
            "{field}: {}",
            page.body
        );
    }
}

#[test]
fn staff_undo_a_merge_from_the_merges_page_and_the_record_comes_back_everywhere() {
    let central = Central::start();
    let (a, b) = two_laptops(&central, "131101");
    // The same woman registered twice with NIKs that differ in the serial:
    // a probable duplicate, counted as two persons.
    let by_a = a.register("1311014101900003", "Siti Aminah", "1311012001");
    let by_b = b.register("1311014101900004", "Siti Aminah", "1311012002");
    a.sync();
    b.sync();
    a.sync();
    add_three_roles(&central, "15.01");
    let staff = logged_in(&central, "dewi");
    let persons = |expected: &str| {
        let page = staff.get("/coverage?region=131101");
        assert!(
            page.body
                .contains(&format!("id=\"summary-persons\">{expected}<")),
            "{expected}: {}",
            page.body
        );
    };
    persons("2");

    // The duplicate queue shows the pair side by side, vocabularies by label.
    let page = staff.get("/duplicates?kind=probable&region=131101");
    assert_eq!(page.status, 200, "{}", page.body);
    let group = section(&page.body, "group-0");
    for label in [
        "Nelayan",
        "APBD (pemerintah daerah)",
        "Formulir bertanda tangan",
        "aktif",
    ] {
        assert_eq!(
            group.matches(&format!(">{label}<")).count(),
            2,
            "{label}: {group}"
        );
    }
    assert!(!group.contains(">fisherman<") && !group.contains(">signed_form<"));
    let token = page.csrf().expect("token");
    let page = staff.post(
        "/duplicates/merge",
        &[
            ("csrf", &token),
            ("keep", &by_a),
            ("member", &by_a),
            ("member", &by_b),
            ("take.village_code", &by_b),
        ],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    let merge = page
        .header("location")
        .and_then(|l| l.strip_prefix("/merges?done=merged-"))
        .expect("to the merges")
        .to_owned();
    persons("1");
    a.sync();
    b.sync();
    for laptop in [&a, &b] {
        assert_eq!(show(laptop, &by_a)["village_code"], "1311012002");
        let status = show(laptop, &by_b)["status"].to_string();
        assert!(status.contains("digabung"), "{status}");
    }

    // Neither a viewer nor a supervisor of another region may undo it.
    let viewer = logged_in(&central, "vina");
    let page = viewer.get("/merges");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("id=\"merge-{merge}\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&format!("id=\"undo-{merge}\"")));
    let token = page.csrf().expect("token");
    let page = viewer.post(&format!("/merges/{merge}/undo"), &[("csrf", &token)]);
    assert_eq!(page.status, 403, "{}", page.body);
    let supervisor = logged_in(&central, "sari");
    let token = supervisor.get("/merges").csrf().expect("token");
    let page = supervisor.post(&format!("/merges/{merge}/undo"), &[("csrf", &token)]);
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("di luar wilayah"), "{}", page.body);
    persons("1");

    // Staff undo it from the page.
    let page = staff.get("/merges");
    assert!(
        page.body.contains(&format!("id=\"undo-{merge}\"")),
        "{}",
        page.body
    );
    let token = page.csrf().expect("token");
    let page = staff.post(&format!("/merges/{merge}/undo"), &[("csrf", &token)]);
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.header("location"),
        Some(format!("/merges?done=undone-{merge}").as_str())
    );
    let page = staff.get(&format!("/merges?done=undone-{merge}"));
    assert!(
        page.body
            .contains(&format!("Penggabungan #{merge} dibatalkan."))
    );
    assert!(
        !page.body.contains(&format!("id=\"undo-{merge}\"")),
        "undone once"
    );
    assert!(page.body.contains("Dewi Lestari"));
    assert_eq!(
        audit_actors(&central, "duplicates.unmerge"),
        vec!["Dewi Lestari"]
    );
    // Coverage counts both persons again, and the laptops have both records back.
    persons("2");
    a.sync();
    b.sync();
    for laptop in [&a, &b] {
        assert_eq!(show(laptop, &by_a)["village_code"], "1311012001");
        let status = show(laptop, &by_b)["status"].to_string();
        assert!(status.contains("active"), "{status}");
    }
    // Twice is refused.
    let page = staff.post(&format!("/merges/{merge}/undo"), &[("csrf", &token)]);
    assert_eq!(page.status, 409, "{}", page.body);
}

#[test]
fn staff_add_an_officer_enrol_a_laptop_and_revoke_it_from_the_dashboard() {
    let central = Central::start();
    add_three_roles(&central, "15.01");
    let staff = logged_in(&central, "dewi");
    let viewer = logged_in(&central, "vina");
    let supervisor = logged_in(&central, "sari");
    let token = staff.get("/officers").csrf().expect("token");
    let viewer_token = viewer.get("/officers").csrf().expect("token");
    let supervisor_token = supervisor.get("/officers").csrf().expect("token");
    let officers = || central.admin(["officer", "list", "--json"]).json();

    // Refusals name the field; viewers and other regions' supervisors get 403.
    let page = staff.post(
        "/officers",
        &[
            ("csrf", &token),
            ("name", "Rina Marlina"),
            ("regions", "99.99"),
        ],
    );
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("regions: kode wilayah tidak dikenal"),
        "{}",
        page.body
    );
    let page = viewer.post(
        "/officers",
        &[
            ("csrf", &viewer_token),
            ("name", "Rina Marlina"),
            ("regions", "13.11.01"),
        ],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    let page = supervisor.post(
        "/officers",
        &[
            ("csrf", &supervisor_token),
            ("name", "Rina Marlina"),
            ("regions", "13.11.01"),
        ],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert_eq!(officers(), serde_json::json!([]));

    // Staff add Rina for a district and one more village.
    let page = staff.post(
        "/officers",
        &[
            ("csrf", &token),
            ("name", "Rina Marlina"),
            ("regions", "13.11.01, 1311022001"),
        ],
    );
    assert_eq!(page.status, 303, "{}", page.body);
    let officer = page
        .header("location")
        .and_then(|l| l.strip_prefix("/officers#officer-"))
        .expect("to the officer")
        .to_owned();
    let page = staff.get("/officers");
    let row = &page.body[page
        .body
        .find(&format!("id=\"officer-{officer}\""))
        .expect("listed")..];
    assert!(
        row.contains("Rina Marlina") && row.contains("131101 "),
        "{row}"
    );
    assert!(row.contains("1311022001 "), "{row}");
    assert_eq!(audit_actors(&central, "officer.add"), vec!["Dewi Lestari"]);

    // Neither a viewer nor a supervisor of another region may issue her a
    // code; the supervisor does not even see her.
    let page = viewer.post(
        &format!("/officers/{officer}/enroll-code"),
        &[("csrf", &viewer_token)],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!viewer.get("/officers").body.contains("id=\"enroll-code-"));
    assert!(!supervisor.get("/officers").body.contains("Rina Marlina"));
    let page = supervisor.post(
        &format!("/officers/{officer}/enroll-code"),
        &[("csrf", &supervisor_token)],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("di luar wilayah"), "{}", page.body);
    assert_eq!(
        audit_actors(&central, "enroll_code.create"),
        Vec::<String>::new()
    );

    // The code is shown once, on the page that issues it.
    let page = staff.post(
        &format!("/officers/{officer}/enroll-code"),
        &[("csrf", &token)],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let at = page.body.find("id=\"enroll-code\"").expect("the code");
    let code: String = page.body[at..]
        .split('>')
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("code text")
        .trim()
        .to_owned();
    assert!(code.len() >= 12, "{code}");
    assert!(
        !staff.get("/officers").body.contains(&code),
        "shown only once"
    );
    assert_eq!(
        audit_actors(&central, "enroll_code.create"),
        vec!["Dewi Lestari"]
    );

    // A real laptop enrols with it (once: the code is single use).
    let laptop = Laptop::init("Rina");
    let enrolled = laptop.agent(["enroll", "--server", &central.url(), "--code", &code]);
    assert_eq!(
        enrolled.code,
        Some(0),
        "{}{}",
        enrolled.stdout,
        enrolled.stderr
    );
    let other = Laptop::init("Rina");
    let again = other.agent(["enroll", "--server", &central.url(), "--code", &code]);
    assert_ne!(again.code, Some(0), "{}", again.stdout);
    laptop.register("1311014101900001", "Siti Aminah", "1311012001");
    laptop.sync();
    assert_eq!(central.stats()["records"], 1);

    // Her device is listed; only staff may revoke it.
    let page = staff.get("/officers");
    let device = id_after(&page.body, "revoke-").expect("a revoke button");
    assert!(page.body.contains(&format!("id=\"device-{device}\"")));
    let page = viewer.post(
        &format!("/devices/{device}/revoke"),
        &[("csrf", &viewer_token)],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    let page = supervisor.post(
        &format!("/devices/{device}/revoke"),
        &[("csrf", &supervisor_token)],
    );
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("di luar wilayah"), "{}", page.body);
    assert!(!staff.get("/officers").body.contains("dicabut"));
    let page = staff.post(&format!("/devices/{device}/revoke"), &[("csrf", &token)]);
    assert_eq!(page.status, 303, "{}", page.body);
    let page = staff.get("/officers");
    let row = &page.body[page
        .body
        .find(&format!("id=\"device-{device}\""))
        .expect("listed")..];
    assert!(row.contains("dicabut"), "{row}");
    assert!(!page.body.contains(&format!("id=\"revoke-{device}\"")));
    assert_eq!(
        audit_actors(&central, "device.revoke"),
        vec!["Dewi Lestari"]
    );

    // The laptop's next sync is refused with the reason; its new
    // registration stays on the laptop, unsent.
    laptop.register("1311010202850002", "Budi Santoso", "1311012001");
    let refused = laptop.agent(["sync"]);
    assert_eq!(
        refused.code,
        Some(2),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(refused.stderr.contains("dicabut"), "{}", refused.stderr);
    assert_eq!(laptop.registrations().len(), 2);
    let status = laptop.agent(["status", "--json"]).json();
    assert_eq!(status["status"]["pending_changes"], 1, "{status}");
    assert_eq!(central.stats()["records"], 1);
}

#[test]
fn staff_upload_reference_data_a_bad_row_stores_nothing_a_good_file_replaces_the_year() {
    let central = Central::start();
    let year = time::OffsetDateTime::now_utc().year();
    central.import_reference(&format!(
        "{year};13.11;1.000;150;28,30\n{year};15.03;112.000;48.160;65\n"
    ));
    add_three_roles(&central, "13.11");
    let staff = logged_in(&central, "dewi");
    let working_population = |expected: &str| {
        let page = staff.get("/coverage?region=1311");
        assert!(
            page.body
                .contains(&format!("id=\"summary-working-population\">{expected}<")),
            "{expected}: {}",
            page.body
        );
    };
    working_population("1.000");
    let page = staff.get("/reference");
    assert!(page.body.contains("id=\"reference-form\""));
    let token = page.csrf().expect("token");

    // One bad row: its line, column and reason in Indonesian; nothing stored.
    let bad = format!(
        "tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n\
         {year};13.11;2.000;150;28,30\n{year};13.12;banyak;10;20\n"
    );
    let page = staff.post_multipart(
        "/reference",
        &[("csrf", &token)],
        &[("file", "acuan-salah.csv", bad.as_bytes())],
    );
    assert_eq!(page.status, 422, "{}", page.body);
    let problems = &page.body[page.body.find("id=\"reference-problems\"").expect("report")..];
    assert!(
        problems.contains("<td>3</td><td>penduduk_bekerja</td>"),
        "{problems}"
    );
    assert!(
        problems.contains("bukan jumlah orang (bilangan bulat)"),
        "{problems}"
    );
    assert!(
        page.body.contains("tidak ada yang disimpan"),
        "{}",
        page.body
    );
    working_population("1.000");

    // Neither a viewer nor a supervisor may import (it spans every region).
    let good = format!(
        "tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n\
         {year};13.11;2.000;150;28,30\n"
    );
    for (login, role) in [("vina", "hanya-baca"), ("sari", "hanya akun staf")] {
        let browser = logged_in(&central, login);
        let page = browser.get("/reference");
        assert!(!page.body.contains("id=\"reference-form\""), "{login}");
        let token = page.csrf().expect("token");
        let page = browser.post_multipart(
            "/reference",
            &[("csrf", &token)],
            &[("file", "acuan.csv", good.as_bytes())],
        );
        assert_eq!(page.status, 403, "{login}: {}", page.body);
        assert!(page.body.contains(role), "{login}: {}", page.body);
    }
    working_population("1.000");

    // A good file replaces the whole year: the new denominator, 15.03 gone.
    let page = staff.post_multipart(
        "/reference",
        &[("csrf", &token)],
        &[("file", "acuan-2.csv", good.as_bytes())],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"notice\""), "{}", page.body);
    assert!(page.body.contains("data-region=\"1311\""));
    assert!(!page.body.contains("data-region=\"1503\""), "{}", page.body);
    working_population("2.000");
    let audit = central
        .admin(["audit", "list", "--action", "reference.import", "--json"])
        .json();
    assert_eq!(audit[0]["actor"], "Dewi Lestari", "{audit}");
    assert!(
        audit[0]["subject"].to_string().contains("acuan-2.csv"),
        "{audit}"
    );
}
