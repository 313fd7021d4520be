//! Tests of spreadsheet import, report and export, on real files in a
//! temporary directory.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use calamine::{Data, Reader};
use lindung_shared::lang::{Lang, Message, Problem};
use lindung_shared::nik::{Nik, Sex};
use lindung_shared::phone::normalize_phone;
use lindung_shared::region::regions;
use lindung_shared::registration::{
    Category, Consent, ConsentMethod, Origin, Payer, PayerKind, Programmes, Registration, Status,
};
use lindung_shared::validation::{RegistrationInput, ValidationContext, validate_registration};
use time::macros::{date, datetime};

use super::read::{detect_delimiter, ends_in_lone_cr, is_scientific, iso_date};
use super::*;

/// A directory of its own under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "lindung-sheet-{name}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.file(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    /// The names of the files in the directory, sorted.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Every row of a file, with its column mapping.
fn read_all(path: &Path, defaults: &ImportDefaults) -> (SheetColumns, Vec<SourceRow>) {
    let rows = read_rows(path, defaults).unwrap();
    let columns = rows.columns().clone();
    let rows = rows.collect::<Result<Vec<_>, _>>().unwrap();
    (columns, rows)
}

fn unknown_headers(columns: &SheetColumns) -> Vec<&str> {
    columns
        .unknown()
        .iter()
        .map(|u| u.header.as_str())
        .collect()
}

fn context() -> ValidationContext<'static> {
    ValidationContext {
        regions: regions(),
        today: date!(2026 - 06 - 01),
        now: datetime!(2026-06-01 08:00 UTC),
    }
}

#[test]
fn a_semicolon_csv_with_bom_and_indonesian_headers_reads_as_typed() {
    let dir = TempDir::new("semicolon");
    let mut bytes = UTF8_BOM.to_vec();
    bytes.extend_from_slice(
        "No;NIK;Nama Lengkap;Tgl. Lahir (dd-mm-yyyy);JK;No. HP;Kode Desa;RT;RW;Alamat;Pekerjaan;Ikut JHT;Penghasilan;Sumber Dana;Nama Penanggung;Persetujuan;No Formulir\r\n\
         1;1311014101900001;  Siti Aminah ;01-01-1990;P;0812-3456-7890;13.11.01.2001;003;002;\"Jorong Lubuk Gadang;\r\ndekat masjid\";Nelayan;ya;Rp 1.500.000;APBDes;;formulir;\"F-001\"\r\n\
         ;;;;;;;;;;;;;;;;\r\n\
         2;1311014101900002;Rina;;;81234567890;1311012001;;;;Petani;;;mandiri;;lisan;\r\n"
            .as_bytes(),
    );
    let path = dir.write("daftar.csv", &bytes);

    let (columns, rows) = read_all(&path, &ImportDefaults::default());

    assert_eq!(
        unknown_headers(&columns),
        Vec::<&str>::new(),
        "No is known, and ignored"
    );
    assert_eq!(
        columns.header(Column::BirthDate),
        Some("Tgl. Lahir (dd-mm-yyyy)")
    );
    assert_eq!(rows.len(), 2, "the ;;;; line is skipped");
    let first = &rows[0];
    assert_eq!(first.line, 2);
    assert_eq!(
        first.input,
        RegistrationInput {
            nik: "1311014101900001".into(),
            full_name: "Siti Aminah".into(),
            birth_date: "01-01-1990".into(),
            sex: "P".into(),
            phone: "0812-3456-7890".into(),
            village_code: "13.11.01.2001".into(),
            rt: "003".into(),
            rw: "002".into(),
            address: "Jorong Lubuk Gadang;\r\ndekat masjid".into(),
            category: "Nelayan".into(),
            jht: "ya".into(),
            monthly_income: "Rp 1.500.000".into(),
            payer: "APBDes".into(),
            payer_name: String::new(),
            consent_method: "formulir".into(),
            consent_reference: "F-001".into(),
            confirmed_warnings: vec![],
        }
    );
    assert!(first.problems.is_empty());
    // Excel shows the two-line address as one row, and the blank row too:
    // the next person is on row 4 even though the file has five lines before it.
    assert_eq!(rows[1].line, 4);
    assert_eq!(rows[1].input.full_name, "Rina");
    assert_eq!(
        rows[1].input.phone, "081234567890",
        "the leading 0 Excel dropped is back"
    );
    // Both rows validate as they are.
    for row in &rows {
        let valid = validate_registration(&row.input, &context());
        assert!(valid.is_ok(), "row {}: {valid:?}", row.line);
    }
}

