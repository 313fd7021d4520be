//! Sneakernet bundles on the server: a laptop's outbox carried in on a USB
//! stick is applied exactly like a push, and answered with a receipt bundle
//! the laptop imports to mark its changes as sent.
//!
//! Keys (see `lindung_shared::bundle` for the file format):
//! - each laptop signs its outbox bundles with its own Ed25519 key; the
//!   public half is registered at enrolment (`POST /api/v1/bundle/keys`), so
//!   a bundle names a device that the server can check it against;
//! - the server signs receipts with its own Ed25519 key, made once per store
//!   ([`ServerKeys`]); a laptop learns the public half with its secret;
//! - both directions are encrypted with a per-device secret derived from the
//!   store's root secret and the device id (HMAC-SHA-256), so the server
//!   keeps one secret, not one per device.
//!
//! **Invariants.** Nothing is applied unless the signature matches the
//! device's registered key and the contents decrypt. A revoked device's
//! bundle is refused as its push would be. A bundle applied before (same
//! bundle id) is not applied again: the import answers with the receipt it
//! made then. A bundle applied in part (the server stopped midway) is simply
//! applied again: each batch is idempotent, as for a push whose answer was
//! lost.

use lindung_shared::bundle::{self, BundleError, BundleHeader, BundleKind, SigningKey};
use lindung_shared::ids::DeviceId;
use lindung_shared::lang::{Lang, Problem, Severity};
use lindung_shared::protocol::{
    MAX_PUSH_OPERATIONS, Outcome, PROTOCOL_VERSION, PushRequest, PushResponse, is_supported,
};
use ring::hmac;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::{AppState, apply_push};
use crate::ingest::unix_ms;
use crate::storage::{AuditEntry, BundleImport, ServerBundleKeys, Storage, StorageError};

/// Largest bundle accepted, by `bundle import` and by the dashboard (a
/// bundle of 10,000 registrations is well under 1 MB; see BENCHMARKS.md).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024 * 1024;
/// Largest upload request on the dashboard's bundle screen: a bundle and
/// the form around it.
pub const MAX_UPLOAD_BYTES: usize = MAX_BUNDLE_BYTES + 1024 * 1024;

/// The store's bundle keys.
pub struct ServerKeys {
    signing: SigningKey,
    device_secret_root: hmac::Key,
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys")
            .field("signing", &self.signing)
            .finish_non_exhaustive()
    }
}

impl ServerKeys {
    /// The store's keys, made (from the system's randomness) the first time.
    pub async fn load(storage: &dyn Storage) -> Result<ServerKeys, StorageError> {
        let mut candidate = ServerBundleKeys {
            signing_seed: [0; 32],
            device_secret_root: [0; 32],
        };
        getrandom::fill(&mut candidate.signing_seed)
            .and_then(|()| getrandom::fill(&mut candidate.device_secret_root))
            .map_err(|e| StorageError::Task(format!("no randomness for the bundle keys: {e}")))?;
        let kept = storage.server_bundle_keys(&candidate).await?;
        let signing = SigningKey::from_seed(&kept.signing_seed)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok(ServerKeys {
            signing,
            device_secret_root: hmac::Key::new(hmac::HMAC_SHA256, &kept.device_secret_root),
        })
    }

    /// The secret that encrypts one device's bundles (both ways).
    pub fn device_secret(&self, device: DeviceId) -> [u8; 32] {
        let mut message = b"lindung bundle secret v1 ".to_vec();
        message.extend_from_slice(device.0.as_bytes());
        let tag = hmac::sign(&self.device_secret_root, &message);
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&tag.as_ref()[..32]);
        secret
    }

    /// The public half of the key that signs receipts.
    pub fn public_key(&self) -> [u8; 32] {
        self.signing.public_key()
    }
}

