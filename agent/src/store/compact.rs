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
//! [`Store::mark_synced`] compacts at most once a day with the retention in
//! `meta` (default [`DEFAULT_KEEP_DAYS`]); `lindung-agent compact` does it
//! now, sets the retention, and gives the freed space back to the disk.

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
        let unacknowledged: HashSet<i64> = tx
            .prepare("SELECT seq FROM outbox WHERE state != 'acked'")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
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

    /// Compacts with the stored retention if the last compaction is more
    /// than a day old (called after a sync).
    pub fn compact_if_due(
        &mut self,
        now: OffsetDateTime,
    ) -> Result<Option<CompactTally>, StoreError> {
        let last: Option<i64> =
            super::sync::meta(&self.conn, "compacted_day")?.and_then(|d| d.parse().ok());
        let today = now.unix_timestamp().div_euclid(86_400);
        if last.is_some_and(|day| day >= today) {
            return Ok(None);
        }
        let keep = time::Duration::days(i64::from(self.keep_days()?));
        let tally = self.compact(now - keep, false)?;
        super::sync::set_meta(&self.conn, "compacted_day", &today.to_string())?;
        Ok(Some(tally))
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
