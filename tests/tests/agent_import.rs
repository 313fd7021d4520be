//! Spreadsheets from village offices: import, the report of refused rows,
//! fixing them, importing again without duplicates, and exports that import back.

use lindung_tests::Laptop;

const HEADER: &str = "No;NIK;Nama Lengkap;JK;No HP;Kode Desa;RT;RW;Pekerjaan";

fn village_file(laptop: &Laptop, name: &str, rows: &[&str]) -> std::path::PathBuf {
    let path = laptop.dir().join(name);
    let mut text = String::from(HEADER);
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    std::fs::write(&path, text).expect("write the test spreadsheet");
    path
}

fn import(laptop: &Laptop, path: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let out = laptop.agent([
        "import".as_ref(),
        path.as_os_str(),
        "--payer".as_ref(),
        "apbd".as_ref(),
        "--consent".as_ref(),
        "signed_form".as_ref(),
        "--json".as_ref(),
    ]);
    (out.code, out.json())
}

#[test]
fn valid_rows_are_saved_refused_rows_reported_and_a_second_import_adds_nothing() {
    let laptop = Laptop::init("Rina Marlina");
    let path = village_file(
        &laptop,
        "Data Desa.csv",
        &[
            "1;1311014101900001;Siti Aminah;P;081234567890;1311012001;3;1;Ketua RT",
            "2;1311010202850002;Budi Santoso;L;;1311012001;4;1;nelayan",
            "3;1311013102900003;Salah Tanggal;P;;1311012001;5;1;nelayan",
            "4;1311010202850002;Budi Lagi;L;;1311012001;4;1;nelayan",
        ],
    );
    let (code, summary) = import(&laptop, &path);
    assert_eq!(code, Some(1), "some rows were refused: {summary}");
    assert_eq!(
        (
            summary["read"].as_u64(),
            summary["created"].as_u64(),
            summary["refused"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    let report_path = laptop.dir().join("Data Desa.laporan.csv");
    assert_eq!(summary["report"], report_path.display().to_string());
    let report =
        std::fs::read_to_string(&report_path).expect("the report is written beside the file");
    assert!(
        report.contains("baris,kolom,kode,alasan,reason"),
        "{report}"
    );
    assert!(
        report.contains("4,NIK,nik_invalid_date"),
        "row 4 (Excel numbering) is named: {report}"
    );
    assert!(report.contains("5,NIK,duplicate_nik_in_file"), "{report}");

    let (_, again) = import(&laptop, &path);
    assert_eq!(
        (again["created"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2)),
        "{again}"
    );
    let check = laptop.agent(["check", "--json"]).json();
    assert_eq!(check["registrations"], 2);
    assert_eq!(check["problems"].as_array().map(Vec::len), Some(0));
}

#[test]
fn a_fixed_row_imports_and_the_report_goes_away() {
    let laptop = Laptop::init("Rina Marlina");
    let wrong = village_file(
        &laptop,
        "desa.csv",
        &["1;1311013102900003;Sari Dewi;P;;1311012001;5;1;nelayan"],
    );
    let (code, _) = import(&laptop, &wrong);
    assert_eq!(code, Some(1));
    assert!(laptop.dir().join("desa.laporan.csv").exists());
    // The office corrects the birth date digits in the NIK (31 Feb → 28 Feb).
    let fixed = village_file(
        &laptop,
        "desa.csv",
        &["1;1311016802900003;Sari Dewi;P;;1311012001;5;1;nelayan"],
    );
    let (code, summary) = import(&laptop, &fixed);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["created"], 1);
    assert!(
        !laptop.dir().join("desa.laporan.csv").exists(),
        "a stale report would mislead the office"
    );
}

#[test]
fn an_export_imports_back_unchanged_and_a_corrected_export_updates_the_registration() {
    let laptop = Laptop::init("Rina Marlina");
    let path = village_file(
        &laptop,
        "awal.csv",
        &["1;1311014101900001;Siti Aminah;P;081234567890;1311012001;3;1;Ketua RT"],
    );
    assert_eq!(import(&laptop, &path).0, Some(0));
    for name in ["ekspor.xlsx", "ekspor.csv"] {
        let export = laptop.dir().join(name);
        let out = laptop.agent(["export".as_ref(), export.as_os_str()]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let (code, summary) = import(&laptop, &export);
        assert_eq!(code, Some(0), "{name}: {summary}");
        assert_eq!(summary["unchanged"], 1, "{name}: {summary}");
    }
    // The office corrects the name in the exported CSV.
    let export = laptop.dir().join("ekspor.csv");
    let text = std::fs::read_to_string(&export)
        .expect("export exists")
        .replace("Siti Aminah", "Siti Aminah Lubis");
    std::fs::write(&export, text).expect("rewrite");
    let (_, summary) = import(&laptop, &export);
    assert_eq!(summary["updated"], 1, "{summary}");
    let show = laptop.agent(["show", "1311014101900001"]);
    assert!(show.stdout.contains("Siti Aminah Lubis"), "{}", show.stdout);
    assert_eq!(laptop.agent(["check", "--json"]).json()["registrations"], 1);
}

#[test]
fn a_file_without_required_columns_is_refused_with_the_accepted_names() {
    let laptop = Laptop::init("Rina Marlina");
    let path = laptop.dir().join("kurang.csv");
    std::fs::write(&path, "Nama;Alamat\nSiti;Jorong Pasar\n").expect("write");
    let out = laptop.agent(["import".as_ref(), path.as_os_str()]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("NIK"),
        "names the missing column: {}",
        out.stderr
    );
    assert_eq!(
        laptop.agent(["status", "--json"]).json()["status"]["registrations"],
        0
    );
}

#[test]
fn a_probable_duplicate_row_is_saved_once_its_warning_is_confirmed_in_the_file() {
    let laptop = Laptop::init("Rina Marlina");
    laptop.register("1311014101900001", "Siti Aminah", "1311012001");
    // Same village and birth date, a similar name, another NIK.
    let row = "1311014101900002;Siti Aminah Lubis;1311012001;nelayan";
    let header = "NIK;Nama Lengkap;Kode Desa;Pekerjaan";
    let unconfirmed = laptop.dir().join("desa.csv");
    std::fs::write(&unconfirmed, format!("{header}\n{row}\n")).expect("written");
    let (code, summary) = import(&laptop, &unconfirmed);
    assert_eq!(
        (code, &summary["refused"]),
        (Some(1), &1.into()),
        "{summary}"
    );
    let report = std::fs::read_to_string(laptop.dir().join("desa.laporan.csv")).expect("report");
    assert!(report.contains("possible_duplicate"), "{report}");
    // The officer checked: someone else. The report says how to confirm it.
    let confirmed = laptop.dir().join("desa-dikonfirmasi.csv");
    std::fs::write(
        &confirmed,
        format!("{header};Peringatan Dikonfirmasi\n{row};possible_duplicate\n"),
    )
    .expect("written");
    let (code, summary) = import(&laptop, &confirmed);
    assert_eq!(
        (code, &summary["created"]),
        (Some(0), &1.into()),
        "{summary}"
    );
}