#[test]
fn english_headers_field_codes_and_tabs_are_understood() {
    let dir = TempDir::new("english");
    let path = dir.write(
        "list.TSV",
        b"nik\tFull Name\tdate_of_birth\tGender\tPhone\tVillage Code\tOccupation\tFunding Source\tpayer_name\tConsent\tConsent Reference\tmonthly_income\tNotes\tColumn 9\n\
          1311014101900001\tSiti Aminah\t1990-01-01\tfemale\t+62 812 3456 7890\t1311012001\tfisherman\tcsr\tPT Semen Padang\tsigned form\tF-7\t2000000\tmoved here\tx\n",
    );

    let (columns, rows) = read_all(&path, &ImportDefaults::default());

    assert_eq!(unknown_headers(&columns), ["Notes", "Column 9"]);
    assert_eq!(
        columns
            .unknown()
            .iter()
            .map(|u| column_letter(u.index))
            .collect::<Vec<_>>(),
        ["M", "N"]
    );
    assert_eq!(rows.len(), 1);
    let input = &rows[0].input;
    assert_eq!(input.full_name, "Siti Aminah");
    assert_eq!(input.birth_date, "1990-01-01");
    assert_eq!(input.sex, "female");
    assert_eq!(input.phone, "+62 812 3456 7890");
    assert_eq!(input.category, "fisherman");
    assert_eq!(input.payer, "csr");
    assert_eq!(input.payer_name, "PT Semen Padang");
    assert_eq!(input.consent_method, "signed form");
    assert_eq!(input.consent_reference, "F-7");
    assert_eq!(input.monthly_income, "2000000");
    assert!(validate_registration(input, &context()).is_ok());
}

#[test]
fn missing_required_columns_are_named_with_the_names_accepted() {
    let dir = TempDir::new("missing");
    let path = dir.write("daftar.csv", b"Nama;Kode Desa;Alamat\nSiti;1311012001;x\n");

    let Err(error) = read_rows(&path, &ImportDefaults::default()) else {
        panic!("a file without NIK, category, payer and consent columns was accepted");
    };
    let SheetError::MissingColumns { missing } = &error else {
        panic!("wrong error: {error:?}");
    };
    assert_eq!(
        missing,
        &[
            Column::Nik,
            Column::Category,
            Column::Payer,
            Column::ConsentMethod
        ]
    );
    assert_eq!(error.code(), "sheet_missing_columns");
    let id = error.message(Lang::Id);
    for needle in [
        "NIK: NIK, No KTP, Nomor KTP, Nomor Induk Kependudukan",
        "Kategori, Kategori Pekerja, Pekerjaan, Jenis Pekerjaan",
        "Penanggung Iuran, Sumber Dana, Pembayar",
        "Cara Persetujuan, Persetujuan, Consent",
        "atau beri nilai bawaan untuk seluruh berkas",
    ] {
        assert!(id.contains(needle), "{needle:?} missing from:\n{id}");
    }
    assert!(
        !id.contains("Nama Lengkap, Nama"),
        "the name column is there: {id}"
    );
    let en = error.message(Lang::En);
    assert!(en.contains("Required columns are missing"), "{en}");
    assert!(en.contains("or give a default for the whole file"), "{en}");
    assert_eq!(error.to_string(), en);

    // Defaults for the whole file cover all but the NIK.
    let defaults = ImportDefaults {
        category: Some("nelayan".into()),
        payer: Some("apbdes".into()),
        consent_method: Some("formulir".into()),
        ..ImportDefaults::default()
    };
    let Err(SheetError::MissingColumns { missing }) = read_rows(&path, &defaults) else {
        panic!("the NIK column is still missing");
    };
    assert_eq!(missing, [Column::Nik]);
}

#[test]
fn two_columns_for_one_field_are_refused() {
    let dir = TempDir::new("duplicate");
    let path = dir.write(
        "daftar.csv",
        b"NIK,Nama,No KTP,Kode Desa,Kategori,Sumber Dana,Persetujuan,No,No\n",
    );
    let Err(error) = read_rows(&path, &ImportDefaults::default()) else {
        panic!("two NIK columns were accepted");
    };
    assert!(matches!(
        &error,
        SheetError::DuplicateColumn { column: Column::Nik, first, second }
            if first == "NIK" && second == "No KTP"
    ));
    assert!(
        error
            .message(Lang::Id)
            .contains("Kolom \"NIK\" dan \"No KTP\" sama-sama berarti NIK")
    );
}

