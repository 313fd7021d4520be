//! Exports and the audit log as staff use them: coverage and registrations
//! written to `.csv`/`.xlsx` after laptops synced, NIKs masked in the file,
//! and every staff action listed by `lindung-server audit list` with the
//! staff member who did it (`--staff` or `LINDUNG_STAFF`).

use calamine::{Data, Reader};
use lindung_tests::Laptop;
use lindung_tests::central::Central;

/// The NIK of the `i`-th test person (a woman born on `i` January 1990 in Sangir).
fn nik(i: u32) -> String {
    format!("131101{:02}0190{i:04}", 40 + i)
}

/// A server with reference values for Solok Selatan (1,000 working, 150
/// covered already, target 28.30 %) and five persons synced from a laptop
/// into Lubuk Gadang (1311012001).
fn synced_central(dir: &std::path::Path) -> Central {
    let central = Central::start();
    let year = time::OffsetDateTime::now_utc().year();
    let reference = dir.join("acuan.csv");
    std::fs::write(
        &reference,
        format!(
            "tahun;kode_wilayah;penduduk_bekerja;peserta_bpjs;target_persen\n{year};13.11;1.000;150;28,30\n"
        ),
    )
    .expect("written");
    let loaded = central.admin([
        "reference",
        "import",
        reference.to_str().expect("utf-8"),
        "--staff",
        "Sari",
    ]);
    assert_eq!(loaded.code, Some(0), "{}{}", loaded.stdout, loaded.stderr);

    let added = central.admin([
        "--staff",
        "Sari",
        "officer",
        "add",
        "Rina Marlina",
        "--region",
        "1311",
        "--json",
    ]);
    assert_eq!(added.code, Some(0), "{}{}", added.stdout, added.stderr);
    let officer = added.json()["id"].as_str().expect("id").to_owned();
    // The enrolment code is made by someone named in the environment.
    let coded = central.admin_with_env(
        ["enroll-code", "--officer", &officer, "--json"],
        &[("LINDUNG_STAFF", "Dewi")],
    );
    assert_eq!(coded.code, Some(0), "{}{}", coded.stdout, coded.stderr);
    let code = coded.json()["code"].as_str().expect("code").to_owned();

    let laptop = Laptop::init("Rina");
    let enrolled = laptop.agent(["enroll", "--server", &central.url(), "--code", &code]);
    assert_eq!(
        enrolled.code,
        Some(0),
        "{}{}",
        enrolled.stdout,
        enrolled.stderr
    );
    let rows: Vec<String> = (1..=5u32)
        .zip(["Siti", "Dewi", "Rahma", "Yanti", "Wati"])
        .map(|(i, name)| format!("{};{name} Pekerja;1311012001;nelayan", nik(i)))
        .collect();
    laptop.import_workers(&rows);
    laptop.sync();
    // Keep the enrolment code out of every later assertion's reach but this one.
    let audit = central.admin(["audit", "list", "--json"]);
    assert!(!audit.stdout.contains(&code), "{}", audit.stdout);
    central
}

