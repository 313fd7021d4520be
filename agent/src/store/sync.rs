//! The store's side of sync: enrolment, what to push, what the server said,
//! and changes pulled from other devices.
//!
//! Invariants:
//! - an outbox entry leaves `pending` only on a receipt (accepted, duplicate:
//!   `acked`; rejected: `rejected`, with the reason) or when the server's
//!   `acknowledged_seq` covers it and it is not beyond the batch sent, in the
//!   same transaction that records it;
//! - a timestamp the server bounded, named by an `accepted` or a `duplicate`
//!   receipt, replaces the operation's own (the record is re-materialised);
//! - a `rejected` entry is never sent again and never blocks later ones;
//! - a server with another store id than the one last seen was reset or
//!   restored: every acknowledged entry becomes `pending` again (the server
//!   drops what it already has) and the pull cursor starts over;
//! - pulled operations go through the same merge as local ones
//!   ([`super::insert_operation`] then [`super::records::rematerialise`]), and
//!   every timestamp seen moves the local clock forward.

use std::collections::BTreeSet;

use lindung_shared::hlc::Hlc;
use lindung_shared::ids::{OfficerId, RecordId, StoreId};
use lindung_shared::merge::Operation;
use lindung_shared::protocol::{
    DuplicateHolder, EnrollResponse, OfficerInfo, Outcome, PullPage, PushResponse,
};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, StoreError, insert_operation, records, rfc3339, write};

/// Where this agent syncs to, once enrolled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Enrollment {
    /// The server's base URL.
    pub server_url: String,
    /// The bearer token (never printed).
    #[serde(skip)]
    pub token: String,
    /// When the token was issued: at enrolment or at its last rotation
    /// (RFC 3339, this laptop's clock).
    pub token_issued_at: String,
    /// The server store last talked to.
    pub store_id: Option<StoreId>,
    /// The officer and their regions, as the server knows them.
    pub officer: OfficerInfo,
    /// When the device enrolled.
    pub enrolled_at: String,
    /// How the server's certificate is checked.
    #[serde(flatten)]
    pub trust: ServerTrust,
}

/// How the server's certificate is checked, as chosen at enrolment (see
/// `sync::tls`). Kept in `meta` with the rest of the enrolment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServerTrust {
    /// A private CA (PEM) trusted instead of the usual roots.
    #[serde(skip)]
    pub ca_pem: Option<String>,
    /// Whether a private CA is trusted (for display).
    pub private_ca: bool,
    /// The SHA-256 of the server certificate pinned at enrolment, `AB:CD:…`.
    pub pinned_certificate: Option<String>,
}

/// The `meta` keys of [`ServerTrust`].
const CA_KEY: &str = "tls_ca_pem";
const PIN_KEY: &str = "tls_pin_sha256";

/// What one push batch's answer did to the outbox.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PushTally {
    /// Accepted now.
    pub accepted: u64,
    /// The server had them already (a retry).
    pub duplicates: u64,
    /// Refused for good.
    pub rejected: u64,
    /// Timestamps the server bounded (the laptop clock ran ahead).
    pub bounded: u64,
    /// The server's store id changed: everything is being sent again.
    pub server_changed: bool,
}

/// What one pulled page did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PullTally {
    /// Operations new to this laptop.
    pub received: u64,
    /// Records whose duplicate-person notice changed.
    pub duplicate_notices: u64,
    /// The page came from another store than the last answer (the server
    /// was reset or restored): everything it had acknowledged is pending again.
    pub server_changed: bool,
}

pub(super) fn meta(tx: &rusqlite::Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?)
}

/// Whether an answer came from another store than the one this laptop last
/// heard from (the server was reset or restored from a backup). If so, it
/// may lack what the old one acknowledged: every acknowledged entry is
/// pending again and pulling starts over. The caller records the new store
/// id (and, for a pull page, the page's cursor).
fn answered_by_another_store(
    tx: &rusqlite::Connection,
    answered_by: StoreId,
) -> Result<bool, StoreError> {
    let answered_by = answered_by.to_string();
    match meta(tx, "store_id")? {
        Some(known) if known == answered_by => Ok(false),
        known => {
            if known.is_some() {
                tx.execute(
                    "UPDATE outbox SET state = 'pending' WHERE state = 'acked'",
                    [],
                )?;
            }
            set_meta(tx, "pull_cursor", "0")?;
            Ok(known.is_some())
        }
    }
}