/// Why an outbox bundle was not applied. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not a bundle, cut short, altered, or not decryptable.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// A receipt was given where an outbox bundle was expected.
    #[error(
        "this is a receipt, made for a laptop; import it there with `lindung-agent bundle import`"
    )]
    NotAnOutbox,
    /// The device it names never enrolled with this server.
    #[error("the bundle comes from device {0}, which never enrolled with this server")]
    UnknownDevice(DeviceId),
    /// The device never registered a signing key (enrolled before bundles
    /// existed, not synced since).
    #[error("device {0} has no bundle key yet; it gets one at its next online sync")]
    NoDeviceKey(DeviceId),
    /// Staff revoked the device.
    #[error(
        "device {device} was revoked on {date}; its bundle is not applied and stays valid on the laptop; enrol the laptop again and sync"
    )]
    Revoked {
        /// The device.
        device: DeviceId,
        /// When (YYYY-MM-DD).
        date: String,
    },
    /// The contents are not what an agent writes.
    #[error("the bundle's contents are not readable: {0}")]
    Malformed(String),
    /// Made by an agent speaking a protocol this server does not.
    #[error(
        "the bundle was written by an agent speaking protocol {0}, which this server does not; update the agent"
    )]
    UnsupportedProtocol(u16),
    /// The storage failed; nothing was recorded as imported (importing
    /// again is safe).
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}

impl Problem for ImportError {
    fn code(&self) -> &'static str {
        match self {
            ImportError::Bundle(error) => error.code(),
            ImportError::NotAnOutbox => "bundle_is_a_receipt",
            ImportError::UnknownDevice(_) => "bundle_unknown_device",
            ImportError::NoDeviceKey(_) => "bundle_no_device_key",
            ImportError::Revoked { .. } => "device_revoked",
            ImportError::Malformed(_) => "bundle_damaged",
            ImportError::UnsupportedProtocol(_) => "unsupported_protocol",
            ImportError::Storage(_) => "internal",
        }
    }

    fn severity(&self) -> Severity {
        Severity::Error
    }

    fn message(&self, lang: Lang) -> String {
        match (lang, self) {
            (_, ImportError::Bundle(error)) => error.message(lang),
            (Lang::En, ImportError::Storage(error)) => format!(
                "storage: {error}; importing the bundle again is safe (what was stored is answered as already held)"
            ),
            (Lang::En, other) => format!("{other}; nothing was applied"),
            (Lang::Id, ImportError::NotAnOutbox) => {
                "ini tanda terima untuk laptop; impor di laptop dengan `lindung-agent bundle import`; tidak ada yang diterapkan".into()
            }
            (Lang::Id, ImportError::UnknownDevice(device)) => format!(
                "paket berasal dari perangkat {device} yang tidak pernah terdaftar di server ini; tidak ada yang diterapkan"
            ),
            (Lang::Id, ImportError::NoDeviceKey(device)) => format!(
                "perangkat {device} belum punya kunci paket; kunci dibuat saat sinkronisasi daring berikutnya; tidak ada yang diterapkan"
            ),
            (Lang::Id, ImportError::Revoked { device, date }) => format!(
                "perangkat {device} sudah dicabut pada {date}; paket tidak diterapkan dan datanya tetap aman di laptop; daftarkan ulang laptop lalu sinkronkan"
            ),
            (Lang::Id, ImportError::Malformed(_)) => {
                "isi paket tidak terbaca; tidak ada yang diterapkan".into()
            }
            (Lang::Id, ImportError::UnsupportedProtocol(version)) => format!(
                "paket dibuat oleh aplikasi dengan protokol {version} yang tidak didukung server ini; perbarui aplikasi di laptop; tidak ada yang diterapkan"
            ),
            (Lang::Id, ImportError::Storage(_)) => {
                "kesalahan penyimpanan server; impor boleh diulang dengan aman (yang sudah tersimpan dijawab \"sudah ada\")".into()
            }
        }
    }
}

/// An applied outbox bundle.
#[derive(Clone, Debug)]
pub struct Imported {
    /// What was applied, and the receipt.
    pub import: BundleImport,
    /// The device's name and its officer, for the result.
    pub device_name: String,
    /// The officer.
    pub officer_name: String,
    /// The bundle had been applied before (nothing changed now; the receipt
    /// is the one made then).
    pub again: bool,
}

