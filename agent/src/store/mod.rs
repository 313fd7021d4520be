//! The agent's local store: an encrypted SQLite (SQLCipher) database.
//!
//! **Architecture invariant:** every change to a registration goes through
//! [`Store::apply_local`] (or [`Store::apply_local_batch`]), which in ONE transaction takes the next dense
//! sequence number, ticks the hybrid logical clock, appends the operation to
//! `operations` and `outbox`, replays the record's operations through the
//! merge rule from `lindung-shared` and rewrites the record's row in
//! `registrations`. A crash leaves either all of that or none of it. (The
//! stored operations are replayed and the new one is applied to that state in
//! memory, rather than read back after its insert: the same state, as the
//! rule is order-independent.)
//!
//! Tables (see `schema.rs`): `meta` (device identity, clock), `operations`
//! (every operation this replica knows: the merge rule's input), `outbox`
//! (this device's operations and their sync state), `registrations` (the
//! current state, materialised for queries) and `village_positions`.

mod body;
mod bundle;
mod compact;
mod error;
pub mod key;
mod records;
mod schema;
mod sync;

use std::path::{Path, PathBuf};

use lindung_shared::hlc::{Hlc, HlcClock};
use lindung_shared::ids::{DeviceId, OfficerId, RecordId};
use lindung_shared::merge::{Operation, RecordState};
use lindung_shared::registration::Change;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use time::OffsetDateTime;
use uuid::Uuid;

pub use bundle::{BundleKeys, LastExport};
pub use compact::{CompactTally, DEFAULT_KEEP_DAYS};
pub use error::StoreError;
pub use key::KdfCost;
pub use records::{
    CheckReport, DuplicateNik, ListFilter, ListedRegistration, OutboxEntry, POSSIBLE_DUPLICATE,
    ProbableDuplicate, Refusal, StoreStatus, SyncState, VillageProgress, changes_between,
};
pub use sync::{Enrollment, PullTally, PushTally, ServerTrust};

use key::{DatabaseKey, KEY_FILE, KeyFile, pending_path};

/// Name of the database file in the data directory.
pub const DATABASE_FILE: &str = "agent.db";

/// Shortest passphrase accepted at `init` and when changing it.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// An open, unlocked store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    /// SQLCipher page size of the database (recorded in its key file).
    page_size: u32,
    device_id: DeviceId,
    officer_id: OfficerId,
    officer_name: String,
    /// The key file and the key this store was unlocked with: a second
    /// connection ([`Store::another_connection`]) needs no second derivation.
    key_file: KeyFile,
    key: DatabaseKey,
}

