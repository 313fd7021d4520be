//! Compaction: what a store that has been used for a long time no longer needs.
//!
//! An operation older than the retention whose every change has been
//! overwritten by a later version of the same field (a greater
//! `(hlc, device, seq)`: see [`lindung_shared::merge`]) decides nothing any
//! more: the current value of each of its fields comes from another
//! operation, and any operation that arrives later either beats that other
//! one or loses to it as well. Such an operation is removed, with its outbox
//! row when it is this device's own — but only once the server has
//! acknowledged it: pending and refused changes are never touched. What
//! goes is the laptop's copy of old, overwritten values (the record page
//! shows fewer earlier values); the server keeps every version.
//!
//! This device's newest operation is never removed (the next sequence
//! number follows it), and `meta.compacted_own` counts the own operations
//! removed so that [`Store::check`] still finds the sequence whole.
//!
//! `lindung-agent compact` runs it with the retention in `meta` (default
//! [`DEFAULT_KEEP_DAYS`], `--keep-days` sets it) and gives the freed space
//! back to the disk. It is not run by itself after a sync: the retention is
//! measured on the laptop's clock, which may be a year off (see
//! `sync::SyncSummary::clock_offset_s`), and replicas that keep every
//! version are what the convergence simulation compares.

use std::collections::{HashMap, HashSet};

use lindung_shared::hlc::Hlc;
use lindung_shared::registration::Field;
use rusqlite::params;
use serde::Serialize;
use time::OffsetDateTime;

use super::{Store, StoreError, body, write};

/// Days an operation is kept before it may be compacted, unless set.
pub const DEFAULT_KEEP_DAYS: u32 = 180;

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompactTally {
    /// Operations removed (every change they made was overwritten later).
    pub operations_removed: u64,
    /// Operations kept.
    pub operations_kept: u64,
    /// Size of the store file before, in bytes.
    pub bytes_before: u64,
    /// Size of the store file after, in bytes.
    pub bytes_after: u64,
}

/// An operation as compaction sees it.
struct Stored {
    device: Vec<u8>,
    seq: i64,
    hlc: i64,
    fields: Vec<Field>,
}

impl Store {
    /// The retention in days ([`DEFAULT_KEEP_DAYS`] unless set).
    pub fn keep_days(&self) -> Result<u32, StoreError> {
        Ok(super::sync::meta(&self.conn, "keep_days")?
            .and_then(|days| days.parse().ok())
            .unwrap_or(DEFAULT_KEEP_DAYS))
    }

    /// Sets the retention in days.
    pub fn set_keep_days(&mut self, days: u32) -> Result<(), StoreError> {
        super::sync::set_meta(&self.conn, "keep_days", &days.to_string())
    }

    /// Removes the operations older than `before` that decide nothing any
    /// more (see the module documentation), in one transaction; with
    /// `vacuum`, gives the freed pages back to the file system too.
    pub fn compact(
        &mut self,
        before: OffsetDateTime,
        vacuum: bool,
    ) -> Result<CompactTally, StoreError> {
        let mut tally = CompactTally {
            bytes_before: self.file_size(),
            ..CompactTally::default()
        };
        let cutoff_ms = u64::try_from(before.unix_timestamp()).unwrap_or(0) * 1000;
        let cutoff = Hlc::new(cutoff_ms, 0).map_or(i64::MAX, |hlc| hlc.to_u64() as i64);
        let own = self.device_id.0.as_bytes().to_vec();
        let tx = write(&mut self.conn)?;
        let records: Vec<Vec<u8>> = tx
            .prepare("SELECT DISTINCT record_id FROM operations WHERE hlc < ?1")?
            .query_map([cutoff], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        // Own operations the server has not acknowledged stay whatever happens.
        let mut unacknowledged: HashSet<i64> = tx
            .prepare("SELECT seq FROM outbox WHERE state != 'acked'")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        // The newest own operation stays: the next sequence number follows it.
        let newest: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM operations WHERE device_id = ?1",
            [own.as_slice()],
            |row| row.get(0),
        )?;
        unacknowledged.insert(newest);
        let mut removable: Vec<(Vec<u8>, i64)> = Vec::new();
        {
            let mut ops = tx.prepare_cached(
                "SELECT device_id, seq, hlc, body FROM operations WHERE record_id = ?1",
            )?;
            for record in &records {
                let mut stored = Vec::new();
                let mut rows = ops.query([record.as_slice()])?;
                while let Some(row) = rows.next()? {
                    let changes =
                        body::decode(row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)?;
                    stored.push(Stored {
                        device: row.get(0)?,
                        seq: row.get(1)?,
                        hlc: row.get(2)?,
                        fields: changes.iter().map(|c| c.field()).collect(),
                    });
                }
                // The greatest version of each field: the operation that decides it.
                let mut deciding: HashMap<Field, (i64, &[u8], i64)> = HashMap::new();
                for op in &stored {
                    let key = (op.hlc, op.device.as_slice(), op.seq);
                    for field in &op.fields {
                        let entry = deciding.entry(*field).or_insert(key);
                        if key > *entry {
                            *entry = key;
                        }
                    }
                }
                for op in &stored {
                    let key = (op.hlc, op.device.as_slice(), op.seq);
                    let decides = op.fields.iter().any(|f| deciding.get(f) == Some(&key));
                    let pinned = op.device == own && unacknowledged.contains(&op.seq);
                    if op.hlc < cutoff && !decides && !pinned {
                        removable.push((op.device.clone(), op.seq));
                    }
                }
            }
        }
        {
            let mut delete_op =
                tx.prepare_cached("DELETE FROM operations WHERE device_id = ?1 AND seq = ?2")?;
            let mut delete_outbox =
                tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND state = 'acked'")?;
            for (device, seq) in &removable {
                delete_op.execute(params![device.as_slice(), seq])?;
                if *device == own {
                    delete_outbox.execute([seq])?;
                }
            }
        }
        tally.operations_removed = removable.len() as u64;
        let own_removed = removable
            .iter()
            .filter(|(device, _)| *device == own)
            .count() as u64;
        let compacted_own: u64 = super::sync::meta(&tx, "compacted_own")?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        super::sync::set_meta(
            &tx,
            "compacted_own",
            &(compacted_own + own_removed).to_string(),
        )?;
        tally.operations_kept = tx.query_row("SELECT count(*) FROM operations", [], |row| {
            row.get::<_, i64>(0)
        })? as u64;
        super::sync::set_meta(&tx, "compacted_at", &before.unix_timestamp().to_string())?;
        tx.commit()?;
        if vacuum {
            self.conn.execute_batch(
                "PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);",
            )?;
        }
        tally.bytes_after = self.file_size();
        Ok(tally)
    }

    /// Bytes of the store file and its write-ahead log.
    fn file_size(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut name = self.dir.join(super::DATABASE_FILE).into_os_string();
                name.push(suffix);
                std::fs::metadata(std::path::PathBuf::from(name)).ok()
            })
            .map(|meta| meta.len())
            .sum()
    }
}
