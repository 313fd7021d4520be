//! Operating the server: readiness, Prometheus metrics, JSON logs.

use lindung_tests::central::Central;
use lindung_tests::{Laptop, raw_request};

fn staff_token(central: &Central) -> String {
    let out = central.admin(["staff", "add", "Operator Pusat", "--json"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let token = out.json()["token"].as_str().expect("token").to_owned();
    central.remember_secret(&token);
    token
}

/// The value of the first sample line of `text` that starts with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[test]
fn readiness_and_metrics_tell_an_operator_what_the_server_does() {
    let central = Central::start_with_env(&[("LINDUNG_LOG_FORMAT", "json")]);
    let (status, body) = raw_request(central.address(), "GET /ready HTTP/1.1", b"");
    assert_eq!((status, body.contains("ready")), (200, true), "{body}");

    // Metrics are for staff only.
    let (status, body) = raw_request(central.address(), "GET /metrics HTTP/1.1", b"");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("unauthorized"), "{body}");

    let officer = central.add_officer("Rina Marlina", &["131101"]);
    let laptop = Laptop::init("Rina");
    laptop.enroll(&central, &officer, &central.url());
    laptop.register("1311015708900001", "Siti Aminah", "1311012001");
    laptop.register("1311015708900002", "Budi Santoso", "1311012001");
    // Outside the officer's region: refused, counted by its code.
    laptop.register("1311025708900003", "Dewi Lestari", "1311022001");
    laptop.sync();

    let token = staff_token(&central);
    let (status, text) = raw_request(
        central.address(),
        &format!("GET /metrics HTTP/1.1\r\nAuthorization: Bearer {token}"),
        b"",
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sample(&text, "lindung_operations_total{outcome=\"accepted\""),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "lindung_operations_total{outcome=\"rejected\",code=\"out_of_scope\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "lindung_sync_requests_total{endpoint=\"enroll\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(
        sample(&text, "lindung_push_batch_seconds_count").is_some_and(|n| n >= 1.0),
        "{text}"
    );

    // The recompute's duration appears once one has run.
    let recompute = central.admin(["coverage", "recompute"]);
    assert_eq!(recompute.code, Some(0), "{}", recompute.stderr);
    let (_, text) = raw_request(
        central.address(),
        &format!("GET /metrics HTTP/1.1\r\nAuthorization: Bearer {token}"),
        b"",
    );
    assert!(
        sample(&text, "lindung_coverage_recompute_seconds").is_some(),
        "{text}"
    );

    // Every log line is one JSON object with a level and a message.
    let log = central.log();
    assert!(log.lines().count() >= 3, "{log}");
    for line in log.lines() {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(entry["level"].is_string(), "{line}");
        assert!(entry["message"].is_string(), "{line}");
    }
    assert!(log.contains("\"message\":\"push\""), "{log}");
}
