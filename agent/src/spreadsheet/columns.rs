//! Which header names mean which registration field, and the mapping of one
//! file's header row.
//!
//! Offices name columns however their template or their typist did ("No.
//! HP", "NOMOR_HP", "Tgl Lahir (dd-mm-yyyy)"), so a header is compared by its
//! [`header_key`]: only the letters, digits and `/` that carry its meaning.

use lindung_shared::lang::Lang;
use lindung_shared::region::fold_name;
use lindung_shared::registration::Field;

use super::{ImportDefaults, SheetError};

/// A column an import understands: a [`RegistrationInput`] field, the
/// registration id, or an informational column that exports write and imports
/// read past.
///
/// [`RegistrationInput`]: lindung_shared::validation::RegistrationInput
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// The NIK.
    Nik,
    /// Full name.
    FullName,
    /// Birth date.
    BirthDate,
    /// Sex.
    Sex,
    /// Phone number.
    Phone,
    /// 10-digit village code.
    VillageCode,
    /// The village's name: informational, written by exports, ignored on import.
    VillageName,
    /// The district's name: informational, written by exports, ignored on import.
    DistrictName,
    /// RT number.
    Rt,
    /// RW number.
    Rw,
    /// Address line.
    Address,
    /// Worker category.
    Category,
    /// Whether JHT is added.
    Jht,
    /// Declared monthly income.
    MonthlyIncome,
    /// Who pays.
    Payer,
    /// The paying institution.
    PayerName,
    /// How consent was obtained.
    ConsentMethod,
    /// Form number, witness or legal basis of the consent.
    ConsentReference,
    /// Codes of warnings the officer confirmed.
    ConfirmedWarnings,
    /// The registration's UUID, present in exported files so that a
    /// re-import can recognise the registrations it already holds.
    Id,
    /// The office's own row numbering ("No"): informational, ignored.
    RowNumber,
}

