//! Sneakernet: when there is no signal, the outbox travels as a file.
//!
//! `lindung-agent bundle export FILE` writes every pending change into one
//! signed, encrypted, compressed bundle (format: `lindung_shared::bundle`).
//! Staff apply it at the office (`lindung-server bundle import`, or the
//! dashboard's upload screen) exactly like a push, and hand back a receipt
//! bundle; `lindung-agent bundle import RECEIPT` applies the receipt as the
//! answer to a push: accepted and duplicate changes are marked sent,
//! rejected ones keep their reason.
//!
//! **Invariants.** Exporting changes nothing in the outbox: the changes stay
//! pending until a receipt (or an online sync) acknowledges them, so a lost
//! stick loses nothing, and a second export simply carries them again (the
//! server recognises what it has). A receipt is applied only when it is for
//! this laptop and the server's signature on it holds. Applying a receipt
//! twice changes nothing the second time.

use std::path::{Path, PathBuf};

use lindung_shared::bundle::{self, BundleError, BundleHeader, BundleKind};
use lindung_shared::lang::{Lang, Problem, Severity};
use lindung_shared::protocol::PushResponse;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::output::unix_ms;
use crate::store::{LastExport, PushTally, Store, StoreError};

/// Largest receipt file read (a receipt for 100,000 changes is a few MB).
pub const MAX_RECEIPT_BYTES: u64 = 64 * 1024 * 1024;

/// Why a bundle could not be written or a receipt not applied. In every
/// case the outbox is as it was.
#[derive(Debug, thiserror::Error)]
pub enum BundleFailure {
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not enrolled: there is no server to address a bundle to.
    #[error("this laptop is not enrolled with a server yet (lindung-agent enroll)")]
    NotEnrolled,
    /// Enrolled before bundles existed and not synced since.
    #[error(
        "this laptop has no bundle key yet: sync once while online (enrolment and every sync set it up)"
    )]
    NoKeys,
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Not a bundle, cut short, altered, or not decryptable.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// An outbox bundle was given where a receipt was expected.
    #[error("this is an outbox bundle for the server, not a receipt; take it to the office")]
    NotAReceipt,
    /// A receipt for another laptop.
    #[error("this receipt is for another laptop (device {0})")]
    OtherLaptop(String),
    /// The receipt's contents are not what a server writes.
    #[error("the receipt's contents are not readable: {0}")]
    Malformed(String),
    /// A receipt from another server store than the one this laptop syncs
    /// with now (made before the server was restored or replaced).
    #[error(
        "this receipt comes from another server store ({0}) than the one this laptop now syncs with; sync online, or export a new bundle"
    )]
    OtherServer(String),
    /// A file larger than any receipt.
    #[error("{0} is too large to be a receipt")]
    TooLarge(PathBuf),
}

impl BundleFailure {
    /// Whether the file itself was refused (exit code 1), rather than the
    /// command failing (2).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, BundleFailure::Store(_) | BundleFailure::Io { .. })
    }
}

impl Problem for BundleFailure {
    fn code(&self) -> &'static str {
        match self {
            BundleFailure::Store(error) => error.code(),
            BundleFailure::NotEnrolled => "not_enrolled",
            BundleFailure::NoKeys => "bundle_no_keys",
            BundleFailure::Io { .. } => "io",
            BundleFailure::Bundle(error) => error.code(),
            BundleFailure::NotAReceipt => "bundle_not_a_receipt",
            BundleFailure::OtherLaptop(_) => "bundle_other_laptop",
            BundleFailure::OtherServer(_) => "bundle_other_server",
            BundleFailure::Malformed(_) => "bundle_damaged",
            BundleFailure::TooLarge(_) => "bundle_too_large",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        match (lang, self) {
            (_, BundleFailure::Store(error)) => error.message(lang),
            (_, BundleFailure::Bundle(error)) => error.message(lang),
            (Lang::En, other) => format!("{other}; nothing was changed"),
            (Lang::Id, BundleFailure::NotEnrolled) => {
                "laptop ini belum terdaftar ke server (lindung-agent enroll)".into()
            }
            (Lang::Id, BundleFailure::NoKeys) => {
                "laptop ini belum punya kunci paket: sinkronkan sekali saat ada sinyal (pendaftaran dan setiap sinkron menyiapkannya)".into()
            }
            (Lang::Id, BundleFailure::Io { path, source }) => {
                format!("{}: {source}; tidak ada yang berubah", path.display())
            }
            (Lang::Id, BundleFailure::NotAReceipt) => {
                "ini paket perubahan untuk server, bukan tanda terima; bawa ke kantor; tidak ada yang berubah".into()
            }
            (Lang::Id, BundleFailure::OtherLaptop(device)) => format!(
                "tanda terima ini untuk laptop lain (perangkat {device}); tidak ada yang berubah"
            ),
            (Lang::Id, BundleFailure::OtherServer(_)) => {
                "tanda terima ini dari server lain (dibuat sebelum server dipulihkan atau diganti); sinkronkan saat ada sinyal, atau ekspor paket baru; tidak ada yang berubah".into()
            }
            (Lang::Id, BundleFailure::Malformed(_)) => {
                "isi tanda terima tidak terbaca; tidak ada yang berubah".into()
            }
            (Lang::Id, BundleFailure::TooLarge(path)) => format!(
                "{} terlalu besar untuk sebuah tanda terima; tidak ada yang berubah",
                path.display()
            ),
        }
    }
}

