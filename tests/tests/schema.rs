//! The server against its own OpenAPI document: schemathesis (from PyPI,
//! `pip install schemathesis`; `.ci/run` installs it) generates valid and
//! invalid requests for every described operation, with a staff token and
//! an enrolled device's token, and checks that the server never answers
//! 5xx and that every answer (status, content type, headers, body) is the
//! one the document describes. Skipped, saying so, when `st` is missing.
//! The rules the document cannot state are in `tests/schemathesis.toml`.
//! The document itself needs a token, so the test fetches it and hands it
//! to schemathesis as a file (with `--url`). Token rotation is tested like
//! the rest: each call issues a next token that is never used, so the
//! device token schemathesis holds keeps working.

use std::path::Path;
use std::process::Command;

use lindung_tests::central::Central;
use lindung_tests::raw_request;
use serde_json::Value;

/// The `st` command, when schemathesis is installed.
fn schemathesis() -> Option<Command> {
    let found = Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    found.then(|| Command::new("st"))
}

fn get(central: &Central, path_and_headers: &str) -> (u16, Value) {
    let (status, body) = raw_request(central.address(), path_and_headers, b"");
    let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, json)
}

/// Staff token, and the device token of a laptop enrolled over the API.
fn tokens(central: &Central) -> (String, String) {
    let staff = central.admin(["staff", "add", "Ani Staf Pusat", "--json"]);
    assert_eq!(staff.code, Some(0), "{}{}", staff.stdout, staff.stderr);
    let staff_token = staff.json()["token"].as_str().expect("token").to_owned();
    central.remember_secret(&staff_token);
    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let code = central.enroll_code(&officer);
    let request = serde_json::json!({
        "protocol": 1,
        "code": code,
        "device_id": "0190a0a0-0000-7000-8000-000000000001",
        "device_name": "laptop Rina",
    });
    let (status, body) = raw_request(
        central.address(),
        "POST /api/v1/enroll HTTP/1.1\r\nContent-Type: application/json",
        request.to_string().as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let enrolled: Value = serde_json::from_str(&body).expect("json");
    let device_token = enrolled["token"].as_str().expect("token").to_owned();
    central.remember_secret(&device_token);
    (staff_token, device_token)
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let Some(mut st) = schemathesis() else {
        eprintln!("skipped: schemathesis (`st`) is not installed (pip install schemathesis)");
        return;
    };
    let central = Central::start();
    let (staff_token, device_token) = tokens(&central);
    // The document needs a token: fetched here, handed to schemathesis as a file.
    let (status, document) = get(
        &central,
        &format!("GET /api/v1/openapi.json HTTP/1.1\r\nAuthorization: Bearer {staff_token}"),
    );
    assert_eq!(status, 200, "{document}");
    // Every described operation (the document's own too: schemathesis
    // reads it from a file, so it does not know to leave it out).
    let operations: usize = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, |methods| methods.len()))
        .sum();

    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml");
    let work = tempfile::tempdir().expect("temp dir");
    let schema = work.path().join("openapi.json");
    std::fs::write(&schema, document.to_string()).expect("schema written");
    let out = st
        .current_dir(work.path())
        .arg("--no-color")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&schema)
        .args(["--url", &central.url()])
        .args(["--max-examples", "20", "--seed", "1"])
        .env("LINDUNG_ST_STAFF_TOKEN", &staff_token)
        .env("LINDUNG_ST_DEVICE_TOKEN", &device_token)
        .output()
        .expect("st runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis failed:\n{report}");
    // Every operation was tried, with tokens the server took.
    assert!(
        report.contains(&format!("Tested: {operations}")),
        "not every one of the {operations} operations was tested:\n{report}"
    );
    assert!(
        !report.contains("Authentication failed"),
        "the tokens were refused:\n{report}"
    );
    assert!(!central.log().contains("panicked"), "{}", central.log());
}

#[test]
fn malformed_queries_paths_and_regions_get_a_structured_error_naming_the_problem() {
    let central = Central::start();
    let (staff_token, _) = tokens(&central);
    let auth = format!("HTTP/1.1\r\nAuthorization: Bearer {staff_token}");
    for (request, status, code, field) in [
        (
            "GET /api/v1/staff/merges?limit=-1",
            400,
            "bad_request",
            None,
        ),
        (
            "GET /api/v1/staff/conflicts?all=maybe",
            400,
            "bad_request",
            None,
        ),
        (
            "GET /api/v1/staff/reference?year=abc",
            400,
            "bad_request",
            None,
        ),
        (
            "POST /api/v1/staff/merges/abc/undo",
            400,
            "bad_request",
            Some("id"),
        ),
        (
            "GET /api/v1/staff/coverage?region=99",
            404,
            "not_found",
            Some("region"),
        ),
        ("GET /api/v1/staff/duplicates?region=13.11", 200, "", None),
    ] {
        let (got, body) = get(&central, &format!("{request} {auth}"));
        assert_eq!(got, status, "{request}: {body}");
        if status != 200 {
            assert_eq!(body["error"]["code"], code, "{request}: {body}");
            assert!(body["error"]["message_id"].is_string(), "{request}: {body}");
            if let Some(field) = field {
                assert_eq!(body["error"]["field"], field, "{request}: {body}");
            }
        }
    }
    // The parameter named in the message.
    let (_, body) = get(
        &central,
        &format!("GET /api/v1/staff/merges?limit=x {auth}"),
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("limit"), "{body}");
}