/// The rows of a CSV export (byte-order mark and header removed).
fn csv_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("export written");
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|record| {
            record
                .expect("a CSV row")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

#[test]
fn coverage_and_registrations_export_with_masked_niks_and_every_action_is_audited() {
    let dir = tempfile::tempdir().expect("temp dir");
    let central = synced_central(dir.path());

    // Coverage of the regency: the figures `coverage --region 13.11 --json` shows.
    let output = dir.path().join("cakupan.csv");
    let exported = central.admin([
        "export",
        "coverage",
        "--region",
        "13.11",
        "--format",
        "csv",
        "--output",
        output.to_str().expect("utf-8"),
        "--staff",
        "Sari",
    ]);
    assert_eq!(
        exported.code,
        Some(0),
        "{}{}",
        exported.stdout,
        exported.stderr
    );
    let rows = csv_rows(&output);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let cost = (283 - 155) * 12 * 16_800;
    let row = &rows[0];
    assert_eq!(row[0], "1311");
    assert!(row[1].contains("Solok Selatan"), "{row:?}");
    assert_eq!(
        row[3..11],
        [
            "1000".to_owned(),
            "150".into(),
            "5".into(),
            "15.50".into(),
            "28.30".into(),
            "128".into(),
            cost.to_string(),
            "5".into(),
        ],
        "{row:?}"
    );
    let shown = central
        .admin(["coverage", "--region", "13.11", "--json"])
        .json();
    assert_eq!(shown["coverage"]["gap_cost_per_year"], cost);
    assert_eq!(
        row[11],
        shown["coverage"]["target_reached_on"]
            .as_str()
            .expect("a date")
    );

    // Its villages: Lubuk Gadang has no denominator, so only its persons.
    let villages = dir.path().join("desa.csv");
    let exported = central.admin([
        "export",
        "coverage",
        "--region",
        "131101",
        "--level",
        "desa",
        "--format",
        "csv",
        "--output",
        villages.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        exported.code,
        Some(0),
        "{}{}",
        exported.stdout,
        exported.stderr
    );
    let rows = csv_rows(&villages);
    let lubuk_gadang = rows
        .iter()
        .find(|row| row[0] == "1311012001")
        .expect("Lubuk Gadang listed");
    assert_eq!(lubuk_gadang[5], "5");
    assert!(
        lubuk_gadang[3..5]
            .iter()
            .chain(&lubuk_gadang[6..])
            .all(String::is_empty),
        "{lubuk_gadang:?}"
    );

    // Registrations as a workbook: one row each, NIKs masked.
    let workbook_path = dir.path().join("pendaftaran.xlsx");
    let exported = central.admin_with_env(
        [
            "export",
            "registrations",
            "--region",
            "1311",
            "--format",
            "xlsx",
            "--output",
            workbook_path.to_str().expect("utf-8"),
        ],
        &[("LINDUNG_STAFF", "Dewi")],
    );
    assert_eq!(
        exported.code,
        Some(0),
        "{}{}",
        exported.stdout,
        exported.stderr
    );
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&workbook_path).expect("xlsx");
    let range = workbook.worksheet_range("Pendaftaran").expect("sheet");
    let rows: Vec<&[Data]> = range.rows().collect();
    assert_eq!(rows.len(), 1 + 5, "a header and five registrations");
    let mut masked: Vec<String> = rows[1..].iter().map(|row| row[1].to_string()).collect();
    masked.sort();
    let mut expected: Vec<String> = (1..=5)
        .map(|i| {
            let nik = nik(i);
            format!("{}********{}", &nik[..4], &nik[12..])
        })
        .collect();
    expected.sort();
    assert_eq!(masked, expected);
    for row in &rows {
        for cell in *row {
            let text = cell.to_string();
            assert!(
                (1..=5).all(|i| !text.contains(&nik(i))),
                "a full NIK in the export: {text}"
            );
        }
    }
    assert!(rows[1..].iter().all(|row| row[11] == "Rina Marlina"));
    assert!(rows[1..].iter().all(|row| row[5] == "1311012001"));

    // The audit log: who did what, newest first, NIKs and codes nowhere.
    let audit = central.admin(["audit", "list", "--json"]);
    assert_eq!(audit.code, Some(0), "{}{}", audit.stdout, audit.stderr);
    let entries = audit.json();
    let entries = entries.as_array().expect("a list");
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {entries:?}"))
    };
    assert_eq!(find("officer.add")["actor"], "Sari");
    assert_eq!(find("officer.add")["details"]["name"], "Rina Marlina");
    assert_eq!(find("reference.import")["actor"], "Sari");
    assert_eq!(find("reference.import")["details"]["file"], "acuan.csv");
    assert_eq!(find("enroll_code.create")["actor"], "Dewi");
    let registrations = find("export.registrations");
    assert_eq!(registrations["actor"], "Dewi");
    assert_eq!(registrations["subject"], "1311");
    assert_eq!(registrations["details"]["rows"], 5);
    assert_eq!(registrations["details"]["format"], "xlsx");
    assert_eq!(entries[0]["action"], "export.registrations", "newest first");
    let coverage_exports: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "export.coverage")
        .collect();
    assert_eq!(coverage_exports.len(), 2);
    assert!((1..=5).all(|i| !audit.stdout.contains(&nik(i))));

    let only = central.admin([
        "audit",
        "list",
        "--action",
        "export.coverage",
        "--limit",
        "1",
        "--json",
    ]);
    let only = only.json();
    assert_eq!(only.as_array().map(Vec::len), Some(1));
    assert_eq!(
        only[0]["subject"], "131101",
        "the newest: the village listing"
    );
    assert_eq!(only[0]["details"]["level"], "village");
    let text = central.admin(["audit", "list"]);
    assert!(text.stdout.contains("tindakan/action"), "{}", text.stdout);
    assert!(text.stdout.contains("officer.add"), "{}", text.stdout);
}

#[test]
fn an_unknown_region_or_format_is_refused_and_leaves_no_file() {
    let central = Central::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let output = dir.path().join("pendaftaran.csv");
    let refused = central.admin([
        "export",
        "registrations",
        "--region",
        "99.99",
        "--format",
        "csv",
        "--output",
        output.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        refused.code,
        Some(2),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(refused.stderr.contains("--region"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("wilayah tidak dikenal"),
        "{}",
        refused.stderr
    );
    let refused = central.admin([
        "export",
        "coverage",
        "--region",
        "13",
        "--format",
        "pdf",
        "--output",
        output.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        refused.code,
        Some(2),
        "{}{}",
        refused.stdout,
        refused.stderr
    );
    assert!(refused.stderr.contains("pdf"), "{}", refused.stderr);
    let missing_dir = dir.path().join("tidak-ada").join("cakupan.xlsx");
    let failed = central.admin([
        "export",
        "coverage",
        "--region",
        "13",
        "--format",
        "xlsx",
        "--output",
        missing_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(failed.code, Some(2), "{}{}", failed.stdout, failed.stderr);
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "no file, no temporary file"
    );
    // Nothing was exported, so nothing was recorded.
    let audit = central.admin(["audit", "list", "--json"]).json();
    assert_eq!(audit, serde_json::json!([]));
}