#[test]
fn defaults_fill_only_empty_cells() {
    let dir = TempDir::new("defaults");
    let path = dir.write(
        "daftar.csv",
        b"NIK,Nama,Kategori,Kode Desa\n\
          1311014101900001,Siti Aminah,,\n\
          1311014101900002,Rina,petani,1311012002\n",
    );
    let defaults = ImportDefaults {
        payer: Some("csr".into()),
        payer_name: Some("  PT Semen Padang ".into()),
        consent_method: Some("formulir".into()),
        consent_reference: Some("   ".into()),
        village_code: Some("1311012001".into()),
        category: Some("nelayan".into()),
    };

    let (_, rows) = read_all(&path, &defaults);

    assert_eq!(rows[0].input.category, "nelayan");
    assert_eq!(rows[0].input.village_code, "1311012001");
    assert_eq!(rows[1].input.category, "petani", "a value in the row wins");
    assert_eq!(rows[1].input.village_code, "1311012002");
    for row in &rows {
        assert_eq!(row.input.payer, "csr");
        assert_eq!(row.input.payer_name, "PT Semen Padang");
        assert_eq!(row.input.consent_method, "formulir");
        assert_eq!(
            row.input.consent_reference, "",
            "a blank default covers nothing"
        );
    }
}

/// Writes a workbook the way an office fills one in: a title, then the
/// table, with NIK, phone and date cells typed the way Excel stores them.
fn office_workbook(path: &Path) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    sheet
        .write_string(0, 0, "DAFTAR PEKERJA RENTAN DESA LUBUK GADANG")
        .unwrap();
    let headers = [
        "No",
        "NIK",
        "Nama",
        "Tgl Lahir",
        "L/P",
        "No. HP",
        "Kode Desa",
        "RT",
        "Penghasilan",
        "Keterangan",
    ];
    for (col, header) in headers.iter().enumerate() {
        sheet.write_string(2, col as u16, *header).unwrap();
    }
    // Row 4: NIK, phone and village code typed as numbers, a real date.
    sheet.write_number(3, 0, 1).unwrap();
    sheet.write_number(3, 1, 1_311_014_101_900_001.0).unwrap();
    sheet.write_string(3, 2, "Siti Aminah").unwrap();
    sheet
        .write_datetime_with_format(3, 3, ExcelDateTime::from_ymd(1990, 1, 1).unwrap(), &date)
        .unwrap();
    sheet.write_string(3, 4, "P").unwrap();
    sheet.write_number(3, 5, 81_234_567_890.0).unwrap();
    sheet.write_number(3, 6, 1_311_012_001.0).unwrap();
    sheet.write_number(3, 7, 3).unwrap();
    sheet.write_number(3, 8, 1_500_000).unwrap();
    // Row 5: text where it should be, a date serial that lost its format.
    sheet.write_number(4, 0, 2).unwrap();
    sheet.write_string(4, 1, "1311014101900002").unwrap();
    sheet.write_string(4, 2, "Rina").unwrap();
    sheet.write_number(4, 3, 32_874).unwrap();
    sheet.write_string(4, 4, "P").unwrap();
    sheet.write_string(4, 5, "0812-1111-2222").unwrap();
    sheet.write_string(4, 6, "13.11.01.2001").unwrap();
    sheet.write_string(4, 7, "003").unwrap();
    sheet.write_string(4, 8, "Rp 1.000.000").unwrap();
    sheet.write_string(4, 9, "pindahan").unwrap();
    // Row 6 has only spaces; row 7 is empty; row 8 is the last person.
    sheet.write_string(5, 2, "   ").unwrap();
    sheet.write_string(7, 1, "1311014101900003").unwrap();
    sheet.write_string(7, 2, "Dewi").unwrap();
    sheet.write_string(7, 6, "1311012001").unwrap();
    workbook.save(path).unwrap();
}

