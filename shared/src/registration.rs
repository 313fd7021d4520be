//! The registration: one worker registered for BPJS Ketenagakerjaan by an officer.
//!
//! A registration is never stored as a row that gets overwritten. It is the
//! result of applying [`crate::merge::Operation`]s, each carrying [`Change`]s
//! to individual [`Field`]s; [`Registration`] is the materialised current
//! value of every field (see [`crate::merge::RecordState::to_registration`]).
//!
//! The closed vocabularies (categories, payers, consent methods, programmes)
//! parse from their stable codes and from the Indonesian and English words
//! officers and village offices actually write, so spreadsheets import as
//! they come.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::ids::{DeviceId, OfficerId, RecordId};
use crate::lang::Lang;
use crate::nik::{Nik, Sex};
use crate::phone::Phone;

/// Lower-cases and keeps only ASCII letters and digits, so "Ketua RT", "ketua_rt"
/// and "KETUA-RT" compare equal when parsing a vocabulary word.
fn vocabulary_key(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Declares a closed vocabulary: a `Copy` enum with a stable snake_case code,
/// a label per language and extra words accepted when parsing.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, $what_id:literal, $what_en:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $code:literal, $id:literal, $en:literal, [$($alias:literal),*]; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable code used on the wire, in storage and in spreadsheets.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The label shown to people.
            pub fn label(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(($name::$variant, Lang::Id) => $id, ($name::$variant, Lang::En) => $en,)+
                }
            }

            /// Parses a code, an Indonesian or English label, or a common alias,
            /// ignoring case, spaces and punctuation.
            pub fn parse_loose(text: &str) -> Option<$name> {
                let key = vocabulary_key(text);
                if key.is_empty() {
                    return None;
                }
                $(
                    if key == vocabulary_key($code)
                        || key == vocabulary_key($id)
                        || key == vocabulary_key($en)
                        $(|| key == vocabulary_key($alias))*
                    {
                        return Some($name::$variant);
                    }
                )+
                None
            }

            /// What this vocabulary is called, for messages.
            pub fn vocabulary_name(lang: Lang) -> &'static str {
                match lang { Lang::Id => $what_id, Lang::En => $what_en }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }

        impl FromStr for $name {
            type Err = UnknownWord;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse_loose(s).ok_or_else(|| UnknownWord {
                    vocabulary: $what_en,
                    word: s.chars().take(60).collect(),
                    accepted: $name::ALL.iter().map(|v| v.code()).collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
}

/// A word that is not in a closed vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} {word:?}; accepted: {accepted}")]
pub struct UnknownWord {
    /// The vocabulary, in English ("category", "payer"...).
    pub vocabulary: &'static str,
    /// What was given (cut to 60 characters).
    pub word: String,
    /// The accepted codes, comma-separated.
    pub accepted: String,
}

vocabulary! {
    /// The kind of work that makes a person eligible, as counted in coverage reports.
    Category, "kategori pekerja", "worker category" {
        RtHead = "rt_head", "Ketua RT", "RT head", ["rt", "ketuart", "kepalart"];
        RwHead = "rw_head", "Ketua RW", "RW head", ["rw", "ketuarw", "kepalarw"];
        Fisherman = "fisherman", "Nelayan", "Fisherman", ["fisher", "fishermen"];
        StreetVendor = "street_vendor", "Pedagang kaki lima", "Street vendor", ["pkl", "pedagang", "vendor"];
        VillageHead = "village_head", "Kepala desa / lurah", "Village head", ["kades", "kepaladesa", "lurah", "kepalakelurahan"];
        VillageOfficial = "village_official", "Perangkat desa", "Village official", ["perangkat", "aparaturdesa", "sekdes", "kaur", "kasi", "kadus"];
        BpdMember = "bpd_member", "Anggota BPD", "BPD member", ["bpd", "badanpermusyawaratandesa"];
        Farmer = "farmer", "Petani", "Farmer", ["tani", "pekebun"];
        VillageCadre = "village_cadre", "Kader desa (posyandu, PKK)", "Village cadre (posyandu, PKK)", ["kader", "kaderposyandu", "kaderpkk"];
        ReligiousWorker = "religious_worker", "Pekerja keagamaan (imam, guru ngaji, marbot)", "Religious worker", ["imam", "gurungaji", "marbot", "pendeta"];
        OjekDriver = "ojek_driver", "Pengemudi ojek", "Motorcycle-taxi driver", ["ojek", "ojol"];
        OtherVulnerable = "other_vulnerable", "Pekerja rentan lainnya", "Other vulnerable worker", ["lainnya", "other", "pekerjarentan"];
    }
}

vocabulary! {
    /// Who pays the contributions of a registration.
    PayerKind, "penanggung iuran", "payer" {
        SelfPaid = "self", "Mandiri (dibayar sendiri)", "Self-paid", ["mandiri", "sendiri", "selfpaid"];
        Apbd = "apbd", "APBD (pemerintah daerah)", "Regional budget (APBD)", ["pemda", "pemerintahdaerah"];
        Apbdes = "apbdes", "APBDes / Dana Desa / ADD", "Village budget (APBDes)", ["danadesa", "add", "dd", "desa"];
        Csr = "csr", "CSR perusahaan", "Company CSR", ["perusahaan", "sertakan"];
        Baznas = "baznas", "Baznas / zakat", "Baznas (zakat)", ["zakat", "laz"];
        DbhSawit = "dbh_sawit", "DBH Sawit", "Palm-oil revenue sharing (DBH Sawit)", ["sawit"];
        Dbhcht = "dbhcht", "DBHCHT (cukai hasil tembakau)", "Tobacco-excise sharing (DBHCHT)", ["cukai", "tembakau"];
        Other = "other", "Lainnya", "Other", ["lain"];
    }
}

impl PayerKind {
    /// Whether a payer name must be given: a CSR company, a Baznas office or an
    /// "other" source is meaningless without one, while self, APBD and APBDes
    /// follow from the person and the village.
    pub fn requires_name(self) -> bool {
        matches!(self, PayerKind::Csr | PayerKind::Baznas | PayerKind::Other)
    }
}

vocabulary! {
    /// How consent to process personal data was obtained (UU 27/2022 Pasal 20–24).
    ConsentMethod, "cara persetujuan", "consent method" {
        SignedForm = "signed_form", "Formulir bertanda tangan", "Signed form", ["formulir", "tandatangan", "paper", "written"];
        Verbal = "verbal", "Lisan, disaksikan petugas", "Verbal, witnessed by the officer", ["lisan"];
        Electronic = "electronic", "Elektronik", "Electronic", ["elektronik", "digital"];
        PublicTask = "public_task", "Tugas layanan publik Pemda (dasar hukum terdokumentasi)", "Regional government public task (documented legal basis)", ["tugaspublik", "publictask"];
    }
}

vocabulary! {
    /// A BPJS Ketenagakerjaan programme.
    Programme, "program", "programme" {
        Jkk = "jkk", "JKK (Jaminan Kecelakaan Kerja)", "JKK (work-accident cover)", ["kecelakaankerja"];
        Jkm = "jkm", "JKM (Jaminan Kematian)", "JKM (death cover)", ["kematian"];
        Jht = "jht", "JHT (Jaminan Hari Tua)", "JHT (old-age savings)", ["haritua"];
    }
}

/// The programmes a registration is enrolled in: JKK and JKM always (the basic
/// pair for non-wage workers), JHT when the worker or payer opts in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Programmes {
    /// Old-age savings (JHT) on top of JKK and JKM.
    pub jht: bool,
}

impl Programmes {
    /// The programmes as a list, JKK and JKM first.
    pub fn list(self) -> Vec<Programme> {
        let mut list = vec![Programme::Jkk, Programme::Jkm];
        if self.jht {
            list.push(Programme::Jht);
        }
        list
    }

    /// Builds the set from a list, which must contain JKK and JKM.
    pub fn from_list(list: &[Programme]) -> Option<Programmes> {
        let has = |p| list.contains(&p);
        (has(Programme::Jkk) && has(Programme::Jkm)).then_some(Programmes {
            jht: has(Programme::Jht),
        })
    }
}

impl Serialize for Programmes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.list().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Programmes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let list = Vec::<Programme>::deserialize(deserializer)?;
        Programmes::from_list(&list)
            .ok_or_else(|| serde::de::Error::custom("programmes must include jkk and jkm"))
    }
}

