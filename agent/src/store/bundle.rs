//! The store's side of sneakernet bundles: the laptop's bundle keys and the
//! receipts it has applied, kept in `meta` (the store is encrypted, so the
//! keys are too).
//!
//! - `bundle_signing_seed`: the Ed25519 seed the laptop signs outbox bundles
//!   with; made once, kept for good (its public half is registered with the
//!   server, and a new one would make bundles in flight unverifiable);
//! - `bundle_secret`, `bundle_server_key`: what the server answered
//!   (the secret that encrypts this laptop's bundles, the key that signs
//!   receipts);
//! - `bundle_receipt:<id>`: when a receipt was applied;
//! - `bundle_last_export`: the last bundle written (JSON), for `status`.

use lindung_shared::bundle::{self, SigningKey};
use lindung_shared::merge::Operation;
use lindung_shared::protocol::PushResponse;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::sync::{meta, set_meta};
use super::{PushTally, Store, StoreError, write};

const SEED_KEY: &str = "bundle_signing_seed";
const SECRET_KEY: &str = "bundle_secret";
const SERVER_KEY: &str = "bundle_server_key";
const LAST_EXPORT_KEY: &str = "bundle_last_export";

/// What sealing and opening bundles needs.
#[derive(Debug)]
pub struct BundleKeys {
    /// Signs this laptop's outbox bundles.
    pub signing: SigningKey,
    /// Encrypts bundles both ways.
    pub secret: [u8; 32],
    /// Checks the server's receipts.
    pub server_public_key: [u8; 32],
}

/// The last outbox bundle written, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastExport {
    /// The bundle's id.
    pub bundle_id: Uuid,
    /// When (RFC 3339, this laptop's clock).
    pub written_at: String,
    /// Changes it carries.
    pub operations: u64,
    /// Where it was written.
    pub file: String,
}

fn damaged(what: &str) -> impl Fn(bundle::BundleError) -> StoreError + '_ {
    move |e| StoreError::Damaged(format!("{what}: {e}"))
}

impl Store {
    /// The key this laptop signs bundles with, made (from the system's
    /// randomness) the first time.
    pub fn bundle_signing_key(&mut self) -> Result<SigningKey, StoreError> {
        let tx = write(&mut self.conn)?;
        let seed = match meta(&tx, SEED_KEY)? {
            Some(text) => bundle::parse_key(&text).map_err(damaged(SEED_KEY))?,
            None => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| StoreError::Random(e.to_string()))?;
                set_meta(&tx, SEED_KEY, &bundle::hex(&seed))?;
                seed
            }
        };
        tx.commit()?;
        SigningKey::from_seed(&seed).map_err(damaged(SEED_KEY))
    }

    /// Keeps what the server answered to the key registration.
    pub fn save_bundle_secret(
        &mut self,
        secret: &[u8; 32],
        server_public_key: &[u8; 32],
    ) -> Result<(), StoreError> {
        let tx = write(&mut self.conn)?;
        set_meta(&tx, SECRET_KEY, &bundle::hex(secret))?;
        set_meta(&tx, SERVER_KEY, &bundle::hex(server_public_key))?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets what the server answered (its keys may have changed); the
    /// signing key stays.
    pub fn forget_bundle_secret(&mut self) -> Result<(), StoreError> {
        let tx = write(&mut self.conn)?;
        tx.execute(
            "DELETE FROM meta WHERE key IN (?1, ?2)",
            params![SECRET_KEY, SERVER_KEY],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The bundle keys; `None` until the server answered a key registration.
    pub fn bundle_keys(&self) -> Result<Option<BundleKeys>, StoreError> {
        let (Some(seed), Some(secret), Some(server)) = (
            meta(&self.conn, SEED_KEY)?,
            meta(&self.conn, SECRET_KEY)?,
            meta(&self.conn, SERVER_KEY)?,
        ) else {
            return Ok(None);
        };
        let seed = bundle::parse_key(&seed).map_err(damaged(SEED_KEY))?;
        Ok(Some(BundleKeys {
            signing: SigningKey::from_seed(&seed).map_err(damaged(SEED_KEY))?,
            secret: bundle::parse_key(&secret).map_err(damaged(SECRET_KEY))?,
            server_public_key: bundle::parse_key(&server).map_err(damaged(SERVER_KEY))?,
        }))
    }

    /// This laptop's own operations with sequence numbers in `seqs`,
    /// whatever their outbox state (a receipt may arrive after an online
    /// sync acknowledged them).
    pub fn own_operations(&self, seqs: &[u64]) -> Result<Vec<Operation>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT seq, record_id, hlc, body FROM operations WHERE device_id = ?1 AND seq = ?2",
        )?;
        let mut operations = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            let mut rows = statement.query(params![
                self.device_id.0.as_bytes().as_slice(),
                i64::try_from(seq).unwrap_or(i64::MAX)
            ])?;
            if let Some(row) = rows.next()? {
                operations.push(self.own_operation(row)?);
            }
        }
        Ok(operations)
    }

    /// When the receipt `id` was applied, if it was.
    pub fn receipt_applied_at(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        meta(&self.conn, &format!("bundle_receipt:{}", id.simple()))
    }

    /// Applies the answer a receipt bundle `id` carries, as the answer to a
    /// push of `sent`, and notes that it was applied at `at`, in one
    /// transaction.
    pub fn apply_receipt(
        &mut self,
        id: Uuid,
        sent: &[Operation],
        response: &PushResponse,
        at: &str,
    ) -> Result<PushTally, StoreError> {
        let key = format!("bundle_receipt:{}", id.simple());
        self.apply_push_response_noting(sent, response, Some((&key, at)))
    }

    /// Notes the bundle just written.
    pub fn note_export(&mut self, export: &LastExport) -> Result<(), StoreError> {
        let text = serde_json::to_string(export).map_err(|e| StoreError::Damaged(e.to_string()))?;
        let tx = write(&mut self.conn)?;
        set_meta(&tx, LAST_EXPORT_KEY, &text)?;
        tx.commit()?;
        Ok(())
    }

    /// The last bundle written, if any.
    pub fn last_export(&self) -> Result<Option<LastExport>, StoreError> {
        meta(&self.conn, LAST_EXPORT_KEY)?
            .map(|text| serde_json::from_str(&text).map_err(|e| StoreError::Damaged(e.to_string())))
            .transpose()
    }
}
