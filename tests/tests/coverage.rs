//! Coverage as staff see it: reference values loaded from CSV, registrations
//! synced from laptops, and the percentages, gap, cost and pace the server
//! reports (`lindung-server coverage`).

use lindung_tests::Laptop;
use lindung_tests::central::Central;

#[test]
fn a_regency_at_17_percent_against_28_30_shows_its_gap_cost_and_pace() {
    let central = Central::start();
    let year = time::OffsetDateTime::now_utc().year();
    central.import_reference(&format!("{year};13.11;1.000;150;28,30\n"));

    let officer = central.add_officer("Rina Marlina", &["1311"]);
    let (a, b) = (Laptop::init("Rina"), Laptop::init("Rina (laptop 2)"));
    a.enroll(&central, &officer, &central.url());
    b.enroll(&central, &officer, &central.url());
    // 21 people in Lubuk Gadang; one withdraws; one is registered again on the other laptop.
    let rows: Vec<String> = (1..=21u32)
        .map(|i| {
            let letters: String = format!("{i:03}")
                .bytes()
                .map(|b| char::from(b'a' + (b - b'0')))
                .collect();
            format!(
                "131101{:02}0190{i:04};Pekerja {letters};1311012001;nelayan",
                40 + i
            )
        })
        .collect();
    a.import_workers(&rows);
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

/// A worker row: a NIK of a woman born in 1990 in `district`, a name made of
/// letters only, the village.
fn worker(district: &str, serial: u32, village: &str) -> String {
    let letters: String = format!("{serial:03}")
        .bytes()
        .map(|b| char::from(b'a' + (b - b'0')))
        .collect();
    format!(
        "{district}{:02}0190{serial:04};Pekerja {letters};{village};nelayan",
        41 + serial % 28
    )
}

/// "Sarolangun covers 43 % of about 112,000 workers and wants 65 %."
#[test]
fn sarolangun_at_43_percent_of_112_000_workers_against_65() {
    let central = Central::start();
    let year = time::OffsetDateTime::now_utc().year();
    // 48,120 covered outside Lindung, and 40 persons registered below.
    central.import_reference(&format!("{year};15.03;112.000;48.120;65\n"));
    let officer = central.add_officer("Yusuf Hamdani", &["1503"]);
    let laptop = Laptop::init("Yusuf");
    laptop.enroll(&central, &officer, &central.url());
    let rows: Vec<String> = (1..=40)
        .map(|i| {
            let village = if i % 2 == 0 {
                "1503012001"
            } else {
                "1503012002"
            };
            worker("150301", i, village)
        })
        .collect();
    laptop.import_workers(&rows);
    laptop.sync();

    let report = central
        .admin(["coverage", "--region", "15.03", "--json"])
        .json();
    let coverage = &report["coverage"];
    assert_eq!(coverage["status"], "measured", "{report}");
    assert_eq!(coverage["persons"], 40);
    // (48,120 + 40) / 112,000 = 43.00 %.
    assert_eq!(coverage["covered"], 48_160);
    assert_eq!(coverage["coverage_percent"], 43.0);
    // 65 % of 112,000 = 72,800 persons; 72,800 − 48,160 = 24,640 missing.
    assert_eq!(coverage["target_persons"], 72_800);
    assert_eq!(coverage["gap_persons"], 24_640);
    // 24,640 × 12 months × Rp 16,800 (JKK minimum Rp 10,000 + JKM Rp 6,800)
    // = Rp 4,967,424,000 a year.
    assert_eq!(coverage["gap_cost_per_year"], 4_967_424_000u64);
    // 40 registered in the last 30 days: ⌈24,640 × 30 / 40⌉ = 18,480 days.
    assert_eq!(coverage["pace_per_30_days"], 40);
    let reached = time::OffsetDateTime::now_utc().date() + time::Duration::days(18_480);
    assert_eq!(coverage["target_reached_on"], reached.to_string());
    let text = central.admin(["coverage", "--region", "15.03"]);
    assert!(text.stdout.contains("43.00 %"), "{}", text.stdout);
    assert!(text.stdout.contains("Rp 4.967.424.000"), "{}", text.stdout);
    // Lindung's own share: 40 / 112,000 = 0.04 %.
    let own = central
        .admin(["coverage", "--region", "15.03", "--no-baseline", "--json"])
        .json();
    assert_eq!(own["coverage"]["coverage_percent"], 0.04);
    // Jambi's regencies list Sarolangun with the same figures and pace.
    let regencies = central
        .admin(["coverage", "--region", "15", "--level", "regency", "--json"])
        .json();
    let sarolangun = regencies
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["region_code"] == "1503")
        .expect("Sarolangun listed");
    assert_eq!(sarolangun["coverage"], report["coverage"]);
}