impl Column {
    /// Every column, in the order of the header table and of exports.
    pub const ALL: &'static [Column] = &[
        Column::Nik,
        Column::FullName,
        Column::BirthDate,
        Column::Sex,
        Column::Phone,
        Column::VillageCode,
        Column::VillageName,
        Column::DistrictName,
        Column::Rt,
        Column::Rw,
        Column::Address,
        Column::Category,
        Column::Jht,
        Column::MonthlyIncome,
        Column::Payer,
        Column::PayerName,
        Column::ConsentMethod,
        Column::ConsentReference,
        Column::ConfirmedWarnings,
        Column::Id,
        Column::RowNumber,
    ];

    /// The stable snake_case code, also accepted as a header.
    pub fn code(self) -> &'static str {
        match self {
            Column::Nik => "nik",
            Column::FullName => "full_name",
            Column::BirthDate => "birth_date",
            Column::Sex => "sex",
            Column::Phone => "phone",
            Column::VillageCode => "village_code",
            Column::VillageName => "village_name",
            Column::DistrictName => "district_name",
            Column::Rt => "rt",
            Column::Rw => "rw",
            Column::Address => "address",
            Column::Category => "category",
            Column::Jht => "jht",
            Column::MonthlyIncome => "monthly_income",
            Column::Payer => "payer",
            Column::PayerName => "payer_name",
            Column::ConsentMethod => "consent_method",
            Column::ConsentReference => "consent_reference",
            Column::ConfirmedWarnings => "confirmed_warnings",
            Column::Id => "id",
            Column::RowNumber => "row_number",
        }
    }

    /// The header names accepted for this column, Indonesian first. The
    /// first is the one exports write.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Column::Nik => &[
                "NIK",
                "No KTP",
                "Nomor KTP",
                "Nomor Induk Kependudukan",
                "No NIK",
                "KTP",
            ],
            Column::FullName => &[
                "Nama Lengkap",
                "Nama",
                "Nama Sesuai KTP",
                "Nama Peserta",
                "Nama Pekerja",
                "Full Name",
                "Name",
            ],
            Column::BirthDate => &[
                "Tanggal Lahir",
                "Tgl Lahir",
                "Birth Date",
                "Date of Birth",
                "DOB",
            ],
            Column::Sex => &["Jenis Kelamin", "JK", "L/P", "Kelamin", "Sex", "Gender"],
            Column::Phone => &[
                "Nomor HP",
                "No HP",
                "HP",
                "No Telp",
                "Nomor Telepon",
                "Telepon",
                "Telp",
                "WA",
                "No WA",
                "WhatsApp",
                "Phone",
                "Phone Number",
                "Mobile",
            ],
            Column::VillageCode => &[
                "Kode Desa",
                "Kode Kelurahan",
                "Kode Desa/Kelurahan",
                "Kode Wilayah",
                "Village Code",
            ],
            Column::VillageName => &[
                "Nama Desa",
                "Nama Kelurahan",
                "Desa/Kelurahan",
                "Village Name",
            ],
            Column::DistrictName => &["Kecamatan", "Nama Kecamatan", "District"],
            Column::Rt => &["RT"],
            Column::Rw => &["RW"],
            Column::Address => &["Alamat", "Alamat Lengkap", "Address"],
            Column::Category => &[
                "Kategori",
                "Kategori Pekerja",
                "Pekerjaan",
                "Jenis Pekerjaan",
                "Category",
                "Occupation",
            ],
            Column::Jht => &["Ikut JHT", "JHT"],
            Column::MonthlyIncome => &[
                "Penghasilan per Bulan",
                "Penghasilan",
                "Upah",
                "Penghasilan Bulanan",
                "Monthly Income",
                "Income",
            ],
            Column::Payer => &[
                "Penanggung Iuran",
                "Sumber Dana",
                "Pembayar",
                "Payer",
                "Funding Source",
            ],
            Column::PayerName => &[
                "Nama Penanggung",
                "Nama Penanggung Iuran",
                "Nama Pembayar",
                "Payer Name",
            ],
            Column::ConsentMethod => &[
                "Cara Persetujuan",
                "Persetujuan",
                "Consent",
                "Consent Method",
            ],
            Column::ConsentReference => &[
                "Bukti Persetujuan",
                "No Formulir",
                "Nomor Formulir",
                "Consent Reference",
            ],
            Column::ConfirmedWarnings => &["Peringatan Dikonfirmasi", "Confirmed Warnings"],
            Column::Id => &["ID", "ID Pendaftaran", "Registration ID"],
            Column::RowNumber => &["No", "No Urut", "Nomor Urut"],
        }
    }

    /// The header exports write: the first accepted name.
    pub fn export_header(self) -> &'static str {
        self.names().first().copied().unwrap_or_else(|| self.code())
    }

    /// What the column holds, for messages.
    pub fn label(self, lang: Lang) -> &'static str {
        let field = match self {
            Column::Nik => Field::Nik,
            Column::FullName => Field::FullName,
            Column::BirthDate => Field::BirthDate,
            Column::Sex => Field::Sex,
            Column::Phone => Field::Phone,
            Column::VillageCode => Field::VillageCode,
            Column::Rt => Field::Rt,
            Column::Rw => Field::Rw,
            Column::Address => Field::Address,
            Column::Category => Field::Category,
            Column::MonthlyIncome => Field::MonthlyIncome,
            Column::Payer => Field::Payer,
            Column::ConfirmedWarnings => Field::ConfirmedWarnings,
            other => {
                return match (other, lang) {
                    (Column::VillageName, Lang::Id) => "Nama desa/kelurahan",
                    (Column::VillageName, Lang::En) => "Village name",
                    (Column::DistrictName, Lang::Id) => "Kecamatan",
                    (Column::DistrictName, Lang::En) => "District",
                    (Column::Jht, Lang::Id) => "Ikut JHT",
                    (Column::Jht, Lang::En) => "JHT opt-in",
                    (Column::PayerName, Lang::Id) => "Nama penanggung iuran",
                    (Column::PayerName, Lang::En) => "Payer name",
                    (Column::ConsentMethod, Lang::Id) => "Cara persetujuan",
                    (Column::ConsentMethod, Lang::En) => "Consent method",
                    (Column::ConsentReference, Lang::Id) => "Bukti persetujuan",
                    (Column::ConsentReference, Lang::En) => "Consent reference",
                    (Column::Id, Lang::Id) => "ID pendaftaran",
                    (Column::Id, Lang::En) => "Registration ID",
                    (_, Lang::Id) => "Nomor urut",
                    (_, Lang::En) => "Row number",
                };
            }
        };
        field.label(lang)
    }

    /// Whether an import cannot do without this column (unless a default covers it).
    pub fn is_required(self) -> bool {
        matches!(
            self,
            Column::Nik
                | Column::FullName
                | Column::VillageCode
                | Column::Category
                | Column::Payer
                | Column::ConsentMethod
        )
    }

    /// Whether [`ImportDefaults`] can give this column for the whole file.
    pub fn has_default(self) -> bool {
        matches!(
            self,
            Column::VillageCode
                | Column::Category
                | Column::Payer
                | Column::PayerName
                | Column::ConsentMethod
                | Column::ConsentReference
        )
    }

    /// Whether the column is only for people to read: exports write it,
    /// imports recognise it and read past it.
    pub fn is_informational(self) -> bool {
        matches!(
            self,
            Column::VillageName | Column::DistrictName | Column::RowNumber
        )
    }

    /// The columns that hold a registration field, best first: a problem with
    /// the payer is shown on the payer column, or on the payer-name column
    /// when the file has only that one.
    pub fn for_field(field: Field) -> &'static [Column] {
        match field {
            Field::Nik => &[Column::Nik],
            Field::FullName => &[Column::FullName],
            Field::BirthDate => &[Column::BirthDate],
            Field::Sex => &[Column::Sex],
            Field::Phone => &[Column::Phone],
            Field::VillageCode => &[Column::VillageCode],
            Field::Rt => &[Column::Rt],
            Field::Rw => &[Column::Rw],
            Field::Address => &[Column::Address],
            Field::Category => &[Column::Category],
            Field::Programmes => &[Column::Jht],
            Field::MonthlyIncome => &[Column::MonthlyIncome],
            Field::Payer => &[Column::Payer, Column::PayerName],
            Field::Consent => &[Column::ConsentMethod, Column::ConsentReference],
            Field::ConfirmedWarnings => &[Column::ConfirmedWarnings],
            Field::Origin | Field::Status => &[],
        }
    }

    /// A sensible width for the column in an exported workbook, in characters.
    pub(super) fn width(self) -> f64 {
        match self {
            Column::Nik => 19.0,
            Column::FullName => 28.0,
            Column::BirthDate => 13.0,
            Column::Sex => 13.0,
            Column::Phone => 15.0,
            Column::VillageCode => 12.0,
            Column::VillageName | Column::DistrictName => 20.0,
            Column::Rt | Column::Rw => 5.0,
            Column::Address => 32.0,
            Column::Category => 24.0,
            Column::Jht => 9.0,
            Column::MonthlyIncome => 20.0,
            Column::Payer | Column::PayerName => 24.0,
            Column::ConsentMethod => 26.0,
            Column::ConsentReference => 18.0,
            Column::ConfirmedWarnings => 24.0,
            Column::Id => 38.0,
            Column::RowNumber => 5.0,
        }
    }

    /// The column a header names, if any.
    pub fn from_header(header: &str) -> Option<Column> {
        let key = header_key(header);
        if key.is_empty() {
            return None;
        }
        Column::ALL.iter().copied().find(|column| {
            header_key(column.code()) == key || column.names().iter().any(|n| header_key(n) == key)
        })
    }
}

