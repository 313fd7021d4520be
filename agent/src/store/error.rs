//! What can go wrong with the local store, in words an officer understands.

use std::path::{Path, PathBuf};

use lindung_shared::lang::{Lang, Problem, Severity};
use lindung_shared::merge::OperationError;

use super::MIN_PASSPHRASE_CHARS;

/// An error of the local store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No store in this directory yet.
    #[error("no Lindung store in {0}: run `lindung-agent init` first")]
    NotInitialised(PathBuf),
    /// `init` on a directory that already has a store.
    #[error("a Lindung store already exists in {0}")]
    AlreadyInitialised(PathBuf),
    /// The passphrase does not open the store.
    #[error("wrong passphrase: the store was not opened and nothing was changed")]
    WrongPassphrase,
    /// The passphrase is too short to protect personal data.
    #[error("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")]
    PassphraseTooShort,
    /// `init` without an officer name.
    #[error("the officer's name is required (at least 2 characters)")]
    OfficerNameRequired,
    /// The key parameter file is unreadable.
    #[error("the key file is damaged: {0}")]
    KeyFileDamaged(String),
    /// The database was written by a newer agent.
    #[error(
        "this store has schema version {found}, newer than this agent supports ({supported}); update lindung-agent"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// Stored data does not parse: a bug or a damaged file.
    #[error("the store holds data this agent cannot read: {0}")]
    Damaged(String),
    /// An operation body that does not parse (or, a bug, does not encode).
    #[error("the store holds data this agent cannot read: {0}")]
    Body(#[from] super::body::BodyError),
    /// An operation with a malformed shape (a bug in the caller).
    #[error("invalid operation: {0}")]
    BadOperation(OperationError),
    /// The operating system refused randomness.
    #[error("no random numbers available: {0}")]
    Random(String),
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// An I/O error on a path.
    pub fn io(path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

impl Problem for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::NotInitialised(_) => "store_not_initialised",
            StoreError::AlreadyInitialised(_) => "store_already_initialised",
            StoreError::WrongPassphrase => "wrong_passphrase",
            StoreError::PassphraseTooShort => "passphrase_too_short",
            StoreError::OfficerNameRequired => "officer_name_required",
            StoreError::KeyFileDamaged(_) => "key_file_damaged",
            StoreError::SchemaTooNew { .. } => "store_schema_too_new",
            StoreError::Damaged(_) | StoreError::Body(_) => "store_damaged",
            StoreError::BadOperation(_) => "bad_operation",
            StoreError::Random(_) => "no_randomness",
            StoreError::Io { .. } => "io_error",
            StoreError::Sqlite(_) => "database_error",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return format!("{self}.");
        }
        match self {
            StoreError::NotInitialised(dir) => format!(
                "Belum ada data Lindung di {}: jalankan `lindung-agent init` terlebih dahulu.",
                dir.display()
            ),
            StoreError::AlreadyInitialised(dir) => {
                format!(
                    "Data Lindung sudah ada di {}; tidak ada yang ditimpa.",
                    dir.display()
                )
            }
            StoreError::WrongPassphrase => {
                "Kata sandi salah: data tidak dibuka dan tidak ada yang diubah.".to_owned()
            }
            StoreError::PassphraseTooShort => {
                format!("Kata sandi harus paling sedikit {MIN_PASSPHRASE_CHARS} karakter.")
            }
            StoreError::OfficerNameRequired => {
                "Nama petugas wajib diisi (paling sedikit 2 karakter).".to_owned()
            }
            StoreError::KeyFileDamaged(detail) => format!("Berkas kunci rusak: {detail}."),
            StoreError::SchemaTooNew { found, supported } => format!(
                "Data ini dibuat oleh versi Lindung yang lebih baru (skema {found}, versi ini {supported}); perbarui lindung-agent."
            ),
            StoreError::Damaged(detail) => {
                format!("Data berisi isian yang tidak dapat dibaca: {detail}.")
            }
            StoreError::Body(error) => {
                format!("Data berisi isian yang tidak dapat dibaca: {error}.")
            }
            StoreError::BadOperation(error) => error.message(Lang::Id),
            StoreError::Random(detail) => format!("Sistem tidak memberi angka acak: {detail}."),
            StoreError::Io { path, source } => format!("{}: {source}.", path.display()),
            StoreError::Sqlite(error) => format!("Galat basis data: {error}."),
        }
    }
}
