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
    out.json()["token"].as_str().expect("token").to_owned()
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
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = dir.path().join("acuan.csv");
    std::fs::write(
        &reference,
        format!("tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n{year};13.11;1.000;150;28,30\n"),
    )
    .expect("written");
    let loaded = central.admin(["reference", "import", reference.to_str().expect("utf-8")]);
    assert_eq!(loaded.code, Some(0), "{}{}", loaded.stdout, loaded.stderr);
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