/// A header reduced to what identifies it: parenthesised parts dropped,
/// folded like a region name (lower case, accents removed), then spaces,
/// underscores, dots, dashes, `*` and `:` removed. `"Tgl. Lahir
/// (dd-mm-yyyy)"` gives `"tgllahir"`; `"NOMOR_HP*"` gives `"nomorhp"`.
pub fn header_key(header: &str) -> String {
    // "(dd-mm-yyyy)" and "(Rp)" are hints for whoever fills the sheet in,
    // not part of the column's name.
    let mut depth = 0usize;
    let mut kept = String::with_capacity(header.len());
    for c in header.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => kept.push(c),
            _ => {}
        }
    }
    fold_name(&kept)
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '_' | '.' | '-' | '*' | ':')))
        .collect()
}

/// Excel's name for a 0-based column index: 0 is `A`, 27 is `AB`.
pub fn column_letter(index: usize) -> String {
    let mut letters = Vec::new();
    // Bijective base 26 from the last letter, without `index + 1`, which
    // would overflow on the largest index.
    let mut n = index;
    loop {
        // `n % 26` is below 26, so the byte is an ASCII capital letter.
        letters.push(char::from(b'A' + (n % 26) as u8));
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    letters.iter().rev().collect()
}

/// A header cell that names a known column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappedColumn {
    /// The column.
    pub column: Column,
    /// Its 0-based position in the row.
    pub index: usize,
    /// The header as the office wrote it (trimmed).
    pub header: String,
}

