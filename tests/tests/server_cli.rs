//! `lindung-server regions`: the operator can see which region edition is built in.

use lindung_tests::central::Central;
use lindung_tests::raw_request;
use lindung_tests::server;

#[test]
fn the_server_reports_the_embedded_region_counts() {
    let json = server(["regions", "--json"]).json();
    assert_eq!(json["provinces"], 38);
    assert_eq!(json["kabupaten"], 416);
    assert_eq!(json["kota"], 98);
    assert_eq!(json["districts"], 7285);
    assert_eq!(json["kelurahan"], 8496);
    assert_eq!(json["desa"], 75252);
    assert_eq!(json["desa_adat"], 14);
    assert_eq!(json["retired_districts"], 594);
    let text = server(["regions"]);
    assert_eq!(text.code, Some(0));
    assert!(text.stdout.contains("300.2.2-2138"), "{}", text.stdout);
}

#[test]
fn reference_data_is_imported_a_year_at_a_time_and_a_bad_file_changes_nothing() {
    let central = lindung_tests::central::Central::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("acuan-2025.csv");
    std::fs::write(
        &good,
        "tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n\
         2025;13.11;100.000;14.000;28,30\n\
         2025;15.03;112.000;48.160;65\n",
    )
    .expect("written");
    let imported = central.admin([
        "reference",
        "import",
        good.to_str().expect("utf-8"),
        "--json",
    ]);
    assert_eq!(
        imported.code,
        Some(0),
        "{}{}",
        imported.stdout,
        imported.stderr
    );
    assert_eq!(imported.json()["result"]["stored"], 2);
    // Again: the same state, nothing doubled.
    let again = central.admin(["reference", "import", good.to_str().expect("utf-8")]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let bad = dir.path().join("acuan-rusak.csv");
    std::fs::write(
        &bad,
        "tahun;kode_wilayah;penduduk_bekerja;target_persen\n2025;13.11;banyak;28\n2025;99.99;10;120\n",
    )
    .expect("written");
    let refused = central.admin(["reference", "import", bad.to_str().expect("utf-8")]);
    assert_eq!(refused.code, Some(2));
    assert!(
        refused.stdout.contains("baris/line 2 [penduduk_bekerja]"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stdout.contains("baris/line 3 [kode_wilayah]"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stderr.contains("nothing was imported"),
        "{}",
        refused.stderr
    );
    let shown = central
        .admin(["reference", "show", "--year", "2025", "--json"])
        .json();
    let rows = shown.as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["region_code"], "1311");
    assert_eq!(rows[0]["working_population"], 100_000);
    assert_eq!(rows[0]["target_bp"], 2_830);
    assert_eq!(rows[1]["baseline"], 48_160);
}

#[test]
fn the_api_refuses_bad_bodies_with_a_stable_code_and_survives() {
    let central = lindung_tests::central::Central::start();
    let address = central.address();
    // 200 MB of zeros compressed to a few kilobytes: refused before it inflates.
    let bomb = zstd::bulk::compress(&vec![b' '; 200 * 1024 * 1024], 19).expect("compressed");
    assert!(bomb.len() < 100_000);
    let (status, body) = raw_request(
        address,
        "POST /api/v1/enroll HTTP/1.1\r\nContent-Type: application/json\r\nContent-Encoding: zstd",
        &bomb,
    );
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    let (status, body) = raw_request(
        address,
        "POST /api/v1/enroll HTTP/1.1\r\nContent-Type: application/json",
        b"{\"protocol\":1,",
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("bad_request") && body.contains("message_id"),
        "{body}"
    );
    let (status, body) = raw_request(
        address,
        "POST /api/v1/sync/push HTTP/1.1\r\nAuthorization: Bearer nope",
        b"{}",
    );
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("unauthorized"), "{body}");
    let (status, body) = raw_request(
        address,
        "POST /api/v1/enroll HTTP/1.1\r\nContent-Type: application/json",
        b"{\"protocol\":99,\"code\":\"x\",\"device_id\":\"00000000-0000-0000-0000-000000000001\"}",
    );
    assert_eq!(status, 426, "{body}");
    assert!(
        body.contains("server perlu diperbarui") && body.contains("the server must be updated"),
        "an agent newer than the server is not told to update itself: {body}"
    );
    let (status, body) = raw_request(
        address,
        "POST /api/v1/enroll HTTP/1.1\r\nContent-Type: application/json",
        b"{\"protocol\":0,\"code\":\"x\",\"device_id\":\"00000000-0000-0000-0000-000000000001\"}",
    );
    assert_eq!(status, 426, "{body}");
    assert!(body.contains("perbarui lindung-agent"), "{body}");
    let (status, _) = raw_request(address, "GET /health HTTP/1.1", b"");
    assert_eq!(status, 200, "the server is still up");
}

/// Ten failed enrolments from one address within 15 minutes, and the
/// address is refused for the rest of the window, even with a good code.
#[test]
fn repeated_failed_enrolments_are_refused_for_a_while() {
    let central = Central::start();
    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let enroll = |code: &str, serial: u32| {
        let body = format!(
            "{{\"protocol\":1,\"code\":\"{code}\",\"device_id\":\"00000000-0000-0000-0000-{serial:012}\",\"device_name\":\"laptop\"}}"
        );
        raw_request(
            central.address(),
            "POST /api/v1/enroll HTTP/1.1\r\nContent-Type: application/json",
            body.as_bytes(),
        )
    };
    for serial in 1..=10 {
        let (status, body) = enroll("AAAA-BBBB-CCCC", serial);
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("kode pendaftaran tidak dikenal"), "{body}");
    }
    let code = central.enroll_code(&officer);
    let (status, body) = enroll(&code, 11);
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("rate_limited"), "{body}");
    assert!(body.contains("terlalu banyak percobaan"), "{body}");
    // Nothing was enrolled by the refused attempt.
    let devices = central.admin(["device", "list", "--json"]).json();
    assert_eq!(devices.as_array().map(Vec::len), Some(0), "{devices}");
}
