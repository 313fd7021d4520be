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

fn with_config(program: &str, config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(lindung_tests::binary(program))
        .args(args)
        .env("LINDUNG_CONFIG", config)
        .env_remove("LINDUNG_DATABASE")
        .env_remove("LINDUNG_DATA_DIR")
        .env_remove("LINDUNG_LANG")
        .output()
        .expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_configuration_file_sets_defaults_and_check_names_every_mistake() {
    let dir = tempfile::tempdir().expect("dir");
    let database = dir.path().join("dari-konfigurasi.sqlite");
    let good = dir.path().join("server.toml");
    std::fs::write(
        &good,
        format!(
            "# Lindung server\ndatabase = \"sqlite://{}\"\n\n[serve]\nlisten = \"127.0.0.1:0\"\nlog_format = \"json\"\n",
            database.display()
        ),
    )
    .expect("written");
    let checked = with_config("lindung-server", &good, &["config", "check"]);
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    assert!(text(&checked.stdout).contains("serve.log_format = json"));
    // The file's database is the one every command uses …
    let added = with_config(
        "lindung-server",
        &good,
        &["officer", "add", "Rina", "--region", "1311"],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(database.exists());
    // … unless the command line or the environment says otherwise.
    let elsewhere = dir.path().join("lain.sqlite");
    let overridden = std::process::Command::new(lindung_tests::binary("lindung-server"))
        .args(["stats", "--json"])
        .env("LINDUNG_CONFIG", &good)
        .env(
            "LINDUNG_DATABASE",
            format!("sqlite://{}", elsewhere.display()),
        )
        .output()
        .expect("runs");
    assert!(overridden.status.success(), "{}", text(&overridden.stderr));
    assert!(elsewhere.exists());
    let stats: serde_json::Value = serde_json::from_slice(&overridden.stdout).expect("json");
    assert_eq!(stats["officers"], 0, "{stats}");

    let bad = dir.path().join("salah.toml");
    std::fs::write(
        &bad,
        "databse = \"sqlite:///tmp/x\"\n[serve]\nlisten = \"di mana saja\"\nlisen = \"127.0.0.1:1\"\n",
    )
    .expect("written");
    let refused = with_config("lindung-server", &bad, &["config", "check"]);
    assert_eq!(refused.status.code(), Some(1));
    let report = text(&refused.stderr);
    for expected in [
        "salah.toml",
        "unknown key `databse`",
        "`serve.listen` = \"di mana saja\": invalid value",
        "unknown key `serve.lisen`",
    ] {
        assert!(report.contains(expected), "{expected} in {report}");
    }
    // Any other command refuses to run on a broken file rather than guess.
    let stopped = with_config("lindung-server", &bad, &["stats"]);
    assert_eq!(stopped.status.code(), Some(2));
    assert!(text(&stopped.stderr).contains("unknown key `databse`"));

    // The agent reads its own file the same way.
    let agent = dir.path().join("agent.toml");
    std::fs::write(&agent, "lang = \"en\"\n[serve]\nsync_interval = 0\n").expect("written");
    let refused = with_config("lindung-agent", &agent, &["config", "check"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("`serve.sync_interval` = \"0\""),
        "{}",
        text(&refused.stderr)
    );
    std::fs::write(&agent, "lang = \"en\"\n[serve]\nsync_interval = 30\n").expect("written");
    let english = with_config("lindung-agent", &agent, &["nik", "1311015708900001"]);
    assert!(
        text(&english.stdout).contains("Birth date"),
        "the file's language: {}",
        text(&english.stdout)
    );
}

#[test]
fn the_packaged_configuration_files_pass_their_own_check() {
    let packaging = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging");
    for (program, file) in [
        ("lindung-server", "server/server.toml"),
        ("lindung-agent", "agent/agent.toml"),
    ] {
        let checked = with_config(program, &packaging.join(file), &["config", "check"]);
        assert!(
            checked.status.success(),
            "{file}: {}",
            text(&checked.stderr)
        );
        assert!(text(&checked.stdout).contains(": OK"), "{file}");
    }
}
