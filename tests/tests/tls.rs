//! Security of the connection and of the credentials, with the real
//! binaries: the server serving TLS from certificate files made at test
//! time (rcgen), agents trusting a private CA or pinning the certificate,
//! a pinned agent refusing a server that changed its certificate, every
//! route but the public ones refusing an anonymous request, and device and
//! staff tokens rotating — including a rotation whose answer is lost.

use lindung_agent::store::Store;
use lindung_tests::central::Central;
use lindung_tests::fault_proxy::{Fault, FaultProxy};
use lindung_tests::{Laptop, TEST_PASSPHRASE, raw_request};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::Value;

/// The names the test certificates are made for.
fn names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

/// A private CA and a server certificate it issued: (CA PEM, server
/// certificate PEM, server key PEM).
fn private_ca() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "CA uji Lindung");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().expect("key");
    let server = CertificateParams::new(names())
        .expect("params")
        .signed_by(&server_key, &issuer)
        .expect("server certificate");
    (ca_cert.pem(), server.pem(), server_key.serialize_pem())
}

/// A self-signed server certificate: (certificate PEM, key PEM).
fn self_signed() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(names()).expect("certificate");
    (made.cert.pem(), made.signing_key.serialize_pem())
}

/// A woman's NIK from Sangir, distinct for each `i`.
fn nik(i: u64) -> String {
    format!("131101{:02}0190{:04}", 41 + i % 28, 1 + i)
}

/// The device token the laptop's store holds (registered as a secret the
/// server's log must never show).
fn token(laptop: &Laptop, central: &Central) -> String {
    let store = Store::open(laptop.dir(), TEST_PASSPHRASE).expect("store opens");
    let token = store
        .enrollment()
        .expect("readable")
        .expect("enrolled")
        .token;
    central.remember_secret(&token);
    token
}