impl Store {
    /// Creates a new store in `dir` for an officer, encrypted with a key
    /// derived from `passphrase`. Refuses if a store already exists there.
    pub fn init(
        dir: &Path,
        officer_name: &str,
        passphrase: &str,
        cost: KdfCost,
        now: OffsetDateTime,
    ) -> Result<Store, StoreError> {
        let officer_name = officer_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if officer_name.chars().count() < 2 {
            return Err(StoreError::OfficerNameRequired);
        }
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(StoreError::PassphraseTooShort);
        }
        let database = dir.join(DATABASE_FILE);
        if database.exists() {
            return Err(StoreError::AlreadyInitialised(dir.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let key_file = KeyFile::generate(cost)?;
        key_file.save(&dir.join(KEY_FILE))?;
        let key = key_file.derive(passphrase)?;
        let mut conn = Connection::open(&database).map_err(StoreError::Sqlite)?;
        conn.execute_batch(&key_file.unlock_sql(&key))?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let device_id = DeviceId(Uuid::now_v7());
        let officer_id = OfficerId(Uuid::now_v7());
        let tx = conn.transaction()?;
        for (name, value) in [
            ("device_id", device_id.to_string()),
            ("officer_id", officer_id.to_string()),
            ("officer_name", officer_name.clone()),
            ("created_at", rfc3339(now)),
            ("hlc_last", Hlc::ZERO.to_string()),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![name, value],
            )?;
        }
        tx.commit()?;
        Ok(Store {
            conn,
            dir: dir.to_owned(),
            page_size: key_file.cipher_page_size,
            device_id,
            officer_id,
            officer_name,
            key_file,
            key,
        })
    }

    /// Opens and unlocks the store in `dir`. A wrong passphrase is
    /// [`StoreError::WrongPassphrase`] and writes nothing.
    pub fn open(dir: &Path, passphrase: &str) -> Result<Store, StoreError> {
        let database = dir.join(DATABASE_FILE);
        if !database.exists() {
            return Err(StoreError::NotInitialised(dir.to_owned()));
        }
        let mut unlocked = None;
        for (key_file, pending) in KeyFile::load_candidates(dir)? {
            let key = key_file.derive(passphrase)?;
            let conn = Connection::open(&database).map_err(StoreError::Sqlite)?;
            // A wrong key is expected here; SQLCipher would log it to stderr.
            conn.execute_batch("PRAGMA cipher_log_level = NONE;")?;
            conn.execute_batch(&key_file.unlock_sql(&key))?;
            // The first read tells whether the key is right; nothing is written before it.
            match conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| {
                row.get::<_, i64>(0)
            }) {
                Ok(_) => {
                    if let Some(pending) = pending {
                        // A passphrase change was interrupted after re-keying: finish it.
                        std::fs::rename(&pending, dir.join(KEY_FILE))
                            .map_err(|e| StoreError::io(&pending, e))?;
                    }
                    unlocked = Some((conn, key_file, key));
                    break;
                }
                Err(e) if is_not_a_database(&e) => continue,
                Err(e) => return Err(StoreError::Sqlite(e)),
            }
        }
        let (conn, key_file, key) = unlocked.ok_or(StoreError::WrongPassphrase)?;
        Store::unlocked(conn, dir, key_file, key)
    }