/// A header cell this module does not know; its values are ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownColumn {
    /// Its 0-based position in the row ([`column_letter`] gives Excel's letter).
    pub index: usize,
    /// The header as written (trimmed).
    pub header: String,
}

/// How one file's header row maps to columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SheetColumns {
    mapped: Vec<MappedColumn>,
    unknown: Vec<UnknownColumn>,
    header_line: usize,
}

impl SheetColumns {
    /// Maps a header row found on row `header_line` (1-based, as Excel shows it).
    ///
    /// Fails when two headers name the same column, or when a required column
    /// is missing and `defaults` does not cover it (all such columns at once).
    pub fn map(
        headers: &[String],
        header_line: usize,
        defaults: &ImportDefaults,
    ) -> Result<SheetColumns, SheetError> {
        let mut mapped: Vec<MappedColumn> = Vec::new();
        let mut unknown = Vec::new();
        for (index, header) in headers.iter().enumerate() {
            let header = header.trim();
            if header.is_empty() {
                continue;
            }
            match Column::from_header(header) {
                Some(column) => {
                    if let Some(first) = mapped.iter().find(|m| m.column == column) {
                        // Two "No" or "Kecamatan" columns are harmless: neither is read.
                        if column.is_informational() {
                            continue;
                        }
                        return Err(SheetError::DuplicateColumn {
                            column,
                            first: first.header.clone(),
                            second: header.to_owned(),
                        });
                    }
                    mapped.push(MappedColumn {
                        column,
                        index,
                        header: header.to_owned(),
                    });
                }
                None => unknown.push(UnknownColumn {
                    index,
                    header: header.to_owned(),
                }),
            }
        }
        let missing: Vec<Column> = Column::ALL
            .iter()
            .copied()
            .filter(|c| c.is_required())
            .filter(|c| !mapped.iter().any(|m| m.column == *c) && defaults.get(*c).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(SheetError::MissingColumns { missing });
        }
        Ok(SheetColumns {
            mapped,
            unknown,
            header_line,
        })
    }

    /// How many known columns a header row names (to find the header row
    /// below a title).
    pub(super) fn count_known(headers: &[String]) -> usize {
        headers
            .iter()
            .filter(|h| Column::from_header(h).is_some())
            .count()
    }

    /// The known columns, in the order they appear in the file.
    pub fn mapped(&self) -> &[MappedColumn] {
        &self.mapped
    }

    /// Headers this module does not know, in file order; the command warns
    /// about them because their values are not imported.
    pub fn unknown(&self) -> &[UnknownColumn] {
        &self.unknown
    }

    /// The row the headers are on (1-based, as Excel shows it).
    pub fn header_line(&self) -> usize {
        self.header_line
    }

    /// Where a column is in this file, if it is.
    pub fn get(&self, column: Column) -> Option<&MappedColumn> {
        self.mapped.iter().find(|m| m.column == column)
    }

    /// The header the office used for a column, if the file has it.
    pub fn header(&self, column: Column) -> Option<&str> {
        self.get(column).map(|m| m.header.as_str())
    }

    /// What to call a registration field in a report: the header the office
    /// used for it, or the field's Indonesian label when the file has no such
    /// column (its value came from a default, or was never given).
    pub fn header_for_field(&self, field: Field) -> String {
        Column::for_field(field)
            .iter()
            .find_map(|c| self.header(*c))
            .map_or_else(|| field.label(Lang::Id).to_owned(), str::to_owned)
    }
}
