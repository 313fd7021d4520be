//! The embedded default backend: one SQLite file.
//!
//! One connection behind a mutex, used from tokio's blocking pool: SQLite
//! allows one writer at a time anyway, and holding the mutex for a whole push
//! is what serialises pushes (server sequence numbers in commit order). WAL
//! mode with `synchronous = FULL`: an acknowledged push survives a power cut.
//! A second connection on a thread of its own checkpoints the WAL after
//! pushes ([`Checkpointer`]), so a push does not checkpoint inside its commit.
//! Migrations are numbered by `PRAGMA user_version` and only ever added.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use lindung_shared::hlc::Hlc;
use lindung_shared::ids::{DeviceId, OfficerId, RecordId, StoreId};
use lindung_shared::merge::Operation;
use lindung_shared::nik::Nik;
use lindung_shared::protocol::{DuplicateHolder, DuplicateNotice, WireError};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AuditEntry, AuditFilter, AuditRecord, Authenticated, BundleDevice, BundleImport, ConflictEntry,
    Counts, CoverageCounts, CoverageTables, Device, DuplicateCandidate, DuplicateKind,
    EnrollRefusal, Enrollment, MergeEntry, NewEnrollmentCode, NewStaffSession, Officer, PullResult,
    PushQueue, PushResult, RecordsPage, ReferenceReplaced, Resolution, Result, Role,
    STAFF_OFFICER_ID, ServerBundleKeys, StaffAccount, StaffAction, StaffOutcome, StaffRequest,
    StaffSession, Storage, StorageError, Turn, entered_scope, from_json, from_ms, from_seq, json,
    ms, operation_body, parse_hash, prepare_push, record_state, records_page, to_seq,
    written_by_others,
};
use crate::ingest::{
    BatchClock, BatchContext, BatchPlan, DeviceScope, KnownOperation, StaffEdit, StoredRecord,
    advance_acknowledged, covers, niks_set_by, plan_batch, plan_prepared, staff_operations,
    staff_scope, undo_of, versions_to_locate,
};
use crate::persons::{CountedRecord, Person, Place, Recount};
use crate::reference::ReferenceRow;

/// Migrations, in order; `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: officers, devices, operations, records.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
     CREATE TABLE officers (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL,
         created_ms INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE officer_regions (
         officer_id TEXT NOT NULL REFERENCES officers(id),
         region_code TEXT NOT NULL,
         PRIMARY KEY (officer_id, region_code)
     ) STRICT;
     CREATE TABLE enrollment_codes (
         code_hash BLOB PRIMARY KEY,
         officer_id TEXT NOT NULL REFERENCES officers(id),
         created_ms INTEGER NOT NULL,
         expires_ms INTEGER NOT NULL,
         used_ms INTEGER,
         device_id TEXT
     ) STRICT;
     CREATE TABLE devices (
         id TEXT PRIMARY KEY,
         officer_id TEXT NOT NULL REFERENCES officers(id),
         name TEXT NOT NULL,
         token_hash BLOB NOT NULL UNIQUE,
         enrolled_ms INTEGER NOT NULL,
         revoked_ms INTEGER,
         last_seen_ms INTEGER,
         acknowledged_seq INTEGER NOT NULL DEFAULT 0
     ) STRICT;
     CREATE TABLE operations (
         server_seq INTEGER PRIMARY KEY,
         device_id TEXT NOT NULL,
         seq INTEGER NOT NULL,
         record_id TEXT NOT NULL,
         hlc INTEGER NOT NULL,
         original_hlc INTEGER NOT NULL,
         fingerprint BLOB NOT NULL,
         village_code TEXT NOT NULL,
         previous_village_code TEXT,
         body TEXT NOT NULL,
         received_ms INTEGER NOT NULL,
         UNIQUE (device_id, seq)
     ) STRICT;
     CREATE TABLE rejections (
         device_id TEXT NOT NULL,
         seq INTEGER NOT NULL,
         record_id TEXT NOT NULL,
         fingerprint BLOB NOT NULL,
         error TEXT NOT NULL,
         received_ms INTEGER NOT NULL,
         PRIMARY KEY (device_id, seq)
     ) STRICT;
     CREATE TABLE records (
         id TEXT PRIMARY KEY,
         state TEXT NOT NULL,
         village_code TEXT NOT NULL,
         nik TEXT,
         active INTEGER NOT NULL,
         officer_id TEXT,
         updated_seq INTEGER NOT NULL,
         duplicate_seq INTEGER
     ) STRICT;
     CREATE INDEX records_by_nik ON records (nik) WHERE nik IS NOT NULL;
     CREATE INDEX records_by_duplicate_seq ON records (duplicate_seq) WHERE duplicate_seq IS NOT NULL;",
    // 2: a record created by one operation stores no copy of its state
    // (`state` NULL: replay the operation at `updated_seq`). SQLite cannot
    // drop a NOT NULL constraint in place, so the table is rebuilt.
    "CREATE TABLE records_v2 (
         id TEXT PRIMARY KEY,
         state TEXT,
         village_code TEXT NOT NULL,
         nik TEXT,
         active INTEGER NOT NULL,
         officer_id TEXT,
         updated_seq INTEGER NOT NULL,
         duplicate_seq INTEGER
     ) STRICT;
     INSERT INTO records_v2 (id, state, village_code, nik, active, officer_id, updated_seq,
             duplicate_seq)
         SELECT id, state, village_code, nik, active, officer_id, updated_seq, duplicate_seq
         FROM records;
     DROP TABLE records;
     ALTER TABLE records_v2 RENAME TO records;
     CREATE INDEX records_by_nik ON records (nik) WHERE nik IS NOT NULL;
     CREATE INDEX records_by_duplicate_seq ON records (duplicate_seq) WHERE duplicate_seq IS NOT NULL;",
    // 3: reference data per region and year (denominators, baselines, targets).
    "CREATE TABLE reference_values (
         year INTEGER NOT NULL,
         region_code TEXT NOT NULL,
         working_population INTEGER,
         baseline INTEGER,
         target_bp INTEGER,
         category_denominators TEXT NOT NULL,
         PRIMARY KEY (year, region_code)
     ) STRICT;",
    // 4: what coverage counts by: category, payer, and when the server first
    // stored the record (the registration pace).
    "ALTER TABLE records ADD COLUMN category TEXT;
     ALTER TABLE records ADD COLUMN payer TEXT;
     ALTER TABLE records ADD COLUMN created_ms INTEGER;",
    // 5: persons (one per NIK with an active record, at its representative
    // record) and their counts per village, category and payer, kept in the
    // push transaction (see `persons`). Filled from the records here.
    "CREATE TABLE persons (
         nik TEXT PRIMARY KEY,
         village_code TEXT NOT NULL,
         category TEXT NOT NULL,
         payer TEXT NOT NULL
     ) STRICT;
     CREATE TABLE person_counts (
         village_code TEXT NOT NULL,
         category TEXT NOT NULL,
         payer TEXT NOT NULL,
         persons INTEGER NOT NULL,
         PRIMARY KEY (village_code, category, payer)
     ) STRICT;
     CREATE INDEX records_by_created ON records (created_ms) WHERE active;",
    // 6: contribution rates, effective-dated and editable (rates change by regulation).
    "CREATE TABLE contribution_rates (
         effective_from TEXT PRIMARY KEY,
         jkk_rate_bp INTEGER NOT NULL,
         jkk_min INTEGER NOT NULL,
         jkk_max INTEGER NOT NULL,
         jkm_flat INTEGER NOT NULL,
         jht_rate_bp INTEGER NOT NULL
     ) STRICT;",
    // 7: the audit log: every staff action and export (who, when, what).
    "CREATE TABLE audit_log (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         at_ms INTEGER NOT NULL,
         actor TEXT NOT NULL,
         action TEXT NOT NULL,
         subject TEXT NOT NULL,
         details TEXT NOT NULL
     ) STRICT;
     CREATE INDEX audit_log_by_action ON audit_log (action, id);",
    // 8: staff reconciliation. Records keep what the probable-duplicate
    // search compares; devices how far they have pulled (to tell a conflict
    // from a later edit); the conflict log and merges. The staff device
    // (see `ingest::staff_operations`) is created by `migrate`.
    "ALTER TABLE devices ADD COLUMN pulled_seq INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE records ADD COLUMN birth_date TEXT;
     ALTER TABLE records ADD COLUMN name_key TEXT;
     CREATE INDEX records_by_birth_date ON records (birth_date) WHERE birth_date IS NOT NULL;
     CREATE TABLE conflicts (
         id INTEGER PRIMARY KEY,
         record_id TEXT NOT NULL,
         field TEXT NOT NULL,
         village_code TEXT NOT NULL,
         kept TEXT NOT NULL,
         overwritten TEXT NOT NULL,
         server_seq INTEGER NOT NULL,
         detected_ms INTEGER NOT NULL,
         resolved_ms INTEGER,
         resolved_by TEXT,
         resolution TEXT
     ) STRICT;
     CREATE INDEX conflicts_by_record ON conflicts (record_id);
     CREATE TABLE merges (
         id INTEGER PRIMARY KEY,
         created_ms INTEGER NOT NULL,
         actor TEXT NOT NULL,
         survivor_id TEXT NOT NULL,
         members TEXT NOT NULL,
         undo TEXT NOT NULL,
         undone_ms INTEGER,
         undone_by TEXT
     ) STRICT;",
    // 9: central staff accounts for the staff API (tokens stored hashed).
    "CREATE TABLE staff_accounts (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL,
         token_hash BLOB NOT NULL UNIQUE,
         created_ms INTEGER NOT NULL,
         revoked_ms INTEGER
     ) STRICT;",
    // 10: coverage rolled up to the country, provinces and regencies
    // (`region_counts`), and persons first counted per region and
    // day (`region_days`, the pace), so a drill-down reads a few rows per
    // region; persons remember their first day. Filled by `migrate`.
    "DROP TABLE persons;
     CREATE TABLE persons (
         nik TEXT PRIMARY KEY,
         village_code TEXT NOT NULL,
         category TEXT NOT NULL,
         payer TEXT NOT NULL,
         first_day INTEGER NOT NULL
     ) STRICT, WITHOUT ROWID;
     CREATE INDEX persons_by_village_day ON persons (village_code, first_day);
     CREATE TABLE region_counts (
         level INTEGER NOT NULL,
         code TEXT NOT NULL,
         category TEXT NOT NULL,
         payer TEXT NOT NULL,
         persons INTEGER NOT NULL,
         PRIMARY KEY (level, code, category, payer)
     ) STRICT, WITHOUT ROWID;
     CREATE TABLE region_days (
         level INTEGER NOT NULL,
         code TEXT NOT NULL,
         day INTEGER NOT NULL,
         persons INTEGER NOT NULL,
         PRIMARY KEY (level, code, day)
     ) STRICT, WITHOUT ROWID;
     DROP INDEX records_by_created;",
    // 11: the web dashboard: staff logins with argon2id password hashes,
    // roles (staff, supervisor limited to a region, viewer), sessions
    // (only the SHA-256 of their id is stored) and failed-login bookkeeping
    // for rate limiting.
    "ALTER TABLE staff_accounts ADD COLUMN login TEXT;
     ALTER TABLE staff_accounts ADD COLUMN password_hash TEXT;
     ALTER TABLE staff_accounts ADD COLUMN role TEXT NOT NULL DEFAULT 'staff';
     ALTER TABLE staff_accounts ADD COLUMN region TEXT;
     CREATE UNIQUE INDEX staff_accounts_login ON staff_accounts (login);
     CREATE TABLE staff_sessions (
         id_hash BLOB PRIMARY KEY,
         account_id TEXT NOT NULL REFERENCES staff_accounts (id),
         csrf_token TEXT NOT NULL,
         created_ms INTEGER NOT NULL,
         last_seen_ms INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE login_failures (
         key TEXT NOT NULL,
         at_ms INTEGER NOT NULL
     ) STRICT;
     CREATE INDEX login_failures_key ON login_failures (key, at_ms);",
    // 12: token rotation: the next token of a device, accepted alongside
    // the current one until its first use makes it the current one.
    "ALTER TABLE devices ADD COLUMN next_token_hash BLOB;
     CREATE UNIQUE INDEX devices_next_token ON devices (next_token_hash)
         WHERE next_token_hash IS NOT NULL;",
    // 13: sneakernet bundles: each device's signing key, the store's own
    // keys, and every outbox bundle applied with the receipt it got.
    "ALTER TABLE devices ADD COLUMN bundle_public_key BLOB;
     CREATE TABLE bundle_keys (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         signing_seed BLOB NOT NULL,
         device_secret_root BLOB NOT NULL
     ) STRICT;
     CREATE TABLE bundle_imports (
         bundle_id TEXT PRIMARY KEY,
         device_id TEXT NOT NULL,
         imported_ms INTEGER NOT NULL,
         imported_by TEXT NOT NULL,
         operations INTEGER NOT NULL,
         accepted INTEGER NOT NULL,
         duplicates INTEGER NOT NULL,
         rejected INTEGER NOT NULL,
         receipt BLOB NOT NULL
     ) STRICT;
     CREATE INDEX bundle_imports_recent ON bundle_imports (imported_ms);",
    // 14: persons are no longer stored one by one (see `persons`): a NIK's
    // representative is read from `records` by NIK, and the pace of a
    // village or district counts representative records by village and
    // first-stored time. The counts tables stay as they are.
    "DROP TABLE persons;
     CREATE INDEX records_by_village_created ON records (village_code, created_ms, nik)
         WHERE active AND nik IS NOT NULL;",
    // 15: the village counts in one B-tree (WITHOUT ROWID, like the
    // region counts): a push's upsert per village place then touches one
    // tree instead of the key index and the table, and a region's villages
    // are read from the key order alone.
    "CREATE TABLE person_counts_v2 (
         village_code TEXT NOT NULL,
         category TEXT NOT NULL,
         payer TEXT NOT NULL,
         persons INTEGER NOT NULL,
         PRIMARY KEY (village_code, category, payer)
     ) STRICT, WITHOUT ROWID;
     INSERT INTO person_counts_v2 (village_code, category, payer, persons)
         SELECT village_code, category, payer, persons FROM person_counts;
     DROP TABLE person_counts;
     ALTER TABLE person_counts_v2 RENAME TO person_counts;",
];