#[test]
fn an_office_workbook_reads_with_excel_damage_repaired_or_reported() {
    let dir = TempDir::new("xlsx");
    let path = dir.file("Daftar Desa.XLSX");
    office_workbook(&path);
    let defaults = ImportDefaults {
        category: Some("nelayan".into()),
        payer: Some("apbdes".into()),
        consent_method: Some("formulir".into()),
        ..ImportDefaults::default()
    };

    let (columns, rows) = read_all(&path, &defaults);

    assert_eq!(
        columns.header_line(),
        3,
        "the title above the table is skipped"
    );
    assert_eq!(unknown_headers(&columns), ["Keterangan"]);
    assert_eq!(
        rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        [4, 5, 8],
        "row numbers are Excel's"
    );

    let typed_as_numbers = &rows[0];
    assert_eq!(typed_as_numbers.problems.len(), 1);
    let problem = &typed_as_numbers.problems[0];
    assert_eq!(problem.code, "nik_stored_as_number");
    assert_eq!(problem.line, 4);
    assert_eq!(problem.field.as_deref(), Some("NIK"));
    assert!(
        problem
            .message_id
            .contains("Format kolom \"NIK\" sebagai Teks"),
        "{}",
        problem.message_id
    );
    assert!(problem.message_en.contains("Format column \"NIK\" as Text"));
    let input = &typed_as_numbers.input;
    assert_eq!(input.phone, "081234567890", "the leading 0 is restored");
    assert_eq!(input.birth_date, "1990-01-01");
    assert_eq!(input.village_code, "1311012001");
    assert_eq!(input.rt, "3");
    assert_eq!(input.monthly_income, "1500000");
    assert_eq!(input.category, "nelayan", "from the defaults");

    let typed_as_text = &rows[1];
    assert!(typed_as_text.problems.is_empty());
    assert_eq!(typed_as_text.input.nik, "1311014101900002");
    assert_eq!(typed_as_text.input.birth_date, "1990-01-01");
    assert_eq!(typed_as_text.input.phone, "0812-1111-2222");
    assert_eq!(typed_as_text.input.rt, "003");
    assert_eq!(typed_as_text.input.monthly_income, "Rp 1.000.000");
    assert!(validate_registration(&typed_as_text.input, &context()).is_ok());

    assert_eq!(rows[2].input.full_name, "Dewi");
}

#[test]
fn a_nik_saved_from_excel_in_scientific_notation_is_reported_once() {
    let dir = TempDir::new("scientific");
    let path = dir.write(
        "daftar.csv",
        b"No KTP;Nama;Kode Desa;Kategori;Sumber Dana;Persetujuan\n\
          1,31101E+15;Siti Aminah;1311012001;nelayan;apbdes;lisan\n\
          1311014101900002;R2;1311012001;nelayan;apbdes;lisan\n",
    );
    let (columns, rows) = read_all(&path, &ImportDefaults::default());

    let report: Vec<(usize, String, String)> = rows
        .iter()
        .flat_map(|row| {
            let messages = validate_registration(&row.input, &context())
                .err()
                .map(|invalid| invalid.messages())
                .unwrap_or_default();
            row.problems_with(&messages, &columns)
        })
        .map(|p| (p.line, p.field.unwrap_or_default(), p.code))
        .collect();

    assert_eq!(
        report,
        [
            (2, "No KTP".into(), "nik_stored_as_number".into()),
            (3, "Nama".into(), "name_invalid_characters".into()),
        ]
    );
}

#[test]
fn a_macintosh_csv_with_lone_carriage_returns_reads_row_by_row() {
    let dir = TempDir::new("mac");
    let path = dir.write(
        "daftar.csv",
        b"NIK;Nama;Kode Desa;Kategori;Sumber Dana;Persetujuan\r\
          1311014101900001;Siti Aminah;1311012001;nelayan;apbdes;lisan\r\
          1311014101900002;Rina;1311012001;petani;apbdes;lisan\r",
    );
    let (_, rows) = read_all(&path, &ImportDefaults::default());
    let seen: Vec<(usize, &str)> = rows
        .iter()
        .map(|r| (r.line, r.input.full_name.as_str()))
        .collect();
    assert_eq!(seen, [(2, "Siti Aminah"), (3, "Rina")]);
}

#[test]
fn a_windows_csv_reads_its_accented_names() {
    let dir = TempDir::new("cp1252");
    let path = dir.write(
        "daftar.csv",
        b"NIK;Nama;Kode Desa;Kategori;Sumber Dana;Persetujuan\r\n\
          1311014101900001;Nur\x92aini Ma\xe9;1311012001;nelayan;apbdes;lisan\r\n",
    );
    let (_, rows) = read_all(&path, &ImportDefaults::default());
    assert_eq!(rows[0].input.full_name, "Nur\u{2019}aini Ma\u{e9}");
}

