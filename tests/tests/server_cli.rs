//! `lindung-server regions`: the operator can see which region edition is built in.

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