/// Index in [`MIGRATIONS`] of the migration that rolls coverage up; the
/// coverage tables are rebuilt after it.
const ROLLUP_MIGRATION: usize = 9;

/// Index in [`MIGRATIONS`] of the staff-reconciliation migration.
const STAFF_MIGRATION: usize = 7;

/// Page cache while coverage is rebuilt, in SQLite's negative-KiB form.
const RECOMPUTE_CACHE_KIB: i64 = -262_144;

/// The level of a rolled-up region (its code's length) as stored.
fn level_of(length: usize) -> i64 {
    i64::try_from(length).unwrap_or(i64::MAX)
}

/// Size of one read-ahead request ([`read_ahead`]).
#[cfg(target_os = "linux")]
const READ_AHEAD_CHUNK: u64 = 8 << 20;

/// Asks the OS, from a thread of its own, to read the whole store file into
/// its page cache. A recompute reads nearly every page of `records`, in
/// B-tree order, which is scattered over the file: with a cold cache (after
/// a restart, or other work pushing the file out) SQLite would fetch it
/// 4 KiB at a time, at random, and the recompute took twice as long
/// (BENCHMARKS.md, "Coverage recompute"). `posix_fadvise(WILLNEED)` in
/// 8 MiB chunks makes that one sequential read
/// without copying anything; pages already cached cost nothing. A failure
/// only costs speed, so it is logged and ignored.
#[cfg(target_os = "linux")]
fn read_ahead(path: &Path) {
    use rustix::fs::{Advice, fadvise};
    let path = path.to_owned();
    let spawned = std::thread::Builder::new()
        .name("sqlite-read-ahead".into())
        .spawn(move || {
            let advised = std::fs::File::open(&path).and_then(|file| {
                let length = file.metadata()?.len();
                let mut offset = 0;
                while offset < length {
                    let chunk = std::num::NonZeroU64::new(READ_AHEAD_CHUNK.min(length - offset));
                    fadvise(&file, offset, chunk, Advice::WillNeed)?;
                    offset += READ_AHEAD_CHUNK;
                }
                Ok(())
            });
            if let Err(error) = advised {
                tracing::debug!(%error, "read-ahead of the store for the recompute failed");
            }
        });
    if let Err(error) = spawned {
        tracing::debug!(%error, "cannot start the read-ahead thread");
    }
}

/// Elsewhere the recompute reads the file as SQLite asks for it.
#[cfg(not(target_os = "linux"))]
fn read_ahead(_path: &Path) {}

/// Rebuilds the coverage tables from `records` in one pass ([`Recount`]):
/// first the NIKs more than one record holds (an index-only scan of
/// `records_by_nik`, about 1 % of them), then every active record with a
/// NIK in table order (a sequential scan: no sort, no table lookup per
/// record), then the village, region and day counts are written. Nothing is
/// written per person.
///
/// With `store` (the database file, when `tx` holds the write lock and has
/// written nothing yet), the second half of the table is scanned at the same
/// time by a read-only connection on another thread: it sees exactly what
/// `tx` sees, since no other writer can commit meanwhile.
fn recompute_coverage_tables(tx: &Transaction<'_>, store: Option<&Path>) -> Result<u64> {
    let shared = {
        let mut statement = tx.prepare(
            "SELECT nik FROM records INDEXED BY records_by_nik
             WHERE nik IS NOT NULL GROUP BY nik HAVING COUNT(*) > 1",
        )?;
        let mut rows = statement.query([])?;
        let mut shared = Vec::new();
        while let Some(row) = rows.next()? {
            shared.push(Box::<str>::from(borrowed_text(row, 0)?.unwrap_or_default()));
        }
        shared
    };
    let mut recount = Recount::new(shared);
    let (first, last): (Option<i64>, Option<i64>) =
        tx.query_row("SELECT min(rowid), max(rowid) FROM records", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    if let (Some(first), Some(last)) = (first, last) {
        match store {
            Some(path) if last > first => {
                let middle = first + (last - first) / 2;
                let mut part = recount.part();
                std::thread::scope(|scope| -> Result<()> {
                    let helper = scope.spawn(move || -> Result<Recount> {
                        let reader = Connection::open_with_flags(
                            path,
                            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                        )?;
                        count_records(&reader, &mut part, middle + 1, last)?;
                        Ok(part)
                    });
                    count_records(tx, &mut recount, first, middle)?;
                    let part = helper.join().map_err(|_| {
                        StorageError::Task("the recompute's second scan panicked".into())
                    })??;
                    recount.merge(part);
                    Ok(())
                })?;
            }
            _ => count_records(tx, &mut recount, first, last)?,
        }
    }
    tx.execute_batch(
        "DELETE FROM person_counts; DELETE FROM region_counts; DELETE FROM region_days;",
    )?;
    let tally = recount.finish();
    let mut insert = tx.prepare(
        "INSERT INTO person_counts (village_code, category, payer, persons) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (place, persons) in tally.villages() {
        insert.execute(params![
            place.village_code,
            place.category,
            place.payer,
            from_seq(persons)
        ])?;
    }
    let mut insert = tx.prepare(
        "INSERT INTO region_counts (level, code, category, payer, persons)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (place, persons) in tally.regions() {
        insert.execute(params![
            level_of(place.village_code.len()),
            place.village_code,
            place.category,
            place.payer,
            from_seq(persons)
        ])?;
    }
    let mut insert =
        tx.prepare("INSERT INTO region_days (level, code, day, persons) VALUES (?1, ?2, ?3, ?4)")?;
    for ((code, day), persons) in tally.days() {
        insert.execute(params![level_of(code.len()), code, day, from_seq(persons)])?;
    }
    Ok(tally.persons())
}

/// Representative records first stored since a day, per region (`?2`:
/// the code length) within a prefix (`?1`), since day `?3`: the pace of
/// districts and villages. The villages come from `person_counts` (every
/// representative is counted there), so each is one index seek on
/// (village, first-stored time) instead of a walk over all the region's
/// records; whether a record is its NIK's representative is one seek in
/// the NIK index (the record itself is skipped by rowid, from the index).
const RECENT_REPRESENTATIVES: &str = "
    SELECT substr(r.village_code, 1, ?2), COUNT(*)
    FROM (SELECT DISTINCT village_code FROM person_counts
          WHERE village_code >= ?1 AND village_code < ?1 || ':') v
    CROSS JOIN records r INDEXED BY records_by_village_created
    WHERE r.village_code = v.village_code AND r.active AND r.nik IS NOT NULL
      AND r.created_ms >= ?3 * 86400000
      AND NOT EXISTS (SELECT 1 FROM records o WHERE o.nik = r.nik
          AND o.rowid <> r.rowid AND o.active AND o.id < r.id)
    GROUP BY 1";

/// Adds the active records with a NIK whose rowid is in `first..=last`.
fn count_records(
    connection: &Connection,
    recount: &mut Recount,
    first: i64,
    last: i64,
) -> Result<()> {
    let mut statement = connection.prepare(
        "SELECT nik, id, village_code, category, payer, created_ms
         FROM records NOT INDEXED
         WHERE rowid BETWEEN ?1 AND ?2 AND active AND nik IS NOT NULL",
    )?;
    let mut rows = statement.query([first, last])?;
    while let Some(row) = rows.next()? {
        recount.add(CountedRecord {
            nik: borrowed_text(row, 0)?.unwrap_or_default(),
            id: borrowed_text(row, 1)?.unwrap_or_default(),
            village_code: borrowed_text(row, 2)?.unwrap_or_default(),
            category: borrowed_text(row, 3)?,
            payer: borrowed_text(row, 4)?,
            created_ms: row.get(5)?,
        });
    }
    Ok(())
}

/// A text column read without copying it (`None` when NULL).
fn borrowed_text<'a>(
    row: &'a rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<&'a str>> {
    row.get_ref(index)?.as_str_or_null().map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    })
}

/// WAL frames after which the writer checkpoints by itself (about 64 MB
/// with 4 KiB pages): a backstop that bounds the WAL should the background
/// checkpointer fall behind. Normally it keeps the WAL far smaller.
const WAL_BACKSTOP_PAGES: i64 = 16_384;

/// The SQLite backend.
#[derive(Debug, Clone)]
pub struct SqliteStorage {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
    checkpointer: Arc<Checkpointer>,
    /// Pushes waiting for the connection (group commit). A push is prepared
    /// ([`crate::ingest::prepare`]) before it queues; whichever push then gets
    /// the connection applies every queued push in one transaction, each in a
    /// savepoint of its own (unless it is alone: then the transaction itself
    /// undoes it), and answers them all after the one commit. So
    /// many laptops pushing at once share commits: every index page they touch
    /// is written to the WAL (and synced) once per group instead of once per
    /// push, and the coverage count changes of the whole group are written once,
    /// as their sum ([`crate::persons::PersonChanges::add`]). A push's answer
    /// still comes only after its changes are durable.
    pushes: Arc<PushQueue<PushJob>>,
}

/// One queued push; its answer goes back over a standard channel.
type PushJob = super::QueuedPush<std::sync::mpsc::Sender<Result<PushResult>>>;

/// Applies queued pushes in one transaction and answers each (group commit:
/// see `SqliteStorage::pushes`).
fn apply_pushes(connection: &mut Connection, jobs: Vec<PushJob>) {
    tracing::debug!(pushes = jobs.len(), "one transaction for queued pushes");
    let mut tx =
        match connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(error) => {
                let error = StorageError::from(error);
                for job in jobs {
                    let _ = job.answer.send(Err(error.for_each_push()));
                }
                return;
            }
        };
    let mut answers = Vec::with_capacity(jobs.len());
    // The group's count changes, written once (their sum) before the commit.
    let mut counts = crate::persons::PersonChanges::default();
    // A push alone needs no savepoint: if it fails, the whole transaction
    // is undone and it is the only one answered with the error. (A
    // savepoint copies every page it first changes into a sub-journal.)
    let alone = jobs.len() == 1;
    // Each push's plan, kept until the answers are sent.
    let mut leftovers = Vec::with_capacity(jobs.len());
    for job in jobs {
        let PushJob {
            device,
            operations,
            prepared,
            now,
            answer,
        } = job;
        let result = (|| -> Result<PushResult> {
            if alone {
                let (result, changes, plan) = push_in(&tx, &device, &operations, prepared, now)?;
                counts.add(changes);
                leftovers.push(plan);
                return Ok(result);
            }
            let savepoint = tx.savepoint()?;
            let (result, changes, plan) = push_in(&savepoint, &device, &operations, prepared, now)?;
            savepoint.commit()?;
            counts.add(changes);
            leftovers.push(plan);
            Ok(result)
        })();
        if alone && result.is_err() {
            // Undo whatever it wrote before failing: nothing else is in the
            // transaction.
            let _ = answer.send(result);
            drop(tx);
            return;
        }
        answers.push((answer, result, operations));
    }
    let committed = write_person_changes(&tx, &counts).and_then(|()| Ok(tx.commit()?));
    let mut operations = Vec::with_capacity(answers.len());
    match committed {
        Ok(()) => {
            for (answer, result, sent) in answers {
                let _ = answer.send(result);
                operations.push(sent);
            }
        }
        Err(error) => {
            for (answer, result, sent) in answers {
                let _ = answer.send(result.and(Err(error.for_each_push())));
                operations.push(sent);
            }
        }
    }
    // Freed only now, after the answers went out (freeing the plans' many
    // small allocations took a tenth of a push's time under the lock).
    drop((operations, leftovers, counts));
}