    /// A store over a connection that the key just unlocked: settings,
    /// migrations, identity.
    fn unlocked(
        mut conn: Connection,
        dir: &Path,
        key_file: KeyFile,
        key: DatabaseKey,
    ) -> Result<Store, StoreError> {
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        let meta = |name: &str| -> Result<String, StoreError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [name], |row| {
                row.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::Damaged(format!("meta entry {name} is missing")))
        };
        let device_id = parse_id(&meta("device_id")?).map(DeviceId)?;
        let officer_id = parse_id(&meta("officer_id")?).map(OfficerId)?;
        let officer_name = meta("officer_name")?;
        Ok(Store {
            conn,
            dir: dir.to_owned(),
            page_size: key_file.cipher_page_size,
            device_id,
            officer_id,
            officer_name,
            key_file,
            key,
        })
    }

    /// A second connection to this store, unlocked with the key already
    /// derived (a key derivation costs 19 MiB and a noticeable moment): the
    /// UI's background sync has one of its own.
    pub fn another_connection(&self) -> Result<Store, StoreError> {
        let conn = Connection::open(self.dir.join(DATABASE_FILE)).map_err(StoreError::Sqlite)?;
        conn.execute_batch(&self.key_file.unlock_sql(&self.key))?;
        Store::unlocked(conn, &self.dir, self.key_file.clone(), self.key.clone())
    }

    /// Whether `passphrase` is this store's: the key it derives (with the
    /// key file the store was opened with) is the one the store is open
    /// with. Writes nothing.
    pub fn passphrase_matches(&self, passphrase: &str) -> Result<bool, StoreError> {
        Ok(self.key_file.derive(passphrase)?.same_as(&self.key))
    }

    /// Re-keys the database with a key derived from a new passphrase.
    pub fn change_passphrase(
        &mut self,
        new_passphrase: &str,
        cost: KdfCost,
    ) -> Result<(), StoreError> {
        if new_passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(StoreError::PassphraseTooShort);
        }
        // Re-keying keeps the page size, so the new key file must name it.
        let key_file = KeyFile::generate(cost)?.with_page_size(self.page_size);
        let key = key_file.derive(new_passphrase)?;
        let pending = pending_path(&self.dir);
        key_file.save(&pending)?;
        // SQLCipher re-encrypts every page; WAL content is checkpointed first.
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        self.conn
            .execute_batch(&format!("PRAGMA rekey = {};", key.pragma_literal()))?;
        std::fs::rename(&pending, self.dir.join(KEY_FILE))
            .map_err(|e| StoreError::io(&pending, e))?;
        self.key_file = key_file;
        self.key = key;
        Ok(())
    }

    /// This installation's device id.
    pub fn device_id(&self) -> DeviceId {
        self.device_id
    }

    /// The officer this store belongs to.
    pub fn officer(&self) -> (OfficerId, &str) {
        (self.officer_id, &self.officer_name)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes a local change: one operation, applied and queued for sync, in one transaction.
    pub fn apply_local(
        &mut self,
        record_id: RecordId,
        changes: Vec<Change>,
        now: OffsetDateTime,
    ) -> Result<Operation, StoreError> {
        let tx = write(&mut self.conn)?;
        let mut writer = LocalWriter::start(&tx, self.device_id)?;
        let operation = writer.append(&tx, record_id, changes, now)?;
        writer.finish(&tx)?;
        tx.commit()?;
        Ok(operation)
    }

    /// Starts a read transaction: the queries that follow see one snapshot and
    /// skip SQLite's per-statement locking (an import checks every row for
    /// duplicates; without this, each check locked and unlocked the WAL).
    /// End it with [`Store::end_read`] before writing.
    pub fn begin_read(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN DEFERRED")?;
        Ok(())
    }

    /// Ends a read transaction started by [`Store::begin_read`].
    pub fn end_read(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Runs several local changes in one transaction (an import batch).
    pub fn apply_local_batch(
        &mut self,
        batch: Vec<(RecordId, Vec<Change>)>,
        now: OffsetDateTime,
    ) -> Result<Vec<Operation>, StoreError> {
        let tx = write(&mut self.conn)?;
        let mut writer = LocalWriter::start(&tx, self.device_id)?;
        let mut operations = Vec::with_capacity(batch.len());
        for (record_id, changes) in batch {
            operations.push(writer.append(&tx, record_id, changes, now)?);
        }
        writer.finish(&tx)?;
        tx.commit()?;
        Ok(operations)
    }

    /// The merge state of one record: every version of every field.
    pub fn record_state(&self, record_id: RecordId) -> Result<RecordState, StoreError> {
        replay(&self.conn, record_id)
    }
}

/// The single write path (see the module invariant). Created once per
/// transaction: it reads the last sequence number and clock once, hands out
/// the following ones, and writes the clock back in [`LocalWriter::finish`],
/// inside the same transaction.
struct LocalWriter {
    device_id: DeviceId,
    next_seq: u64,
    clock: HlcClock,
}

impl LocalWriter {
    fn start(tx: &Transaction<'_>, device_id: DeviceId) -> Result<LocalWriter, StoreError> {
        let last_seq: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM operations WHERE device_id = ?1")?
            .query_row([device_id.0.as_bytes().as_slice()], |row| row.get(0))?;
        let hlc_text: String = tx
            .prepare_cached("SELECT value FROM meta WHERE key = 'hlc_last'")?
            .query_row([], |row| row.get(0))?;
        let last_hlc: Hlc = hlc_text
            .parse()
            .map_err(|e| StoreError::Damaged(format!("meta hlc_last: {e}")))?;
        Ok(LocalWriter {
            device_id,
            next_seq: u64::try_from(last_seq).unwrap_or(0) + 1,
            clock: HlcClock::resume(last_hlc),
        })
    }

    /// Appends one operation and rewrites the record's materialised row.
    fn append(
        &mut self,
        tx: &Transaction<'_>,
        record_id: RecordId,
        changes: Vec<Change>,
        now: OffsetDateTime,
    ) -> Result<Operation, StoreError> {
        let now_ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let operation = Operation {
            device_id: self.device_id,
            seq: self.next_seq,
            record_id,
            hlc: self.clock.tick(now_ms),
            changes,
        };
        operation.check_shape().map_err(StoreError::BadOperation)?;
        // The record's stored operations, then this one: the same state as
        // replaying after the insert (the merge rule is order-independent),
        // without reading back and decoding what was just written. A new
        // record has no stored operation, so this is one index probe.
        let mut state = replay(tx, record_id)?;
        state.apply(&operation);
        insert_operation(tx, &operation)?;
        tx.prepare_cached(
            "INSERT INTO outbox (seq, record_id, state, created_at) VALUES (?1, ?2, 'pending', ?3)",
        )?
        .execute(params![
            operation.seq as i64,
            record_id.0.as_bytes().as_slice(),
            rfc3339(now)
        ])?;
        self.next_seq += 1;
        records::materialise(tx, record_id, &state)?;
        Ok(operation)
    }

    /// Persists the clock, so it never goes backwards across restarts.
    fn finish(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'hlc_last'")?
            .execute([self.clock.last().to_string()])?;
        Ok(())
    }
}

/// Starts a write transaction. IMMEDIATE: it takes the write lock at once,
/// waiting (busy timeout) while another connection writes — the UI and its
/// background sync each have one. A deferred transaction that read first
/// could not wait: its upgrade fails at once with "database is locked" when
/// the other connection wrote since its snapshot.
pub(crate) fn write(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    Ok(conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
}

/// Stores an operation (idempotent: an operation already known is ignored).
fn insert_operation(tx: &Transaction<'_>, operation: &Operation) -> Result<bool, StoreError> {
    let body = body::encode(&operation.changes)?;
    let inserted = tx.prepare_cached(
        "INSERT OR IGNORE INTO operations (device_id, seq, record_id, hlc, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        operation.device_id.0.as_bytes().as_slice(),
        operation.seq as i64,
        operation.record_id.0.as_bytes().as_slice(),
        operation.hlc.to_u64() as i64,
        body
    ])?;
    Ok(inserted == 1)
}

/// Rebuilds a record's merge state from every stored operation on it.
fn replay(conn: &Connection, record_id: RecordId) -> Result<RecordState, StoreError> {
    let mut statement = conn
        .prepare_cached("SELECT device_id, seq, hlc, body FROM operations WHERE record_id = ?1")?;
    let mut rows = statement.query([record_id.0.as_bytes().as_slice()])?;
    let mut state = RecordState::default();
    while let Some(row) = rows.next()? {
        let device: Vec<u8> = row.get(0)?;
        let seq: i64 = row.get(1)?;
        let hlc: i64 = row.get(2)?;
        let changes = body::decode(row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)?;
        let device_id = Uuid::from_slice(&device)
            .map_err(|e| StoreError::Damaged(format!("device id: {e}")))?;
        state.apply(&Operation {
            device_id: DeviceId(device_id),
            seq: u64::try_from(seq).unwrap_or(0),
            record_id,
            hlc: Hlc::from_u64(hlc as u64),
            changes,
        });
    }
    Ok(state)
}

/// Connection settings: WAL for concurrent readers, FULL sync so a committed
/// registration survives a power cut, and a busy timeout for the sync loop.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -8000;",
    )?;
    Ok(())
}

fn is_not_a_database(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::NotADatabase)
}

fn parse_id(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Damaged(format!("id {text:?}: {e}")))
}

/// RFC 3339 text of a timestamp (UTC), as stored.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests;

/// The calendar date (UTC) of a timestamp, as shown in lists.
pub fn utc_date_text(at: OffsetDateTime) -> String {
    at.date().to_string()
}