pub(super) fn set_meta(
    tx: &rusqlite::Connection,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Moves the stored clock forward to at least `seen`.
fn observe(tx: &rusqlite::Connection, seen: Hlc) -> Result<(), StoreError> {
    let last: Hlc = meta(tx, "hlc_last")?
        .unwrap_or_default()
        .parse()
        .map_err(|e| StoreError::Damaged(format!("meta hlc_last: {e}")))?;
    if seen > last {
        set_meta(tx, "hlc_last", &seen.to_string())?;
    }
    Ok(())
}

fn delete_meta(tx: &rusqlite::Connection, key: &str) -> Result<(), StoreError> {
    tx.prepare_cached("DELETE FROM meta WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

fn parse_store_id(text: &str) -> Result<StoreId, StoreError> {
    Uuid::parse_str(text)
        .map(StoreId)
        .map_err(|e| StoreError::Damaged(format!("store id {text:?}: {e}")))
}

impl Store {
    /// The server this agent is enrolled with, if any.
    pub fn enrollment(&self) -> Result<Option<Enrollment>, StoreError> {
        let (Some(server_url), Some(token)) =
            (meta(&self.conn, "server_url")?, meta(&self.conn, "token")?)
        else {
            return Ok(None);
        };
        let store_id = meta(&self.conn, "store_id")?
            .as_deref()
            .map(parse_store_id)
            .transpose()?;
        let regions: Vec<String> = match meta(&self.conn, "officer_regions")? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Damaged(format!("officer regions: {e}")))?,
            None => Vec::new(),
        };
        let enrolled_at = meta(&self.conn, "enrolled_at")?.unwrap_or_default();
        let ca_pem = meta(&self.conn, CA_KEY)?;
        Ok(Some(Enrollment {
            server_url,
            token,
            // Stores enrolled before rotation existed: the enrolment date.
            token_issued_at: meta(&self.conn, "token_issued_at")?
                .unwrap_or_else(|| enrolled_at.clone()),
            store_id,
            officer: OfficerInfo {
                id: self.officer_id,
                name: self.officer_name.clone(),
                regions,
            },
            enrolled_at,
            trust: ServerTrust {
                private_ca: ca_pem.is_some(),
                ca_pem,
                pinned_certificate: meta(&self.conn, PIN_KEY)?,
            },
        }))
    }

    /// Records a successful enrolment: the server, the token, how its
    /// certificate is checked, and the officer as the server knows them (new
    /// registrations carry the server's officer id).
    pub fn save_enrollment(
        &mut self,
        server_url: &str,
        response: &EnrollResponse,
        trust: &ServerTrust,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let regions = serde_json::to_string(&response.officer.regions)
            .map_err(|e| StoreError::Damaged(e.to_string()))?;
        let tx = write(&mut self.conn)?;
        let previous_store = meta(&tx, "store_id")?;
        for (key, value) in [
            ("server_url", server_url.to_owned()),
            ("token", response.token.clone()),
            ("token_issued_at", rfc3339(now)),
            ("store_id", response.store_id.to_string()),
            ("officer_id", response.officer.id.to_string()),
            ("officer_name", response.officer.name.clone()),
            ("officer_regions", regions),
            ("enrolled_at", rfc3339(now)),
        ] {
            set_meta(&tx, key, &value)?;
        }
        // A new enrolment decides the trust afresh: what it does not set goes.
        for (key, value) in [
            (CA_KEY, &trust.ca_pem),
            (PIN_KEY, &trust.pinned_certificate),
        ] {
            match value {
                Some(value) => set_meta(&tx, key, value)?,
                None => delete_meta(&tx, key)?,
            }
        }
        if previous_store.as_deref() != Some(&response.store_id.to_string()) {
            // Another server (or the first one): everything goes there.
            tx.execute(
                "UPDATE outbox SET state = 'pending' WHERE state = 'acked'",
                [],
            )?;
            set_meta(&tx, "pull_cursor", "0")?;
        }
        tx.commit()?;
        self.officer_id = response.officer.id;
        self.officer_name = response.officer.name.clone();
        Ok(())
    }

    /// Replaces the device token after a rotation (`issued_at`: now).
    pub fn replace_token(
        &mut self,
        token: &str,
        issued_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tx = write(&mut self.conn)?;
        if meta(&tx, "token")?.is_none() {
            return Err(StoreError::Damaged(
                "no token to replace: not enrolled".into(),
            ));
        }
        set_meta(&tx, "token", token)?;
        set_meta(&tx, "token_issued_at", &rfc3339(issued_at))?;
        tx.commit()?;
        Ok(())
    }

    /// The officer id as the store knows it now.
    pub fn officer_id(&self) -> OfficerId {
        self.officer_id
    }

    /// Pending outbox entries in sequence order, at most `limit`.
    pub fn pending_operations(&self, limit: usize) -> Result<Vec<Operation>, StoreError> {
        self.pending_operations_after(0, limit)
    }

    /// Like [`Store::pending_operations`], from the first pending entry after
    /// sequence number `after` (the read-ahead of a push in flight).
    pub fn pending_operations_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Operation>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT o.seq, o.record_id, o.hlc, o.body FROM outbox x
             JOIN operations o ON o.device_id = ?1 AND o.seq = x.seq
             WHERE x.state = 'pending' AND x.seq > ?3 ORDER BY x.seq LIMIT ?2",
        )?;
        let mut rows = statement.query(params![
            self.device_id.0.as_bytes().as_slice(),
            i64::try_from(limit).unwrap_or(i64::MAX),
            i64::try_from(after).unwrap_or(i64::MAX)
        ])?;
        let mut operations = Vec::new();
        while let Some(row) = rows.next()? {
            operations.push(self.own_operation(row)?);
        }
        Ok(operations)
    }

    /// One of this laptop's operations from a row of `seq, record_id, hlc, body`.
    pub(super) fn own_operation(&self, row: &rusqlite::Row<'_>) -> Result<Operation, StoreError> {
        let seq: i64 = row.get(0)?;
        let record: Vec<u8> = row.get(1)?;
        let hlc: i64 = row.get(2)?;
        Ok(Operation {
            device_id: self.device_id,
            seq: u64::try_from(seq).unwrap_or(0),
            record_id: RecordId(
                Uuid::from_slice(&record).map_err(|e| StoreError::Damaged(e.to_string()))?,
            ),
            hlc: Hlc::from_u64(hlc as u64),
            // The exact changes of the operation, whichever form the body has.
            changes: super::body::decode(row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)?,
        })
    }

    /// Number of outbox entries waiting to be sent.
    pub fn pending_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE state = 'pending'",
            [],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Records the server's answer to a push of `sent`, in one transaction.
    pub fn apply_push_response(
        &mut self,
        sent: &[Operation],
        response: &PushResponse,
    ) -> Result<PushTally, StoreError> {
        self.apply_push_response_noting(sent, response, None)
    }

    /// [`Store::apply_push_response`], also setting the `meta` entry `note`
    /// (key, value) in the same transaction (a receipt bundle: that it was
    /// applied).
    pub(super) fn apply_push_response_noting(
        &mut self,
        sent: &[Operation],
        response: &PushResponse,
        note: Option<(&str, &str)>,
    ) -> Result<PushTally, StoreError> {
        let tx = write(&mut self.conn)?;
        if let Some((key, value)) = note {
            set_meta(&tx, key, value)?;
        }
        let mut tally = PushTally::default();
        if answered_by_another_store(&tx, response.store_id)? {
            tally.server_changed = true;
        }
        set_meta(&tx, "store_id", &response.store_id.to_string())?;
        let mut rematerialise = BTreeSet::new();
        // Sequence numbers the receipts mark acknowledged (accepted or duplicate).
        let mut acked_seqs: Vec<i64> = Vec::with_capacity(response.receipts.len());
        {
            let mut rejected = tx.prepare_cached(
                "UPDATE outbox SET state = 'rejected', error_code = ?2, error_message = ?3,
                     error_message_id = ?4, error_field = ?5
                 WHERE seq = ?1",
            )?;
            let mut bound = tx.prepare_cached(
                "UPDATE operations SET hlc = ?3 WHERE device_id = ?1 AND seq = ?2",
            )?;
            for receipt in &response.receipts {
                let seq = i64::try_from(receipt.seq).unwrap_or(i64::MAX);
                // Accepted now or before (the answer then was lost): the
                // stamp the server bounded is the operation's from now on.
                let bounded_hlc = match &receipt.outcome {
                    Outcome::Accepted { bounded_hlc } => {
                        tally.accepted += 1;
                        acked_seqs.push(seq);
                        *bounded_hlc
                    }
                    Outcome::Duplicate { bounded_hlc } => {
                        tally.duplicates += 1;
                        acked_seqs.push(seq);
                        *bounded_hlc
                    }
                    Outcome::Rejected { error } => {
                        tally.rejected += 1;
                        rejected.execute(params![
                            seq,
                            error.code.as_str(),
                            error.message,
                            error.message_id,
                            error.field
                        ])?;
                        None
                    }
                };
                if let Some(bounded) = bounded_hlc {
                    tally.bounded += 1;
                    bound.execute(params![
                        self.device_id.0.as_bytes().as_slice(),
                        seq,
                        bounded.to_u64() as i64
                    ])?;
                    if let Some(op) = sent.iter().find(|op| op.seq == receipt.seq) {
                        rematerialise.insert(op.record_id);
                    }
                }
            }
        }
        mark_acked(&tx, &response.receipts, acked_seqs)?;
        // Everything the server holds up to this batch is acknowledged,
        // receipts or not. Not beyond it: an entry the server holds from a
        // request whose answer was lost is sent again, and the `duplicate`
        // receipt names the stamp the server may have bounded.
        let last_sent = sent.iter().map(|op| op.seq).max().unwrap_or(0);
        tx.execute(
            "UPDATE outbox SET state = 'acked' WHERE state = 'pending' AND seq <= ?1",
            [i64::try_from(response.acknowledged_seq.min(last_sent)).unwrap_or(0)],
        )?;
        for record in rematerialise {
            records::rematerialise(&tx, record)?;
        }
        observe(&tx, response.server_hlc)?;
        tx.commit()?;
        Ok(tally)
    }

    /// Where pulling resumes: the cursor and the server store it belongs to.
    pub fn pull_position(&self) -> Result<(u64, Option<StoreId>), StoreError> {
        let cursor = meta(&self.conn, "pull_cursor")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let store = meta(&self.conn, "store_id")?
            .as_deref()
            .map(parse_store_id)
            .transpose()?;
        Ok((cursor, store))
    }

    /// Applies a pulled page with the merge rule, in one transaction, and moves the cursor.
    pub fn apply_pull_page(
        &mut self,
        page: &PullPage,
        now: OffsetDateTime,
    ) -> Result<PullTally, StoreError> {
        let tx = write(&mut self.conn)?;
        let mut tally = PullTally {
            server_changed: answered_by_another_store(&tx, page.store_id)?,
            ..PullTally::default()
        };
        let mut touched = BTreeSet::new();
        let mut latest = page.server_hlc;
        for operation in &page.operations {
            if operation.check_shape().is_err() {
                continue;
            }
            if insert_operation(&tx, operation)? {
                tally.received += 1;
                touched.insert(operation.record_id);
            }
            latest = latest.max(operation.hlc);
        }
        for record in touched {
            records::rematerialise(&tx, record)?;
        }
        for notice in &page.duplicates {
            tally.duplicate_notices += 1;
            save_notice(&tx, notice.record_id, &notice.others, now)?;
        }
        observe(&tx, latest)?;
        set_meta(&tx, "pull_cursor", &page.next_cursor.to_string())?;
        set_meta(&tx, "store_id", &page.store_id.to_string())?;
        tx.commit()?;
        Ok(tally)
    }

    /// Notes that a sync finished.
    pub fn mark_synced(&mut self, now: OffsetDateTime) -> Result<(), StoreError> {
        set_meta(
            &self.conn,
            "last_sync_at",
            &rfc3339(now.replace_nanosecond(0).unwrap_or(now)),
        )
    }

    /// Other registrations of the same person that the server told about.
    pub fn duplicate_notice(&self, record: RecordId) -> Result<Vec<DuplicateHolder>, StoreError> {
        let others: Option<String> = self
            .conn
            .prepare_cached("SELECT others FROM duplicate_notices WHERE record_id = ?1")?
            .query_row([record.0.as_bytes().as_slice()], |row| row.get(0))
            .optional()?;
        match others {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Damaged(format!("duplicate notice: {e}"))),
            None => Ok(Vec::new()),
        }
    }

    /// The local records the server says share their NIK with another record.
    pub fn records_with_duplicate_notice(&self) -> Result<Vec<RecordId>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT record_id FROM duplicate_notices ORDER BY received_at DESC")?;
        let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let id = Uuid::from_slice(&row?).map_err(|e| StoreError::Damaged(e.to_string()))?;
            out.push(RecordId(id));
        }
        Ok(out)
    }

    /// How many local records the server says share their NIK with another record.
    pub fn duplicate_notice_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM duplicate_notices", [], |row| {
                row.get(0)
            })?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Marks the receipts' accepted and duplicate entries `acked`. When the