#[test]
fn the_report_lists_each_problem_under_the_office_column_name() {
    let dir = TempDir::new("report");
    let input = dir.write(
        "Data Desa.csv",
        b"No KTP,Nama,Kode Desa,Kategori,Sumber Dana,Persetujuan\n",
    );
    let (columns, _) = read_all(&input, &ImportDefaults::default());
    let report = report_path_for(&input);
    assert_eq!(report, dir.file("Data Desa.laporan.csv"));

    let validation = Message {
        code: "unknown_word".into(),
        severity: lindung_shared::lang::Severity::Error,
        field: Some("category".into()),
        message_id: "Kategori pekerja \"tukang\" tidak dikenal; pilihan: nelayan, petani.".into(),
        message_en:
            "Worker category \"tukang\" is not recognised; choose one of: fisherman, farmer.".into(),
    };
    let from_default = Message {
        field: Some("payer".into()),
        code: "payer_name_required".into(),
        message_id: "Nama penanggung iuran wajib diisi untuk CSR perusahaan.".into(),
        message_en: "The payer's name is required for Company CSR.".into(),
        ..validation.clone()
    };
    let problems = vec![
        RowProblem::from_message(2, &validation, &columns),
        RowProblem::from_message(3, &from_default, &columns),
        RowProblem {
            line: 4,
            field: None,
            code: "duplicate_nik".into(),
            message_id: "NIK sama dengan baris 2.".into(),
            message_en: "Same NIK as row 2.".into(),
        },
    ];
    fs::write(&report, "an old report").unwrap();

    write_report(&report, &problems).unwrap();

    let text = fs::read_to_string(&report).unwrap();
    assert_eq!(
        text,
        "\u{feff}baris,kolom,kode,alasan,reason\r\n\
         2,Kategori,unknown_word,\"Kategori pekerja \"\"tukang\"\" tidak dikenal; pilihan: nelayan, petani.\",\"Worker category \"\"tukang\"\" is not recognised; choose one of: fisherman, farmer.\"\r\n\
         3,Sumber Dana,payer_name_required,Nama penanggung iuran wajib diisi untuk CSR perusahaan.,The payer's name is required for Company CSR.\r\n\
         4,,duplicate_nik,NIK sama dengan baris 2.,Same NIK as row 2.\r\n"
    );
    assert_eq!(
        dir.listing(),
        ["Data Desa.csv", "Data Desa.laporan.csv"],
        "no temporary file is left behind"
    );
    // A field the file has no column for is named by its label.
    let no_column = RowProblem::from_message(
        5,
        &Message {
            field: Some("birth_date".into()),
            ..validation
        },
        &columns,
    );
    assert_eq!(no_column.field.as_deref(), Some("Tanggal lahir"));
}

#[test]
fn a_report_that_cannot_be_written_says_where() {
    let dir = TempDir::new("report-fail");
    let path = dir.file("no such dir").join("x.laporan.csv");
    let Err(error) = write_report(&path, &[]) else {
        panic!("wrote into a missing directory");
    };
    assert_eq!(error.code(), "sheet_write");
    assert!(error.message(Lang::Id).contains("tidak dapat ditulis"));
    assert!(error.to_string().contains("x.laporan.csv"));
}

fn registrations() -> Vec<Registration> {
    let origin = Origin {
        officer_id: "0192f0a1-0000-7000-8000-000000000001".parse().unwrap(),
        device_id: "0192f0a1-0000-7000-8000-000000000002".parse().unwrap(),
        registered_at: datetime!(2026-01-10 08:00 UTC),
    };
    let full = Registration {
        id: "0192f0a1-b2c3-7d4e-8f50-6a7b8c9d0e1f".parse().unwrap(),
        origin,
        nik: Nik::from_digits("1311014101900001").unwrap(),
        full_name: "Nur\u{2019}aini Siti Aminah".into(),
        birth_date: date!(1990 - 01 - 01),
        sex: Sex::Female,
        phone: Some(normalize_phone("0812-3456-7890").unwrap()),
        village_code: "1311012001".into(),
        rt: Some(3),
        rw: Some(12),
        address: Some("Jorong Lubuk Gadang, dekat \"masjid\"".into()),
        category: Category::Fisherman,
        programmes: Programmes { jht: true },
        monthly_income: 1_500_000,
        payer: Payer {
            kind: PayerKind::Csr,
            name: Some("PT Semen Padang".into()),
        },
        consent: Consent {
            method: ConsentMethod::SignedForm,
            recorded_at: datetime!(2026-01-10 08:00 UTC),
            reference: Some("F-2026/001".into()),
        },
        status: Status::Active,
        confirmed_warnings: vec![],
    };
    let minimal = Registration {
        id: "0192f0a1-b2c3-7d4e-8f50-6a7b8c9d0e20".parse().unwrap(),
        nik: Nik::from_digits("1311014101900002").unwrap(),
        full_name: "Rina".into(),
        // Not the date in the NIK: the officer confirmed the difference.
        birth_date: date!(1990 - 01 - 02),
        phone: None,
        rt: None,
        rw: None,
        address: Some("- belakang pasar".into()),
        category: Category::VillageCadre,
        programmes: Programmes { jht: false },
        monthly_income: 1_000_000,
        payer: Payer {
            kind: PayerKind::Apbdes,
            name: None,
        },
        consent: Consent {
            method: ConsentMethod::PublicTask,
            recorded_at: datetime!(2026-01-11 08:00 UTC),
            reference: None,
        },
        confirmed_warnings: vec!["nik_birth_date_mismatch".into()],
        ..full.clone()
    };
    vec![full, minimal]
}

