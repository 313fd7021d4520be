//! Coverage as staff see it: reference values loaded from CSV, registrations
//! synced from laptops, and the percentages, gap, cost and pace the server
//! reports (`lindung-server coverage`).

use std::io::Write;

use lindung_tests::Laptop;
use lindung_tests::central::Central;

#[test]
fn a_regency_at_17_percent_against_28_30_shows_its_gap_cost_and_pace() {
    let central = Central::start();
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

    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Rina (laptop 2)"));
    a.enroll(&central, &officer, &central.url());
    b.enroll(&central, &officer, &central.url());
    // 21 people in Lubuk Gadang; one withdraws; one is registered again on the other laptop.
    let csv = a.dir().join("desa.csv");
    let mut file = std::fs::File::create(&csv).expect("csv");
    writeln!(file, "NIK;Nama Lengkap;Kode Desa;Pekerjaan").expect("write");
    for i in 1..=21u32 {
        let letters: String = format!("{i:03}")
            .bytes()
            .map(|b| char::from(b'a' + (b - b'0')))
            .collect();
        writeln!(
            file,
            "131101{:02}0190{:04};Pekerja {letters};1311012001;nelayan",
            40 + i,
            i
        )
        .expect("write");
    }
    drop(file);
    let imported = a.agent([
        "import",
        csv.to_str().expect("utf-8"),
        "--payer",
        "apbd",
        "--consent",
        "signed_form",
    ]);
    assert_eq!(
        imported.code,
        Some(0),
        "{}{}",
        imported.stdout,
        imported.stderr
    );
    let withdrawn = a.agent(["withdraw", "1311016101900021", "--reason", "pindah kerja"]);
    assert_eq!(
        withdrawn.code,
        Some(0),
        "{}{}",
        withdrawn.stdout,
        withdrawn.stderr
    );
    b.register("1311014101900001", "Pekerja aab", "1311012002");
    a.sync();
    b.sync();

    let shown = central.admin(["coverage", "--region", "13.11", "--json"]);
    assert_eq!(shown.code, Some(0), "{}{}", shown.stdout, shown.stderr);
    let report = shown.json();
    let coverage = &report["coverage"];
    assert_eq!(coverage["status"], "measured", "{report}");
    assert_eq!(
        coverage["persons"], 20,
        "a withdrawal and a second registration of one person do not count"
    );
    assert_eq!(coverage["covered"], 170);
    assert_eq!(coverage["coverage_percent"], 17.0);
    assert_eq!(coverage["target_persons"], 283);
    assert_eq!(coverage["gap_persons"], 113);
    assert_eq!(coverage["gap_cost_per_year"], 113 * 12 * 16_800);
    assert_eq!(coverage["pace_per_30_days"], 20);
    let reached = time::OffsetDateTime::now_utc().date() + time::Duration::days(170);
    assert_eq!(coverage["target_reached_on"], reached.to_string());
    assert_eq!(report["persons_by_category"]["fisherman"], 20);

    // Rebuilding from the records gives the same figures.
    let rebuilt = central.admin(["coverage", "recompute", "--json"]);
    assert_eq!(
        rebuilt.code,
        Some(0),
        "{}{}",
        rebuilt.stdout,
        rebuilt.stderr
    );
    assert_eq!(rebuilt.json()["persons"], 20);
    let again = central
        .admin(["coverage", "--region", "13.11", "--json"])
        .json();
    assert_eq!(again["coverage"], report["coverage"]);

    // Drill-down: the regencies of Sumatera Barat, then Solok Selatan's villages.
    let regencies = central
        .admin([
            "coverage",
            "--region",
            "13",
            "--level",
            "kabupaten",
            "--json",
        ])
        .json();
    let regencies = regencies.as_array().expect("a list");
    assert!(regencies.len() >= 19, "{}", regencies.len());
    let solok = regencies
        .iter()
        .find(|r| r["region_code"] == "1311")
        .expect("Solok Selatan listed");
    assert_eq!(solok["coverage"]["coverage_percent"], 17.0);
    assert!(
        regencies
            .iter()
            .filter(|r| r["region_code"] != "1311")
            .all(|r| r["coverage"]["status"] == "no_denominator")
    );
    let villages = central
        .admin(["coverage", "--region", "1311", "--level", "desa", "--json"])
        .json();
    let persons_in = |code: &str| {
        villages
            .as_array()
            .expect("a list")
            .iter()
            .find(|r| r["region_code"] == code)
            .map(|r| r["coverage"]["persons"].clone())
    };
    assert_eq!(persons_in("1311012001"), Some(serde_json::json!(20)));
    assert_eq!(
        persons_in("1311012002"),
        Some(serde_json::json!(0)),
        "counted once, at the first registration"
    );

    // Lindung's own share, without the baseline.
    let own = central
        .admin(["coverage", "--region", "1311", "--no-baseline", "--json"])
        .json();
    assert_eq!(own["coverage"]["coverage_percent"], 2.0);
    // A village without a working-population figure says so.
    let village = central
        .admin(["coverage", "--region", "1311012001", "--json"])
        .json();
    assert_eq!(village["coverage"]["status"], "no_denominator");
    assert_eq!(village["coverage"]["persons"], 20);
    let text = central.admin(["coverage", "--region", "1311012001"]);
    assert!(
        text.stdout.contains("belum ada data penduduk bekerja"),
        "{}",
        text.stdout
    );
    let text = central.admin(["coverage", "--region", "13.11"]);
    assert!(text.stdout.contains("17.00 %"), "{}", text.stdout);
    assert!(text.stdout.contains("Rp 22.780.800"), "{}", text.stdout);

    // Rates change by regulation: a relief from today (JKK Rp 100, JKM Rp 68) changes the cost.
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let set = central.admin([
        "rates",
        "set",
        "--from",
        &today,
        "--jkk-min",
        "100",
        "--jkm",
        "68",
    ]);
    assert_eq!(set.code, Some(0), "{}{}", set.stdout, set.stderr);
    let relieved = central
        .admin(["coverage", "--region", "13.11", "--json"])
        .json();
    assert_eq!(relieved["coverage"]["gap_cost_per_year"], 113 * 12 * 168);
    let rates = central.admin(["rates", "list", "--json"]).json();
    assert_eq!(rates["minimum_monthly"], 168);
}