/// What `bundle export` wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exported {
    /// The bundle's id.
    pub bundle_id: Uuid,
    /// Pending changes it carries.
    pub operations: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Where.
    pub file: PathBuf,
}

/// An outbox bundle, sealed, not yet written anywhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The bundle's id.
    pub bundle_id: Uuid,
    /// Pending changes it carries.
    pub operations: u64,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Seals every pending change as an outbox bundle; `None` when nothing is
/// pending. The outbox is not touched.
pub fn seal_outbox(store: &Store, now: OffsetDateTime) -> Result<Option<Sealed>, BundleFailure> {
    if store.enrollment()?.is_none() {
        return Err(BundleFailure::NotEnrolled);
    }
    let keys = store.bundle_keys()?.ok_or(BundleFailure::NoKeys)?;
    let operations = store.pending_operations(usize::MAX)?;
    if operations.is_empty() {
        return Ok(None);
    }
    let request = crate::sync::push_request(store, operations, now)?;
    let known_store_id = request.known_store_id;
    let payload =
        serde_json::to_vec(&request).map_err(|e| BundleFailure::Malformed(e.to_string()))?;
    let header = BundleHeader {
        kind: BundleKind::Outbox,
        bundle_id: Uuid::now_v7(),
        device_id: request.device_id,
        store_id: known_store_id,
        answers: None,
        created_ms: unix_ms(now),
        operations: request.operations.len() as u64,
    };
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| StoreError::Random(e.to_string()))?;
    let bytes = bundle::seal(&header, &payload, &keys.secret, nonce, &keys.signing)?;
    Ok(Some(Sealed {
        bundle_id: header.bundle_id,
        operations: header.operations,
        bytes,
    }))
}

/// The name a bundle is offered under for download: `paket-YYYYMMDD-HHMM.lindung`.
pub fn file_name(now: OffsetDateTime) -> String {
    format!(
        "paket-{:04}{:02}{:02}-{:02}{:02}.lindung",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    )
}

/// Notes a bundle written to `file` (for `status` and the sync page).
pub fn note_written(
    store: &mut Store,
    sealed: &Sealed,
    file: &str,
    now: OffsetDateTime,
) -> Result<(), BundleFailure> {
    store.note_export(&LastExport {
        bundle_id: sealed.bundle_id,
        written_at: crate::store::rfc3339(now),
        operations: sealed.operations,
        file: file.to_owned(),
    })?;
    Ok(())
}

/// Writes every pending change to `file` as an outbox bundle; `None` (and
/// no file) when nothing is pending.
pub fn export(
    store: &mut Store,
    file: &Path,
    now: OffsetDateTime,
) -> Result<Option<Exported>, BundleFailure> {
    let Some(sealed) = seal_outbox(store, now)? else {
        return Ok(None);
    };
    // Whole or not at all: a stick pulled out midway leaves no half bundle
    // under the final name.
    crate::store::key::write_atomically(file, &sealed.bytes)?;
    note_written(store, &sealed, &file.display().to_string(), now)?;
    Ok(Some(Exported {
        bundle_id: sealed.bundle_id,
        operations: sealed.operations,
        bytes: sealed.bytes.len() as u64,
        file: file.to_owned(),
    }))
}