/// One push inside the group's transaction: its result, how it changed
/// the coverage counts (written for the whole group at the end), and its
/// plan, whose receipts went into the result (the rest is freed later).
fn push_in(
    connection: &Connection,
    device: &DeviceScope,
    operations: &[Operation],
    prepared: Vec<crate::ingest::PreparedOperation>,
    now: OffsetDateTime,
) -> Result<(PushResult, crate::persons::PersonChanges, BatchPlan)> {
    let context = load_context(connection, device, operations)?;
    let mut plan = plan_prepared(
        device,
        operations,
        prepared,
        context,
        BatchClock {
            now,
            regions: lindung_shared::region::regions(),
        },
    );
    let counted = counted_before(connection, &plan)?;
    let acknowledged_seq = write_plan(connection, device, &plan, now)?;
    let changes = person_changes(connection, &plan, &counted, now)?;
    Ok((
        PushResult {
            receipts: std::mem::take(&mut plan.receipts),
            acknowledged_seq,
        },
        changes,
        plan,
    ))
}

/// Copies the WAL back into the database file from a connection and thread
/// of its own, after pushes, so a push does not pay for the checkpoint that
/// SQLite would otherwise run inside its commit. PASSIVE checkpoints never
/// block the writer; a commit's durability comes from the WAL (`synchronous
/// = FULL`), not from the checkpoint. The thread ends when the storage (its
/// last clone) is dropped.
#[derive(Debug)]
struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        // Capacity 1: wake-ups while a checkpoint runs collapse into one.
        let (wake, woken) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    let checkpoint =
                        connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(error) = checkpoint {
                        tracing::warn!(%error, "background WAL checkpoint failed");
                    }
                }
            })
            .map_err(|source| StorageError::Io {
                context: "cannot start the WAL checkpoint thread".into(),
                source,
            })?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint soon (returns at once).
    fn nudge(&self) {
        if let Some(wake) = &self.wake {
            // Full means one is already due; disconnected cannot happen
            // before drop. Either way there is nothing to do.
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop after any running checkpoint.
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl SqliteStorage {
    /// Opens the file, creating it (and its directory) when missing, and migrates it.
    pub async fn open(path: &Path) -> Result<SqliteStorage> {
        let path = path.to_owned();
        let opened = path.clone();
        let (connection, checkpointer) = tokio::task::spawn_blocking(move || {
            let connection = open_blocking(&opened)?;
            Ok::<_, StorageError>((connection, Checkpointer::start(&opened)?))
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))??;
        Ok(SqliteStorage {
            path,
            connection: Arc::new(Mutex::new(connection)),
            checkpointer: Arc::new(checkpointer),
            pushes: Arc::new(PushQueue::default()),
        })
    }

    async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| StorageError::Task("a previous query panicked".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?
    }
}

fn open_blocking(path: &Path) -> Result<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StorageError::Io {
            context: format!("cannot create the directory {}", parent.display()),
            source,
        })?;
    }
    let mut connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // 256 MiB of page cache (SQLite allocates it as pages are read): the
    // indexes a push inserts into (record ids, NIKs) are keyed
    // randomly, so a small cache re-reads their pages for every batch.
    connection.pragma_update(None, "cache_size", -262_144)?;
    connection.pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    migrate(&mut connection)?;
    Ok(connection)
}

fn migrate(connection: &mut Connection) -> Result<()> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StorageError::SchemaTooNew {
            found: version,
            supported,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = connection.transaction()?;
        tx.execute_batch(migration)?;
        if index == ROLLUP_MIGRATION {
            recompute_coverage_tables(&tx, None)?;
        }
        if index == STAFF_MIGRATION {
            create_staff_device(&tx)?;
            backfill_duplicate_keys(&tx)?;
        }
        if index == 0 {
            let store_id = Uuid::new_v4().hyphenated().to_string();
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('store_id', ?1), ('last_server_seq', '0')",
                params![store_id],
            )?;
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Creates the staff officer and the staff device: revoked from the start
/// (no token can ever authenticate as it; its token is thrown away) and
/// having "seen everything", so its operations never count as conflicts.
fn create_staff_device(tx: &Transaction<'_>) -> Result<()> {
    let token = crate::secrets::new_token().map_err(|e| StorageError::Random(e.to_string()))?;
    tx.execute(
        "INSERT INTO officers (id, name, created_ms) VALUES (?1, 'Staf pusat / central staff', 0)",
        params![STAFF_OFFICER_ID.hyphenated().to_string()],
    )?;
    tx.execute(
        "INSERT INTO devices (id, officer_id, name, token_hash, enrolled_ms, revoked_ms,
             pulled_seq)
         VALUES (?1, ?2, 'staff', ?3, 0, 0, ?4)",
        params![
            Uuid::new_v4().hyphenated().to_string(),
            STAFF_OFFICER_ID.hyphenated().to_string(),
            &crate::secrets::token_hash(&token)[..],
            i64::MAX,
        ],
    )?;
    Ok(())
}

/// Fills `birth_date` and `name_key` of records stored before they existed.
fn backfill_duplicate_keys(tx: &Transaction<'_>) -> Result<()> {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM records WHERE birth_date IS NULL")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update =
        tx.prepare("UPDATE records SET birth_date = ?2, name_key = ?3 WHERE id = ?1")?;
    for id in ids {
        if let Some(record) = load_record(tx, &id)? {
            let (birth_date, name_key) = crate::ingest::duplicate_keys(&record.state);
            update.execute(params![id, birth_date, name_key])?;
        }
    }
    Ok(())
}

fn staff_device_id(connection: &Connection) -> Result<DeviceId> {
    let id: String = connection.query_row(
        "SELECT id FROM devices WHERE officer_id = ?1",
        params![STAFF_OFFICER_ID.hyphenated().to_string()],
        |row| row.get(0),
    )?;
    Ok(DeviceId(parse_uuid(&id)?))
}

/// Why a staff action can no longer be applied, if it cannot.
fn stale_action(tx: &Connection, action: &StaffAction) -> Result<Option<String>> {
    let (sql, id, what) = match action {
        StaffAction::ResolveConflict { conflict_id, .. } => (
            "SELECT resolved_ms FROM conflicts WHERE id = ?1",
            *conflict_id,
            "conflict",
        ),
        StaffAction::Unmerge { merge_id } => (
            "SELECT undone_ms FROM merges WHERE id = ?1",
            *merge_id,
            "merge",
        ),
        StaffAction::Merge { .. } => return Ok(None),
    };
    let closed: Option<Option<i64>> = tx
        .query_row(sql, params![id], |row| row.get(0))
        .optional()?;
    Ok(crate::ingest::staleness(
        what,
        id,
        closed.map(|c| c.is_some()),
    ))
}

const CONFLICT_COLUMNS: &str = "SELECT id, record_id, field, village_code, kept, overwritten,
     server_seq, detected_ms, resolved_ms, resolved_by, resolution FROM conflicts";

type ConflictRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

fn conflict_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ConflictRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
    ))
}