fn export_rows() -> Vec<ExportRow> {
    registrations()
        .into_iter()
        .map(|registration| ExportRow {
            registration,
            village_name: Some("Lubuk Gadang".into()),
            district_name: Some("Sangir".into()),
        })
        .collect()
}

/// Exports, reads the file back, and checks every row against the
/// registration it came from: the same text, and the same values once validated.
fn assert_round_trip(path: &Path) {
    let rows = export_rows();
    write_export(path, &rows).unwrap();

    let (columns, read) = read_all(path, &ImportDefaults::default());

    assert_eq!(unknown_headers(&columns), Vec::<&str>::new());
    assert_eq!(read.len(), rows.len());
    for (row, source) in rows.iter().zip(&read) {
        let registration = &row.registration;
        assert!(source.problems.is_empty(), "{:?}", source.problems);
        assert_eq!(source.id, Some(registration.id));
        assert_eq!(
            source.input,
            RegistrationInput::from_registration(registration)
        );
        let valid = validate_registration(&source.input, &context()).unwrap();
        assert_eq!(valid.nik, registration.nik);
        assert_eq!(valid.full_name, registration.full_name);
        assert_eq!(valid.birth_date, registration.birth_date);
        assert_eq!(valid.sex, registration.sex);
        assert_eq!(valid.phone, registration.phone);
        assert_eq!(valid.village_code, registration.village_code);
        assert_eq!((valid.rt, valid.rw), (registration.rt, registration.rw));
        assert_eq!(valid.address, registration.address);
        assert_eq!(valid.category, registration.category);
        assert_eq!(valid.programmes, registration.programmes);
        assert_eq!(valid.monthly_income, registration.monthly_income);
        assert_eq!(valid.payer, registration.payer);
        assert_eq!(valid.consent.method, registration.consent.method);
        assert_eq!(valid.consent.reference, registration.consent.reference);
        assert_eq!(valid.confirmed_warnings, registration.confirmed_warnings);
    }
}

#[test]
fn a_csv_export_imports_again_to_the_same_registrations() {
    let dir = TempDir::new("export-csv");
    let path = dir.file("ekspor.csv");
    assert_round_trip(&path);

    let text = fs::read_to_string(&path).unwrap();
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next(),
        Some(
            "\u{feff}NIK,Nama Lengkap,Tanggal Lahir,Jenis Kelamin,Nomor HP,Kode Desa,Nama Desa,Kecamatan,RT,RW,Alamat,Kategori,Ikut JHT,Penghasilan per Bulan,Penanggung Iuran,Nama Penanggung,Cara Persetujuan,Bukti Persetujuan,Peringatan Dikonfirmasi,ID"
        )
    );
    assert!(
        text.contains(",'- belakang pasar,"),
        "Excel must not read the address as a formula:\n{text}"
    );
    assert_eq!(dir.listing(), ["ekspor.csv"]);
}

#[test]
fn an_xlsx_export_imports_again_and_keeps_niks_as_text() {
    let dir = TempDir::new("export-xlsx");
    let path = dir.file("ekspor.xlsx");
    assert_round_trip(&path);

    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let range = workbook.worksheet_range("Pendaftaran").unwrap();
    assert_eq!(range.get((0, 0)), Some(&Data::String("NIK".into())));
    assert_eq!(
        range.get((1, 0)),
        Some(&Data::String("1311014101900001".into())),
        "the NIK is a text cell"
    );
    assert_eq!(
        range.get((1, 4)),
        Some(&Data::String("081234567890".into())),
        "the phone is a text cell"
    );
    assert!(
        matches!(range.get((1, 2)), Some(Data::DateTime(_))),
        "the birth date is a date cell: {:?}",
        range.get((1, 2))
    );
    assert_eq!(
        range.get((1, 6)),
        Some(&Data::String("Lubuk Gadang".into()))
    );
}

#[test]
fn unsupported_extensions_are_refused_by_name() {
    let dir = TempDir::new("extension");
    let pdf = dir.write("daftar.pdf", b"%PDF-1.4");
    let Err(error) = read_rows(&pdf, &ImportDefaults::default()) else {
        panic!("read a PDF");
    };
    assert_eq!(error.code(), "sheet_unsupported_format");
    assert!(
        error
            .message(Lang::Id)
            .contains("jenis berkas tidak didukung")
    );
    assert!(error.message(Lang::En).contains(".csv, .tsv, .xlsx"));
    assert!(matches!(
        read_rows(&dir.file("daftar"), &ImportDefaults::default()),
        Err(SheetError::UnsupportedFormat { .. })
    ));

    let Err(error) = write_export(&dir.file("ekspor.xls"), &export_rows()) else {
        panic!("exported to .xls");
    };
    assert!(error.message(Lang::En).ends_with("use one of .csv, .xlsx."));

    // Upper-case extensions are the same formats.
    let csv = dir.write(
        "DAFTAR.CSV",
        b"NIK,Nama,Kode Desa,Kategori,Sumber Dana,Persetujuan\n",
    );
    assert_eq!(
        read_rows(&csv, &ImportDefaults::default()).unwrap().count(),
        0
    );
}

