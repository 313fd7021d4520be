//! Versioned schema migrations, run on every start-up.
//!
//! `PRAGMA user_version` records how many migrations the database has had.
//! Each migration runs in its own transaction together with the version bump,
//! so a crash leaves the database at the previous version, intact. A database
//! newer than this build is refused untouched (an older agent must never
//! rewrite a newer store). Migrations are append-only: never edit one that
//! has shipped.

use rusqlite::Connection;

use super::StoreError;

/// The migrations, in order. Index + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE meta (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     ) STRICT;

     -- Every operation this replica knows (its own and pulled ones): the merge rule's input.
     CREATE TABLE operations (
         device_id BLOB    NOT NULL,
         seq       INTEGER NOT NULL CHECK (seq >= 1),
         record_id BLOB    NOT NULL,
         hlc       INTEGER NOT NULL,
         body      TEXT    NOT NULL,
         PRIMARY KEY (device_id, seq)
     ) STRICT, WITHOUT ROWID;
     CREATE INDEX operations_by_record ON operations (record_id);

     -- This device's operations and how far sync got with each.
     CREATE TABLE outbox (
         seq           INTEGER PRIMARY KEY,
         record_id     BLOB NOT NULL,
         state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'rejected')),
         error_code    TEXT,
         error_message TEXT,
         created_at    TEXT NOT NULL
     ) STRICT;
     CREATE INDEX outbox_by_state ON outbox (state, seq);

     -- The current state of each record, materialised by the merge rule for queries.
     CREATE TABLE registrations (
         id            BLOB PRIMARY KEY,
         complete      INTEGER NOT NULL,
         nik           TEXT,
         full_name     TEXT,
         birth_date    TEXT,
         village_code  TEXT,
         category      TEXT,
         status        TEXT,
         registered_at TEXT,
         data          TEXT
     ) STRICT;
     CREATE INDEX registrations_by_nik ON registrations (nik);
     CREATE INDEX registrations_by_village ON registrations (village_code, birth_date);

     -- Positions an officer counted in a village (how many RT and RW there are).
     CREATE TABLE village_positions (
         village_code TEXT PRIMARY KEY,
         rt_count     INTEGER NOT NULL CHECK (rt_count >= 0),
         rw_count     INTEGER NOT NULL CHECK (rw_count >= 0),
         updated_at   TEXT NOT NULL
     ) STRICT;",
    // 2: the sync state of a registration is looked up by record; without this
    // index every listed registration scanned the whole outbox.
    "CREATE INDEX outbox_by_record ON outbox (record_id, state);",
    // 3: sync. The server's reason for a refusal in both languages and the
    // field at fault; records the server says share their NIK with others.
    "ALTER TABLE outbox ADD COLUMN error_message_id TEXT;
     ALTER TABLE outbox ADD COLUMN error_field TEXT;
     CREATE TABLE duplicate_notices (
         record_id   BLOB PRIMARY KEY,
         others      TEXT NOT NULL,
         received_at TEXT NOT NULL
     ) STRICT;",
    // 4: the materialised row keeps only the columns that lists, filters and
    // duplicate checks need; the full registration is rebuilt from its
    // operations (the merge rule's input, which stays untouched). The dropped
    // JSON was a second copy of every registration: a third of the bytes each
    // save wrote. Operation bodies written from now on are the compact form
    // of `store::body`; earlier ones still read.
    "ALTER TABLE registrations DROP COLUMN data;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to date; refuses a database from a newer agent.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_to(conn, SCHEMA_VERSION)
}

/// Brings the schema up to `version` (tests build older stores with it).
pub(super) fn migrate_to(conn: &mut Connection, version: i64) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(usize::try_from(version).unwrap_or(0))
        .skip(usize::try_from(current).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}