impl Imported {
    /// What was applied, in a sentence.
    pub fn summary(&self, lang: Lang) -> String {
        let i = &self.import;
        match lang {
            Lang::Id => format!(
                "Paket dari {} ({}): {} perubahan — {} diterima, {} sudah ada, {} ditolak.",
                self.officer_name,
                self.device_name,
                i.operations,
                i.accepted,
                i.duplicates,
                i.rejected
            ),
            Lang::En => format!(
                "Bundle from {} ({}): {} changes — {} accepted, {} already held, {} rejected.",
                self.officer_name,
                self.device_name,
                i.operations,
                i.accepted,
                i.duplicates,
                i.rejected
            ),
        }
    }

    /// For a bundle applied before: when, by whom, and that nothing changed.
    pub fn applied_before(&self, lang: Lang) -> Option<String> {
        let i = &self.import;
        let when = i.imported_at.date();
        self.again.then(|| match lang {
            Lang::Id => format!(
                "Paket ini sudah diterapkan pada {when} oleh {}; tidak ada yang berubah; tanda terimanya sama.",
                i.imported_by
            ),
            Lang::En => format!(
                "This bundle was already applied on {when} by {}; nothing changed; the receipt is the same.",
                i.imported_by
            ),
        })
    }
}

/// Applies an outbox bundle and makes its receipt. `imported_by` is who
/// did it (a staff login, or `cli`).
pub async fn import(
    state: &AppState,
    bytes: &[u8],
    imported_by: &str,
) -> Result<Imported, ImportError> {
    let claimed = bundle::read_header(bytes)?;
    if claimed.kind != BundleKind::Outbox {
        return Err(ImportError::NotAnOutbox);
    }
    let device = state
        .storage
        .bundle_device(claimed.device_id)
        .await?
        .ok_or(ImportError::UnknownDevice(claimed.device_id))?;
    let public_key = device
        .public_key
        .ok_or(ImportError::NoDeviceKey(claimed.device_id))?;
    let secret = state.bundle_keys.device_secret(claimed.device_id);
    let (header, payload) = bundle::open(bytes, &public_key, &secret)?;
    // Applied before (perhaps before the device was revoked): its receipt.
    if let Some(done) = state.storage.bundle_import(header.bundle_id).await? {
        if done.device_id != header.device_id {
            // Bundle ids are random: only a forged one names another's.
            return Err(ImportError::Malformed(
                "the bundle id is already another device's".into(),
            ));
        }
        tracing::info!(bundle = %header.bundle_id, device = %header.device_id, "bundle imported again; the first receipt is returned");
        return Ok(Imported {
            import: done,
            device_name: device.name,
            officer_name: device.scope.officer_name,
            again: true,
        });
    }
    if let Some(revoked) = device.revoked_at {
        return Err(ImportError::Revoked {
            device: header.device_id,
            date: revoked.date().to_string(),
        });
    }
    // serde's message may quote a value (a NIK, a name): only where it failed.
    let request: PushRequest = serde_json::from_slice(&payload).map_err(|e| {
        ImportError::Malformed(format!(
            "{:?} error at line {}, column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if !is_supported(request.protocol) {
        return Err(ImportError::UnsupportedProtocol(request.protocol));
    }
    if request.device_id != header.device_id {
        return Err(ImportError::Malformed(
            "the contents name another device than the header".into(),
        ));
    }
    let mut scope = device.scope.clone();
    // As for a push: a cursor into another store says nothing about this one.
    if request.known_store_id == Some(state.store_id) {
        scope.pulled_upto = request.pulled_upto.unwrap_or(0);
    }
    let mut answer: Option<PushResponse> = None;
    for batch in request.operations.chunks(MAX_PUSH_OPERATIONS) {
        let response = apply_push(state, &scope, batch).await?;
        answer = Some(match answer {
            None => response,
            Some(mut so_far) => {
                so_far.receipts.extend(response.receipts);
                so_far.acknowledged_seq = response.acknowledged_seq;
                so_far.server_hlc = response.server_hlc;
                so_far.server_time_ms = response.server_time_ms;
                so_far
            }
        });
    }
    let now = OffsetDateTime::now_utc();
    let answer = match answer {
        Some(answer) => answer,
        // An empty bundle: nothing to store, but the answer still tells the
        // laptop which store it talked to.
        None => PushResponse {
            protocol: PROTOCOL_VERSION,
            store_id: state.store_id,
            server_time_ms: unix_ms(now),
            server_hlc: state.tick(now, []),
            acknowledged_seq: 0,
            receipts: Vec::new(),
            handled_us: None,
        },
    };
    let receipt = seal_receipt(state, &header, &answer, &secret, now)?;
    let (mut accepted, mut duplicates, mut rejected) = (0u64, 0u64, 0u64);
    for receipt in &answer.receipts {
        match receipt.outcome {
            Outcome::Accepted { .. } => accepted += 1,
            Outcome::Duplicate { .. } => duplicates += 1,
            Outcome::Rejected { .. } => rejected += 1,
        }
    }
    let import = BundleImport {
        bundle_id: header.bundle_id,
        device_id: header.device_id,
        imported_at: now,
        imported_by: imported_by.to_owned(),
        operations: request.operations.len() as u64,
        accepted,
        duplicates,
        rejected,
        receipt,
    };
    // Audited first: should the record fail, importing again audits again
    // rather than never.
    state
        .storage
        .record_audit(&AuditEntry {
            at: now,
            actor: imported_by.to_owned(),
            action: crate::audit::action::BUNDLE_IMPORT.to_owned(),
            subject: header.device_id.to_string(),
            details: serde_json::json!({
                "bundle_id": header.bundle_id.to_string(),
                "operations": import.operations,
                "accepted": accepted,
                "duplicates": duplicates,
                "rejected": rejected,
            }),
        })
        .await?;
    state.storage.record_bundle_import(&import).await?;
    // Two imports of one bundle at the same moment: the first record wins,
    // and both hand back its receipt.
    let import = state
        .storage
        .bundle_import(header.bundle_id)
        .await?
        .unwrap_or(import);
    tracing::info!(
        bundle = %header.bundle_id,
        device = %header.device_id,
        operations = import.operations,
        accepted,
        duplicates,
        rejected,
        imported_by,
        "bundle imported"
    );
    Ok(Imported {
        import,
        device_name: device.name,
        officer_name: device.scope.officer_name,
        again: false,
    })
}

fn seal_receipt(
    state: &AppState,
    outbox: &BundleHeader,
    answer: &PushResponse,
    secret: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Vec<u8>, ImportError> {
    let payload = serde_json::to_vec(answer).map_err(|e| ImportError::Malformed(e.to_string()))?;
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce)
        .map_err(|e| StorageError::Task(format!("no randomness for a nonce: {e}")))?;
    let header = BundleHeader {
        kind: BundleKind::Receipt,
        bundle_id: Uuid::now_v7(),
        device_id: outbox.device_id,
        store_id: Some(state.store_id),
        answers: Some(outbox.bundle_id),
        created_ms: unix_ms(now),
        operations: answer.receipts.len() as u64,
    };
    Ok(bundle::seal(
        &header,
        &payload,
        secret,
        nonce,
        &state.bundle_keys.signing,
    )?)
}

/// The file name a receipt is offered under: `tanda-terima-<bundle>.lindung`.
pub fn receipt_file_name(bundle_id: Uuid) -> String {
    format!("tanda-terima-{}.lindung", bundle_id.simple())
}

/// Writes a receipt file whole or not at all (a temporary file beside it,
/// synced, then renamed), so a pulled USB stick never holds half a receipt
/// under the final name.
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(directory)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