/// Who pays, and which institution when that matters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Payer {
    /// The funding source.
    pub kind: PayerKind,
    /// The paying institution (company, Baznas office, programme name); required for some kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The record of a person's consent to the processing of their personal data.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Consent {
    /// How consent was obtained.
    pub method: ConsentMethod,
    /// When it was recorded (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// A form number, witness or legal basis, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Whether a registration counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Registered and counted in coverage.
    Active,
    /// Withdrawn by an officer or staff; kept, but no longer counted.
    Withdrawn {
        /// Why, in the words of whoever withdrew it.
        reason: String,
    },
}

/// Who created a registration, on which device, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The officer who registered the worker.
    pub officer_id: OfficerId,
    /// The agent installation the registration was made on.
    pub device_id: DeviceId,
    /// When it was registered (UTC), by the device's corrected clock.
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
}

/// Declares [`Field`] and [`Change`] together so they can never disagree.
macro_rules! fields {
    ($( $(#[$meta:meta])* $variant:ident($ty:ty) = $code:literal, $id:literal, $en:literal; )+) => {
        /// A field of a registration: the unit of last-writer-wins merging.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Field {
            $( $(#[$meta])* $variant, )+
        }

        impl Field {
            /// Every field, in declaration order.
            pub const ALL: &'static [Field] = &[$(Field::$variant),+];

            /// How many fields there are.
            pub const COUNT: usize = Field::ALL.len();

            /// The field's place in [`Field::ALL`] (declaration order).
            pub fn index(self) -> usize {
                self as usize
            }

            /// Stable snake_case name, used in error messages, the wire and storage.
            pub fn as_str(self) -> &'static str {
                match self { $(Field::$variant => $code,)+ }
            }

            /// The label shown to people.
            pub fn label(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Field::$variant, Lang::Id) => $id, (Field::$variant, Lang::En) => $en,)+
                }
            }

            /// The field with the given stable name.
            pub fn from_name(name: &str) -> Option<Field> {
                match name { $($code => Some(Field::$variant),)+ _ => None }
            }
        }

        /// A new value for one field. Serialised as `{"field": "...", "value": ...}`.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(tag = "field", content = "value", rename_all = "snake_case")]
        pub enum Change {
            $( $(#[$meta])* $variant($ty), )+
        }

        impl Change {
            /// The field this change writes.
            pub fn field(&self) -> Field {
                match self { $(Change::$variant(_) => Field::$variant,)+ }
            }
        }
    };
}

fields! {
    /// Who registered it, where and when; written once, by the creating operation.
    Origin(Origin) = "origin", "Asal pendaftaran", "Origin";
    /// The national identity number.
    Nik(Nik) = "nik", "NIK", "NIK";
    /// The full name as on the KTP.
    FullName(String) = "full_name", "Nama lengkap", "Full name";
    /// Birth date as entered (it may differ from the NIK; see [`Registration::confirmed_warnings`]).
    BirthDate(Date) = "birth_date", "Tanggal lahir", "Birth date";
    /// Sex as entered.
    Sex(Sex) = "sex", "Jenis kelamin", "Sex";
    /// Phone number in +62 form, when the worker has one.
    Phone(Option<Phone>) = "phone", "Nomor telepon", "Phone number";
    /// The 10-digit Kemendagri code of the desa/kelurahan where the person lives or works.
    VillageCode(String) = "village_code", "Desa/kelurahan", "Village";
    /// Rukun tetangga number.
    Rt(Option<u16>) = "rt", "RT", "RT";
    /// Rukun warga number.
    Rw(Option<u16>) = "rw", "RW", "RW";
    /// Street, hamlet or landmark.
    Address(Option<String>) = "address", "Alamat", "Address";
    /// Kind of work.
    Category(Category) = "category", "Kategori pekerja", "Worker category";
    /// Programmes enrolled in.
    Programmes(Programmes) = "programmes", "Program", "Programmes";
    /// Declared monthly income in rupiah, the base of the JKK and JHT contributions.
    MonthlyIncome(u64) = "monthly_income", "Penghasilan per bulan", "Monthly income";
    /// Who pays the contributions.
    Payer(Payer) = "payer", "Penanggung iuran", "Payer";
    /// The consent record.
    Consent(Consent) = "consent", "Persetujuan data pribadi", "Personal-data consent";
    /// Active or withdrawn.
    Status(Status) = "status", "Status", "Status";
    /// Codes of warnings the officer confirmed (for example a NIK whose birth date differs from the one typed).
    ConfirmedWarnings(Vec<String>) = "confirmed_warnings", "Peringatan yang dikonfirmasi", "Confirmed warnings";
}

/// The current value of every field of a registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Identifies the registration on every replica.
    pub id: RecordId,
    /// Who registered it, where and when.
    pub origin: Origin,
    /// The national identity number.
    pub nik: Nik,
    /// The full name as on the KTP.
    pub full_name: String,
    /// Birth date as entered.
    pub birth_date: Date,
    /// Sex as entered.
    pub sex: Sex,
    /// Phone number, `+62…`.
    pub phone: Option<Phone>,
    /// 10-digit desa/kelurahan code.
    pub village_code: String,
    /// RT number.
    pub rt: Option<u16>,
    /// RW number.
    pub rw: Option<u16>,
    /// Address line.
    pub address: Option<String>,
    /// Kind of work.
    pub category: Category,
    /// Programmes enrolled in.
    pub programmes: Programmes,
    /// Declared monthly income in rupiah.
    pub monthly_income: u64,
    /// Who pays.
    pub payer: Payer,
    /// Consent record.
    pub consent: Consent,
    /// Active or withdrawn.
    pub status: Status,
    /// Warning codes the officer confirmed.
    pub confirmed_warnings: Vec<String>,
}