/// `GET /api/v1/sync/pull` with a bearer token: the status.
fn pull_status(central: &Central, token: &str) -> (u16, Value) {
    let (status, body) = raw_request(
        central.address(),
        &format!("GET /api/v1/sync/pull HTTP/1.1\r\nAuthorization: Bearer {token}"),
        b"",
    );
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn an_agent_trusting_the_private_ca_syncs_over_tls_and_one_without_it_is_refused() {
    let (ca, cert, key) = private_ca();
    let central = Central::start_tls(&cert, &key);
    assert!(
        central.url().starts_with("https://127.0.0.1:"),
        "{}",
        central.url()
    );
    let officer = central.add_officer("Rina Marlina", &["131101"]);

    let trusting = Laptop::init("Rina");
    let ca_file = trusting.dir().join("ca-lindung.pem");
    std::fs::write(&ca_file, &ca).expect("CA written");
    let code = central.enroll_code(&officer);
    let enrolled = trusting.agent([
        "enroll",
        "--server",
        &central.url(),
        "--code",
        &code,
        "--ca-file",
        ca_file.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        enrolled.code,
        Some(0),
        "{}{}",
        enrolled.stdout,
        enrolled.stderr
    );
    // The CA is kept in the store: the file is not needed any more.
    std::fs::remove_file(&ca_file).expect("removed");
    trusting.register(&nik(1), "Siti Aminah", "1311012001");
    let summary = trusting.sync();
    assert_eq!(summary["accepted"], 1, "{summary}");
    assert_eq!(trusting.status()["server"]["private_ca"], true);

    // Without the CA: refused before anything is sent, saying what to do.
    let other = Laptop::init("Rina");
    let code = central.enroll_code(&officer);
    let refused = other.agent(["enroll", "--server", &central.url(), "--code", &code]);
    assert_eq!(
        refused.code,
        Some(2),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stderr.contains("sertifikat server tidak dipercaya")
            && refused.stderr.contains("--ca-file"),
        "{}",
        refused.stderr
    );
    let in_english = other.agent([
        "--lang",
        "en",
        "enroll",
        "--server",
        &central.url(),
        "--code",
        &code,
    ]);
    assert!(
        in_english
            .stderr
            .contains("certificate is not trusted (issued by an unknown authority)"),
        "{}",
        in_english.stderr
    );
    assert!(other.status()["server"].is_null());
    // The code was never sent, so it still works (with the CA).
    std::fs::write(other.dir().join("ca.pem"), &ca).expect("CA written");
    let enrolled = other.agent([
        "enroll",
        "--server",
        &central.url(),
        "--code",
        &code,
        "--ca-file",
        other.dir().join("ca.pem").to_str().expect("utf-8"),
    ]);
    assert_eq!(
        enrolled.code,
        Some(0),
        "{}{}",
        enrolled.stdout,
        enrolled.stderr
    );
    assert_eq!(other.sync()["received"], 1);
}

#[test]
fn a_pinned_agent_refuses_a_server_with_another_certificate_and_keeps_its_data() {
    let (cert, key) = self_signed();
    let mut central = Central::start_tls(&cert, &key);
    let fingerprint = central.fingerprint().expect("printed").to_owned();
    let officer = central.add_officer("Rina Marlina", &["131101"]);

    // Pinned with the fingerprint staff read from the server's output …
    let laptop = Laptop::init("Rina");
    let code = central.enroll_code(&officer);
    let enrolled = laptop.agent([
        "enroll",
        "--server",
        &central.url(),
        "--code",
        &code,
        "--pin-certificate",
        &fingerprint.to_lowercase().replace(':', ""),
    ]);
    assert_eq!(
        enrolled.code,
        Some(0),
        "{}{}",
        enrolled.stdout,
        enrolled.stderr
    );
    assert_eq!(laptop.status()["server"]["pinned_certificate"], fingerprint);
    // … or with the one the server presents at enrolment, printed to compare.
    let colleague = Laptop::init("Rina");
    let code = central.enroll_code(&officer);
    let enrolled = colleague.agent([
        "enroll",
        "--server",
        &central.url(),
        "--code",
        &code,
        "--pin-certificate",
    ]);
    assert_eq!(
        enrolled.code,
        Some(0),
        "{}{}",
        enrolled.stdout,
        enrolled.stderr
    );
    assert!(
        enrolled.stdout.contains(&fingerprint),
        "{}",
        enrolled.stdout
    );
    laptop.register(&nik(1), "Siti Aminah", "1311012001");
    assert_eq!(laptop.sync()["accepted"], 1);

    // The server comes back with another certificate (same data, same address).
    let (other_cert, other_key) = self_signed();
    central.use_certificate(&other_cert, &other_key);
    central.restart();
    laptop.register(&nik(2), "Dewi Lestari", "1311012001");
    let refused = laptop.agent(["sync"]);
    assert_eq!(
        refused.code,
        Some(2),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(
        refused.stderr.contains("sertifikat server berubah"),
        "{}",
        refused.stderr
    );
    let in_english = laptop.agent(["--lang", "en", "sync"]);
    assert!(
        in_english.stderr.contains("certificate changed"),
        "{}",
        in_english.stderr
    );
    // Nothing left the laptop, nothing was lost.
    assert_eq!(laptop.pending_changes(), 1);
    assert_eq!(laptop.registrations().len(), 2);
    assert_eq!(central.stats()["records"], 1);

    // An enrolment that names the old fingerprint is refused too.
    let code = central.enroll_code(&officer);
    let refused = colleague.agent([
        "enroll",
        "--server",
        &central.url(),
        "--code",
        &code,
        "--pin-certificate",
        &fingerprint,
    ]);
    assert_eq!(refused.code, Some(2));
    assert!(
        refused.stderr.contains("bukan yang diberikan"),
        "{}",
        refused.stderr
    );
    // Staff did change it: enrolling again with the new fingerprint resumes.
    let new_fingerprint = central.fingerprint().expect("printed").to_owned();
    assert_ne!(new_fingerprint, fingerprint);
    let enrolled = laptop.agent([
        "enroll",
        "--server",
        &central.url(),
        "--code",
        &code,
        "--pin-certificate",
        &new_fingerprint,
    ]);
    assert_eq!(
        enrolled.code,
        Some(0),
        "{}{}",
        enrolled.stdout,
        enrolled.stderr
    );
    assert_eq!(laptop.sync()["accepted"], 1);
    assert_eq!(laptop.pending_changes(), 0);
}

#[test]
fn bad_certificate_files_stop_the_server_naming_the_file_and_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("written");
        path.to_str().expect("utf-8").to_owned()
    };
    let (cert, key, other_key) = (
        write("cert.pem", &cert),
        write("key.pem", &key),
        write("other-key.pem", &other_key),
    );
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("utf-8");
    let database = format!("sqlite://{}", dir.path().join("s.sqlite").display());
    for (args, expected) in [
        (
            vec!["--tls-cert", missing, "--tls-key", &key],
            "missing.pem: cannot read",
        ),
        (
            vec!["--tls-cert", &key, "--tls-key", &key],
            "key.pem: no certificate",
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &cert],
            "cert.pem: no private key",
        ),
        (
            vec!["--tls-cert", &cert, "--tls-key", &other_key],
            "other-key.pem does not belong to the certificate",
        ),
    ] {
        let out = lindung_tests::server(
            ["serve", "--listen", "127.0.0.1:0", "--database", &database]
                .into_iter()
                .chain(args.iter().copied()),
        );
        assert_eq!(out.code, Some(2), "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    // One without the other is a usage error.
    let out = lindung_tests::server(["serve", "--tls-cert", &cert]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--tls-key"), "{}", out.stderr);
}

/// A request without any credential; the status and the body.
fn anonymous(central: &Central, method: &str, path: &str) -> (u16, String) {
    raw_request(central.address(), &format!("{method} {path} HTTP/1.1"), b"")
}

#[test]
fn every_route_but_the_public_ones_refuses_an_anonymous_request() {
    let central = Central::start();
    let staff = central.admin(["staff", "add", "Ani Staf Pusat", "--json"]);
    assert_eq!(staff.code, Some(0), "{}", staff.stderr);
    let staff_token = staff.json()["token"].as_str().expect("token").to_owned();
    central.remember_secret(&staff_token);

    // The API document itself needs a token now, and names what it needs.
    let (status, body) = anonymous(&central, "GET", "/api/v1/openapi.json");
    assert_eq!(status, 401, "{body}");
    let error: Value = serde_json::from_str(&body).expect("structured JSON");
    assert_eq!(error["error"]["code"], "unauthorized");
    assert!(error["error"]["message_id"].is_string(), "{body}");
    let (status, body) = raw_request(
        central.address(),
        "GET /api/v1/openapi.json HTTP/1.1\r\nAuthorization: Bearer 0123456789abcdef",
        b"",
    );
    assert_eq!(status, 401, "{body}");
    let (status, body) = raw_request(
        central.address(),
        &format!("GET /api/v1/openapi.json HTTP/1.1\r\nAuthorization: Bearer {staff_token}"),
        b"",
    );
    assert_eq!(status, 200, "{body}");
    let document: Value = serde_json::from_str(&body).expect("JSON");

    // Every described operation but health and enrolment: 401, structured.
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("methods").keys() {
            if matches!(path.as_str(), "/health" | "/api/v1/enroll") {
                continue;
            }
            let concrete = path.replace("{id}", "1");
            let (status, body) = anonymous(&central, &method.to_uppercase(), &concrete);
            assert_eq!(status, 401, "{method} {path}: {body}");
            let error: Value = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {body}"));
            assert_eq!(error["error"]["code"], "unauthorized", "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 14, "{checked}");
    let (status, _) = anonymous(&central, "GET", "/health");
    assert_eq!(status, 200);

    // Every dashboard page sends an anonymous visitor to the login page,
    // and every form is refused without a session.
    for path in [
        "/coverage",
        "/duplicates",
        "/merges",
        "/conflicts",
        "/records/0190a0a0-0000-7000-8000-000000000001",
        "/officers",
        "/reference",
        "/exports",
        "/audit",
    ] {
        let (status, _) = anonymous(&central, "GET", path);
        assert!(matches!(status, 302 | 303), "GET {path}: {status}");
    }
    for path in [
        "/logout",
        "/duplicates/merge",
        "/merges/1/undo",
        "/conflicts/1/resolve",
        "/officers",
        "/officers/0190a0a0-0000-7000-8000-000000000001/enroll-code",
        "/devices/0190a0a0-0000-7000-8000-000000000001/revoke",
        "/reference",
        "/exports",
    ] {
        let (status, _) = anonymous(&central, "POST", path);
        assert!(matches!(status, 302 | 303 | 403), "POST {path}: {status}");
    }
    // The public ones: the login page and the stylesheet.
    assert_eq!(anonymous(&central, "GET", "/login").0, 200);
    assert_eq!(anonymous(&central, "GET", "/assets/style.css").0, 200);
}

#[test]
fn a_rotated_token_replaces_the_old_one_and_a_lost_answer_locks_nobody_out() {
    let central = Central::start();
    let proxy = FaultProxy::start(central.address());
    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &proxy.url());
    laptop.register(&nik(1), "Siti Aminah", "1311012001");
    assert_eq!(laptop.sync()["accepted"], 1);
    let first = token(&laptop, &central);

    // The server rotates, but its answer never arrives.
    proxy.inject(Fault::DropResponse);
    let lost = laptop.agent(["token", "rotate"]);
    assert_eq!(lost.code, Some(2), "{}{}", lost.stdout, lost.stderr);
    assert_eq!(proxy.injected(), 1);
    assert!(central.log().contains("device token rotated"));
    // The laptop keeps the token it had, which still works.
    assert_eq!(token(&laptop, &central), first);
    assert!(matches!(pull_status(&central, &first).0, 200 | 204));
    laptop.register(&nik(2), "Dewi Lestari", "1311012001");
    assert_eq!(laptop.sync()["accepted"], 1);

    // Rotating again works; from then on only the new token does.
    let rotated = laptop.agent(["token", "rotate"]);
    assert_eq!(
        rotated.code,
        Some(0),
        "{}{}",
        rotated.stdout,
        rotated.stderr
    );
    assert!(
        rotated.stdout.contains("token lama tidak berlaku lagi"),
        "{}",
        rotated.stdout
    );
    let second = token(&laptop, &central);
    assert_ne!(second, first);
    let (status, body) = pull_status(&central, &first);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(matches!(pull_status(&central, &second).0, 200 | 204));
    laptop.register(&nik(3), "Ani Rahayu", "1311012001");
    assert_eq!(laptop.sync()["accepted"], 1);

    // A sync run replaces a token older than 30 days by itself (the
    // laptop's clock moved 31 days on) — and an answer lost on the way
    // only postpones it.
    let month_later = |laptop: &Laptop| {
        let out = laptop
            .command()
            .env("LINDUNG_CLOCK_SKEW_SECONDS", (31 * 86_400).to_string())
            .args(["sync", "--json"])
            .output()
            .expect("agent runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str::<Value>(&stdout).expect("JSON")["summary"].clone()
    };
    proxy.inject(Fault::DropResponse);
    laptop.register(&nik(4), "Wati Susanti", "1311012001");
    let postponed = month_later(&laptop);
    assert_eq!(postponed["token_rotated"], false, "{postponed}");
    assert_eq!(postponed["accepted"], 1, "{postponed}");
    assert_eq!(token(&laptop, &central), second);
    let renewed = month_later(&laptop);
    assert_eq!(renewed["token_rotated"], true, "{renewed}");
    let third = token(&laptop, &central);
    assert_ne!(third, second);
    assert_eq!(pull_status(&central, &second).0, 401);
    // The token is new now: the next run leaves it alone.
    assert_eq!(month_later(&laptop)["token_rotated"], false);
    assert_eq!(laptop.pending_changes(), 0);
    assert_eq!(central.stats()["records"], 4);
}

#[test]
fn a_staff_token_rotates_at_once() {
    let central = Central::start();
    let added = central.admin(["staff", "add", "Ani Staf Pusat", "--json"]);
    assert_eq!(added.code, Some(0), "{}", added.stderr);
    let old = added.json()["token"].as_str().expect("token").to_owned();
    central.remember_secret(&old);
    let coverage = |token: &str| {
        raw_request(
            central.address(),
            &format!("GET /api/v1/staff/coverage HTTP/1.1\r\nAuthorization: Bearer {token}"),
            b"",
        )
        .0
    };
    assert_eq!(coverage(&old), 200);
    let id = added.json()["id"].as_str().expect("id").to_owned();
    let rotated = central.admin(["staff", "rotate-token", &id, "--json"]);
    assert_eq!(
        rotated.code,
        Some(0),
        "{}{}",
        rotated.stdout,
        rotated.stderr
    );
    let new = rotated.json()["token"].as_str().expect("token").to_owned();
    central.remember_secret(&new);
    assert_eq!(coverage(&new), 200);
    assert_eq!(coverage(&old), 401);
    let audit = central.admin(["audit", "list", "--action", "staff.rotate_token", "--json"]);
    assert_eq!(audit.code, Some(0), "{}", audit.stderr);
    assert_eq!(audit.json().as_array().map(Vec::len), Some(1));
    assert!(!audit.stdout.contains(&new));
}