#[test]
fn a_workbook_that_is_not_one_is_reported_as_unreadable() {
    let dir = TempDir::new("damaged");
    let path = dir.write("daftar.xlsx", b"NIK,Nama\nthis is a CSV file renamed\n");
    let Err(error) = read_rows(&path, &ImportDefaults::default()) else {
        panic!("read a CSV file as a workbook");
    };
    assert_eq!(error.code(), "sheet_unreadable");
    let empty = dir.write("kosong.csv", b"");
    assert!(matches!(
        read_rows(&empty, &ImportDefaults::default()),
        Err(SheetError::NoHeader { .. })
    ));
}

#[test]
fn a_hundred_thousand_row_csv_streams_through() {
    let dir = TempDir::new("large");
    let path = dir.file("besar.csv");
    {
        let mut out = BufWriter::new(fs::File::create(&path).unwrap());
        out.write_all(
            b"NIK;Nama Lengkap;Tanggal Lahir;No HP;Kode Desa;Kategori;Sumber Dana;Persetujuan\n",
        )
        .unwrap();
        for n in 0..100_000u32 {
            writeln!(
                out,
                "13110141019{n:05};Pekerja Desa;01-01-1990;0812{n:08};1311012001;nelayan;apbdes;formulir"
            )
            .unwrap();
        }
    }

    let mut count = 0usize;
    let mut last = None;
    for row in read_rows(&path, &ImportDefaults::default()).unwrap() {
        let row = row.unwrap();
        count += 1;
        last = Some(row);
    }

    assert_eq!(count, 100_000);
    let last = last.unwrap();
    assert_eq!(last.line, 100_001);
    assert_eq!(last.input.nik, "1311014101999999");
    assert_eq!(last.input.phone, "081200099999");
}

#[test]
fn headers_are_matched_ignoring_case_accents_and_punctuation() {
    for (header, column) in [
        ("Tánggal_Lahir (dd-mm-yyyy)", Some(Column::BirthDate)),
        ("NO. HP", Some(Column::Phone)),
        ("nomor-hp", Some(Column::Phone)),
        ("L/P", Some(Column::Sex)),
        ("Kode Desa/Kelurahan*", Some(Column::VillageCode)),
        ("Penghasilan (Rp)", Some(Column::MonthlyIncome)),
        ("FULL_NAME", Some(Column::FullName)),
        ("Nama Desa", Some(Column::VillageName)),
        ("Keterangan", None),
        ("(wajib)", None),
    ] {
        assert_eq!(Column::from_header(header), column, "{header:?}");
    }
}

#[test]
fn every_accepted_name_belongs_to_one_column_and_is_documented() {
    let guide = include_str!("../../../docs/import.md");
    let module_doc = include_str!("mod.rs");
    for &column in Column::ALL {
        for name in column.names().iter().chain([&column.code()]) {
            assert_eq!(
                Column::from_header(name),
                Some(column),
                "{name:?} is taken by another column"
            );
        }
        for name in column.names() {
            assert!(guide.contains(name), "docs/import.md lacks {name:?}");
            assert!(module_doc.contains(name), "the module doc lacks {name:?}");
        }
        assert!(guide.contains(&format!("`{}`", column.code())));
    }
}

#[test]
fn vocabulary_labels_written_by_exports_parse_back() {
    for &category in Category::ALL {
        assert_eq!(
            Category::parse_loose(category.label(Lang::Id)),
            Some(category)
        );
    }
    for &kind in PayerKind::ALL {
        assert_eq!(PayerKind::parse_loose(kind.label(Lang::Id)), Some(kind));
    }
    for &method in ConsentMethod::ALL {
        assert_eq!(
            ConsentMethod::parse_loose(method.label(Lang::Id)),
            Some(method)
        );
    }
}