impl Registration {
    /// Every field as a change: the content of the operation that creates this registration.
    pub fn to_changes(&self) -> Vec<Change> {
        vec![
            Change::Origin(self.origin),
            Change::Nik(self.nik),
            Change::FullName(self.full_name.clone()),
            Change::BirthDate(self.birth_date),
            Change::Sex(self.sex),
            Change::Phone(self.phone.clone()),
            Change::VillageCode(self.village_code.clone()),
            Change::Rt(self.rt),
            Change::Rw(self.rw),
            Change::Address(self.address.clone()),
            Change::Category(self.category),
            Change::Programmes(self.programmes),
            Change::MonthlyIncome(self.monthly_income),
            Change::Payer(self.payer.clone()),
            Change::Consent(self.consent.clone()),
            Change::Status(self.status.clone()),
            Change::ConfirmedWarnings(self.confirmed_warnings.clone()),
        ]
    }

    /// Sets the field a change names to the change's value: the registration
    /// as it would stand if this change won (what the server validates).
    pub fn set(&mut self, change: &Change) {
        match change {
            Change::Origin(value) => self.origin = *value,
            Change::Nik(value) => self.nik = *value,
            Change::FullName(value) => self.full_name.clone_from(value),
            Change::BirthDate(value) => self.birth_date = *value,
            Change::Sex(value) => self.sex = *value,
            Change::Phone(value) => self.phone.clone_from(value),
            Change::VillageCode(value) => self.village_code.clone_from(value),
            Change::Rt(value) => self.rt = *value,
            Change::Rw(value) => self.rw = *value,
            Change::Address(value) => self.address.clone_from(value),
            Change::Category(value) => self.category = *value,
            Change::Programmes(value) => self.programmes = *value,
            Change::MonthlyIncome(value) => self.monthly_income = *value,
            Change::Payer(value) => self.payer.clone_from(value),
            Change::Consent(value) => self.consent.clone_from(value),
            Change::Status(value) => self.status.clone_from(value),
            Change::ConfirmedWarnings(value) => self.confirmed_warnings.clone_from(value),
        }
    }

    /// Whether the registration counts in coverage.
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }
}