fn conflict_entry(row: ConflictRow) -> Result<ConflictEntry> {
    let (id, record, field, village_code, kept, overwritten, seq, detected, resolved, by, how) =
        row;
    Ok(ConflictEntry {
        id,
        record_id: RecordId(parse_uuid(&record)?),
        field: lindung_shared::registration::Field::from_name(&field)
            .ok_or_else(|| StorageError::Corrupt(format!("conflict field {field:?}")))?,
        village_code,
        kept: from_json(&kept)?,
        overwritten: from_json(&overwritten)?,
        server_seq: to_seq(seq),
        detected_at: from_ms(detected)?,
        resolved: match resolved {
            Some(at) => Some(Resolution {
                at: from_ms(at)?,
                by: by.unwrap_or_default(),
                how: how.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

const MERGE_COLUMNS: &str =
    "SELECT id, created_ms, actor, survivor_id, members, undo, undone_ms, undone_by FROM merges";

type MergeRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
);

fn merge_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MergeRow> {
    row.try_into()
}

fn merge_entry(row: MergeRow) -> Result<MergeEntry> {
    let (id, created, actor, survivor, members, undo, undone, undone_by) = row;
    Ok(MergeEntry {
        id,
        created_at: from_ms(created)?,
        actor,
        survivor: RecordId(parse_uuid(&survivor)?),
        members: from_json(&members)?,
        undo: from_json::<Vec<StaffEdit>>(&undo)?,
        undone: match undone {
            Some(at) => Some(Resolution {
                at: from_ms(at)?,
                by: undone_by.unwrap_or_default(),
                how: "undone".to_owned(),
            }),
            None => None,
        },
    })
}

fn parse_nik(text: &str) -> Result<Nik> {
    Nik::from_digits(text).map_err(|e| StorageError::Corrupt(format!("stored NIK: {e:?}")))
}

const STAFF_COLUMNS: &str = "SELECT id, name, created_ms, revoked_ms, login, role, region, password_hash FROM staff_accounts";

/// A `staff_accounts` row as read by [`STAFF_COLUMNS`].
type StaffRow = (
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

fn staff_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StaffRow> {
    row.try_into()
}

fn staff_account(row: StaffRow) -> Result<StaffAccount> {
    Ok(staff_account_and_password(row)?.0)
}

fn staff_account_and_password(row: StaffRow) -> Result<(StaffAccount, Option<String>)> {
    let (id, name, created, revoked, login, role, region, password_hash) = row;
    Ok((
        StaffAccount {
            id: parse_uuid(&id)?,
            name,
            created_at: from_ms(created)?,
            revoked_at: revoked.map(from_ms).transpose()?,
            login,
            role: Role::parse(&role)
                .ok_or_else(|| StorageError::Corrupt(format!("staff role {role:?}")))?,
            region,
        },
        password_hash,
    ))
}

type BundleImportRow = (String, String, i64, String, i64, i64, i64, i64, Vec<u8>);

fn bundle_import_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<BundleImportRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn bundle_import_from(row: BundleImportRow) -> Result<BundleImport> {
    let (bundle, device, at, by, operations, accepted, duplicates, rejected, receipt) = row;
    Ok(BundleImport {
        bundle_id: parse_uuid(&bundle)?,
        device_id: DeviceId(parse_uuid(&device)?),
        imported_at: from_ms(at)?,
        imported_by: by,
        operations: to_seq(operations),
        accepted: to_seq(accepted),
        duplicates: to_seq(duplicates),
        rejected: to_seq(rejected),
        receipt,
    })
}

fn parse_uuid(text: &str) -> Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| StorageError::Corrupt(format!("id {text:?}: {e}")))
}

fn regions_of(tx: &Connection, officer: &str) -> Result<Vec<String>> {
    let mut statement = tx.prepare_cached(
        "SELECT region_code FROM officer_regions WHERE officer_id = ?1 ORDER BY region_code",
    )?;
    let regions = statement
        .query_map(params![officer], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(regions)
}

fn officer_by_id(connection: &Connection, id: &str) -> Result<Option<Officer>> {
    let row: Option<(String, String, i64)> = connection
        .query_row(
            "SELECT id, name, created_ms FROM officers WHERE id = ?1 AND id <> ?2",
            params![id, STAFF_OFFICER_ID.hyphenated().to_string()],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((id, name, created_ms)) = row else {
        return Ok(None);
    };
    Ok(Some(Officer {
        regions: regions_of(connection, &id)?,
        id: OfficerId(parse_uuid(&id)?),
        name,
        created_at: from_ms(created_ms)?,
    }))
}

fn last_server_seq(tx: &Connection) -> Result<u64> {
    let text: String = tx.query_row(
        "SELECT value FROM meta WHERE key = 'last_server_seq'",
        [],
        |row| row.get(0),
    )?;
    text.parse()
        .map_err(|_| StorageError::Corrupt(format!("last_server_seq {text:?}")))
}

fn load_record(tx: &Connection, id: &str) -> Result<Option<StoredRecord>> {
    let mut statement = tx.prepare_cached(
        "SELECT r.state, r.officer_id, o.body FROM records r
         LEFT JOIN operations o ON r.state IS NULL AND o.server_seq = r.updated_seq
         WHERE r.id = ?1",
    )?;
    type Row = (Option<String>, Option<String>, Option<String>);
    let row: Option<Row> = statement
        .query_row(params![id], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    let Some((state, officer, creating_body)) = row else {
        return Ok(None);
    };
    Ok(Some(StoredRecord {
        state: record_state(state.as_deref(), creating_body.as_deref())?,
        officer_id: officer
            .as_deref()
            .map(parse_uuid)
            .transpose()?
            .map(OfficerId),
    }))
}

fn load_context(
    tx: &Connection,
    device: &DeviceScope,
    operations: &[Operation],
) -> Result<BatchContext> {
    let device_text = device.device_id.to_string();
    let mut context = BatchContext {
        last_server_seq: last_server_seq(tx)?,
        ..BatchContext::default()
    };
    if let (Some(low), Some(high)) = (
        operations.iter().map(|o| o.seq).min(),
        operations.iter().map(|o| o.seq).max(),
    ) {
        let mut statement = tx.prepare_cached(
            "SELECT seq, fingerprint, NULL, hlc FROM operations WHERE device_id = ?1 AND seq BETWEEN ?2 AND ?3
             UNION ALL
             SELECT seq, fingerprint, error, NULL FROM rejections WHERE device_id = ?1 AND seq BETWEEN ?2 AND ?3",
        )?;
        let mut rows = statement.query(params![device_text, from_seq(low), from_seq(high)])?;
        while let Some(row) = rows.next()? {
            let seq = to_seq(row.get(0)?);
            let fingerprint = parse_hash(row.get(1)?)?;
            let rejection: Option<String> = row.get(2)?;
            let rejection = rejection
                .as_deref()
                .map(from_json::<WireError>)
                .transpose()?;
            let hlc: Option<i64> = row.get(3)?;
            context.known.insert(
                seq,
                KnownOperation {
                    fingerprint,
                    rejection,
                    hlc: hlc.map(|hlc| Hlc::from_u64(hlc as u64)),
                },
            );
        }
    }
    let mut niks: BTreeSet<Nik> = niks_set_by(operations);
    let record_ids: BTreeSet<RecordId> = operations.iter().map(|o| o.record_id).collect();
    for id in record_ids {
        if let Some(record) = load_record(tx, &id.to_string())? {
            if let Some(lindung_shared::registration::Change::Nik(nik)) = record
                .state
                .current(lindung_shared::registration::Field::Nik)
            {
                niks.insert(*nik);
            }
            context.records.insert(id, record);
        }
    }
    let mut statement = tx.prepare_cached("SELECT id FROM records WHERE nik = ?1")?;
    for nik in niks {
        let holders = statement
            .query_map(params![nik.as_str()], |row| row.get::<_, String>(0))?
            .map(|id| Ok(RecordId(parse_uuid(&id?)?)))
            .collect::<Result<BTreeSet<RecordId>>>()?;
        context.nik_holders.insert(nik, holders);
    }
    let pulled: Option<i64> = tx
        .query_row(
            "SELECT pulled_seq FROM devices WHERE id = ?1",
            params![device_text],
            |row| row.get(0),
        )
        .optional()?;
    context.pulled_seq = pulled.map_or(0, to_seq).max(device.pulled_upto);
    let mut statement =
        tx.prepare_cached("SELECT server_seq FROM operations WHERE device_id = ?1 AND seq = ?2")?;
    for op in versions_to_locate(device, operations, &context.records) {
        let found: Option<i64> = statement
            .query_row(params![op.device_id.to_string(), from_seq(op.seq)], |row| {
                row.get(0)
            })
            .optional()?;
        if let Some(server_seq) = found {
            context.version_seqs.insert(op, to_seq(server_seq));
        }
    }
    Ok(context)
}

/// The representative of a record as counted: its village, category,
/// payer and first-stored day.
const REPRESENTATIVE_SQL: &str = "SELECT village_code, COALESCE(category, 'unknown'),
        COALESCE(payer, 'unknown'), COALESCE(created_ms, 0) / 86400000
     FROM records WHERE nik = ?1 AND active ORDER BY id LIMIT 1";

fn person_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        place: Place {
            village_code: row.get(0)?,
            category: row.get(1)?,
            payer: row.get(2)?,
        },
        first_day: row.get(3)?,
    })
}

/// The current representatives of `niks` (those without an active record
/// are absent).
fn representatives<'a>(
    tx: &Connection,
    niks: impl Iterator<Item = &'a Nik>,
) -> Result<HashMap<Nik, Person>> {
    let mut statement = tx.prepare_cached(REPRESENTATIVE_SQL)?;
    let mut found = HashMap::new();
    for nik in niks {
        if let Some(person) = statement.query_row([nik.as_str()], person_of).optional()? {
            found.insert(*nik, person);
        }
    }
    Ok(found)
}

/// The persons a batch may change, as counted before it writes: the
/// representatives of its affected NIKs that stored records hold.
fn counted_before(tx: &Connection, plan: &BatchPlan) -> Result<HashMap<Nik, Person>> {
    representatives(tx, plan.affected_niks.difference(&plan.unheld_before))
}

/// Brings the coverage tables up to date for the NIKs a batch touched,
/// after its writes; `stored` is [`counted_before`] the writes.
fn refresh_persons(
    tx: &Connection,
    plan: &BatchPlan,
    stored: &HashMap<Nik, Person>,
    now: OffsetDateTime,
) -> Result<()> {
    let changes = person_changes(tx, plan, stored, now)?;
    write_person_changes(tx, &changes)
}

/// How a batch changed the counts, after its writes; `stored` is
/// [`counted_before`] them.
fn person_changes(
    tx: &Connection,
    plan: &BatchPlan,
    stored: &HashMap<Nik, Person>,
    now: OffsetDateTime,
) -> Result<crate::persons::PersonChanges> {
    let affected = &plan.affected_niks;
    if affected.is_empty() {
        return Ok(Default::default());
    }
    let (mut current, to_read) = crate::persons::representatives_in_batch(
        &plan.records,
        &plan.unheld_before,
        crate::persons::day_of(ms(now)),
    );
    current.extend(representatives(
        tx,
        affected.difference(&plan.unheld_before).chain(&to_read),
    )?);
    Ok(crate::persons::changes(affected, stored, &current))
}

/// Writes count changes ([`person_changes`], or a group's sum). A rolled-up
/// region's level is its code's length.
fn write_person_changes(tx: &Connection, changes: &crate::persons::PersonChanges) -> Result<()> {
    add_counts(
        tx,
        "INSERT INTO person_counts (village_code, category, payer, persons)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (village_code, category, payer)
             DO UPDATE SET persons = persons + excluded.persons",
        "DELETE FROM person_counts
         WHERE village_code = ?1 AND category = ?2 AND payer = ?3 AND persons = 0",
        changes
            .deltas
            .iter()
            .map(|(place, delta)| (place_key(place), *delta)),
    )?;
    add_counts(
        tx,
        "INSERT INTO region_counts (level, code, category, payer, persons)
         VALUES (length(?1), ?1, ?2, ?3, ?4)
         ON CONFLICT (level, code, category, payer)
             DO UPDATE SET persons = persons + excluded.persons",
        "DELETE FROM region_counts
         WHERE level = length(?1) AND code = ?1 AND category = ?2 AND payer = ?3
           AND persons = 0",
        changes
            .region_deltas
            .iter()
            .map(|(place, delta)| (place_key(place), *delta)),
    )?;
    add_counts(
        tx,
        "INSERT INTO region_days (level, code, day, persons) VALUES (length(?1), ?1, ?2, ?3)
         ON CONFLICT (level, code, day) DO UPDATE SET persons = persons + excluded.persons",
        "DELETE FROM region_days WHERE level = length(?1) AND code = ?1 AND day = ?2
           AND persons = 0",
        changes.day_deltas.iter().map(|((code, day), delta)| {
            let key: [&dyn rusqlite::ToSql; 2] = [code, day];
            (key, *delta)
        }),
    )
}

/// A count row's key columns after the level: code, category, payer.
fn place_key(place: &Place) -> [&dyn rusqlite::ToSql; 3] {
    [&place.village_code, &place.category, &place.payer]
}

/// Adds each delta to its count row: `upsert` takes the row's key columns
/// then the delta, `prune` the key alone and removes the row once it is
/// zero (only a decrease can make it so). One prepared statement each.
fn add_counts<'k, const N: usize>(
    tx: &Connection,
    upsert: &str,
    prune: &str,
    rows: impl ExactSizeIterator<Item = ([&'k dyn rusqlite::ToSql; N], i64)>,
) -> Result<()> {
    if rows.len() == 0 {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(upsert)?;
    let mut prune = tx.prepare_cached(prune)?;
    for (key, delta) in rows {
        let mut values = key.to_vec();
        values.push(&delta);
        upsert.execute(values.as_slice())?;
        if delta < 0 {
            prune.execute(&key[..])?;
        }
    }
    Ok(())
}

fn write_plan(
    tx: &Connection,
    device: &DeviceScope,
    plan: &BatchPlan,
    now: OffsetDateTime,
) -> Result<u64> {
    let device_text = device.device_id.to_string();
    let now_ms = ms(now);
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO operations (server_seq, device_id, seq, record_id, hlc, original_hlc,
                 fingerprint, village_code, previous_village_code, body, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for accepted in &plan.accepted {
            let op = &accepted.operation;
            insert.execute(params![
                from_seq(accepted.server_seq),
                device_text,
                from_seq(op.seq),
                op.record_id.to_string(),
                op.hlc.to_u64() as i64,
                accepted.original_hlc.to_u64() as i64,
                &accepted.fingerprint[..],
                accepted.village_code,
                accepted.previous_village_code,
                operation_body(accepted)?,
                now_ms,
            ])?;
        }
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO rejections (device_id, seq, record_id, fingerprint, error, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for rejected in &plan.rejected {
            insert.execute(params![
                device_text,
                from_seq(rejected.seq),
                rejected.record_id.to_string(),
                &rejected.fingerprint[..],
                json(&rejected.error)?,
                now_ms,
            ])?;
        }
    }
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO records (id, state, village_code, nik, active, officer_id, updated_seq,
                 category, payer, created_ms, birth_date, name_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                 village_code = excluded.village_code, nik = excluded.nik,
                 active = excluded.active, officer_id = excluded.officer_id,
                 updated_seq = excluded.updated_seq, category = excluded.category,
                 payer = excluded.payer, birth_date = excluded.birth_date,
                 name_key = excluded.name_key",
        )?;
        for record in &plan.records {
            let state = if record.single_operation {
                None
            } else {
                Some(json(&record.state)?)
            };
            upsert.execute(params![
                record.record_id.to_string(),
                state,
                record.village_code,
                record.nik.as_ref().map(Nik::as_str),
                record.active,
                record.officer_id.map(|o| o.to_string()),
                from_seq(record.updated_seq),
                record.category,
                record.payer,
                now_ms,
                record.birth_date,
                record.name_key,
            ])?;
        }
        let mut mark = tx.prepare_cached("UPDATE records SET duplicate_seq = ?2 WHERE id = ?1")?;
        for (record_id, seq) in &plan.duplicate_marks {
            mark.execute(params![record_id.to_string(), from_seq(*seq)])?;
        }
    }
    if !plan.conflicts.is_empty() {
        let mut insert = tx.prepare_cached(
            "INSERT INTO conflicts (record_id, field, village_code, kept, overwritten, server_seq,
                 detected_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for conflict in &plan.conflicts {
            insert.execute(params![
                conflict.record_id.to_string(),
                conflict.field.as_str(),
                conflict.village_code,
                json(&conflict.kept)?,
                json(&conflict.overwritten)?,
                from_seq(conflict.server_seq),
                now_ms,
            ])?;
        }
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'last_server_seq'",
        params![plan.last_server_seq.to_string()],
    )?;
    let acknowledged: i64 = tx.query_row(
        "SELECT acknowledged_seq FROM devices WHERE id = ?1",
        params![device_text],
        |row| row.get(0),
    )?;
    // (The staff device has a row too, so this holds for staff edits.)
    let acknowledged = to_seq(acknowledged);
    let mut statement = tx.prepare_cached(
        "SELECT seq FROM operations WHERE device_id = ?1 AND seq > ?2
         UNION ALL SELECT seq FROM rejections WHERE device_id = ?1 AND seq > ?2",
    )?;
    let held = statement
        .query_map(params![device_text, from_seq(acknowledged)], |row| {
            row.get::<_, i64>(0)
        })?
        .map(|seq| seq.map(to_seq))
        .collect::<rusqlite::Result<Vec<u64>>>()?;
    let acknowledged = advance_acknowledged(acknowledged, held);
    tx.execute(
        "UPDATE devices SET acknowledged_seq = ?2, last_seen_ms = ?3 WHERE id = ?1",
        params![device_text, from_seq(acknowledged), now_ms],
    )?;
    Ok(acknowledged)
}

/// The operations of other devices on `operation`'s record stored before
/// it (at `server_seq`), in server order: found through the record's
/// versions, each by its (device, sequence) key.
fn earlier_operations(
    tx: &Connection,
    device: &DeviceScope,
    operation: &Operation,
    server_seq: u64,
) -> Result<Vec<Operation>> {
    let Some(record) = load_record(tx, &operation.record_id.to_string())? else {
        return Ok(Vec::new());
    };
    let mut statement = tx.prepare_cached(
        "SELECT server_seq, body FROM operations WHERE device_id = ?1 AND seq = ?2",
    )?;
    let mut earlier = Vec::new();
    for op in written_by_others(&record.state, device.device_id) {
        let row: Option<(i64, String)> = statement
            .query_row(params![op.device_id.to_string(), from_seq(op.seq)], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        if let Some((seq, body)) = row
            && to_seq(seq) < server_seq
        {
            earlier.push((seq, from_json::<Operation>(&body)?));
        }
    }
    earlier.sort_by_key(|(seq, _)| *seq);
    Ok(earlier.into_iter().map(|(_, op)| op).collect())
}

fn scope_clause(regions: &[String], first_parameter: usize) -> String {
    if regions.is_empty() {
        return "0".to_owned();
    }
    let parts: Vec<String> = (0..regions.len())
        .map(|i| {
            let p = first_parameter + i;
            format!("(village_code LIKE ?{p} || '%' OR previous_village_code LIKE ?{p} || '%')")
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

fn pull_blocking(
    connection: &mut Connection,
    device: &DeviceScope,
    cursor: u64,
    limit: u32,
) -> Result<PullResult> {
    let tx = connection.transaction()?;
    let last = last_server_seq(&tx)?;
    let device_text = device.device_id.to_string();
    // Asking from `cursor` means the device holds everything in its scope
    // up to there: later edits it makes have seen those changes.
    tx.execute(
        "UPDATE devices SET pulled_seq = ?2 WHERE id = ?1 AND pulled_seq < ?2",
        params![device_text, from_seq(cursor)],
    )?;
    let sql = format!(
        "SELECT server_seq, body, village_code, previous_village_code FROM operations
         WHERE server_seq > ?1 AND device_id <> ?2 AND {}
         ORDER BY server_seq LIMIT ?3",
        scope_clause(&device.regions, 4)
    );
    let mut values: Vec<rusqlite::types::Value> = vec![
        from_seq(cursor).into(),
        device_text.into(),
        (i64::from(limit) + 1).into(),
    ];
    values.extend(device.regions.iter().cloned().map(Into::into));
    let mut statement = tx.prepare_cached(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(values))?;
    let mut page = Vec::new();
    let mut last_seq = cursor;
    let mut has_more = false;
    while let Some(row) = rows.next()? {
        if page.len() == limit as usize {
            has_more = true;
            break;
        }
        last_seq = to_seq(row.get(0)?);
        let body: String = row.get(1)?;
        let operation = from_json::<Operation>(&body)?;
        let village: String = row.get(2)?;
        let previous: Option<String> = row.get(3)?;
        let entered = entered_scope(device, &village, previous.as_deref());
        page.push((last_seq, operation, entered));
    }
    drop(rows);
    drop(statement);
    let mut operations = Vec::with_capacity(page.len());
    for (server_seq, operation, entered) in page {
        if entered {
            operations.extend(earlier_operations(&tx, device, &operation, server_seq)?);
        }
        operations.push(operation);
    }
    let next_cursor = if has_more { last_seq } else { last.max(cursor) };
    let duplicates = duplicate_notices(&tx, device, cursor, next_cursor)?;
    tx.commit()?;
    Ok(PullResult {
        operations,
        duplicates,
        next_cursor,
        has_more,
    })
}

fn duplicate_notices(
    tx: &Connection,
    device: &DeviceScope,
    after: u64,
    upto: u64,
) -> Result<Vec<DuplicateNotice>> {
    if upto <= after {
        return Ok(Vec::new());
    }
    let mut statement = tx.prepare_cached(
        "SELECT id, nik, village_code FROM records
         WHERE duplicate_seq > ?1 AND duplicate_seq <= ?2 ORDER BY duplicate_seq, id",
    )?;
    let marked = statement
        .query_map(params![from_seq(after), from_seq(upto)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut holders_of = tx.prepare_cached(
        "SELECT r.id, r.village_code, o.name FROM records r
         LEFT JOIN officers o ON o.id = r.officer_id
         WHERE r.nik = ?1 AND r.id <> ?2 ORDER BY r.id",
    )?;
    let mut notices = Vec::new();
    for (id, nik, village) in marked {
        if !covers(&device.regions, &village) {
            continue;
        }
        let others = match nik {
            Some(nik) => holders_of
                .query_map(params![nik, id], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                })?
                .map(|row| {
                    let (other, village_code, officer_name) = row?;
                    Ok(DuplicateHolder {
                        record_id: RecordId(parse_uuid(&other)?),
                        village_code,
                        officer_name,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            None => Vec::new(),
        };
        notices.push(DuplicateNotice {
            record_id: RecordId(parse_uuid(&id)?),
            others,
        });
    }
    Ok(notices)
}

#[async_trait]
impl Storage for SqliteStorage {
    fn describe(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    async fn store_id(&self) -> Result<StoreId> {
        self.run(|connection| {
            let text: String = connection.query_row(
                "SELECT value FROM meta WHERE key = 'store_id'",
                [],
                |row| row.get(0),
            )?;
            Ok(StoreId(parse_uuid(&text)?))
        })
        .await
    }

    async fn renew_store_id(&self) -> Result<StoreId> {
        self.run(|connection| {
            let id = Uuid::new_v4();
            connection.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'store_id'",
                params![id.hyphenated().to_string()],
            )?;
            Ok(StoreId(id))
        })
        .await
    }

    async fn last_hlc(&self) -> Result<Hlc> {
        self.run(|connection| {
            let packed: Option<i64> =
                connection.query_row("SELECT MAX(hlc) FROM operations", [], |row| row.get(0))?;
            Ok(Hlc::from_u64(packed.unwrap_or(0) as u64))
        })
        .await
    }

    async fn add_officer(&self, officer: &Officer) -> Result<()> {
        let officer = officer.clone();
        self.run(move |connection| {
            let tx = connection.transaction()?;
            let id = officer.id.to_string();
            tx.execute(
                "INSERT INTO officers (id, name, created_ms) VALUES (?1, ?2, ?3)",
                params![id, officer.name, ms(officer.created_at)],
            )?;
            for region in &officer.regions {
                tx.execute(
                    "INSERT OR IGNORE INTO officer_regions (officer_id, region_code) VALUES (?1, ?2)",
                    params![id, region],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn officers(&self) -> Result<Vec<Officer>> {
        self.run(|connection| {
            let ids = connection
                .prepare("SELECT id FROM officers WHERE id <> ?1 ORDER BY name, id")?
                .query_map([STAFF_OFFICER_ID.hyphenated().to_string()], |row| {
                    row.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ids.iter()
                .filter_map(|id| officer_by_id(connection, id).transpose())
                .collect()
        })
        .await
    }

    async fn officer(&self, id: OfficerId) -> Result<Option<Officer>> {
        self.run(move |connection| officer_by_id(connection, &id.to_string()))
            .await
    }

    async fn add_enrollment_code(&self, code: &NewEnrollmentCode) -> Result<()> {
        let code = code.clone();
        self.run(move |connection| {
            connection.execute(
                "INSERT INTO enrollment_codes (code_hash, officer_id, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    &code.code_hash[..],
                    code.officer_id.to_string(),
                    ms(code.created_at),
                    ms(code.expires_at)
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn enroll(&self, enrollment: &Enrollment) -> Result<Result<Officer, EnrollRefusal>> {
        let enrollment = enrollment.clone();
        self.run(move |connection| {
            let tx = connection.transaction()?;
            let code: Option<(String, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT officer_id, expires_ms, used_ms FROM enrollment_codes WHERE code_hash = ?1",
                    params![&enrollment.code_hash[..]],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            let Some((officer_id, expires_ms, used_ms)) = code else {
                return Ok(Err(EnrollRefusal::UnknownCode));
            };
            if used_ms.is_some() {
                return Ok(Err(EnrollRefusal::AlreadyUsed));
            }
            let now_ms = ms(enrollment.now);
            if expires_ms <= now_ms {
                return Ok(Err(EnrollRefusal::Expired));
            }
            let device_id = enrollment.device_id.to_string();
            let revoked: Option<Option<i64>> = tx
                .query_row(
                    "SELECT revoked_ms FROM devices WHERE id = ?1",
                    params![device_id],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(Some(_)) = revoked {
                return Ok(Err(EnrollRefusal::DeviceRevoked));
            }
            tx.execute(
                "INSERT INTO devices (id, officer_id, name, token_hash, enrolled_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET officer_id = excluded.officer_id,
                     name = excluded.name, token_hash = excluded.token_hash,
                     next_token_hash = NULL, enrolled_ms = excluded.enrolled_ms",
                params![
                    device_id,
                    officer_id,
                    enrollment.device_name,
                    &enrollment.token_hash[..],
                    now_ms
                ],
            )?;
            tx.execute(
                "UPDATE enrollment_codes SET used_ms = ?2, device_id = ?3 WHERE code_hash = ?1",
                params![&enrollment.code_hash[..], now_ms, device_id],
            )?;
            let officer = officer_by_id(&tx, &officer_id)?
                .ok_or_else(|| StorageError::Corrupt(format!("officer {officer_id} missing")))?;
            tx.commit()?;
            Ok(Ok(officer))
        })
        .await
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        self.run(|connection| {
            let mut statement = connection.prepare(
                "SELECT d.id, d.name, d.officer_id, o.name, d.enrolled_ms, d.revoked_ms,
                        d.last_seen_ms, d.acknowledged_seq
                 FROM devices d JOIN officers o ON o.id = d.officer_id
                 WHERE d.officer_id <> ?1
                 ORDER BY d.enrolled_ms DESC, d.id",
            )?;
            let rows = statement
                .query_map([STAFF_OFFICER_ID.hyphenated().to_string()], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                        row.get::<_, Option<i64>>(6)?,
                        row.get::<_, i64>(7)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(
                    |(id, name, officer, officer_name, enrolled, revoked, seen, ack)| {
                        Ok(Device {
                            id: DeviceId(parse_uuid(&id)?),
                            name,
                            officer_id: OfficerId(parse_uuid(&officer)?),
                            officer_name,
                            enrolled_at: from_ms(enrolled)?,
                            revoked_at: revoked.map(from_ms).transpose()?,
                            last_seen_at: seen.map(from_ms).transpose()?,
                            acknowledged_seq: to_seq(ack),
                        })
                    },
                )
                .collect()
        })
        .await
    }

    async fn bundle_device(&self, id: DeviceId) -> Result<Option<BundleDevice>> {
        self.run(move |connection| {
            type Row = (String, String, String, Option<i64>, Option<Vec<u8>>);
            let row: Option<Row> = connection
                .query_row(
                    "SELECT d.officer_id, o.name, d.name, d.revoked_ms, d.bundle_public_key
                     FROM devices d JOIN officers o ON o.id = d.officer_id
                     WHERE d.id = ?1",
                    [id.to_string()],
                    |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ))
                    },
                )
                .optional()?;
            let Some((officer, officer_name, name, revoked, key)) = row else {
                return Ok(None);
            };
            Ok(Some(BundleDevice {
                scope: DeviceScope {
                    device_id: id,
                    officer_id: OfficerId(parse_uuid(&officer)?),
                    officer_name,
                    regions: regions_of(connection, &officer)?,
                    pulled_upto: 0,
                },
                name,
                revoked_at: revoked.map(from_ms).transpose()?,
                public_key: key.map(parse_hash).transpose()?,
            }))
        })
        .await
    }

    async fn set_bundle_public_key(&self, id: DeviceId, public_key: &[u8; 32]) -> Result<()> {
        let key = *public_key;
        self.run(move |connection| {
            connection.execute(
                "UPDATE devices SET bundle_public_key = ?2 WHERE id = ?1",
                params![id.to_string(), &key[..]],
            )?;
            Ok(())
        })
        .await
    }

    async fn server_bundle_keys(&self, candidate: &ServerBundleKeys) -> Result<ServerBundleKeys> {
        let candidate = candidate.clone();
        self.run(move |connection| {
            connection.execute(
                "INSERT INTO bundle_keys (id, signing_seed, device_secret_root) VALUES (1, ?1, ?2)
                 ON CONFLICT (id) DO NOTHING",
                params![
                    &candidate.signing_seed[..],
                    &candidate.device_secret_root[..]
                ],
            )?;
            let (seed, root): (Vec<u8>, Vec<u8>) = connection.query_row(
                "SELECT signing_seed, device_secret_root FROM bundle_keys WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            Ok(ServerBundleKeys {
                signing_seed: parse_hash(seed)?,
                device_secret_root: parse_hash(root)?,
            })
        })
        .await
    }

    async fn bundle_import(&self, bundle_id: Uuid) -> Result<Option<BundleImport>> {
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT bundle_id, device_id, imported_ms, imported_by, operations, accepted,
                        duplicates, rejected, receipt
                 FROM bundle_imports WHERE bundle_id = ?1",
            )?;
            let mut found = statement
                .query_map([bundle_id.hyphenated().to_string()], bundle_import_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            found.pop().map(bundle_import_from).transpose()
        })
        .await
    }

    async fn record_bundle_import(&self, import: &BundleImport) -> Result<()> {
        let import = import.clone();
        self.run(move |connection| {
            connection.execute(
                "INSERT INTO bundle_imports (bundle_id, device_id, imported_ms, imported_by,
                     operations, accepted, duplicates, rejected, receipt)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (bundle_id) DO NOTHING",
                params![
                    import.bundle_id.hyphenated().to_string(),
                    import.device_id.to_string(),
                    ms(import.imported_at),
                    import.imported_by,
                    from_seq(import.operations),
                    from_seq(import.accepted),
                    from_seq(import.duplicates),
                    from_seq(import.rejected),
                    import.receipt,
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn bundle_imports(&self, limit: u32) -> Result<Vec<BundleImport>> {
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT bundle_id, device_id, imported_ms, imported_by, operations, accepted,
                        duplicates, rejected, x''
                 FROM bundle_imports ORDER BY imported_ms DESC, bundle_id LIMIT ?1",
            )?;
            let rows = statement
                .query_map([i64::from(limit)], bundle_import_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(bundle_import_from).collect()
        })
        .await
    }

    async fn revoke_device(&self, id: DeviceId, at: OffsetDateTime) -> Result<bool> {
        self.run(move |connection| {
            let changed = connection.execute(
                "UPDATE devices SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
                params![id.to_string(), ms(at)],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn authenticate(&self, token_hash: &[u8; 32]) -> Result<Option<Authenticated>> {
        let token_hash = *token_hash;
        self.run(move |connection| {
            type Row = (String, String, String, Option<i64>, bool);
            let row: Option<Row> = connection
                .prepare_cached(
                    "SELECT d.id, d.officer_id, o.name, d.revoked_ms, d.token_hash = ?1
                     FROM devices d JOIN officers o ON o.id = d.officer_id
                     WHERE d.token_hash = ?1 OR d.next_token_hash = ?1",
                )?
                .query_row(params![&token_hash[..]], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })
                .optional()?;
            let Some((device, officer, officer_name, revoked, current)) = row else {
                return Ok(None);
            };
            if !current {
                // The first use of a rotated token: it becomes the token,
                // and the previous one is forgotten (one statement; the
                // connection is this request's alone meanwhile).
                connection
                    .prepare_cached(
                        "UPDATE devices SET token_hash = next_token_hash, next_token_hash = NULL
                         WHERE id = ?1 AND next_token_hash = ?2",
                    )?
                    .execute(params![device, &token_hash[..]])?;
            }
            Ok(Some(Authenticated {
                scope: DeviceScope {
                    device_id: DeviceId(parse_uuid(&device)?),
                    officer_id: OfficerId(parse_uuid(&officer)?),
                    officer_name,
                    regions: regions_of(connection, &officer)?,
                    pulled_upto: 0,
                },
                revoked_at: revoked.map(from_ms).transpose()?,
            }))
        })
        .await
    }

    async fn rotate_device_token(
        &self,
        device: DeviceId,
        current: &[u8; 32],
        next: &[u8; 32],
    ) -> Result<bool> {
        let (current, next) = (*current, *next);
        self.run(move |connection| {
            let changed = connection.execute(
                "UPDATE devices SET next_token_hash = ?3
                 WHERE id = ?1 AND token_hash = ?2 AND revoked_ms IS NULL",
                params![device.to_string(), &current[..], &next[..]],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn push_in_turn<'a>(
        &'a self,
        device: &'a DeviceScope,
        operations: &'a [Operation],
        now: OffsetDateTime,
        turn: Turn<'a>,
    ) -> Result<Option<PushResult>> {
        // Outside the lock: several pushes prepare at once.
        let (device, operations, prepared) =
            prepare_push(device.clone(), operations.to_vec(), now).await?;
        if !turn.await {
            return Ok(None);
        }
        let connection = Arc::clone(&self.connection);
        let pushes = Arc::clone(&self.pushes);
        let result = tokio::task::spawn_blocking(move || {
            let (answer, answered) = std::sync::mpsc::channel();
            pushes.add(PushJob {
                device,
                operations,
                prepared,
                now,
                answer,
            });
            match connection.lock() {
                Ok(mut guard) => {
                    // Empty when an earlier holder took (and answered) this push.
                    let jobs = pushes.take();
                    if !jobs.is_empty() {
                        apply_pushes(&mut guard, jobs);
                    }
                }
                Err(_) => {
                    for job in pushes.take() {
                        let _ = job
                            .answer
                            .send(Err(StorageError::Task("a previous query panicked".into())));
                    }
                }
            }
            // Whoever took this push answered it before letting go of the
            // connection, so the answer is here now.
            answered
                .recv()
                .map_err(|_| StorageError::Task("the push was dropped unanswered".into()))?
        })
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?;
        self.checkpointer.nudge();
        result.map(Some)
    }

    async fn pull(&self, device: &DeviceScope, cursor: u64, limit: u32) -> Result<PullResult> {
        let device = device.clone();
        self.run(move |connection| pull_blocking(connection, &device, cursor, limit))
            .await
    }

    async fn record(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        self.run(move |connection| load_record(connection, &id.to_string()))
            .await
    }

    async fn counts(&self) -> Result<Counts> {
        self.run(|connection| {
            let count = |sql: &str| -> Result<u64> {
                Ok(to_seq(connection.query_row(sql, [], |row| row.get(0))?))
            };
            Ok(Counts {
                records: count("SELECT COUNT(*) FROM records")?,
                active_records: count("SELECT COUNT(*) FROM records WHERE active")?,
                operations: count("SELECT COUNT(*) FROM operations")?,
                rejections: count("SELECT COUNT(*) FROM rejections")?,
                records_in_duplicate_groups: count(
                    "SELECT COUNT(*) FROM records r WHERE nik IS NOT NULL AND EXISTS
                     (SELECT 1 FROM records o WHERE o.nik = r.nik AND o.id <> r.id)",
                )?,
                officers: count(&format!(
                    "SELECT COUNT(*) FROM officers WHERE id <> '{STAFF_OFFICER_ID}'"
                ))?,
                devices: count(&format!(
                    "SELECT COUNT(*) FROM devices WHERE officer_id <> '{STAFF_OFFICER_ID}'"
                ))?,
            })
        })
        .await
    }

    async fn replace_reference(&self, rows: &[ReferenceRow]) -> Result<ReferenceReplaced> {
        let rows = rows.to_vec();
        self.run(move |connection| {
            let tx = connection.transaction()?;
            let years: std::collections::BTreeSet<i32> = rows.iter().map(|r| r.year).collect();
            let mut replaced = ReferenceReplaced {
                years: years.iter().copied().collect(),
                ..ReferenceReplaced::default()
            };
            for year in &years {
                replaced.removed += tx.execute(
                    "DELETE FROM reference_values WHERE year = ?1",
                    params![year],
                )? as u64;
            }
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO reference_values (year, region_code, working_population, baseline,
                         target_bp, category_denominators)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for row in &rows {
                    insert.execute(params![
                        row.year,
                        row.region_code,
                        row.working_population.map(from_seq),
                        row.baseline.map(from_seq),
                        row.target_bp,
                        json(&row.category_denominators)?,
                    ])?;
                    replaced.stored += 1;
                }
            }
            tx.commit()?;
            Ok(replaced)
        })
        .await
    }

    async fn coverage_counts(&self, region_prefix: &str, since_ms: i64) -> Result<CoverageCounts> {
        let prefix = region_prefix.to_owned();
        let since_day = crate::persons::day_of(since_ms);
        self.run(move |connection| {
            let tx = connection.transaction()?;
            // A rolled-up region reads its own rows; a village (or any other
            // prefix) sums its villages. Codes are digits, and ':' sorts
            // right after '9', so `>= p AND < p || ':'` is "starts with p".
            let rolled_up = crate::persons::ROLLUP_LENGTHS.contains(&prefix.len());
            let (by_place, since) = if rolled_up {
                (
                    "SELECT category, payer, SUM(persons) FROM region_counts
                     WHERE level = length(?1) AND code = ?1 GROUP BY 1, 2",
                    "SELECT code, COALESCE(SUM(persons), 0) FROM region_days
                     WHERE level = ?2 AND code = ?1 AND day >= ?3 GROUP BY 1",
                )
            } else {
                (
                    "SELECT category, payer, SUM(persons) FROM person_counts
                     WHERE village_code >= ?1 AND village_code < ?1 || ':' GROUP BY 1, 2",
                    RECENT_REPRESENTATIVES,
                )
            };
            let mut counts = CoverageCounts::default();
            {
                let mut statement = tx.prepare_cached(by_place)?;
                let mut rows = statement.query(params![prefix])?;
                while let Some(row) = rows.next()? {
                    let category: String = row.get(0)?;
                    let payer: String = row.get(1)?;
                    let persons = to_seq(row.get(2)?);
                    counts.persons += persons;
                    *counts.by_category.entry(category).or_default() += persons;
                    *counts.by_payer.entry(payer).or_default() += persons;
                }
            }
            // Both statements answer per region code; the region is one.
            let persons_since = tx
                .prepare_cached(since)?
                .query_map(params![prefix, level_of(prefix.len()), since_day], |row| {
                    row.get::<_, i64>(1)
                })?
                .sum::<rusqlite::Result<i64>>()?;
            counts.persons_since = to_seq(persons_since);
            tx.commit()?;
            Ok(counts)
        })
        .await
    }

    async fn persons_by_region(
        &self,
        region_prefix: &str,
        length: usize,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        let prefix = region_prefix.to_owned();
        self.run(move |connection| {
            let sql = if crate::persons::ROLLUP_LENGTHS.contains(&length) {
                "SELECT code, SUM(persons) FROM region_counts
                 WHERE level = ?2 AND code >= ?1 AND code < ?1 || ':' GROUP BY 1"
            } else {
                "SELECT substr(village_code, 1, ?2), SUM(persons) FROM person_counts
                 WHERE village_code >= ?1 AND village_code < ?1 || ':' GROUP BY 1"
            };
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement
                .query_map(params![prefix, level_of(length)], |row| {
                    Ok((row.get::<_, String>(0)?, to_seq(row.get(1)?)))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn pace_by_region(
        &self,
        region_prefix: &str,
        length: usize,
        since_ms: i64,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        let prefix = region_prefix.to_owned();
        let since_day = crate::persons::day_of(since_ms);
        self.run(move |connection| {
            let sql = if crate::persons::ROLLUP_LENGTHS.contains(&length) {
                "SELECT code, SUM(persons) FROM region_days
                 WHERE level = ?2 AND code >= ?1 AND code < ?1 || ':' AND day >= ?3
                 GROUP BY 1 HAVING SUM(persons) > 0"
            } else {
                RECENT_REPRESENTATIVES
            };
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement
                .query_map(params![prefix, level_of(length), since_day], |row| {
                    Ok((row.get::<_, String>(0)?, to_seq(row.get(1)?)))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    async fn contribution_rates(&self) -> Result<Vec<lindung_shared::coverage::ContributionRates>> {
        self.run(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT effective_from, jkk_rate_bp, jkk_min, jkk_max, jkm_flat, jht_rate_bp
                 FROM contribution_rates ORDER BY effective_from",
            )?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, u32>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, u32>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(
                    |(from, jkk_rate_bp, jkk_min, jkk_max, jkm_flat, jht_rate_bp)| {
                        Ok(lindung_shared::coverage::ContributionRates {
                            effective_from: super::parse_date(&from)?,
                            jkk_rate_bp,
                            jkk_min: to_seq(jkk_min),
                            jkk_max: to_seq(jkk_max),
                            jkm_flat: to_seq(jkm_flat),
                            jht_rate_bp,
                        })
                    },
                )
                .collect()
        })
        .await
    }

    async fn set_contribution_rates(
        &self,
        rates: &lindung_shared::coverage::ContributionRates,
    ) -> Result<()> {
        let rates = *rates;
        self.run(move |connection| {
            connection.execute(
                "INSERT INTO contribution_rates (effective_from, jkk_rate_bp, jkk_min, jkk_max,
                     jkm_flat, jht_rate_bp) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (effective_from) DO UPDATE SET jkk_rate_bp = excluded.jkk_rate_bp,
                     jkk_min = excluded.jkk_min, jkk_max = excluded.jkk_max,
                     jkm_flat = excluded.jkm_flat, jht_rate_bp = excluded.jht_rate_bp",
                params![
                    rates.effective_from.to_string(),
                    rates.jkk_rate_bp,
                    from_seq(rates.jkk_min),
                    from_seq(rates.jkk_max),
                    from_seq(rates.jkm_flat),
                    rates.jht_rate_bp
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn recompute_coverage(&self) -> Result<u64> {
        self.run(|connection| {
            // A rebuild touches every page of the coverage tables: give it a
            // page cache of its own size (256 MiB), then the usual one back.
            let cache: i64 = connection.query_row("PRAGMA cache_size", [], |row| row.get(0))?;
            connection.execute_batch(&format!("PRAGMA cache_size = {RECOMPUTE_CACHE_KIB}"))?;
            let rebuilt = (|| {
                let tx = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let store = tx.path().filter(|path| !path.is_empty()).map(PathBuf::from);
                if let Some(path) = &store {
                    read_ahead(path);
                }
                let persons = recompute_coverage_tables(&tx, store.as_deref())?;
                tx.commit()?;
                Ok(persons)
            })();
            connection.execute_batch(&format!("PRAGMA cache_size = {cache}"))?;
            rebuilt
        })
        .await
    }

    async fn coverage_tables(&self) -> Result<CoverageTables> {
        self.run(|connection| {
            let tx = connection.transaction()?;
            let place = |row: &rusqlite::Row<'_>| -> rusqlite::Result<(Place, u64)> {
                Ok((
                    Place {
                        village_code: row.get(0)?,
                        category: row.get(1)?,
                        payer: row.get(2)?,
                    },
                    to_seq(row.get(3)?),
                ))
            };
            let villages = tx
                .prepare(
                    "SELECT village_code, category, payer, persons FROM person_counts ORDER BY 1, 2, 3",
                )?
                .query_map([], place)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let regions = tx
                .prepare(
                    "SELECT code, category, payer, persons FROM region_counts ORDER BY 2, 3, 4",
                )?
                .query_map([], place)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let days = tx
                .prepare("SELECT code, day, persons FROM region_days ORDER BY 1, 2")?
                .query_map([], |row| {
                    Ok(((row.get(0)?, row.get(1)?), to_seq(row.get(2)?)))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(CoverageTables {
                villages,
                regions,
                days,
            })
        })
        .await
    }

    async fn staff_edit(&self, request: StaffRequest, now: OffsetDateTime) -> Result<StaffOutcome> {
        let result = self
            .run(move |connection| {
                let tx = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                if let Some(stale) = stale_action(&tx, &request.action)? {
                    return Ok(StaffOutcome::Stale(stale));
                }
                let staff = staff_scope(staff_device_id(&tx)?);
                let first_seq: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM operations WHERE device_id = ?1",
                    params![staff.device_id.to_string()],
                    |row| row.get(0),
                )?;
                let first_seq = to_seq(first_seq);
                // Drafts name the records and values; the stamps need the records.
                let drafts = staff_operations(
                    staff.device_id,
                    first_seq,
                    now,
                    &request.edits,
                    &HashMap::new(),
                );
                let context = load_context(&tx, &staff, &drafts)?;
                let operations = staff_operations(
                    staff.device_id,
                    first_seq,
                    now,
                    &request.edits,
                    &context.records,
                );
                let undo = undo_of(&request.edits, &context.records);
                let plan = plan_batch(
                    &staff,
                    &operations,
                    context,
                    BatchClock {
                        now,
                        regions: lindung_shared::region::regions(),
                    },
                );
                let refused = crate::ingest::refusals(&operations, &plan);
                if !refused.is_empty() {
                    return Ok(StaffOutcome::Refused(refused));
                }
                let counted = counted_before(&tx, &plan)?;
                write_plan(&tx, &staff, &plan, now)?;
                refresh_persons(&tx, &plan, &counted, now)?;
                let now_ms = ms(now);
                let merge_id = match &request.action {
                    StaffAction::ResolveConflict { conflict_id, how } => {
                        tx.execute(
                            "UPDATE conflicts SET resolved_ms = ?2, resolved_by = ?3,
                                 resolution = ?4 WHERE id = ?1",
                            params![conflict_id, now_ms, request.actor, how],
                        )?;
                        None
                    }
                    StaffAction::Merge { survivor, members } => {
                        tx.execute(
                            "INSERT INTO merges (created_ms, actor, survivor_id, members, undo)
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![
                                now_ms,
                                request.actor,
                                survivor.to_string(),
                                json(members)?,
                                json(&undo)?
                            ],
                        )?;
                        Some(tx.last_insert_rowid())
                    }
                    StaffAction::Unmerge { merge_id } => {
                        tx.execute(
                            "UPDATE merges SET undone_ms = ?2, undone_by = ?3 WHERE id = ?1",
                            params![merge_id, now_ms, request.actor],
                        )?;
                        None
                    }
                };
                tx.commit()?;
                Ok(StaffOutcome::Applied {
                    operations: operations.len(),
                    merge_id,
                })
            })
            .await;
        self.checkpointer.nudge();
        result
    }

    async fn conflicts(
        &self,
        region: &str,
        include_resolved: bool,
        limit: u32,
    ) -> Result<Vec<ConflictEntry>> {
        let region = region.to_owned();
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(&format!(
                "{CONFLICT_COLUMNS} WHERE substr(village_code, 1, length(?1)) = ?1
                   AND (?2 OR resolved_ms IS NULL)
                 ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows = statement
                .query_map(params![region, include_resolved, limit], conflict_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(conflict_entry).collect()
        })
        .await
    }

    async fn conflict(&self, id: i64) -> Result<Option<ConflictEntry>> {
        self.run(move |connection| {
            connection
                .prepare_cached(&format!("{CONFLICT_COLUMNS} WHERE id = ?1"))?
                .query_row(params![id], conflict_row)
                .optional()?
                .map(conflict_entry)
                .transpose()
        })
        .await
    }

    async fn merges(&self, limit: u32) -> Result<Vec<MergeEntry>> {
        self.run(move |connection| {
            let mut statement =
                connection.prepare_cached(&format!("{MERGE_COLUMNS} ORDER BY id DESC LIMIT ?1"))?;
            let rows = statement
                .query_map(params![limit], merge_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(merge_entry).collect()
        })
        .await
    }

    async fn merge(&self, id: i64) -> Result<Option<MergeEntry>> {
        self.run(move |connection| {
            connection
                .prepare_cached(&format!("{MERGE_COLUMNS} WHERE id = ?1"))?
                .query_row(params![id], merge_row)
                .optional()?
                .map(merge_entry)
                .transpose()
        })
        .await
    }

    async fn duplicate_candidates(
        &self,
        region: &str,
        kind: DuplicateKind,
    ) -> Result<Vec<DuplicateCandidate>> {
        let region = region.to_owned();
        self.run(move |connection| {
            let sql = match kind {
                // Records ever marked as in a group (`duplicate_seq`), then
                // every holder of their NIKs, wherever they are.
                DuplicateKind::Certain => {
                    "SELECT id, nik, birth_date, name_key, village_code, active FROM records
                     WHERE nik IN (SELECT nik FROM records
                                    WHERE duplicate_seq IS NOT NULL AND nik IS NOT NULL
                                      AND substr(village_code, 1, length(?1)) = ?1)
                     ORDER BY nik, id"
                }
                DuplicateKind::Probable => {
                    "SELECT id, nik, birth_date, name_key, village_code, active FROM records
                     WHERE active AND birth_date IS NOT NULL
                       AND substr(village_code, 1, length(?1)) = ?1
                     ORDER BY substr(village_code, 1, 6), birth_date, id"
                }
            };
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement
                .query_map(params![region], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, Option<String>>(2)?,
                        row.get::<_, Option<String>>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, bool>(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, nik, birth_date, name_key, village_code, active)| {
                    Ok(DuplicateCandidate {
                        record_id: RecordId(parse_uuid(&id)?),
                        nik: nik.as_deref().map(parse_nik).transpose()?,
                        birth_date,
                        name_key,
                        village_code,
                        active,
                    })
                })
                .collect()
        })
        .await
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<()> {
        let at_ms = ms(entry.at);
        let (actor, action, subject) = (
            entry.actor.clone(),
            entry.action.clone(),
            entry.subject.clone(),
        );
        let details = json(&entry.details)?;
        self.run(move |connection| {
            connection.execute(
                "INSERT INTO audit_log (at_ms, actor, action, subject, details)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![at_ms, actor, action, subject, details],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let filter = filter.clone();
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT id, at_ms, actor, action, subject, details FROM audit_log
                 WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR at_ms >= ?2)
                 ORDER BY id DESC LIMIT ?3",
            )?;
            type Row = (i64, i64, String, String, String, String);
            let rows = statement
                .query_map(
                    params![filter.action, filter.since_ms, i64::from(filter.limit)],
                    |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                        ))
                    },
                )?
                .collect::<rusqlite::Result<Vec<Row>>>()?;
            rows.into_iter()
                .map(|(id, at_ms, actor, action, subject, details)| {
                    Ok(AuditRecord {
                        id,
                        at: from_ms(at_ms)?,
                        actor,
                        action,
                        subject,
                        details: from_json(&details)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn records_in_region(
        &self,
        region_prefix: &str,
        after: Option<RecordId>,
        limit: u32,
    ) -> Result<RecordsPage> {
        let prefix = region_prefix.to_owned();
        // Ids are stored hyphenated in lower case, so text order is byte order.
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT r.id, r.state, o.body FROM records r
                 LEFT JOIN operations o ON r.state IS NULL AND o.server_seq = r.updated_seq
                 WHERE r.active AND substr(r.village_code, 1, length(?1)) = ?1 AND r.id > ?2
                 ORDER BY r.id LIMIT ?3",
            )?;
            type Row = (String, Option<String>, Option<String>);
            let rows = statement
                .query_map(params![prefix, after, i64::from(limit)], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<Row>>>()?;
            let rows = rows
                .into_iter()
                .map(|(id, state, body)| Ok((RecordId(parse_uuid(&id)?), state, body)))
                .collect::<Result<Vec<_>>>()?;
            records_page(rows)
        })
        .await
    }

    async fn add_staff_account(
        &self,
        account: &StaffAccount,
        token_hash: &[u8; 32],
        password_hash: Option<&str>,
    ) -> Result<()> {
        let account = account.clone();
        let token_hash = *token_hash;
        let password_hash = password_hash.map(str::to_owned);
        self.run(move |connection| {
            connection.execute(
                "INSERT INTO staff_accounts
                     (id, name, token_hash, created_ms, login, password_hash, role, region)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    account.id.hyphenated().to_string(),
                    account.name,
                    &token_hash[..],
                    ms(account.created_at),
                    account.login,
                    password_hash,
                    account.role.as_str(),
                    account.region,
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn staff_account_by_login(
        &self,
        login: &str,
    ) -> Result<Option<(StaffAccount, Option<String>)>> {
        let login = login.to_owned();
        self.run(move |connection| {
            connection
                .prepare_cached(&format!("{STAFF_COLUMNS} WHERE login = ?1"))?
                .query_row(params![login], staff_row)
                .optional()?
                .map(staff_account_and_password)
                .transpose()
        })
        .await
    }

    async fn set_staff_password(&self, id: Uuid, password_hash: &str) -> Result<bool> {
        let password_hash = password_hash.to_owned();
        self.run(move |connection| {
            let tx = connection.transaction()?;
            let id = id.hyphenated().to_string();
            let changed = tx.execute(
                "UPDATE staff_accounts SET password_hash = ?2 WHERE id = ?1",
                params![id, password_hash],
            )?;
            tx.execute(
                "DELETE FROM staff_sessions WHERE account_id = ?1",
                params![id],
            )?;
            tx.commit()?;
            Ok(changed > 0)
        })
        .await
    }

    async fn create_staff_session(&self, session: &NewStaffSession) -> Result<()> {
        let session = session.clone();
        self.run(move |connection| {
            connection.execute(
                "INSERT INTO staff_sessions (id_hash, account_id, csrf_token, created_ms, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![
                    &session.id_hash[..],
                    session.account_id.hyphenated().to_string(),
                    session.csrf_token,
                    ms(session.created_at),
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn staff_session(&self, id_hash: &[u8; 32]) -> Result<Option<StaffSession>> {
        let id_hash = *id_hash;
        self.run(move |connection| {
            let found = connection
                .prepare_cached(
                    "SELECT s.csrf_token, s.created_ms, s.last_seen_ms,
                            a.id, a.name, a.created_ms, a.revoked_ms, a.login, a.role, a.region,
                            a.password_hash
                     FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id
                     WHERE s.id_hash = ?1",
                )?
                .query_row(params![&id_hash[..]], |row| {
                    let session: (String, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
                    let account: StaffRow = (
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(8)?,
                        row.get(9)?,
                        row.get(10)?,
                    );
                    Ok((session, account))
                })
                .optional()?;
            let Some(((csrf_token, created, last_seen), account)) = found else {
                return Ok(None);
            };
            Ok(Some(StaffSession {
                account: staff_account(account)?,
                csrf_token,
                created_at: from_ms(created)?,
                last_seen_at: from_ms(last_seen)?,
            }))
        })
        .await
    }

    async fn touch_staff_session(&self, id_hash: &[u8; 32], now: OffsetDateTime) -> Result<()> {
        let id_hash = *id_hash;
        self.run(move |connection| {
            connection.execute(
                "UPDATE staff_sessions SET last_seen_ms = MAX(last_seen_ms, ?2) WHERE id_hash = ?1",
                params![&id_hash[..], ms(now)],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_staff_session(&self, id_hash: &[u8; 32]) -> Result<bool> {
        let id_hash = *id_hash;
        self.run(move |connection| {
            let deleted = connection.execute(
                "DELETE FROM staff_sessions WHERE id_hash = ?1",
                params![&id_hash[..]],
            )?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn delete_expired_staff_sessions(
        &self,
        created_before: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        self.run(move |connection| {
            let deleted = connection.execute(
                "DELETE FROM staff_sessions WHERE created_ms < ?1 OR last_seen_ms < ?2",
                params![ms(created_before), ms(idle_before)],
            )?;
            Ok(deleted as u64)
        })
        .await
    }

    async fn record_login_failure(&self, keys: &[String], at: OffsetDateTime) -> Result<()> {
        let keys = keys.to_vec();
        self.run(move |connection| {
            let tx = connection.transaction()?;
            for key in &keys {
                tx.execute(
                    "INSERT INTO login_failures (key, at_ms) VALUES (?1, ?2)",
                    params![key, ms(at)],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn login_failures(&self, key: &str, since: OffsetDateTime) -> Result<u64> {
        let key = key.to_owned();
        self.run(move |connection| {
            let count: i64 = connection
                .prepare_cached(
                    "SELECT COUNT(*) FROM login_failures WHERE key = ?1 AND at_ms >= ?2",
                )?
                .query_row(params![key, ms(since)], |row| row.get(0))?;
            Ok(to_seq(count))
        })
        .await
    }

    async fn clear_login_failures(&self, key: &str, before: OffsetDateTime) -> Result<()> {
        let key = key.to_owned();
        self.run(move |connection| {
            connection.execute(
                "DELETE FROM login_failures WHERE key = ?1 OR at_ms < ?2",
                params![key, ms(before)],
            )?;
            Ok(())
        })
        .await
    }

    async fn staff_accounts(&self) -> Result<Vec<StaffAccount>> {
        self.run(|connection| {
            let mut statement =
                connection.prepare_cached(&format!("{STAFF_COLUMNS} ORDER BY created_ms, id"))?;
            let rows = statement
                .query_map([], staff_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(staff_account).collect()
        })
        .await
    }

    async fn revoke_staff_account(&self, id: Uuid, now: OffsetDateTime) -> Result<bool> {
        self.run(move |connection| {
            let changed = connection.execute(
                "UPDATE staff_accounts SET revoked_ms = COALESCE(revoked_ms, ?2) WHERE id = ?1",
                params![id.hyphenated().to_string(), ms(now)],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn staff_account_by_token(&self, token_hash: &[u8; 32]) -> Result<Option<StaffAccount>> {
        let token_hash = *token_hash;
        self.run(move |connection| {
            connection
                .prepare_cached(&format!("{STAFF_COLUMNS} WHERE token_hash = ?1"))?
                .query_row(params![&token_hash[..]], staff_row)
                .optional()?
                .map(staff_account)
                .transpose()
        })
        .await
    }

    async fn set_staff_token(&self, id: Uuid, token_hash: &[u8; 32]) -> Result<bool> {
        let token_hash = *token_hash;
        self.run(move |connection| {
            let changed = connection.execute(
                "UPDATE staff_accounts SET token_hash = ?2 WHERE id = ?1",
                params![id.hyphenated().to_string(), &token_hash[..]],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn staff_device(&self) -> Result<DeviceId> {
        self.run(|connection| staff_device_id(connection)).await
    }

    async fn reference(&self, year: i32) -> Result<Vec<ReferenceRow>> {
        self.run(move |connection| {
            let mut statement = connection.prepare_cached(
                "SELECT region_code, working_population, baseline, target_bp, category_denominators
                 FROM reference_values WHERE year = ?1 ORDER BY region_code",
            )?;
            let rows = statement
                .query_map(params![year], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<i64>>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                        row.get::<_, Option<u32>>(3)?,
                        row.get::<_, String>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(
                    |(region_code, working_population, baseline, target_bp, denominators)| {
                        Ok(ReferenceRow {
                            year,
                            region_code,
                            working_population: working_population.map(to_seq),
                            baseline: baseline.map(to_seq),
                            target_bp,
                            category_denominators: from_json(&denominators)?,
                        })
                    },
                )
                .collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::prepare;
    use crate::storage::conformance;
    use lindung_shared::protocol::Outcome;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_conforms() {
        let dir = tempfile::tempdir().expect("temp dir");
        let counter = std::sync::atomic::AtomicUsize::new(0);
        conformance::run_all(|| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = dir.path().join(format!("store-{n}.sqlite"));
            async move {
                Box::new(SqliteStorage::open(&path).await.expect("opens")) as Box<dyn Storage>
            }
        })
        .await;
    }

    #[tokio::test]
    async fn queued_pushes_share_one_transaction_and_get_their_own_answers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = SqliteStorage::open(&dir.path().join("server.sqlite"))
            .await
            .expect("opens");
        let rina = conformance::enrol(&storage, "Rina", &["1311"]).await;
        let budi = conformance::enrol(&storage, "Budi", &["1311"]).await;
        let rina_batch = conformance::five_registrations(&rina.scope, 1, "1311012001", 0);
        let mut ghost = rina.scope.clone();
        ghost.device_id = DeviceId(Uuid::new_v4());
        let jobs = [
            (&rina.scope, rina_batch.clone()),
            // A device the store does not know: its push fails, alone.
            (
                &ghost,
                conformance::five_registrations(&ghost, 3, "1311012001", 0),
            ),
            (
                &budi.scope,
                conformance::five_registrations(&budi.scope, 2, "1311012001", 0),
            ),
            // Rina's batch again (a retry queued behind the first).
            (&rina.scope, rina_batch),
        ];
        let mut answers = Vec::new();
        let queued: Vec<PushJob> = jobs
            .iter()
            .map(|(device, operations)| {
                let (answer, answered) = std::sync::mpsc::channel();
                answers.push(answered);
                PushJob {
                    device: (*device).clone(),
                    operations: operations.clone(),
                    prepared: prepare(
                        device,
                        operations,
                        BatchClock {
                            now: conformance::NOW,
                            regions: lindung_shared::region::regions(),
                        },
                    ),
                    now: conformance::NOW,
                    answer,
                }
            })
            .collect();
        storage
            .run(move |connection| {
                apply_pushes(connection, queued);
                Ok(())
            })
            .await
            .expect("applied");
        let outcomes: Vec<Vec<Outcome>> = answers
            .iter()
            .map(|answered| match answered.recv().expect("answered") {
                Ok(result) => {
                    assert_eq!(result.acknowledged_seq, 5);
                    result.receipts.into_iter().map(|r| r.outcome).collect()
                }
                Err(_) => Vec::new(),
            })
            .collect();
        let accepted = Outcome::Accepted { bounded_hlc: None };
        let duplicate = Outcome::Duplicate { bounded_hlc: None };
        assert_eq!(
            outcomes,
            [
                vec![accepted.clone(); 5],
                Vec::new(),
                vec![accepted; 5],
                vec![duplicate; 5]
            ]
        );
        conformance::assert_group_stored(&storage, 10, 10).await;
    }

    #[tokio::test]
    async fn a_push_that_fails_alone_leaves_nothing_behind() {
        // A push applied alone has no savepoint of its own: its failure
        // must undo the whole transaction.
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = SqliteStorage::open(&dir.path().join("server.sqlite"))
            .await
            .expect("opens");
        let rina = conformance::enrol(&storage, "Rina", &["1311"]).await;
        let mut ghost = rina.scope.clone();
        ghost.device_id = DeviceId(Uuid::new_v4());
        // The operations are written before the unknown device is noticed.
        let refused = storage
            .push(
                &ghost,
                &conformance::five_registrations(&ghost, 3, "1311012001", 0),
                conformance::NOW,
            )
            .await;
        assert!(refused.is_err(), "{refused:?}");
        conformance::assert_group_stored(&storage, 0, 0).await;
        let result = storage
            .push(
                &rina.scope,
                &conformance::five_registrations(&rina.scope, 1, "1311012001", 0),
                conformance::NOW,
            )
            .await
            .expect("pushed");
        assert_eq!(result.acknowledged_seq, 5);
        conformance::assert_group_stored(&storage, 5, 5).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pushes_are_checkpointed_in_the_background_until_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("server.sqlite");
        let storage = SqliteStorage::open(&path).await.expect("opens");
        let rina = conformance::enrol(&storage, "Rina", &["1311"]).await;
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = size();
        let operations: Vec<Operation> = (1..=50)
            .map(|i| {
                let person = conformance::registration(
                    &conformance::nik(1, i),
                    "Siti Aminah",
                    "1311012001",
                    &rina.scope,
                );
                conformance::create(&rina.scope, u64::from(i), conformance::base_ms(), &person)
            })
            .collect();
        storage
            .push(&rina.scope, &operations, conformance::NOW)
            .await
            .expect("push");
        // Each record is its one creating operation: no copy of the state.
        let without_state: i64 = storage
            .run(|c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM records WHERE state IS NULL",
                    [],
                    |row| row.get(0),
                )?)
            })
            .await
            .expect("reads");
        assert_eq!(without_state, 50);
        // Far below the writer's own threshold: only the background
        // checkpointer copies the pages into the database file.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while size() <= before && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(size() > before, "the database file grew by a checkpoint");
        // Dropping the storage stops the thread (drop joins it).
        drop(storage);
        let again = SqliteStorage::open(&path).await.expect("reopens");
        assert_eq!(again.counts().await.expect("counts").records, 50);
    }

    #[tokio::test]
    async fn records_of_the_first_schema_survive_the_migration() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("server.sqlite");
        let scope = DeviceScope {
            device_id: DeviceId(Uuid::from_u128(1)),
            officer_id: OfficerId(Uuid::from_u128(2)),
            officer_name: "Rina".into(),
            regions: vec!["1311".into()],
            pulled_upto: 0,
        };
        let person =
            conformance::registration(&conformance::nik(1, 1), "Siti Aminah", "1311012001", &scope);
        let creation = conformance::create(&scope, 1, conformance::base_ms(), &person);
        let mut state = lindung_shared::merge::RecordState::default();
        state.apply(&creation);
        {
            let connection = Connection::open(&path).expect("creates");
            connection.execute_batch(MIGRATIONS[0]).expect("schema 1");
            connection
                .execute(
                    "INSERT INTO records (id, state, village_code, nik, active, officer_id,
                         updated_seq, duplicate_seq) VALUES (?1, ?2, '1311012001', ?3, 1, ?4, 1, 7)",
                    params![
                        person.id.to_string(),
                        json(&state).expect("encodes"),
                        conformance::nik(1, 1),
                        scope.officer_id.to_string()
                    ],
                )
                .expect("a record");
            connection
                .pragma_update(None, "user_version", 1)
                .expect("version 1");
        }
        let storage = SqliteStorage::open(&path).await.expect("migrates");
        let stored = storage
            .record(person.id)
            .await
            .expect("works")
            .expect("kept");
        assert_eq!(stored.state, state);
        assert_eq!(stored.officer_id, Some(scope.officer_id));
        let marked: Option<i64> = storage
            .run(move |c| {
                Ok(c.query_row(
                    "SELECT duplicate_seq FROM records WHERE id = ?1",
                    params![person.id.to_string()],
                    |row| row.get(0),
                )?)
            })
            .await
            .expect("reads");
        assert_eq!(marked, Some(7));
    }

    #[tokio::test]
    async fn reopening_keeps_the_store_and_refuses_a_newer_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("server.sqlite");
        let first = SqliteStorage::open(&path).await.expect("creates");
        let id = first.store_id().await.expect("id");
        drop(first);
        let again = SqliteStorage::open(&path).await.expect("reopens");
        assert_eq!(again.store_id().await.expect("id"), id);
        again
            .run(|c| {
                c.pragma_update(None, "user_version", 99)?;
                Ok(())
            })
            .await
            .expect("bumped");
        drop(again);
        let error = SqliteStorage::open(&path).await.expect_err("too new");
        assert!(
            matches!(error, StorageError::SchemaTooNew { found: 99, .. }),
            "{error}"
        );
    }
}