/// "Bengkulu province 37 % against a national 39 %; Kaur 75 %, Lebong 17 %."
#[test]
fn bengkulu_at_37_against_39_nationally_with_kaur_at_75_and_lebong_at_17() {
    let central = Central::start();
    let year = time::OffsetDateTime::now_utc().year();
    // Baselines leave room for 6 persons registered in Kaur and 4 in Lebong.
    central.import_reference(&format!(
        "{year};ID;100.000.000;38.999.990;\n\
             {year};17;1.000.000;369.990;39\n\
             {year};17.04;60.000;44.994;75\n\
             {year};17.07;60.000;10.196;39\n"
    ));
    let officer = central.add_officer("Rahmat Hidayat", &["1704", "1707"]);
    let laptop = Laptop::init("Rahmat");
    laptop.enroll(&central, &officer, &central.url());
    let mut rows: Vec<String> = (1..=6).map(|i| worker("170401", i, "1704012001")).collect();
    rows.extend((7..=10).map(|i| worker("170701", i, "1707012002")));
    laptop.import_workers(&rows);
    laptop.sync();
    let today = time::OffsetDateTime::now_utc().date();

    let regencies = central
        .admin(["coverage", "--region", "17", "--level", "regency", "--json"])
        .json();
    let regencies = regencies.as_array().expect("a list");
    assert_eq!(regencies.len(), 10, "Bengkulu has ten regencies and cities");
    let row = |code: &str| {
        regencies
            .iter()
            .find(|r| r["region_code"] == code)
            .map(|r| r["coverage"].clone())
            .unwrap_or_else(|| panic!("{code} listed"))
    };
    // Kaur: (44,994 + 6) / 60,000 = 75.00 %, its 75 % target reached.
    let kaur = row("1704");
    assert_eq!(kaur["coverage_percent"], 75.0);
    assert_eq!(kaur["gap_persons"], 0);
    assert_eq!(kaur["gap_cost_per_year"], 0);
    assert_eq!(kaur["pace_per_30_days"], 6);
    assert_eq!(kaur["target_reached_on"], today.to_string());
    // Lebong: (10,196 + 4) / 60,000 = 17.00 %; 39 % is 23,400 persons, so
    // 13,200 missing: 13,200 × 12 × Rp 16,800 = Rp 2,661,120,000 a year, and at
    // 4 per 30 days ⌈13,200 × 30 / 4⌉ = 99,000 days.
    let lebong = row("1707");
    assert_eq!(lebong["coverage_percent"], 17.0);
    assert_eq!(lebong["target_persons"], 23_400);
    assert_eq!(lebong["gap_persons"], 13_200);
    assert_eq!(lebong["gap_cost_per_year"], 2_661_120_000u64);
    assert_eq!(lebong["pace_per_30_days"], 4);
    assert_eq!(
        lebong["target_reached_on"],
        (today + time::Duration::days(99_000)).to_string()
    );
    assert!(
        regencies
            .iter()
            .filter(|r| r["region_code"] != "1704" && r["region_code"] != "1707")
            .all(|r| r["coverage"]["status"] == "no_denominator" && r["coverage"]["persons"] == 0)
    );

    // The province: (369,990 + 10) / 1,000,000 = 37.00 %; 39 % is 390,000,
    // so 20,000 missing: 20,000 × 12 × Rp 16,800 = Rp 4,032,000,000 a year.
    let province = central
        .admin(["coverage", "--region", "17", "--json"])
        .json();
    let bengkulu = &province["coverage"];
    assert_eq!(bengkulu["persons"], 10);
    assert_eq!(bengkulu["coverage_percent"], 37.0);
    assert_eq!(bengkulu["gap_persons"], 20_000);
    assert_eq!(bengkulu["gap_cost_per_year"], 4_032_000_000u64);
    assert_eq!(bengkulu["pace_per_30_days"], 10);
    // The national row: (38,999,990 + 10) / 100,000,000 = 39.00 %, no target set.
    let national = central.admin(["coverage", "--json"]).json();
    assert_eq!(national["region"], "Indonesia");
    assert_eq!(national["coverage"]["coverage_percent"], 39.0);
    assert_eq!(national["coverage"]["persons"], 10);
    assert!(national["coverage"]["gap_persons"].is_null(), "{national}");
    // The provinces of the country list Bengkulu with its own figures.
    let provinces = central
        .admin(["coverage", "--level", "province", "--json"])
        .json();
    let listed = provinces
        .as_array()
        .expect("a list")
        .iter()
        .find(|r| r["region_code"] == "17")
        .expect("Bengkulu listed");
    assert_eq!(listed["coverage"], province["coverage"]);
    assert!(
        bengkulu["coverage_bp"].as_u64() < national["coverage"]["coverage_bp"].as_u64(),
        "Bengkulu is below the national figure"
    );
}