/// receipts cover one unbroken run of sequence numbers (the usual answer to
/// a push of the outbox in order), one range statement does it: every
/// number in the run has a receipt, and the rejected ones are no longer
/// `pending`. Otherwise, one statement per entry.
fn mark_acked(
    tx: &Transaction<'_>,
    receipts: &[lindung_shared::protocol::Receipt],
    acked_seqs: Vec<i64>,
) -> Result<(), StoreError> {
    const ACKED: &str =
        "UPDATE outbox SET state = 'acked', error_code = NULL, error_message = NULL,
             error_message_id = NULL, error_field = NULL
         WHERE state = 'pending' AND seq BETWEEN ?1 AND ?2";
    let mut all: Vec<u64> = receipts.iter().map(|r| r.seq).collect();
    all.sort_unstable();
    all.dedup();
    let unbroken = match (all.first(), all.last()) {
        (Some(&low), Some(&high)) => high - low + 1 == all.len() as u64,
        _ => false,
    };
    let mut acked = tx.prepare_cached(ACKED)?;
    if unbroken && let (Some(&low), Some(&high)) = (all.first(), all.last()) {
        if !acked_seqs.is_empty() {
            acked.execute(params![
                i64::try_from(low).unwrap_or(i64::MAX),
                i64::try_from(high).unwrap_or(i64::MAX)
            ])?;
        }
        return Ok(());
    }
    for seq in acked_seqs {
        acked.execute(params![seq, seq])?;
    }
    Ok(())
}

fn save_notice(
    tx: &Transaction<'_>,
    record: RecordId,
    others: &[DuplicateHolder],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let id = record.0.as_bytes().as_slice();
    if others.is_empty() {
        tx.prepare_cached("DELETE FROM duplicate_notices WHERE record_id = ?1")?
            .execute([id])?;
        return Ok(());
    }
    let json = serde_json::to_string(others).map_err(|e| StoreError::Damaged(e.to_string()))?;
    tx.prepare_cached(
        "INSERT INTO duplicate_notices (record_id, others, received_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (record_id) DO UPDATE SET others = ?2, received_at = ?3",
    )?
    .execute(params![id, json, rfc3339(now)])?;
    Ok(())
}