#[test]
fn delimiters_numbers_and_dates_are_recognised() {
    assert_eq!(detect_delimiter(b"NIK;Nama;Alamat, RT\r\nx"), b';');
    assert_eq!(detect_delimiter(b"NIK,Nama,Alamat"), b',');
    assert_eq!(detect_delimiter(b"\"Nama; lengkap\",NIK,HP"), b',');
    assert_eq!(detect_delimiter(b"NIK\tNama\tHP"), b'\t');
    assert_eq!(detect_delimiter(b"NIK"), b',');
    assert!(ends_in_lone_cr(b"NIK;Nama\rx"));
    assert!(!ends_in_lone_cr(b"NIK;Nama\r\nx"));
    assert!(!ends_in_lone_cr(b"\"N\rIK\";Nama\nx"));

    assert!(is_scientific("1,31101E+15"));
    assert!(is_scientific("1.3e15"));
    assert!(!is_scientific("1311014101900001"));
    assert!(!is_scientific("E+15"));
    assert!(!is_scientific("12E"));

    let serial = |v| calamine::ExcelDateTime::new(v, calamine::ExcelDateTimeType::DateTime, false);
    assert_eq!(iso_date(serial(32_874.0)).as_deref(), Some("1990-01-01"));
    assert_eq!(iso_date(serial(32_874.75)).as_deref(), Some("1990-01-01"));
    assert_eq!(iso_date(serial(60.0)), None, "29 February 1900 never was");
    assert_eq!(iso_date(serial(0.5)), None);
    let mac = calamine::ExcelDateTime::new(31_412.0, calamine::ExcelDateTimeType::DateTime, true);
    assert_eq!(iso_date(mac).as_deref(), Some("1990-01-01"));
}

#[test]
fn a_large_workbook_streams_every_row_in_order_from_where_the_table_starts() {
    use rust_xlsxwriter::Workbook;
    let dir = TempDir::new("xlsx-stream");
    let path = dir.file("besar.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    // The table starts in column C, under a title and a blank row.
    sheet.write_string(0, 2, "DAFTAR PEKERJA").unwrap();
    for (col, header) in ["NIK", "Nama", "Kode Desa", "Catatan"].iter().enumerate() {
        sheet.write_string(2, 2 + col as u16, *header).unwrap();
    }
    let people = 1_000u32;
    for i in 0..people {
        let row = 3 + i;
        if i == 500 {
            sheet.write_string(row, 3, "  ").unwrap();
            continue;
        }
        sheet
            .write_string(row, 2, format!("13110141019{:05}", i + 1))
            .unwrap();
        sheet.write_string(row, 3, format!("Orang {i}")).unwrap();
        sheet.write_string(row, 4, "1311012001").unwrap();
    }
    workbook.save(&path).unwrap();
    let defaults = ImportDefaults {
        category: Some("nelayan".into()),
        payer: Some("apbd".into()),
        consent_method: Some("verbal".into()),
        ..ImportDefaults::default()
    };

    let (columns, rows) = read_all(&path, &defaults);

    assert_eq!(columns.header_line(), 3);
    assert_eq!(
        columns
            .unknown()
            .iter()
            .map(|u| column_letter(u.index))
            .collect::<Vec<_>>(),
        ["F"],
        "columns are named as Excel names them"
    );
    assert_eq!(rows.len(), people as usize - 1, "the blank row is skipped");
    for row in &rows {
        let i = row.line - 4;
        assert_eq!(row.input.nik, format!("13110141019{:05}", i + 1));
        assert_eq!(row.input.full_name, format!("Orang {i}"));
        assert_eq!(row.input.village_code, "1311012001");
    }
    assert_eq!(rows.last().map(|r| r.line), Some(people as usize + 3));

    // An import that stops early (an error) leaves the reader thread behind, not stuck.
    let mut partial = read_rows(&path, &defaults).unwrap();
    assert!(partial.next().is_some());
    drop(partial);
}

#[test]
fn a_workbook_without_two_known_headers_takes_its_first_filled_row_as_header() {
    use rust_xlsxwriter::Workbook;
    let dir = TempDir::new("xlsx-fallback");
    let path = dir.file("satu.xlsx");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(1, 0, "NIK").unwrap();
    sheet.write_string(1, 1, "Sesuatu").unwrap();
    sheet.write_string(2, 0, "1311014101900001").unwrap();
    for row in 3..30 {
        sheet.write_string(row, 1, format!("x{row}")).unwrap();
    }
    sheet.write_string(30, 0, "1311014101900002").unwrap();
    workbook.save(&path).unwrap();

    let defaults = ImportDefaults {
        village_code: Some("1311012001".into()),
        category: Some("nelayan".into()),
        payer: Some("apbd".into()),
        consent_method: Some("verbal".into()),
        ..ImportDefaults::default()
    };
    // "Nama" is required and missing: the error names it, as for CSV.
    let error = read_rows(&path, &defaults).unwrap_err();
    assert!(
        matches!(&error, SheetError::MissingColumns { missing } if missing == &[Column::FullName]),
        "{error:?}"
    );
}