/// What applying a receipt did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReceiptApplied {
    /// The outbox bundle it answers.
    pub answers: Option<Uuid>,
    /// When it was applied before (then nothing changed now).
    pub applied_before: Option<String>,
    /// What it did to the outbox (all zero when applied before).
    pub tally: PushTally,
    /// Changes still waiting to be sent.
    pub pending_after: u64,
}

impl ReceiptApplied {
    /// What it did, in a sentence for the officer.
    pub fn summary(&self, lang: Lang) -> String {
        let t = &self.tally;
        match (lang, &self.applied_before) {
            (Lang::Id, Some(at)) => format!(
                "Tanda terima ini sudah diterapkan pada {at}; tidak ada yang berubah. Masih menunggu: {}.",
                self.pending_after
            ),
            (Lang::En, Some(at)) => format!(
                "This receipt was already applied on {at}; nothing changed. Still waiting: {}.",
                self.pending_after
            ),
            (Lang::Id, None) => format!(
                "Tanda terima diterapkan: {} diterima, {} sudah ada di server, {} ditolak. Masih menunggu: {}.",
                t.accepted, t.duplicates, t.rejected, self.pending_after
            ),
            (Lang::En, None) => format!(
                "Receipt applied: {} accepted, {} already on the server, {} rejected. Still waiting: {}.",
                t.accepted, t.duplicates, t.rejected, self.pending_after
            ),
        }
    }
}

/// Applies a receipt bundle from the server to the outbox.
pub fn import_receipt(
    store: &mut Store,
    file: &Path,
    now: OffsetDateTime,
) -> Result<ReceiptApplied, BundleFailure> {
    let io = |source| BundleFailure::Io {
        path: file.to_owned(),
        source,
    };
    if std::fs::metadata(file).map_err(io)?.len() > MAX_RECEIPT_BYTES {
        return Err(BundleFailure::TooLarge(file.to_owned()));
    }
    let bytes = std::fs::read(file).map_err(io)?;
    apply_receipt(store, &bytes, now)
}

/// Applies the bytes of a receipt bundle from the server to the outbox.
pub fn apply_receipt(
    store: &mut Store,
    bytes: &[u8],
    now: OffsetDateTime,
) -> Result<ReceiptApplied, BundleFailure> {
    if bytes.len() as u64 > MAX_RECEIPT_BYTES {
        return Err(BundleFailure::TooLarge(PathBuf::from("tanda terima")));
    }
    let claimed = bundle::read_header(bytes)?;
    if claimed.kind != BundleKind::Receipt {
        return Err(BundleFailure::NotAReceipt);
    }
    if claimed.device_id != store.device_id() {
        return Err(BundleFailure::OtherLaptop(claimed.device_id.to_string()));
    }
    let keys = store.bundle_keys()?.ok_or(BundleFailure::NoKeys)?;
    let (header, payload) = bundle::open(bytes, &keys.server_public_key, &keys.secret)?;
    // A receipt from a store this laptop no longer syncs with says nothing
    // about what the current one holds.
    let (_, known_store) = store.pull_position()?;
    if let (Some(known), Some(answered_by)) = (known_store, header.store_id)
        && known != answered_by
    {
        return Err(BundleFailure::OtherServer(answered_by.to_string()));
    }
    if let Some(at) = store.receipt_applied_at(header.bundle_id)? {
        return Ok(ReceiptApplied {
            answers: header.answers,
            applied_before: Some(at),
            tally: PushTally::default(),
            pending_after: store.pending_count()?,
        });
    }
    let response: PushResponse =
        serde_json::from_slice(&payload).map_err(|e| BundleFailure::Malformed(e.to_string()))?;
    let seqs: Vec<u64> = response.receipts.iter().map(|r| r.seq).collect();
    let sent = store.own_operations(&seqs)?;
    let tally = store.apply_receipt(
        header.bundle_id,
        &sent,
        &response,
        &crate::store::rfc3339(now),
    )?;
    Ok(ReceiptApplied {
        answers: header.answers,
        applied_before: None,
        tally,
        pending_after: store.pending_count()?,
    })
}
