//! PostgreSQL, for many agents at once (`postgres://…`).
//!
//! A deadpool pool of tokio-postgres connections (no TLS yet: run the server
//! beside its database, or on a trusted network). The tables mirror SQLite's
//! with native types — `uuid` ids, `bytea` hashes, `bigint` sequence numbers
//! and HLCs — and keep times as `bigint` Unix milliseconds, exactly like the
//! SQLite backend, so both map values through the same helpers.
//!
//! **Migrations** are numbered in [`MIGRATIONS`], recorded in
//! `schema_migrations`, only ever appended, and run at connect in one
//! transaction holding an advisory lock, so two servers starting at once do
//! not race. A schema newer than this build is refused untouched.
//!
//! **Push** takes a transaction-scoped advisory lock first, so pushes run one
//! at a time and server sequence numbers are assigned in commit order (a pull
//! cursor never skips a change that commits later). It loads the batch's
//! context with a handful of set-based queries, plans it with
//! [`plan_batch`], and writes the plan with one multi-row statement per table
//! (`UNNEST` of arrays). Independent statements are pipelined on the one
//! connection, so a push of any size costs about five round trips.
//!
//! **Pull** reads in one REPEATABLE READ snapshot: the page, the store's last
//! sequence number and the duplicate notices agree with each other.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
    Transaction,
};
use lindung_shared::hlc::Hlc;
use lindung_shared::ids::{DeviceId, OfficerId, RecordId, StoreId};
use lindung_shared::merge::{OpId, Operation};
use lindung_shared::nik::Nik;
use lindung_shared::protocol::{DuplicateHolder, DuplicateNotice, WireError};
use time::OffsetDateTime;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, NoTls, Row};
use uuid::Uuid;

use super::{
    AuditEntry, AuditFilter, AuditRecord, Authenticated, BundleDevice, BundleImport, ConflictEntry,
    Counts, CoverageCounts, CoverageTables, DatabaseUrl, Device, DuplicateCandidate, DuplicateKind,
    EnrollRefusal, Enrollment, MergeEntry, NewEnrollmentCode, NewStaffSession, Officer, PullResult,
    PushResult, RecordsPage, ReferenceReplaced, Resolution, Result, Role, STAFF_OFFICER_ID,
    ServerBundleKeys, StaffAccount, StaffAction, StaffOutcome, StaffRequest, StaffSession, Storage,
    StorageError, Turn, entered_scope, from_json, from_ms, from_seq, json, ms, operation_body,
    parse_hash, prepare_push, record_state, records_page, to_seq, written_by_others,
};
use crate::ingest::{
    BatchClock, BatchContext, BatchPlan, DeviceScope, KnownOperation, StaffEdit, StoredRecord,
    advance_acknowledged, niks_set_by, plan_batch, plan_prepared, staff_operations, staff_scope,
    undo_of, versions_to_locate,
};
use crate::persons::{Person, Place};
use crate::reference::ReferenceRow;

/// Migrations, in order; `schema_migrations` holds the numbers applied.
///
/// Bodies and record states are `text`, not `jsonb`: the server never queries
/// inside them, and text stores the serialised bytes as they are, where jsonb
/// would parse them on every insert and re-serialise them on every read.
const MIGRATIONS: &[&str] = &[
    // 1: officers, devices, operations, records.
    "CREATE TABLE meta (
         singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
         store_id uuid NOT NULL,
         last_server_seq bigint NOT NULL,
         last_hlc bigint NOT NULL
     );
     CREATE TABLE officers (
         id uuid PRIMARY KEY,
         name text NOT NULL,
         created_ms bigint NOT NULL
     );
     CREATE TABLE officer_regions (
         officer_id uuid NOT NULL REFERENCES officers(id),
         region_code text NOT NULL,
         PRIMARY KEY (officer_id, region_code)
     );
     CREATE TABLE enrollment_codes (
         code_hash bytea PRIMARY KEY,
         officer_id uuid NOT NULL REFERENCES officers(id),
         created_ms bigint NOT NULL,
         expires_ms bigint NOT NULL,
         used_ms bigint,
         device_id uuid
     );
     CREATE TABLE devices (
         id uuid PRIMARY KEY,
         officer_id uuid NOT NULL REFERENCES officers(id),
         name text NOT NULL,
         token_hash bytea NOT NULL UNIQUE,
         enrolled_ms bigint NOT NULL,
         revoked_ms bigint,
         last_seen_ms bigint,
         acknowledged_seq bigint NOT NULL DEFAULT 0
     );
     CREATE TABLE operations (
         server_seq bigint PRIMARY KEY,
         device_id uuid NOT NULL,
         seq bigint NOT NULL,
         record_id uuid NOT NULL,
         hlc bigint NOT NULL,
         original_hlc bigint NOT NULL,
         fingerprint bytea NOT NULL,
         village_code text NOT NULL,
         previous_village_code text,
         body text NOT NULL,
         received_ms bigint NOT NULL,
         UNIQUE (device_id, seq)
     );
     CREATE TABLE rejections (
         device_id uuid NOT NULL,
         seq bigint NOT NULL,
         record_id uuid NOT NULL,
         fingerprint bytea NOT NULL,
         error text NOT NULL,
         received_ms bigint NOT NULL,
         PRIMARY KEY (device_id, seq)
     );
     CREATE TABLE records (
         id uuid PRIMARY KEY,
         state text NOT NULL,
         village_code text NOT NULL,
         nik text,
         active boolean NOT NULL,
         officer_id uuid,
         updated_seq bigint NOT NULL,
         duplicate_seq bigint
     );
     CREATE INDEX records_by_nik ON records (nik) WHERE nik IS NOT NULL;
     CREATE INDEX records_by_duplicate_seq ON records (duplicate_seq)
         WHERE duplicate_seq IS NOT NULL;
     -- Record states (a few KB of JSON each) are compressed when stored; lz4
     -- does that about twice as fast as the default pglz (a third less time
     -- per pushed batch), where the server was built with it (PostgreSQL 14+).
     DO $$ BEGIN
         EXECUTE 'ALTER TABLE records ALTER COLUMN state SET COMPRESSION lz4';
     EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL;
     END $$;",
    // 2: a record created by one operation stores no copy of its state
    // (`state` NULL: replay the operation at `updated_seq`).
    "ALTER TABLE records ALTER COLUMN state DROP NOT NULL;",
    // 3: reference data per region and year (denominators, baselines, targets).
    "CREATE TABLE reference_values (
         year integer NOT NULL,
         region_code text NOT NULL,
         working_population bigint,
         baseline bigint,
         target_bp integer,
         category_denominators text NOT NULL,
         PRIMARY KEY (year, region_code)
     );",
    // 4: what coverage counts by: category, payer, and when the server first
    // stored the record (the registration pace).
    "ALTER TABLE records ADD COLUMN category text;
     ALTER TABLE records ADD COLUMN payer text;
     ALTER TABLE records ADD COLUMN created_ms bigint;",
    // 5: persons (one per NIK with an active record, at its representative
    // record) and their counts per village, category and payer, kept in the
    // push transaction (see `persons`). Filled from the records here.
    "CREATE TABLE persons (
         nik text PRIMARY KEY,
         village_code text NOT NULL,
         category text NOT NULL,
         payer text NOT NULL
     );
     CREATE TABLE person_counts (
         village_code text NOT NULL,
         category text NOT NULL,
         payer text NOT NULL,
         persons bigint NOT NULL,
         PRIMARY KEY (village_code, category, payer)
     );
     CREATE INDEX person_counts_by_village ON person_counts (village_code text_pattern_ops);
     CREATE INDEX records_by_created ON records (created_ms) WHERE active;",
    // 6: contribution rates, effective-dated and editable (rates change by regulation).
    "CREATE TABLE contribution_rates (
         effective_from text PRIMARY KEY,
         jkk_rate_bp integer NOT NULL,
         jkk_min bigint NOT NULL,
         jkk_max bigint NOT NULL,
         jkm_flat bigint NOT NULL,
         jht_rate_bp integer NOT NULL
     );",
    // 7: the audit log: every staff action and export (who, when, what).
    "CREATE TABLE audit_log (
         id bigserial PRIMARY KEY,
         at_ms bigint NOT NULL,
         actor text NOT NULL,
         action text NOT NULL,
         subject text NOT NULL,
         details text NOT NULL
     );
     CREATE INDEX audit_log_by_action ON audit_log (action, id);",
    // 8: staff reconciliation. Records keep what the probable-duplicate
    // search compares; devices how far they have pulled (to tell a conflict
    // from a later edit); the conflict log and merges. The staff device
    // (see `ingest::staff_operations`) is created by `migrate`.
    "ALTER TABLE devices ADD COLUMN pulled_seq bigint NOT NULL DEFAULT 0;
     ALTER TABLE records ADD COLUMN birth_date text;
     ALTER TABLE records ADD COLUMN name_key text;
     CREATE INDEX records_by_birth_date ON records (birth_date) WHERE birth_date IS NOT NULL;
     CREATE TABLE conflicts (
         id bigserial PRIMARY KEY,
         record_id uuid NOT NULL,
         field text NOT NULL,
         village_code text NOT NULL,
         kept text NOT NULL,
         overwritten text NOT NULL,
         server_seq bigint NOT NULL,
         detected_ms bigint NOT NULL,
         resolved_ms bigint,
         resolved_by text,
         resolution text
     );
     CREATE INDEX conflicts_by_record ON conflicts (record_id);
     CREATE TABLE merges (
         id bigserial PRIMARY KEY,
         created_ms bigint NOT NULL,
         actor text NOT NULL,
         survivor_id uuid NOT NULL,
         members text NOT NULL,
         undo text NOT NULL,
         undone_ms bigint,
         undone_by text
     );",
    // 9: central staff accounts for the staff API (tokens stored hashed).
    "CREATE TABLE staff_accounts (
         id uuid PRIMARY KEY,
         name text NOT NULL,
         token_hash bytea NOT NULL UNIQUE,
         created_ms bigint NOT NULL,
         revoked_ms bigint
     );",
    // 10: coverage rolled up to the country, provinces and regencies
    // (`region_counts`), and persons first counted per region and
    // day (`region_days`, the pace), so a drill-down reads a few rows per
    // region; persons remember their first day. Filled by `migrate`.
    "ALTER TABLE persons ADD COLUMN first_day bigint NOT NULL DEFAULT 0;
     CREATE INDEX persons_by_village_day ON persons (village_code text_pattern_ops, first_day);
     CREATE TABLE region_counts (
         level integer NOT NULL,
         code text COLLATE \"C\" NOT NULL,
         category text NOT NULL,
         payer text NOT NULL,
         persons bigint NOT NULL,
         PRIMARY KEY (level, code, category, payer)
     );
     CREATE TABLE region_days (
         level integer NOT NULL,
         code text COLLATE \"C\" NOT NULL,
         day bigint NOT NULL,
         persons bigint NOT NULL,
         PRIMARY KEY (level, code, day)
     );
     DROP INDEX records_by_created;",
    // 11: the web dashboard: staff logins with argon2id password hashes,
    // roles (staff, supervisor limited to a region, viewer), sessions
    // (only the SHA-256 of their id is stored) and failed-login bookkeeping
    // for rate limiting.
    "ALTER TABLE staff_accounts ADD COLUMN login text;
     ALTER TABLE staff_accounts ADD COLUMN password_hash text;
     ALTER TABLE staff_accounts ADD COLUMN role text NOT NULL DEFAULT 'staff';
     ALTER TABLE staff_accounts ADD COLUMN region text;
     CREATE UNIQUE INDEX staff_accounts_login ON staff_accounts (login);
     CREATE TABLE staff_sessions (
         id_hash bytea PRIMARY KEY,
         account_id uuid NOT NULL REFERENCES staff_accounts (id),
         csrf_token text NOT NULL,
         created_ms bigint NOT NULL,
         last_seen_ms bigint NOT NULL
     );
     CREATE TABLE login_failures (
         key text NOT NULL,
         at_ms bigint NOT NULL
     );
     CREATE INDEX login_failures_key ON login_failures (key, at_ms);",
    // 12: token rotation: the next token of a device, accepted alongside
    // the current one until its first use makes it the current one.
    "ALTER TABLE devices ADD COLUMN next_token_hash bytea;
     CREATE UNIQUE INDEX devices_next_token ON devices (next_token_hash)
         WHERE next_token_hash IS NOT NULL;",
    // 13: sneakernet bundles: each device's signing key, the store's own
    // keys, and every outbox bundle applied with the receipt it got.
    "ALTER TABLE devices ADD COLUMN bundle_public_key bytea;
     CREATE TABLE bundle_keys (
         id smallint PRIMARY KEY CHECK (id = 1),
         signing_seed bytea NOT NULL,
         device_secret_root bytea NOT NULL
     );
     CREATE TABLE bundle_imports (
         bundle_id uuid PRIMARY KEY,
         device_id uuid NOT NULL,
         imported_ms bigint NOT NULL,
         imported_by text NOT NULL,
         operations bigint NOT NULL,
         accepted bigint NOT NULL,
         duplicates bigint NOT NULL,
         rejected bigint NOT NULL,
         receipt bytea NOT NULL
     );
     CREATE INDEX bundle_imports_recent ON bundle_imports (imported_ms);",
    // 14: persons are no longer stored one by one (see `persons`): a NIK's
    // representative is read from `records` by NIK, and the pace of a
    // village or district counts representative records by village and
    // first-stored time. The counts tables stay as they are.
    // The village index carries the NIK and id (an index-only scan once
    // vacuum has marked the pages visible). The NIK index also holds the
    // record id, so whether a record is its
    // NIK's representative (no active record with a smaller id) is answered
    // from the index alone when the NIK has no other record.
    "DROP TABLE persons;
     CREATE INDEX records_by_village_created
         ON records (village_code text_pattern_ops, created_ms) INCLUDE (nik, id)
         WHERE active AND nik IS NOT NULL;
     CREATE INDEX records_by_nik_id ON records (nik, id) WHERE nik IS NOT NULL;
     DROP INDEX records_by_nik;",
];

/// Index in [`MIGRATIONS`] of the migration that rolls coverage up; the
/// coverage tables are rebuilt after it.
const ROLLUP_MIGRATION: usize = 9;

/// Index in [`MIGRATIONS`] of the staff-reconciliation migration.
const STAFF_MIGRATION: usize = 7;

/// Rebuilds the coverage tables from `records`: each NIK's representative
/// (its active record with the smallest id) is counted, from a temporary
/// table (not logged, dropped at commit); villages are counted from it, the
/// rolled-up regions from the villages, and the days per regency first,
/// then rolled up. The region code lengths are those of
/// `persons::ROLLUP_LENGTHS`.
const RECOMPUTE_COVERAGE: &str = "
    TRUNCATE person_counts, region_counts, region_days;
    CREATE TEMPORARY TABLE counted_persons ON COMMIT DROP AS
        SELECT DISTINCT ON (nik) village_code, COALESCE(category, 'unknown') AS category,
               COALESCE(payer, 'unknown') AS payer,
               COALESCE(created_ms, 0) / 86400000 AS first_day
        FROM records WHERE active AND nik IS NOT NULL ORDER BY nik, id;
    INSERT INTO person_counts (village_code, category, payer, persons)
        SELECT village_code, category, payer, COUNT(*) FROM counted_persons GROUP BY 1, 2, 3;
    INSERT INTO region_counts (level, code, category, payer, persons)
        SELECT l.level, substr(c.village_code, 1, l.level), c.category, c.payer, SUM(c.persons)
        FROM person_counts c
        JOIN (VALUES (0), (2), (4)) AS l(level)
          ON l.level = 0 OR l.level < length(c.village_code)
        GROUP BY 1, 2, 3, 4;
    CREATE TEMPORARY TABLE regency_days ON COMMIT DROP AS
        SELECT substr(village_code, 1, 4) AS regency, LEAST(length(village_code), 5) AS length,
               first_day, COUNT(*) AS persons
        FROM counted_persons GROUP BY 1, 2, 3;
    INSERT INTO region_days (level, code, day, persons)
        SELECT l.level, substr(d.regency, 1, l.level), d.first_day, SUM(d.persons)
        FROM regency_days d
        JOIN (VALUES (0), (2), (4)) AS l(level)
          ON l.level = 0 OR l.level < d.length
        GROUP BY 1, 2, 3;";

/// Representative records first stored since day `$3`, per region (`$2`:
/// the code length) matching a prefix pattern (`$1`): the pace of districts
/// and villages. The villages come from `person_counts` (every
/// representative is counted there), so each is one index range on
/// (village, first-stored time); whether a record is its NIK's
/// representative is one probe of `records_by_nik_id` that finds nothing
/// when the NIK has no other record.
const RECENT_REPRESENTATIVES: &str = "
    SELECT substr(r.village_code, 1, $2), COUNT(*)
    FROM (SELECT DISTINCT village_code FROM person_counts WHERE village_code LIKE $1) v
    JOIN records r ON r.village_code = v.village_code
    WHERE r.active AND r.nik IS NOT NULL AND r.created_ms >= $3::bigint * 86400000
      AND NOT EXISTS (SELECT 1 FROM records o
                      WHERE o.nik = r.nik AND o.active AND o.id < r.id)
    GROUP BY 1";

/// Longest wait for a pooled connection before a request is refused as busy.
const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Advisory lock held while migrating ("LINDUN" and 1).
const MIGRATION_LOCK: i64 = 0x4c49_4e44_554e_0001;
/// Advisory lock held by every push transaction ("LINDUN" and 2).
const PUSH_LOCK: i64 = 0x4c49_4e44_554e_0002;

/// How long to wait for the server to answer a new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections kept open. Pushes run one at a time anyway; the rest serve pulls.
const POOL_SIZE: usize = 16;

/// The PostgreSQL backend.
#[derive(Clone)]
pub struct PostgresStorage {
    pool: Pool,
    described: String,
    pushes: Arc<PushGroups>,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("database", &self.described)
            .finish_non_exhaustive()
    }
}

/// Pushes waiting for the push lock (group commit, as on SQLite). A push
/// is prepared before it queues; whichever push then gets `leader` applies
/// every queued push in one transaction under the advisory lock, each in a
/// savepoint of its own (a push that fails is rolled back alone), and
/// writes the coverage count changes of the whole group once: their sum
/// ([`crate::persons::PersonChanges::add`]). So many laptops pushing at
/// once share the commit and the count rows they all touch (the country,
/// their province and regencies, busy villages). A push's answer still
/// comes only after the commit.
#[derive(Debug, Default)]
struct PushGroups {
    waiting: super::PushQueue<QueuedPush>,
    /// Held by the push applying a group.
    leader: Arc<tokio::sync::Mutex<()>>,
}

/// One queued push; its answer goes back over a one-shot channel.
type QueuedPush = super::QueuedPush<tokio::sync::oneshot::Sender<Result<PushResult>>>;

/// One push inside its group's transaction: its result, and how it changed
/// the coverage counts (written for the whole group at the end).
async fn push_in(
    tx: &Transaction<'_>,
    device: &DeviceScope,
    operations: &[Operation],
    prepared: Vec<crate::ingest::PreparedOperation>,
    now: OffsetDateTime,
) -> Result<(PushResult, crate::persons::PersonChanges)> {
    let loaded = load_context(tx, device, operations).await?;
    let plan = plan_prepared(
        device,
        operations,
        prepared,
        loaded.context,
        BatchClock {
            now,
            regions: lindung_shared::region::regions(),
        },
    );
    let counted = counted_before(tx, &plan).await?;
    let acknowledged_seq = write_plan(
        tx,
        device,
        &plan,
        loaded.acknowledged,
        loaded.held_above,
        now,
    )
    .await?;
    let changes = person_changes(tx, &plan, &counted, now).await?;
    Ok((
        PushResult {
            receipts: plan.receipts,
            acknowledged_seq,
        },
        changes,
    ))
}

impl PostgresStorage {
    /// Applies queued pushes in one transaction and answers each (see [`PushGroups`]).
    async fn apply_pushes(&self, pushes: Vec<QueuedPush>) {
        tracing::debug!(pushes = pushes.len(), "one transaction for queued pushes");
        let (answers, pushes): (Vec<_>, Vec<_>) =
            pushes.into_iter().map(QueuedPush::into_answer).unzip();
        match self.apply_group(pushes).await {
            Ok(results) => {
                for (answer, result) in answers.into_iter().zip(results) {
                    let _ = answer.send(result);
                }
            }
            Err(error) => {
                for answer in answers {
                    let _ = answer.send(Err(error.for_each_push()));
                }
            }
        }
    }

    /// The transaction of [`apply_pushes`](Self::apply_pushes): a result per
    /// push (each in a savepoint, so one that fails is undone alone), or the
    /// error that undid them all.
    async fn apply_group(
        &self,
        pushes: Vec<super::QueuedPush<()>>,
    ) -> Result<Vec<Result<PushResult>>> {
        let mut client = self.client().await?;
        // READ COMMITTED (the default) on purpose: every statement after the
        // lock sees all pushes committed before it was granted. REPEATABLE
        // READ would take its snapshot at the lock statement, before the wait.
        let mut tx = client.transaction().await?;
        let lock = tx
            .prepare_cached("SELECT pg_advisory_xact_lock($1)")
            .await?;
        tx.execute(&lock, &[&PUSH_LOCK]).await?;
        let mut counts = crate::persons::PersonChanges::default();
        let mut results = Vec::with_capacity(pushes.len());
        for push in pushes {
            let savepoint = tx.savepoint("push").await?;
            match push_in(
                &savepoint,
                &push.device,
                &push.operations,
                push.prepared,
                push.now,
            )
            .await
            {
                Ok((result, changes)) => {
                    savepoint.commit().await?;
                    counts.add(changes);
                    results.push(Ok(result));
                }
                Err(error) => {
                    savepoint.rollback().await?;
                    results.push(Err(error));
                }
            }
        }
        write_person_changes(&tx, &counts).await?;
        tx.commit().await?;
        Ok(results)
    }

    /// Connects to the database a `postgres://` URL names and migrates it.
    /// The database itself must exist; its tables are created when missing.
    pub async fn connect(url: &str) -> Result<PostgresStorage> {
        let described = DatabaseUrl::Postgres(url.to_owned()).redacted();
        let config = tokio_postgres::Config::from_str(url).map_err(|e| {
            StorageError::Connect(format!("{described} is not a usable URL: {}", chain(&e)))
        })?;
        PostgresStorage::with_config(config, described).await
    }

    /// Connects with a parsed configuration; `described` is how logs name it.
    async fn with_config(
        mut config: tokio_postgres::Config,
        described: String,
    ) -> Result<PostgresStorage> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("lindung-server");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            // Longer than the connect timeout, so its clearer error wins.
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(5)))
            // A request that waits this long for a connection (pushes queue on
            // the push lock while holding theirs) is answered "busy, retry"
            // instead of hanging; agents retry with backoff.
            .wait_timeout(Some(POOL_WAIT_TIMEOUT))
            .build()
            .map_err(|e| StorageError::Pool(e.to_string()))?;
        let storage = PostgresStorage {
            pool,
            described,
            pushes: Arc::default(),
        };
        let mut client = storage.client().await?;
        migrate(&mut client).await?;
        Ok(storage)
    }

    async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(|error| match error {
            PoolError::Backend(e) => StorageError::Connect(chain(&e)),
            other => StorageError::Pool(chain(&other)),
        })
    }
}

/// An error and all its causes (tokio-postgres puts the useful part, such as
/// "Connection refused" or the server's message, in the source).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn migrate(client: &mut Object) -> Result<()> {
    let tx = client.transaction().await?;
    // Taken before anything else, so a second server starting at the same
    // moment waits here and then finds the schema already migrated.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version bigint PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let found: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if found > supported {
        // Dropping the transaction rolls it back: nothing is touched.
        return Err(StorageError::SchemaTooNew { found, supported });
    }
    let applied = usize::try_from(found)
        .map_err(|_| StorageError::Corrupt(format!("schema version {found}")))?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(migration).await?;
        if index == ROLLUP_MIGRATION {
            tx.batch_execute(RECOMPUTE_COVERAGE).await?;
        }
        if index == STAFF_MIGRATION {
            create_staff_device(&tx).await?;
            backfill_duplicate_keys(&tx).await?;
        }
        if index == 0 {
            tx.execute(
                "INSERT INTO meta (store_id, last_server_seq, last_hlc) VALUES ($1, 0, 0)",
                &[&Uuid::new_v4()],
            )
            .await?;
        }
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Creates the staff officer and the staff device: revoked from the start
/// (no token can ever authenticate as it; its token is thrown away) and
/// having "seen everything", so its operations never count as conflicts.
async fn create_staff_device(tx: &Transaction<'_>) -> Result<()> {
    let token = crate::secrets::new_token().map_err(|e| StorageError::Random(e.to_string()))?;
    tx.execute(
        "INSERT INTO officers (id, name, created_ms) VALUES ($1, 'Staf pusat / central staff', 0)",
        &[&STAFF_OFFICER_ID],
    )
    .await?;
    tx.execute(
        "INSERT INTO devices (id, officer_id, name, token_hash, enrolled_ms, revoked_ms,
             pulled_seq)
         VALUES ($1, $2, 'staff', $3, 0, 0, $4)",
        &[
            &Uuid::new_v4(),
            &STAFF_OFFICER_ID,
            &&crate::secrets::token_hash(&token)[..],
            &i64::MAX,
        ],
    )
    .await?;
    Ok(())
}

/// Fills `birth_date` and `name_key` of records stored before they existed.
async fn backfill_duplicate_keys(tx: &Transaction<'_>) -> Result<()> {
    let sql = format!("{RECORD_COLUMNS} WHERE r.birth_date IS NULL");
    let rows = tx.query(sql.as_str(), &[]).await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut birth_dates = Vec::with_capacity(rows.len());
    let mut name_keys = Vec::with_capacity(rows.len());
    for row in &rows {
        let (birth_date, name_key) = crate::ingest::duplicate_keys(&stored_record(row)?.state);
        ids.push(row.try_get::<_, Uuid>(0)?);
        birth_dates.push(birth_date);
        name_keys.push(name_key);
    }
    tx.execute(
        "UPDATE records AS r SET birth_date = t.b, name_key = t.n
           FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS t(i, b, n) WHERE r.id = t.i",
        &[&ids, &birth_dates, &name_keys],
    )
    .await?;
    Ok(())
}

async fn staff_device_id(client: &impl GenericClient) -> Result<DeviceId> {
    let row = client
        .query_one(
            "SELECT id FROM devices WHERE officer_id = $1",
            &[&STAFF_OFFICER_ID],
        )
        .await?;
    Ok(DeviceId(row.try_get(0)?))
}

/// Why a staff action can no longer be applied, if it cannot.
async fn stale_action(tx: &Transaction<'_>, action: &StaffAction) -> Result<Option<String>> {
    let (sql, id, what) = match action {
        StaffAction::ResolveConflict { conflict_id, .. } => (
            "SELECT resolved_ms FROM conflicts WHERE id = $1 FOR UPDATE",
            *conflict_id,
            "conflict",
        ),
        StaffAction::Unmerge { merge_id } => (
            "SELECT undone_ms FROM merges WHERE id = $1 FOR UPDATE",
            *merge_id,
            "merge",
        ),
        StaffAction::Merge { .. } => return Ok(None),
    };
    let closed = match tx.query_opt(sql, &[&id]).await? {
        Some(row) => Some(row.try_get::<_, Option<i64>>(0)?.is_some()),
        None => None,
    };
    Ok(crate::ingest::staleness(what, id, closed))
}

const CONFLICT_COLUMNS: &str = "SELECT id, record_id, field, village_code, kept, overwritten,
     server_seq, detected_ms, resolved_ms, resolved_by, resolution FROM conflicts";

fn conflict_entry(row: &Row) -> Result<ConflictEntry> {
    let field: &str = row.try_get(2)?;
    let resolved: Option<i64> = row.try_get(8)?;
    Ok(ConflictEntry {
        id: row.try_get(0)?,
        record_id: RecordId(row.try_get(1)?),
        field: lindung_shared::registration::Field::from_name(field)
            .ok_or_else(|| StorageError::Corrupt(format!("conflict field {field:?}")))?,
        village_code: row.try_get(3)?,
        kept: from_json(row.try_get(4)?)?,
        overwritten: from_json(row.try_get(5)?)?,
        server_seq: to_seq(row.try_get(6)?),
        detected_at: from_ms(row.try_get(7)?)?,
        resolved: match resolved {
            Some(at) => Some(Resolution {
                at: from_ms(at)?,
                by: row.try_get::<_, Option<String>>(9)?.unwrap_or_default(),
                how: row.try_get::<_, Option<String>>(10)?.unwrap_or_default(),
            }),
            None => None,
        },
    })
}

const MERGE_COLUMNS: &str =
    "SELECT id, created_ms, actor, survivor_id, members, undo, undone_ms, undone_by FROM merges";

fn merge_entry(row: &Row) -> Result<MergeEntry> {
    let undone: Option<i64> = row.try_get(6)?;
    Ok(MergeEntry {
        id: row.try_get(0)?,
        created_at: from_ms(row.try_get(1)?)?,
        actor: row.try_get(2)?,
        survivor: RecordId(row.try_get(3)?),
        members: from_json(row.try_get(4)?)?,
        undo: from_json::<Vec<StaffEdit>>(row.try_get(5)?)?,
        undone: match undone {
            Some(at) => Some(Resolution {
                at: from_ms(at)?,
                by: row.try_get::<_, Option<String>>(7)?.unwrap_or_default(),
                how: "undone".to_owned(),
            }),
            None => None,
        },
    })
}

const STAFF_COLUMNS: &str =
    "SELECT id, name, created_ms, revoked_ms, login, role, region, password_hash
     FROM staff_accounts";

/// A staff account from a row of [`STAFF_COLUMNS`] (or the same columns from
/// `offset` on), with its password hash.
fn staff_account_at(row: &Row, offset: usize) -> Result<(StaffAccount, Option<String>)> {
    let revoked: Option<i64> = row.try_get(offset + 3)?;
    let role: String = row.try_get(offset + 5)?;
    Ok((
        StaffAccount {
            id: row.try_get(offset)?,
            name: row.try_get(offset + 1)?,
            created_at: from_ms(row.try_get(offset + 2)?)?,
            revoked_at: revoked.map(from_ms).transpose()?,
            login: row.try_get(offset + 4)?,
            role: Role::parse(&role)
                .ok_or_else(|| StorageError::Corrupt(format!("staff role {role:?}")))?,
            region: row.try_get(offset + 6)?,
        },
        row.try_get(offset + 7)?,
    ))
}

fn staff_account(row: &Row) -> Result<StaffAccount> {
    Ok(staff_account_at(row, 0)?.0)
}

/// An HLC as stored: its 64 bits reinterpreted as a signed `bigint`, so any
/// stamp round-trips exactly (only wall times after the year 6400 would read
/// negative in SQL, and the server bounds stored stamps near its own clock).
fn hlc_to_db(hlc: Hlc) -> i64 {
    hlc.to_u64() as i64
}

fn hlc_from_db(value: i64) -> Hlc {
    Hlc::from_u64(value as u64)
}

/// A `LIKE` pattern matching every code that starts with `prefix`.
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

fn parse_nik(text: &str) -> Result<Nik> {
    // The NIK itself stays out of the message (personal data).
    Nik::from_digits(text).map_err(|_| StorageError::Corrupt("a stored NIK is malformed".into()))
}

const OFFICER_COLUMNS: &str = "SELECT o.id, o.name, o.created_ms,
        COALESCE(array_agg(r.region_code ORDER BY r.region_code COLLATE \"C\")
                 FILTER (WHERE r.region_code IS NOT NULL), '{}')
     FROM officers o LEFT JOIN officer_regions r ON r.officer_id = o.id";

fn officer_from_row(row: &Row) -> Result<Officer> {
    Ok(Officer {
        id: OfficerId(row.try_get(0)?),
        name: row.try_get(1)?,
        created_at: from_ms(row.try_get(2)?)?,
        regions: row.try_get(3)?,
    })
}

async fn officer_by_id(client: &impl GenericClient, id: Uuid) -> Result<Option<Officer>> {
    let sql = format!("{OFFICER_COLUMNS} WHERE o.id = $1 AND o.id <> $2 GROUP BY o.id");
    client
        .query_opt(sql.as_str(), &[&id, &STAFF_OFFICER_ID])
        .await?
        .as_ref()
        .map(officer_from_row)
        .transpose()
}

/// Columns to select for [`stored_record`], from `records r`.
const RECORD_COLUMNS: &str = "SELECT r.id, r.state, r.officer_id, o.body FROM records r
     LEFT JOIN operations o ON r.state IS NULL AND o.server_seq = r.updated_seq";

/// A record from a row of [`RECORD_COLUMNS`].
fn stored_record(row: &Row) -> Result<StoredRecord> {
    let officer_id: Option<Uuid> = row.try_get(2)?;
    Ok(StoredRecord {
        state: record_state(row.try_get(1)?, row.try_get(3)?)?,
        officer_id: officer_id.map(OfficerId),
    })
}

/// The operations of other devices on `operation`'s record stored before
/// it (at `server_seq`), in server order: found through the record's
/// versions, by their (device, sequence) key.
async fn earlier_operations(
    tx: &Transaction<'_>,
    device: &DeviceScope,
    operation: &Operation,
    server_seq: u64,
) -> Result<Vec<Operation>> {
    let sql = format!("{RECORD_COLUMNS} WHERE r.id = $1");
    let Some(row) = tx
        .query_opt(sql.as_str(), &[&operation.record_id.0])
        .await?
    else {
        return Ok(Vec::new());
    };
    let ops = written_by_others(&stored_record(&row)?.state, device.device_id);
    let devices: Vec<Uuid> = ops.iter().map(|op| op.device_id.0).collect();
    let seqs: Vec<i64> = ops.iter().map(|op| from_seq(op.seq)).collect();
    let rows = tx
        .query(
            "SELECT o.body FROM operations o
               JOIN UNNEST($1::uuid[], $2::bigint[]) AS w(d, q) ON o.device_id = w.d AND o.seq = w.q
              WHERE o.server_seq < $3 ORDER BY o.server_seq",
            &[&devices, &seqs, &from_seq(server_seq)],
        )
        .await?;
    rows.iter()
        .map(|row| from_json::<Operation>(row.try_get(0)?))
        .collect()
}

/// What a push reads before planning, beyond the [`BatchContext`].
struct Loaded {
    context: BatchContext,
    /// The device's acknowledged sequence number before the batch.
    acknowledged: u64,
    /// Every sequence number of the device held above it.
    held_above: Vec<u64>,
}

async fn load_context(
    tx: &Transaction<'_>,
    device: &DeviceScope,
    operations: &[Operation],
) -> Result<Loaded> {
    let device_id = device.device_id.0;
    let (low, high) = match (
        operations.iter().map(|o| o.seq).min(),
        operations.iter().map(|o| o.seq).max(),
    ) {
        (Some(low), Some(high)) => (from_seq(low), from_seq(high)),
        _ => (1, 0),
    };
    let record_ids: Vec<Uuid> = operations
        .iter()
        .map(|o| o.record_id.0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let niks = niks_set_by(operations);
    let nik_texts: Vec<&str> = niks.iter().map(Nik::as_str).collect();

    let records_sql = format!("{RECORD_COLUMNS} WHERE r.id = ANY($1)");
    let (meta, account, known, records, holders) = tokio::try_join!(
        tx.prepare_cached("SELECT last_server_seq FROM meta"),
        tx.prepare_cached("SELECT acknowledged_seq, pulled_seq FROM devices WHERE id = $1"),
        // What the device sent before: the batch's range (duplicates,
        // reused numbers) and everything above the acknowledged number
        // (to advance it).
        tx.prepare_cached(
            "SELECT seq, fingerprint, NULL::text, hlc FROM operations
              WHERE device_id = $1 AND ((seq >= $2 AND seq <= $3)
                    OR seq > (SELECT acknowledged_seq FROM devices WHERE id = $1))
             UNION ALL
             SELECT seq, fingerprint, error, NULL::bigint FROM rejections
              WHERE device_id = $1 AND ((seq >= $2 AND seq <= $3)
                    OR seq > (SELECT acknowledged_seq FROM devices WHERE id = $1))"
        ),
        tx.prepare_cached(&records_sql),
        // Holders of the NIKs the batch sets and of those the touched records hold now.
        tx.prepare_cached(
            "SELECT nik, id FROM records
              WHERE nik IS NOT NULL AND nik = ANY($1::text[] || ARRAY(
                    SELECT nik FROM records WHERE id = ANY($2) AND nik IS NOT NULL))"
        ),
    )?;
    let account_parameters: [&(dyn ToSql + Sync); 1] = [&device_id];
    let known_parameters: [&(dyn ToSql + Sync); 3] = [&device_id, &low, &high];
    let record_parameters: [&(dyn ToSql + Sync); 1] = [&record_ids];
    let holder_parameters: [&(dyn ToSql + Sync); 2] = [&nik_texts, &record_ids];
    // Pipelined: sent together, answered in one round trip.
    let (meta, account, known_rows, record_rows, holder_rows) = tokio::try_join!(
        tx.query_one(&meta, &[]),
        tx.query_opt(&account, &account_parameters),
        tx.query(&known, &known_parameters),
        tx.query(&records, &record_parameters),
        tx.query(&holders, &holder_parameters),
    )?;
    let (acknowledged, pulled_seq) = match account {
        Some(row) => (to_seq(row.try_get(0)?), to_seq(row.try_get(1)?)),
        None => {
            return Err(StorageError::Corrupt(format!(
                "device {} is not enrolled",
                device.device_id
            )));
        }
    };
    let mut context = BatchContext {
        last_server_seq: to_seq(meta.try_get(0)?),
        pulled_seq: pulled_seq.max(device.pulled_upto),
        ..BatchContext::default()
    };
    let mut held_above = Vec::new();
    for row in &known_rows {
        let stored_seq: i64 = row.try_get(0)?;
        let seq = to_seq(stored_seq);
        if seq > acknowledged {
            held_above.push(seq);
        }
        if (low..=high).contains(&stored_seq) {
            let rejection: Option<&str> = row.try_get(2)?;
            context.known.insert(
                seq,
                KnownOperation {
                    fingerprint: parse_hash(row.try_get(1)?)?,
                    rejection: rejection.map(from_json::<WireError>).transpose()?,
                    hlc: row
                        .try_get::<_, Option<i64>>(3)?
                        .map(|hlc| Hlc::from_u64(hlc as u64)),
                },
            );
        }
    }
    for row in &record_rows {
        let id = RecordId(row.try_get(0)?);
        context.records.insert(id, stored_record(row)?);
    }
    // Every NIK the batch sets is in the map, held or not (an empty set tells
    // the planner that no stored record holds it).
    for nik in &niks {
        context.nik_holders.entry(*nik).or_default();
    }
    for row in &holder_rows {
        let nik = parse_nik(row.try_get(0)?)?;
        context
            .nik_holders
            .entry(nik)
            .or_default()
            .insert(RecordId(row.try_get(1)?));
    }
    let wanted = versions_to_locate(device, operations, &context.records);
    if !wanted.is_empty() {
        let (devices, seqs): (Vec<Uuid>, Vec<i64>) = wanted
            .iter()
            .map(|op| (op.device_id.0, from_seq(op.seq)))
            .unzip();
        let statement = tx
            .prepare_cached(
                "SELECT o.device_id, o.seq, o.server_seq FROM operations o
                   JOIN UNNEST($1::uuid[], $2::bigint[]) AS w(d, q)
                     ON o.device_id = w.d AND o.seq = w.q",
            )
            .await?;
        for row in tx.query(&statement, &[&devices, &seqs]).await? {
            let op = OpId {
                device_id: DeviceId(row.try_get(0)?),
                seq: to_seq(row.try_get(1)?),
            };
            context.version_seqs.insert(op, to_seq(row.try_get(2)?));
        }
    }
    Ok(Loaded {
        context,
        acknowledged,
        held_above,
    })
}

/// The current representatives of `niks` as counted (NIKs without an
/// active record are absent); no query when there are none.
async fn representatives(tx: &Transaction<'_>, niks: &[&str]) -> Result<HashMap<Nik, Person>> {
    if niks.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx
        .query(
            "SELECT DISTINCT ON (nik) nik, village_code, COALESCE(category, 'unknown'),
                    COALESCE(payer, 'unknown'), COALESCE(created_ms, 0) / 86400000
             FROM records WHERE nik = ANY($1) AND active ORDER BY nik, id",
            &[&niks],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let nik: String = row.try_get(0)?;
            Ok((
                parse_nik(&nik)?,
                Person {
                    place: Place {
                        village_code: row.try_get(1)?,
                        category: row.try_get(2)?,
                        payer: row.try_get(3)?,
                    },
                    first_day: row.try_get(4)?,
                },
            ))
        })
        .collect()
}

/// The persons a batch may change, as counted before it writes: the
/// representatives of its affected NIKs that stored records hold (NIKs
/// that only this batch's records hold need no read).
async fn counted_before(tx: &Transaction<'_>, plan: &BatchPlan) -> Result<HashMap<Nik, Person>> {
    let held: Vec<&str> = plan
        .affected_niks
        .difference(&plan.unheld_before)
        .map(Nik::as_str)
        .collect();
    representatives(tx, &held).await
}

/// Brings the coverage counts up to date for the NIKs a batch touched,
/// after its writes (`stored` is [`counted_before`] them): one read and at
/// most three writes, whatever the batch size.
async fn refresh_persons(
    tx: &Transaction<'_>,
    plan: &BatchPlan,
    stored: &HashMap<Nik, Person>,
    now: OffsetDateTime,
) -> Result<()> {
    let changes = person_changes(tx, plan, stored, now).await?;
    write_person_changes(tx, &changes).await
}

/// How a batch changed the counts, after its writes (`stored` is
/// [`counted_before`] them): at most one read.
async fn person_changes(
    tx: &Transaction<'_>,
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
    let current_niks: Vec<&str> = affected
        .difference(&plan.unheld_before)
        .chain(&to_read)
        .map(Nik::as_str)
        .collect();
    current.extend(representatives(tx, &current_niks).await?);
    Ok(crate::persons::changes(affected, stored, &current))
}

/// Writes count changes ([`person_changes`], or a group's sum): at most
/// three writes, sent together.
async fn write_person_changes(
    tx: &Transaction<'_>,
    changes: &crate::persons::PersonChanges,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut deltas: (Vec<&str>, Vec<&str>, Vec<&str>, Vec<i64>) = Default::default();
    for (place, delta) in &changes.deltas {
        deltas.0.push(&place.village_code);
        deltas.1.push(&place.category);
        deltas.2.push(&place.payer);
        deltas.3.push(*delta);
    }
    let mut regions: RegionColumns<'_> = Default::default();
    for (place, delta) in &changes.region_deltas {
        regions.0.push(level_of(&place.village_code));
        regions.1.push(&place.village_code);
        regions.2.push(&place.category);
        regions.3.push(&place.payer);
        regions.4.push(*delta);
    }
    let mut days: (Vec<i32>, Vec<&str>, Vec<i64>, Vec<i64>) = Default::default();
    for ((code, day), delta) in &changes.day_deltas {
        days.0.push(level_of(code));
        days.1.push(code);
        days.2.push(*day);
        days.3.push(*delta);
    }
    // Independent writes, sent together (pipelined); empty ones skipped.
    let delta_parameters: [&(dyn ToSql + Sync); 4] = [&deltas.0, &deltas.1, &deltas.2, &deltas.3];
    let region_parameters: [&(dyn ToSql + Sync); 5] =
        [&regions.0, &regions.1, &regions.2, &regions.3, &regions.4];
    let day_parameters: [&(dyn ToSql + Sync); 4] = [&days.0, &days.1, &days.2, &days.3];
    tokio::try_join!(
        skip_if(
            deltas.0.is_empty(),
            tx.execute(
                "INSERT INTO person_counts (village_code, category, payer, persons)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[])
                 ON CONFLICT (village_code, category, payer)
                     DO UPDATE SET persons = person_counts.persons + excluded.persons",
                &delta_parameters,
            ),
        ),
        skip_if(
            regions.0.is_empty(),
            tx.execute(
                "INSERT INTO region_counts (level, code, category, payer, persons)
                 SELECT * FROM UNNEST($1::integer[], $2::text[], $3::text[], $4::text[],
                                      $5::bigint[])
                 ON CONFLICT (level, code, category, payer)
                     DO UPDATE SET persons = region_counts.persons + excluded.persons",
                &region_parameters,
            ),
        ),
        skip_if(
            days.0.is_empty(),
            tx.execute(
                "INSERT INTO region_days (level, code, day, persons)
                 SELECT * FROM UNNEST($1::integer[], $2::text[], $3::bigint[], $4::bigint[])
                 ON CONFLICT (level, code, day)
                     DO UPDATE SET persons = region_days.persons + excluded.persons",
                &day_parameters,
            ),
        ),
    )?;
    if deltas.3.iter().any(|delta| *delta < 0) {
        tx.execute(
            "DELETE FROM person_counts c
             USING UNNEST($1::text[], $2::text[], $3::text[]) AS d(v, k, p)
             WHERE c.village_code = d.v AND c.category = d.k AND c.payer = d.p AND c.persons = 0",
            &[&deltas.0, &deltas.1, &deltas.2],
        )
        .await?;
    }
    if regions.4.iter().any(|delta| *delta < 0) {
        tx.execute(
            "DELETE FROM region_counts c
             USING UNNEST($1::integer[], $2::text[], $3::text[], $4::text[]) AS d(l, r, k, p)
             WHERE c.level = d.l AND c.code = d.r AND c.category = d.k AND c.payer = d.p
               AND c.persons = 0",
            &[&regions.0, &regions.1, &regions.2, &regions.3],
        )
        .await?;
    }
    if days.3.iter().any(|delta| *delta < 0) {
        tx.execute(
            "DELETE FROM region_days c
             USING UNNEST($1::integer[], $2::text[], $3::bigint[]) AS d(l, r, y)
             WHERE c.level = d.l AND c.code = d.r AND c.day = d.y AND c.persons = 0",
            &[&days.0, &days.1, &days.2],
        )
        .await?;
    }
    Ok(())
}

/// Column arrays of region count changes (level, code, category, payer, delta).
type RegionColumns<'a> = (Vec<i32>, Vec<&'a str>, Vec<&'a str>, Vec<&'a str>, Vec<i64>);

/// The level of a rolled-up region: its code's length.
fn level_of(code: &str) -> i32 {
    level_of_length(code.len())
}

fn level_of_length(length: usize) -> i32 {
    i32::try_from(length).unwrap_or(i32::MAX)
}

/// Writes a plan with one statement per table, pipelined; returns the
/// device's new acknowledged sequence number.
async fn write_plan(
    tx: &Transaction<'_>,
    device: &DeviceScope,
    plan: &BatchPlan,
    loaded_acknowledged: u64,
    mut held_above: Vec<u64>,
    now: OffsetDateTime,
) -> Result<u64> {
    let device_id = device.device_id.0;
    let now_ms = ms(now);
    held_above.extend(plan.accepted.iter().map(|a| a.operation.seq));
    held_above.extend(plan.rejected.iter().map(|r| r.seq));
    let acknowledged = from_seq(advance_acknowledged(loaded_acknowledged, held_above));

    let accepted = &plan.accepted;
    let server_seqs: Vec<i64> = accepted.iter().map(|a| from_seq(a.server_seq)).collect();
    let seqs: Vec<i64> = accepted.iter().map(|a| from_seq(a.operation.seq)).collect();
    let record_ids: Vec<Uuid> = accepted.iter().map(|a| a.operation.record_id.0).collect();
    let hlcs: Vec<i64> = accepted
        .iter()
        .map(|a| hlc_to_db(a.operation.hlc))
        .collect();
    let original_hlcs: Vec<i64> = accepted.iter().map(|a| hlc_to_db(a.original_hlc)).collect();
    let fingerprints: Vec<&[u8]> = accepted.iter().map(|a| &a.fingerprint[..]).collect();
    let villages: Vec<&str> = accepted.iter().map(|a| a.village_code.as_str()).collect();
    let previous: Vec<Option<&str>> = accepted
        .iter()
        .map(|a| a.previous_village_code.as_deref())
        .collect();
    let bodies: Vec<String> = accepted.iter().map(operation_body).collect::<Result<_>>()?;
    let max_hlc = accepted
        .iter()
        .map(|a| a.operation.hlc)
        .max()
        .map_or(0, hlc_to_db);

    let rejected = &plan.rejected;
    let rejected_seqs: Vec<i64> = rejected.iter().map(|r| from_seq(r.seq)).collect();
    let rejected_records: Vec<Uuid> = rejected.iter().map(|r| r.record_id.0).collect();
    let rejected_prints: Vec<&[u8]> = rejected.iter().map(|r| &r.fingerprint[..]).collect();
    let errors: Vec<String> = rejected
        .iter()
        .map(|r| json(&r.error))
        .collect::<Result<_>>()?;

    let records = &plan.records;
    let ids: Vec<Uuid> = records.iter().map(|r| r.record_id.0).collect();
    let states: Vec<Option<String>> = records
        .iter()
        .map(|r| {
            if r.single_operation {
                Ok(None)
            } else {
                json(&r.state).map(Some)
            }
        })
        .collect::<Result<_>>()?;
    let record_villages: Vec<&str> = records.iter().map(|r| r.village_code.as_str()).collect();
    let niks: Vec<Option<&str>> = records
        .iter()
        .map(|r| r.nik.as_ref().map(Nik::as_str))
        .collect();
    let active: Vec<bool> = records.iter().map(|r| r.active).collect();
    let officers: Vec<Option<Uuid>> = records.iter().map(|r| r.officer_id.map(|o| o.0)).collect();
    let updated: Vec<i64> = records.iter().map(|r| from_seq(r.updated_seq)).collect();
    let marks: Vec<Option<i64>> = records
        .iter()
        .map(|r| {
            plan.duplicate_marks
                .get(&r.record_id)
                .copied()
                .map(from_seq)
        })
        .collect();
    // Marks on records the batch did not otherwise touch (other holders of a NIK).
    let written: BTreeSet<RecordId> = records.iter().map(|r| r.record_id).collect();
    let (other_marked, other_marks): (Vec<Uuid>, Vec<i64>) = plan
        .duplicate_marks
        .iter()
        .filter(|(id, _)| !written.contains(id))
        .map(|(id, seq)| (id.0, from_seq(*seq)))
        .unzip();

    let conflicts = &plan.conflicts;
    let conflict_records: Vec<Uuid> = conflicts.iter().map(|c| c.record_id.0).collect();
    let conflict_fields: Vec<&str> = conflicts.iter().map(|c| c.field.as_str()).collect();
    let conflict_villages: Vec<&str> = conflicts.iter().map(|c| c.village_code.as_str()).collect();
    let conflict_kept: Vec<String> = conflicts
        .iter()
        .map(|c| json(&c.kept))
        .collect::<Result<_>>()?;
    let conflict_overwritten: Vec<String> = conflicts
        .iter()
        .map(|c| json(&c.overwritten))
        .collect::<Result<_>>()?;
    let conflict_seqs: Vec<i64> = conflicts.iter().map(|c| from_seq(c.server_seq)).collect();
    if !conflicts.is_empty() {
        tx.execute(
            "INSERT INTO conflicts (record_id, field, village_code, kept, overwritten, server_seq,
                 detected_ms)
             SELECT r, f, v, k, o, s, $7 FROM UNNEST($1::uuid[], $2::text[], $3::text[],
                 $4::text[], $5::text[], $6::bigint[]) AS t(r, f, v, k, o, s)",
            &[
                &conflict_records,
                &conflict_fields,
                &conflict_villages,
                &conflict_kept,
                &conflict_overwritten,
                &conflict_seqs,
                &now_ms,
            ],
        )
        .await?;
    }

    let (insert_operations, insert_rejections, upsert_records, mark, meta, account) = tokio::try_join!(
        tx.prepare_cached(
            "INSERT INTO operations (server_seq, device_id, seq, record_id, hlc, original_hlc,
                 fingerprint, village_code, previous_village_code, body, received_ms)
             SELECT s, $1, q, r, h, oh, f, v, pv, b, $2
               FROM UNNEST($3::bigint[], $4::bigint[], $5::uuid[], $6::bigint[], $7::bigint[],
                           $8::bytea[], $9::text[], $10::text[], $11::text[])
                    AS t(s, q, r, h, oh, f, v, pv, b)"
        ),
        tx.prepare_cached(
            "INSERT INTO rejections (device_id, seq, record_id, fingerprint, error, received_ms)
             SELECT $1, q, r, f, e, $2
               FROM UNNEST($3::bigint[], $4::uuid[], $5::bytea[], $6::text[]) AS t(q, r, f, e)"
        ),
        tx.prepare_cached(
            "INSERT INTO records (id, state, village_code, nik, active, officer_id, updated_seq,
                 duplicate_seq, category, payer, created_ms, birth_date, name_key)
             SELECT i, s, v, n, a, o, u, d, c, p, $11, b, k FROM UNNEST($1::uuid[], $2::text[],
                 $3::text[], $4::text[], $5::bool[], $6::uuid[], $7::bigint[], $8::bigint[],
                 $9::text[], $10::text[], $12::text[], $13::text[])
                 AS t(i, s, v, n, a, o, u, d, c, p, b, k)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state,
                 village_code = excluded.village_code, nik = excluded.nik,
                 active = excluded.active, officer_id = excluded.officer_id,
                 updated_seq = excluded.updated_seq, category = excluded.category,
                 payer = excluded.payer, birth_date = excluded.birth_date,
                 name_key = excluded.name_key,
                 duplicate_seq = COALESCE(excluded.duplicate_seq, records.duplicate_seq)"
        ),
        tx.prepare_cached(
            "UPDATE records AS r SET duplicate_seq = m.seq
               FROM UNNEST($1::uuid[], $2::bigint[]) AS m(id, seq) WHERE r.id = m.id"
        ),
        tx.prepare_cached(
            "UPDATE meta SET last_server_seq = $1, last_hlc = GREATEST(last_hlc, $2)"
        ),
        tx.prepare_cached(
            "UPDATE devices SET acknowledged_seq = $2, last_seen_ms = $3 WHERE id = $1"
        ),
    )?;

    let last_server_seq = from_seq(plan.last_server_seq);
    let operation_parameters: [&(dyn ToSql + Sync); 11] = [
        &device_id,
        &now_ms,
        &server_seqs,
        &seqs,
        &record_ids,
        &hlcs,
        &original_hlcs,
        &fingerprints,
        &villages,
        &previous,
        &bodies,
    ];
    let rejection_parameters: [&(dyn ToSql + Sync); 6] = [
        &device_id,
        &now_ms,
        &rejected_seqs,
        &rejected_records,
        &rejected_prints,
        &errors,
    ];
    let categories: Vec<Option<&str>> = records.iter().map(|r| r.category).collect();
    let payers: Vec<Option<&str>> = records.iter().map(|r| r.payer).collect();
    let birth_dates: Vec<Option<&str>> = records.iter().map(|r| r.birth_date.as_deref()).collect();
    let name_keys: Vec<Option<&str>> = records.iter().map(|r| r.name_key.as_deref()).collect();
    let record_parameters: [&(dyn ToSql + Sync); 13] = [
        &ids,
        &states,
        &record_villages,
        &niks,
        &active,
        &officers,
        &updated,
        &marks,
        &categories,
        &payers,
        &now_ms,
        &birth_dates,
        &name_keys,
    ];
    let mark_parameters: [&(dyn ToSql + Sync); 2] = [&other_marked, &other_marks];
    let meta_parameters: [&(dyn ToSql + Sync); 2] = [&last_server_seq, &max_hlc];
    let account_parameters: [&(dyn ToSql + Sync); 3] = [&device_id, &acknowledged, &now_ms];
    // No statement depends on another's effect, so they are sent together
    // (pipelined) and answered in one round trip; empty ones are skipped.
    tokio::try_join!(
        skip_if(
            accepted.is_empty(),
            tx.execute(&insert_operations, &operation_parameters)
        ),
        skip_if(
            rejected.is_empty(),
            tx.execute(&insert_rejections, &rejection_parameters)
        ),
        skip_if(
            records.is_empty(),
            tx.execute(&upsert_records, &record_parameters)
        ),
        skip_if(other_marked.is_empty(), tx.execute(&mark, &mark_parameters)),
        tx.execute(&meta, &meta_parameters),
        tx.execute(&account, &account_parameters),
    )?;
    Ok(to_seq(acknowledged))
}

/// Runs `statement` unless `skip`.
async fn skip_if(
    skip: bool,
    statement: impl Future<Output = Result<u64, tokio_postgres::Error>>,
) -> Result<u64, tokio_postgres::Error> {
    if skip { Ok(0) } else { statement.await }
}

async fn duplicate_notices(
    tx: &Transaction<'_>,
    patterns: &[String],
    after: u64,
    upto: u64,
) -> Result<Vec<DuplicateNotice>> {
    if upto <= after {
        return Ok(Vec::new());
    }
    let statement = tx
        .prepare_cached(
            "SELECT r.id, h.id, h.village_code, o.name
               FROM records r
               LEFT JOIN records h ON h.nik = r.nik AND h.id <> r.id
               LEFT JOIN officers o ON o.id = h.officer_id
              WHERE r.duplicate_seq > $1 AND r.duplicate_seq <= $2
                AND r.village_code LIKE ANY($3)
              ORDER BY r.duplicate_seq, r.id, h.id",
        )
        .await?;
    let rows = tx
        .query(&statement, &[&from_seq(after), &from_seq(upto), &patterns])
        .await?;
    let mut notices: Vec<DuplicateNotice> = Vec::new();
    for row in &rows {
        let record_id = RecordId(row.try_get(0)?);
        let other: Option<Uuid> = row.try_get(1)?;
        if notices.last().map(|n| n.record_id) != Some(record_id) {
            notices.push(DuplicateNotice {
                record_id,
                others: Vec::new(),
            });
        }
        if let (Some(other), Some(notice)) = (other, notices.last_mut()) {
            notice.others.push(DuplicateHolder {
                record_id: RecordId(other),
                village_code: row.try_get(2)?,
                officer_name: row.try_get(3)?,
            });
        }
    }
    Ok(notices)
}

fn bundle_import_from_row(row: &Row) -> Result<BundleImport> {
    Ok(BundleImport {
        bundle_id: row.try_get(0)?,
        device_id: DeviceId(row.try_get(1)?),
        imported_at: from_ms(row.try_get(2)?)?,
        imported_by: row.try_get(3)?,
        operations: to_seq(row.try_get(4)?),
        accepted: to_seq(row.try_get(5)?),
        duplicates: to_seq(row.try_get(6)?),
        rejected: to_seq(row.try_get(7)?),
        receipt: row.try_get(8)?,
    })
}

fn device_from_row(row: &Row) -> Result<Device> {
    let revoked: Option<i64> = row.try_get(5)?;
    let seen: Option<i64> = row.try_get(6)?;
    Ok(Device {
        id: DeviceId(row.try_get(0)?),
        name: row.try_get(1)?,
        officer_id: OfficerId(row.try_get(2)?),
        officer_name: row.try_get(3)?,
        enrolled_at: from_ms(row.try_get(4)?)?,
        revoked_at: revoked.map(from_ms).transpose()?,
        last_seen_at: seen.map(from_ms).transpose()?,
        acknowledged_seq: to_seq(row.try_get(7)?),
    })
}

#[async_trait]
impl Storage for PostgresStorage {
    fn describe(&self) -> String {
        self.described.clone()
    }

    async fn store_id(&self) -> Result<StoreId> {
        let client = self.client().await?;
        let row = client.query_one("SELECT store_id FROM meta", &[]).await?;
        Ok(StoreId(row.try_get(0)?))
    }

    fn pool_status(&self) -> Option<crate::metrics::PoolStatus> {
        let status = self.pool.status();
        let idle = u64::try_from(status.available).unwrap_or(0);
        let size = status.size as u64;
        Some(crate::metrics::PoolStatus {
            in_use: size.saturating_sub(idle),
            idle,
            max: status.max_size as u64,
        })
    }

    async fn renew_store_id(&self) -> Result<StoreId> {
        let client = self.client().await?;
        let id = Uuid::new_v4();
        client
            .execute("UPDATE meta SET store_id = $1", &[&id])
            .await?;
        Ok(StoreId(id))
    }

    async fn last_hlc(&self) -> Result<Hlc> {
        // Kept in `meta` by every push, so no scan of the operations.
        let client = self.client().await?;
        let row = client.query_one("SELECT last_hlc FROM meta", &[]).await?;
        Ok(hlc_from_db(row.try_get(0)?))
    }

    async fn add_officer(&self, officer: &Officer) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO officers (id, name, created_ms) VALUES ($1, $2, $3)",
            &[&officer.id.0, &officer.name, &ms(officer.created_at)],
        )
        .await?;
        tx.execute(
            "INSERT INTO officer_regions (officer_id, region_code)
             SELECT $1, code FROM UNNEST($2::text[]) AS t(code)
             ON CONFLICT DO NOTHING",
            &[&officer.id.0, &officer.regions],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn officers(&self) -> Result<Vec<Officer>> {
        let client = self.client().await?;
        // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
        let sql = format!(
            "{OFFICER_COLUMNS} WHERE o.id <> $1 GROUP BY o.id ORDER BY o.name COLLATE \"C\", o.id"
        );
        client
            .query(sql.as_str(), &[&STAFF_OFFICER_ID])
            .await?
            .iter()
            .map(officer_from_row)
            .collect()
    }

    async fn officer(&self, id: OfficerId) -> Result<Option<Officer>> {
        let client = self.client().await?;
        officer_by_id(&client, id.0).await
    }

    async fn add_enrollment_code(&self, code: &NewEnrollmentCode) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO enrollment_codes (code_hash, officer_id, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4)",
                &[
                    &&code.code_hash[..],
                    &code.officer_id.0,
                    &ms(code.created_at),
                    &ms(code.expires_at),
                ],
            )
            .await?;
        Ok(())
    }

    async fn enroll(&self, enrollment: &Enrollment) -> Result<Result<Officer, EnrollRefusal>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // FOR UPDATE: two devices racing with one code cannot both use it.
        let code = tx
            .query_opt(
                "SELECT officer_id, expires_ms, used_ms FROM enrollment_codes
                 WHERE code_hash = $1 FOR UPDATE",
                &[&&enrollment.code_hash[..]],
            )
            .await?;
        let Some(code) = code else {
            return Ok(Err(EnrollRefusal::UnknownCode));
        };
        let officer_id: Uuid = code.try_get(0)?;
        let expires_ms: i64 = code.try_get(1)?;
        let used_ms: Option<i64> = code.try_get(2)?;
        if used_ms.is_some() {
            return Ok(Err(EnrollRefusal::AlreadyUsed));
        }
        let now_ms = ms(enrollment.now);
        if expires_ms <= now_ms {
            return Ok(Err(EnrollRefusal::Expired));
        }
        let device_id = enrollment.device_id.0;
        let revoked = tx
            .query_opt(
                "SELECT revoked_ms FROM devices WHERE id = $1 FOR UPDATE",
                &[&device_id],
            )
            .await?;
        if let Some(row) = revoked
            && row.try_get::<_, Option<i64>>(0)?.is_some()
        {
            return Ok(Err(EnrollRefusal::DeviceRevoked));
        }
        tx.execute(
            "INSERT INTO devices (id, officer_id, name, token_hash, enrolled_ms)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET officer_id = excluded.officer_id,
                 name = excluded.name, token_hash = excluded.token_hash,
                 next_token_hash = NULL, enrolled_ms = excluded.enrolled_ms",
            &[
                &device_id,
                &officer_id,
                &enrollment.device_name,
                &&enrollment.token_hash[..],
                &now_ms,
            ],
        )
        .await?;
        tx.execute(
            "UPDATE enrollment_codes SET used_ms = $2, device_id = $3 WHERE code_hash = $1",
            &[&&enrollment.code_hash[..], &now_ms, &device_id],
        )
        .await?;
        let officer = officer_by_id(&tx, officer_id)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("officer {officer_id} missing")))?;
        tx.commit().await?;
        Ok(Ok(officer))
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        let client = self.client().await?;
        client
            .query(
                "SELECT d.id, d.name, d.officer_id, o.name, d.enrolled_ms, d.revoked_ms,
                        d.last_seen_ms, d.acknowledged_seq
                 FROM devices d JOIN officers o ON o.id = d.officer_id
                 WHERE d.officer_id <> $1
                 ORDER BY d.enrolled_ms DESC, d.id",
                &[&STAFF_OFFICER_ID],
            )
            .await?
            .iter()
            .map(device_from_row)
            .collect()
    }

    async fn bundle_device(&self, id: DeviceId) -> Result<Option<BundleDevice>> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "SELECT d.officer_id, o.name, d.name, d.revoked_ms, d.bundle_public_key,
                        COALESCE((SELECT array_agg(region_code ORDER BY region_code COLLATE \"C\")
                                    FROM officer_regions WHERE officer_id = d.officer_id), '{}')
                 FROM devices d JOIN officers o ON o.id = d.officer_id
                 WHERE d.id = $1",
                &[&id.0],
            )
            .await?
        else {
            return Ok(None);
        };
        let revoked: Option<i64> = row.try_get(3)?;
        let key: Option<Vec<u8>> = row.try_get(4)?;
        Ok(Some(BundleDevice {
            scope: DeviceScope {
                device_id: id,
                officer_id: OfficerId(row.try_get(0)?),
                officer_name: row.try_get(1)?,
                regions: row.try_get(5)?,
                pulled_upto: 0,
            },
            name: row.try_get(2)?,
            revoked_at: revoked.map(from_ms).transpose()?,
            public_key: key.map(parse_hash).transpose()?,
        }))
    }

    async fn set_bundle_public_key(&self, id: DeviceId, public_key: &[u8; 32]) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE devices SET bundle_public_key = $2 WHERE id = $1",
                &[&id.0, &&public_key[..]],
            )
            .await?;
        Ok(())
    }

    async fn server_bundle_keys(&self, candidate: &ServerBundleKeys) -> Result<ServerBundleKeys> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO bundle_keys (id, signing_seed, device_secret_root) VALUES (1, $1, $2)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &&candidate.signing_seed[..],
                    &&candidate.device_secret_root[..],
                ],
            )
            .await?;
        let row = client
            .query_one(
                "SELECT signing_seed, device_secret_root FROM bundle_keys WHERE id = 1",
                &[],
            )
            .await?;
        Ok(ServerBundleKeys {
            signing_seed: parse_hash(row.try_get(0)?)?,
            device_secret_root: parse_hash(row.try_get(1)?)?,
        })
    }

    async fn bundle_import(&self, bundle_id: Uuid) -> Result<Option<BundleImport>> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT bundle_id, device_id, imported_ms, imported_by, operations, accepted,
                        duplicates, rejected, receipt
                 FROM bundle_imports WHERE bundle_id = $1",
                &[&bundle_id],
            )
            .await?
            .as_ref()
            .map(bundle_import_from_row)
            .transpose()
    }

    async fn record_bundle_import(&self, import: &BundleImport) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO bundle_imports (bundle_id, device_id, imported_ms, imported_by,
                     operations, accepted, duplicates, rejected, receipt)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (bundle_id) DO NOTHING",
                &[
                    &import.bundle_id,
                    &import.device_id.0,
                    &ms(import.imported_at),
                    &import.imported_by,
                    &from_seq(import.operations),
                    &from_seq(import.accepted),
                    &from_seq(import.duplicates),
                    &from_seq(import.rejected),
                    &import.receipt,
                ],
            )
            .await?;
        Ok(())
    }

    async fn bundle_imports(&self, limit: u32) -> Result<Vec<BundleImport>> {
        let client = self.client().await?;
        client
            .query(
                "SELECT bundle_id, device_id, imported_ms, imported_by, operations, accepted,
                        duplicates, rejected, ''::bytea
                 FROM bundle_imports ORDER BY imported_ms DESC, bundle_id LIMIT $1",
                &[&i64::from(limit)],
            )
            .await?
            .iter()
            .map(bundle_import_from_row)
            .collect()
    }

    async fn revoke_device(&self, id: DeviceId, at: OffsetDateTime) -> Result<bool> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE devices SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1",
                &[&id.0, &ms(at)],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn authenticate(&self, token_hash: &[u8; 32]) -> Result<Option<Authenticated>> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT d.id, d.officer_id, o.name, d.revoked_ms,
                        COALESCE((SELECT array_agg(region_code ORDER BY region_code COLLATE \"C\")
                                    FROM officer_regions WHERE officer_id = d.officer_id), '{}'),
                        d.token_hash = $1
                 FROM devices d JOIN officers o ON o.id = d.officer_id
                 WHERE d.token_hash = $1 OR d.next_token_hash = $1",
            )
            .await?;
        let Some(row) = client.query_opt(&statement, &[&&token_hash[..]]).await? else {
            return Ok(None);
        };
        if !row.try_get::<_, bool>(5)? {
            // The first use of a rotated token: it becomes the token and the
            // previous one is forgotten, in one statement. When it changes
            // nothing, a concurrent request promoted it first (then it is
            // the token now) or a newer rotation replaced it (then it is
            // worth nothing): the token column decides.
            let promoted = client
                .execute(
                    "UPDATE devices SET token_hash = next_token_hash, next_token_hash = NULL
                     WHERE next_token_hash = $1",
                    &[&&token_hash[..]],
                )
                .await?;
            if promoted == 0 {
                let still = client
                    .query_opt(
                        "SELECT 1 FROM devices WHERE token_hash = $1",
                        &[&&token_hash[..]],
                    )
                    .await?;
                if still.is_none() {
                    return Ok(None);
                }
            }
        }
        let revoked: Option<i64> = row.try_get(3)?;
        Ok(Some(Authenticated {
            scope: DeviceScope {
                device_id: DeviceId(row.try_get(0)?),
                officer_id: OfficerId(row.try_get(1)?),
                officer_name: row.try_get(2)?,
                regions: row.try_get(4)?,
                pulled_upto: 0,
            },
            revoked_at: revoked.map(from_ms).transpose()?,
        }))
    }

    async fn rotate_device_token(
        &self,
        device: DeviceId,
        current: &[u8; 32],
        next: &[u8; 32],
    ) -> Result<bool> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE devices SET next_token_hash = $3
                 WHERE id = $1 AND token_hash = $2 AND revoked_ms IS NULL",
                &[&device.0, &&current[..], &&next[..]],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn push_in_turn<'a>(
        &'a self,
        device: &'a DeviceScope,
        operations: &'a [Operation],
        now: OffsetDateTime,
        turn: Turn<'a>,
    ) -> Result<Option<PushResult>> {
        // Checking the operations needs no database: done before the push
        // lock, so concurrent pushes check theirs at the same time.
        let (device, operations, prepared) =
            prepare_push(device.clone(), operations.to_vec(), now).await?;
        if !turn.await {
            return Ok(None);
        }
        let (answer, mut answered) = tokio::sync::oneshot::channel();
        self.pushes.waiting.add(QueuedPush {
            device,
            operations,
            prepared,
            now,
            answer,
        });
        loop {
            tokio::select! {
                biased;
                result = &mut answered => {
                    return result.unwrap_or_else(|_| {
                        Err(StorageError::Task(
                            "the push's group transaction ended without an answer".into(),
                        ))
                    }).map(Some);
                }
                leader = Arc::clone(&self.pushes.leader).lock_owned() => {
                    let pushes = self.pushes.waiting.take();
                    if pushes.is_empty() {
                        // Ours was in the group just answered.
                        continue;
                    }
                    let storage = self.clone();
                    // A task of its own: the group is applied and answered
                    // even if this request goes away meanwhile.
                    let group = tokio::spawn(async move {
                        storage.apply_pushes(pushes).await;
                        drop(leader);
                    });
                    if let Err(error) = group.await {
                        tracing::error!(%error, "a group of pushes failed to finish");
                    }
                }
            }
        }
    }

    async fn pull(&self, device: &DeviceScope, cursor: u64, limit: u32) -> Result<PullResult> {
        let mut client = self.client().await?;
        // Asking from `cursor` means the device holds everything in its scope
        // up to there: later edits it makes have seen those changes.
        let pulled = client
            .prepare_cached("UPDATE devices SET pulled_seq = $2 WHERE id = $1 AND pulled_seq < $2")
            .await?;
        client
            .execute(&pulled, &[&device.device_id.0, &from_seq(cursor)])
            .await?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let patterns: Vec<String> = device.regions.iter().map(|r| prefix_pattern(r)).collect();
        let (meta, page) = tokio::try_join!(
            tx.prepare_cached("SELECT last_server_seq FROM meta"),
            tx.prepare_cached(
                "SELECT server_seq, body, village_code, previous_village_code FROM operations
                  WHERE server_seq > $1 AND device_id <> $2
                    AND (village_code LIKE ANY($3) OR previous_village_code LIKE ANY($3))
                  ORDER BY server_seq LIMIT $4"
            ),
        )?;
        let fetch = i64::from(limit) + 1;
        let after = from_seq(cursor);
        let page_parameters: [&(dyn ToSql + Sync); 4] =
            [&after, &device.device_id.0, &patterns, &fetch];
        // One snapshot, one round trip.
        let (meta, rows) =
            tokio::try_join!(tx.query_one(&meta, &[]), tx.query(&page, &page_parameters),)?;
        let last = to_seq(meta.try_get(0)?);
        let has_more = rows.len() > limit as usize;
        let mut operations = Vec::with_capacity(rows.len().min(limit as usize));
        let mut last_seq = cursor;
        for row in rows.iter().take(limit as usize) {
            last_seq = to_seq(row.try_get(0)?);
            let operation = from_json::<Operation>(row.try_get(1)?)?;
            if entered_scope(device, row.try_get(2)?, row.try_get(3)?) {
                operations.extend(earlier_operations(&tx, device, &operation, last_seq).await?);
            }
            operations.push(operation);
        }
        let next_cursor = if has_more { last_seq } else { last.max(cursor) };
        let duplicates = duplicate_notices(&tx, &patterns, cursor, next_cursor).await?;
        tx.commit().await?;
        Ok(PullResult {
            operations,
            duplicates,
            next_cursor,
            has_more,
        })
    }

    async fn record(&self, id: RecordId) -> Result<Option<StoredRecord>> {
        let client = self.client().await?;
        let sql = format!("{RECORD_COLUMNS} WHERE r.id = $1");
        let row = client.query_opt(sql.as_str(), &[&id.0]).await?;
        row.as_ref().map(stored_record).transpose()
    }

    async fn counts(&self) -> Result<Counts> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM records),
                        (SELECT COUNT(*) FROM records WHERE active),
                        (SELECT COUNT(*) FROM operations),
                        (SELECT COUNT(*) FROM rejections),
                        (SELECT COALESCE(SUM(n), 0)::bigint FROM
                            (SELECT COUNT(*) AS n FROM records WHERE nik IS NOT NULL
                              GROUP BY nik HAVING COUNT(*) > 1) AS groups),
                        (SELECT COUNT(*) FROM officers WHERE id <> $1),
                        (SELECT COUNT(*) FROM devices WHERE officer_id <> $1)",
                &[&STAFF_OFFICER_ID],
            )
            .await?;
        let count = |index: usize| -> Result<u64> { Ok(to_seq(row.try_get(index)?)) };
        Ok(Counts {
            records: count(0)?,
            active_records: count(1)?,
            operations: count(2)?,
            rejections: count(3)?,
            records_in_duplicate_groups: count(4)?,
            officers: count(5)?,
            devices: count(6)?,
        })
    }

    async fn replace_reference(&self, rows: &[ReferenceRow]) -> Result<ReferenceReplaced> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let years: std::collections::BTreeSet<i32> = rows.iter().map(|r| r.year).collect();
        let years: Vec<i32> = years.into_iter().collect();
        let removed = tx
            .execute(
                "DELETE FROM reference_values WHERE year = ANY($1)",
                &[&years],
            )
            .await?;
        let insert = tx
            .prepare(
                "INSERT INTO reference_values (year, region_code, working_population, baseline,
                     target_bp, category_denominators)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        let mut stored = 0;
        for row in rows {
            let target_bp = row
                .target_bp
                .map(|bp| i32::try_from(bp).unwrap_or(i32::MAX));
            tx.execute(
                &insert,
                &[
                    &row.year,
                    &row.region_code,
                    &row.working_population.map(from_seq),
                    &row.baseline.map(from_seq),
                    &target_bp,
                    &json(&row.category_denominators)?,
                ],
            )
            .await?;
            stored += 1;
        }
        tx.commit().await?;
        Ok(ReferenceReplaced {
            years,
            removed,
            stored,
        })
    }

    async fn coverage_counts(&self, region_prefix: &str, since_ms: i64) -> Result<CoverageCounts> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let since_day = crate::persons::day_of(since_ms);
        // A rolled-up region reads its own rows; a village (or any other
        // prefix) sums its villages.
        let (rows, since) = if crate::persons::ROLLUP_LENGTHS.contains(&region_prefix.len()) {
            let level = level_of(region_prefix);
            let place_parameters: [&(dyn ToSql + Sync); 2] = [&level, &region_prefix];
            let day_parameters: [&(dyn ToSql + Sync); 3] = [&level, &region_prefix, &since_day];
            tokio::try_join!(
                tx.query(
                    "SELECT category, payer, persons FROM region_counts
                     WHERE level = $1 AND code = $2",
                    &place_parameters,
                ),
                tx.query_one(
                    "SELECT COALESCE(SUM(persons), 0)::bigint FROM region_days
                     WHERE level = $1 AND code = $2 AND day >= $3",
                    &day_parameters,
                ),
            )?
        } else {
            let pattern = prefix_pattern(region_prefix);
            let length = level_of(region_prefix);
            let place_parameters: [&(dyn ToSql + Sync); 1] = [&pattern];
            let day_parameters: [&(dyn ToSql + Sync); 3] = [&pattern, &length, &since_day];
            // The pace listing's query, for the one region.
            let recent = format!(
                "SELECT COALESCE(SUM(persons), 0)::bigint
                 FROM ({RECENT_REPRESENTATIVES}) AS paced(code, persons)"
            );
            tokio::try_join!(
                tx.query(
                    "SELECT category, payer, SUM(persons)::bigint FROM person_counts
                     WHERE village_code LIKE $1 GROUP BY 1, 2",
                    &place_parameters,
                ),
                tx.query_one(&recent, &day_parameters),
            )?
        };
        let mut counts = CoverageCounts::default();
        for row in rows {
            let category: String = row.try_get(0)?;
            let payer: String = row.try_get(1)?;
            let persons = to_seq(row.try_get(2)?);
            counts.persons += persons;
            *counts.by_category.entry(category).or_default() += persons;
            *counts.by_payer.entry(payer).or_default() += persons;
        }
        counts.persons_since = to_seq(since.try_get(0)?);
        tx.commit().await?;
        Ok(counts)
    }

    async fn persons_by_region(
        &self,
        region_prefix: &str,
        length: usize,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        let client = self.client().await?;
        let pattern = prefix_pattern(region_prefix);
        let rows = if crate::persons::ROLLUP_LENGTHS.contains(&length) {
            client
                .query(
                    "SELECT code, SUM(persons)::bigint FROM region_counts
                     WHERE level = $2 AND code LIKE $1 GROUP BY 1",
                    &[&pattern, &level_of_length(length)],
                )
                .await?
        } else {
            client
                .query(
                    "SELECT substr(village_code, 1, $2), SUM(persons)::bigint FROM person_counts
                     WHERE village_code LIKE $1 GROUP BY 1",
                    &[&pattern, &level_of_length(length)],
                )
                .await?
        };
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, to_seq(row.try_get(1)?))))
            .collect()
    }

    async fn pace_by_region(
        &self,
        region_prefix: &str,
        length: usize,
        since_ms: i64,
    ) -> Result<std::collections::BTreeMap<String, u64>> {
        let client = self.client().await?;
        let pattern = prefix_pattern(region_prefix);
        let since_day = crate::persons::day_of(since_ms);
        let rows = if crate::persons::ROLLUP_LENGTHS.contains(&length) {
            client
                .query(
                    "SELECT code, SUM(persons)::bigint FROM region_days
                     WHERE level = $2 AND code LIKE $1 AND day >= $3
                     GROUP BY 1 HAVING SUM(persons) > 0",
                    &[&pattern, &level_of_length(length), &since_day],
                )
                .await?
        } else {
            client
                .query(
                    RECENT_REPRESENTATIVES,
                    &[&pattern, &level_of_length(length), &since_day],
                )
                .await?
        };
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, to_seq(row.try_get(1)?))))
            .collect()
    }

    async fn contribution_rates(&self) -> Result<Vec<lindung_shared::coverage::ContributionRates>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT effective_from, jkk_rate_bp, jkk_min, jkk_max, jkm_flat, jht_rate_bp
                 FROM contribution_rates ORDER BY effective_from",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let from: String = row.try_get(0)?;
                let jkk_rate_bp: i32 = row.try_get(1)?;
                let jht_rate_bp: i32 = row.try_get(5)?;
                Ok(lindung_shared::coverage::ContributionRates {
                    effective_from: super::parse_date(&from)?,
                    jkk_rate_bp: u32::try_from(jkk_rate_bp).unwrap_or(0),
                    jkk_min: to_seq(row.try_get(2)?),
                    jkk_max: to_seq(row.try_get(3)?),
                    jkm_flat: to_seq(row.try_get(4)?),
                    jht_rate_bp: u32::try_from(jht_rate_bp).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn set_contribution_rates(
        &self,
        rates: &lindung_shared::coverage::ContributionRates,
    ) -> Result<()> {
        let client = self.client().await?;
        let bp = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO contribution_rates (effective_from, jkk_rate_bp, jkk_min, jkk_max,
                     jkm_flat, jht_rate_bp) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (effective_from) DO UPDATE SET jkk_rate_bp = excluded.jkk_rate_bp,
                     jkk_min = excluded.jkk_min, jkk_max = excluded.jkk_max,
                     jkm_flat = excluded.jkm_flat, jht_rate_bp = excluded.jht_rate_bp",
                &[
                    &rates.effective_from.to_string(),
                    &bp(rates.jkk_rate_bp),
                    &from_seq(rates.jkk_min),
                    &from_seq(rates.jkk_max),
                    &from_seq(rates.jkm_flat),
                    &bp(rates.jht_rate_bp),
                ],
            )
            .await?;
        Ok(())
    }

    async fn recompute_coverage(&self) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // Pushes change the counts; none may run while they are rebuilt.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PUSH_LOCK])
            .await?;
        tx.batch_execute(RECOMPUTE_COVERAGE).await?;
        let persons: i64 = tx
            .query_one(
                "SELECT COALESCE(SUM(persons), 0)::bigint FROM person_counts",
                &[],
            )
            .await?
            .try_get(0)?;
        tx.commit().await?;
        Ok(to_seq(persons))
    }

    async fn coverage_tables(&self) -> Result<CoverageTables> {
        let client = self.client().await?;
        let (villages, regions, days) = tokio::try_join!(
            client.query(
                "SELECT village_code, category, payer, persons FROM person_counts
                 ORDER BY village_code COLLATE \"C\", category COLLATE \"C\", payer COLLATE \"C\"",
                &[],
            ),
            client.query(
                "SELECT code, category, payer, persons FROM region_counts
                 ORDER BY code COLLATE \"C\", category COLLATE \"C\", payer COLLATE \"C\"",
                &[],
            ),
            client.query(
                "SELECT code, day, persons FROM region_days ORDER BY code COLLATE \"C\", day",
                &[],
            ),
        )?;
        let places = |rows: Vec<Row>| -> Result<Vec<(Place, u64)>> {
            rows.iter()
                .map(|row| {
                    Ok((
                        Place {
                            village_code: row.try_get(0)?,
                            category: row.try_get(1)?,
                            payer: row.try_get(2)?,
                        },
                        to_seq(row.try_get(3)?),
                    ))
                })
                .collect()
        };
        Ok(CoverageTables {
            villages: places(villages)?,
            regions: places(regions)?,
            days: days
                .iter()
                .map(|row| Ok(((row.try_get(0)?, row.try_get(1)?), to_seq(row.try_get(2)?))))
                .collect::<Result<_>>()?,
        })
    }

    async fn staff_edit(&self, request: StaffRequest, now: OffsetDateTime) -> Result<StaffOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PUSH_LOCK])
            .await?;
        if let Some(stale) = stale_action(&tx, &request.action).await? {
            return Ok(StaffOutcome::Stale(stale));
        }
        let staff = staff_scope(staff_device_id(&tx).await?);
        let first_seq: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(seq), 0)::bigint + 1 FROM operations WHERE device_id = $1",
                &[&staff.device_id.0],
            )
            .await?
            .try_get(0)?;
        let first_seq = to_seq(first_seq);
        // Drafts name the records and values; the stamps need the records.
        let drafts = staff_operations(
            staff.device_id,
            first_seq,
            now,
            &request.edits,
            &HashMap::new(),
        );
        let loaded = load_context(&tx, &staff, &drafts).await?;
        let operations = staff_operations(
            staff.device_id,
            first_seq,
            now,
            &request.edits,
            &loaded.context.records,
        );
        let undo = undo_of(&request.edits, &loaded.context.records);
        let plan = plan_batch(
            &staff,
            &operations,
            loaded.context,
            BatchClock {
                now,
                regions: lindung_shared::region::regions(),
            },
        );
        let refused = crate::ingest::refusals(&operations, &plan);
        if !refused.is_empty() {
            return Ok(StaffOutcome::Refused(refused));
        }
        let counted = counted_before(&tx, &plan).await?;
        write_plan(
            &tx,
            &staff,
            &plan,
            loaded.acknowledged,
            loaded.held_above,
            now,
        )
        .await?;
        refresh_persons(&tx, &plan, &counted, now).await?;
        let now_ms = ms(now);
        let merge_id = match &request.action {
            StaffAction::ResolveConflict { conflict_id, how } => {
                tx.execute(
                    "UPDATE conflicts SET resolved_ms = $2, resolved_by = $3, resolution = $4
                      WHERE id = $1",
                    &[conflict_id, &now_ms, &request.actor, how],
                )
                .await?;
                None
            }
            StaffAction::Merge { survivor, members } => {
                let row = tx
                    .query_one(
                        "INSERT INTO merges (created_ms, actor, survivor_id, members, undo)
                         VALUES ($1, $2, $3, $4, $5) RETURNING id",
                        &[
                            &now_ms,
                            &request.actor,
                            &survivor.0,
                            &json(members)?,
                            &json(&undo)?,
                        ],
                    )
                    .await?;
                Some(row.try_get(0)?)
            }
            StaffAction::Unmerge { merge_id } => {
                tx.execute(
                    "UPDATE merges SET undone_ms = $2, undone_by = $3 WHERE id = $1",
                    &[merge_id, &now_ms, &request.actor],
                )
                .await?;
                None
            }
        };
        tx.commit().await?;
        Ok(StaffOutcome::Applied {
            operations: operations.len(),
            merge_id,
        })
    }

    async fn conflicts(
        &self,
        region: &str,
        include_resolved: bool,
        limit: u32,
    ) -> Result<Vec<ConflictEntry>> {
        let client = self.client().await?;
        let sql = format!(
            "{CONFLICT_COLUMNS} WHERE village_code LIKE $1 AND ($2 OR resolved_ms IS NULL)
             ORDER BY id DESC LIMIT $3"
        );
        client
            .query(
                sql.as_str(),
                &[
                    &prefix_pattern(region),
                    &include_resolved,
                    &i64::from(limit),
                ],
            )
            .await?
            .iter()
            .map(conflict_entry)
            .collect()
    }

    async fn conflict(&self, id: i64) -> Result<Option<ConflictEntry>> {
        let client = self.client().await?;
        let sql = format!("{CONFLICT_COLUMNS} WHERE id = $1");
        client
            .query_opt(sql.as_str(), &[&id])
            .await?
            .as_ref()
            .map(conflict_entry)
            .transpose()
    }

    async fn merges(&self, limit: u32) -> Result<Vec<MergeEntry>> {
        let client = self.client().await?;
        let sql = format!("{MERGE_COLUMNS} ORDER BY id DESC LIMIT $1");
        client
            .query(sql.as_str(), &[&i64::from(limit)])
            .await?
            .iter()
            .map(merge_entry)
            .collect()
    }

    async fn merge(&self, id: i64) -> Result<Option<MergeEntry>> {
        let client = self.client().await?;
        let sql = format!("{MERGE_COLUMNS} WHERE id = $1");
        client
            .query_opt(sql.as_str(), &[&id])
            .await?
            .as_ref()
            .map(merge_entry)
            .transpose()
    }

    async fn duplicate_candidates(
        &self,
        region: &str,
        kind: DuplicateKind,
    ) -> Result<Vec<DuplicateCandidate>> {
        let client = self.client().await?;
        let sql = match kind {
            // Records ever marked as in a group (`duplicate_seq`), then every
            // holder of their NIKs, wherever they are.
            DuplicateKind::Certain => {
                "SELECT id, nik, birth_date, name_key, village_code, active FROM records
                  WHERE nik IN (SELECT nik FROM records
                                 WHERE duplicate_seq IS NOT NULL AND nik IS NOT NULL
                                   AND village_code LIKE $1)
                  ORDER BY nik, id::text"
            }
            DuplicateKind::Probable => {
                "SELECT id, nik, birth_date, name_key, village_code, active FROM records
                  WHERE active AND birth_date IS NOT NULL AND village_code LIKE $1
                  ORDER BY substr(village_code, 1, 6), birth_date, id::text"
            }
        };
        client
            .query(sql, &[&prefix_pattern(region)])
            .await?
            .iter()
            .map(|row| {
                let nik: Option<&str> = row.try_get(1)?;
                Ok(DuplicateCandidate {
                    record_id: RecordId(row.try_get(0)?),
                    nik: nik.map(parse_nik).transpose()?,
                    birth_date: row.try_get(2)?,
                    name_key: row.try_get(3)?,
                    village_code: row.try_get(4)?,
                    active: row.try_get(5)?,
                })
            })
            .collect()
    }

    async fn record_audit(&self, entry: &AuditEntry) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO audit_log (at_ms, actor, action, subject, details)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &ms(entry.at),
                    &entry.actor,
                    &entry.action,
                    &entry.subject,
                    &json(&entry.details)?,
                ],
            )
            .await?;
        Ok(())
    }

    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, at_ms, actor, action, subject, details FROM audit_log
                 WHERE ($1::text IS NULL OR action = $1) AND ($2::bigint IS NULL OR at_ms >= $2)
                 ORDER BY id DESC LIMIT $3",
                &[&filter.action, &filter.since_ms, &i64::from(filter.limit)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let details: String = row.try_get(5)?;
                Ok(AuditRecord {
                    id: row.try_get(0)?,
                    at: from_ms(row.try_get(1)?)?,
                    actor: row.try_get(2)?,
                    action: row.try_get(3)?,
                    subject: row.try_get(4)?,
                    details: from_json(&details)?,
                })
            })
            .collect()
    }

    async fn records_in_region(
        &self,
        region_prefix: &str,
        after: Option<RecordId>,
        limit: u32,
    ) -> Result<RecordsPage> {
        let client = self.client().await?;
        let sql = format!(
            "{RECORD_COLUMNS} WHERE r.active AND r.village_code LIKE $1
               AND ($2::uuid IS NULL OR r.id > $2) ORDER BY r.id LIMIT $3"
        );
        let rows = client
            .query(
                sql.as_str(),
                &[
                    &prefix_pattern(region_prefix),
                    &after.map(|id| id.0),
                    &i64::from(limit),
                ],
            )
            .await?;
        let rows = rows
            .iter()
            .map(|row| {
                let id: Uuid = row.try_get(0)?;
                Ok((RecordId(id), row.try_get(1)?, row.try_get(3)?))
            })
            .collect::<Result<Vec<_>>>()?;
        records_page(rows)
    }

    async fn add_staff_account(
        &self,
        account: &StaffAccount,
        token_hash: &[u8; 32],
        password_hash: Option<&str>,
    ) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO staff_accounts
                     (id, name, token_hash, created_ms, login, password_hash, role, region)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &account.id,
                    &account.name,
                    &&token_hash[..],
                    &ms(account.created_at),
                    &account.login,
                    &password_hash,
                    &account.role.as_str(),
                    &account.region,
                ],
            )
            .await?;
        Ok(())
    }

    async fn staff_account_by_login(
        &self,
        login: &str,
    ) -> Result<Option<(StaffAccount, Option<String>)>> {
        let client = self.client().await?;
        let sql = format!("{STAFF_COLUMNS} WHERE login = $1");
        client
            .query_opt(sql.as_str(), &[&login])
            .await?
            .as_ref()
            .map(|row| staff_account_at(row, 0))
            .transpose()
    }

    async fn set_staff_password(&self, id: Uuid, password_hash: &str) -> Result<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let changed = tx
            .execute(
                "UPDATE staff_accounts SET password_hash = $2 WHERE id = $1",
                &[&id, &password_hash],
            )
            .await?;
        tx.execute("DELETE FROM staff_sessions WHERE account_id = $1", &[&id])
            .await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    async fn create_staff_session(&self, session: &NewStaffSession) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO staff_sessions (id_hash, account_id, csrf_token, created_ms, last_seen_ms)
                 VALUES ($1, $2, $3, $4, $4)",
                &[
                    &&session.id_hash[..],
                    &session.account_id,
                    &session.csrf_token,
                    &ms(session.created_at),
                ],
            )
            .await?;
        Ok(())
    }

    async fn staff_session(&self, id_hash: &[u8; 32]) -> Result<Option<StaffSession>> {
        let client = self.client().await?;
        let Some(row) = client
            .query_opt(
                "SELECT s.csrf_token, s.created_ms, s.last_seen_ms,
                        a.id, a.name, a.created_ms, a.revoked_ms, a.login, a.role, a.region,
                        a.password_hash
                 FROM staff_sessions s JOIN staff_accounts a ON a.id = s.account_id
                 WHERE s.id_hash = $1",
                &[&&id_hash[..]],
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(StaffSession {
            csrf_token: row.try_get(0)?,
            created_at: from_ms(row.try_get(1)?)?,
            last_seen_at: from_ms(row.try_get(2)?)?,
            account: staff_account_at(&row, 3)?.0,
        }))
    }

    async fn touch_staff_session(&self, id_hash: &[u8; 32], now: OffsetDateTime) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE staff_sessions SET last_seen_ms = GREATEST(last_seen_ms, $2)
                 WHERE id_hash = $1",
                &[&&id_hash[..], &ms(now)],
            )
            .await?;
        Ok(())
    }

    async fn delete_staff_session(&self, id_hash: &[u8; 32]) -> Result<bool> {
        let client = self.client().await?;
        let deleted = client
            .execute(
                "DELETE FROM staff_sessions WHERE id_hash = $1",
                &[&&id_hash[..]],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn delete_expired_staff_sessions(
        &self,
        created_before: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64> {
        let client = self.client().await?;
        Ok(client
            .execute(
                "DELETE FROM staff_sessions WHERE created_ms < $1 OR last_seen_ms < $2",
                &[&ms(created_before), &ms(idle_before)],
            )
            .await?)
    }

    async fn record_login_failure(&self, keys: &[String], at: OffsetDateTime) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO login_failures (key, at_ms) SELECT k, $2 FROM UNNEST($1::text[]) AS k",
                &[&keys, &ms(at)],
            )
            .await?;
        Ok(())
    }

    async fn login_failures(&self, key: &str, since: OffsetDateTime) -> Result<u64> {
        let client = self.client().await?;
        let count: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at_ms >= $2",
                &[&key, &ms(since)],
            )
            .await?
            .try_get(0)?;
        Ok(to_seq(count))
    }

    async fn clear_login_failures(&self, key: &str, before: OffsetDateTime) -> Result<()> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM login_failures WHERE key = $1 OR at_ms < $2",
                &[&key, &ms(before)],
            )
            .await?;
        Ok(())
    }

    async fn staff_accounts(&self) -> Result<Vec<StaffAccount>> {
        let client = self.client().await?;
        let sql = format!("{STAFF_COLUMNS} ORDER BY created_ms, id");
        client
            .query(sql.as_str(), &[])
            .await?
            .iter()
            .map(staff_account)
            .collect()
    }

    async fn revoke_staff_account(&self, id: Uuid, now: OffsetDateTime) -> Result<bool> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE staff_accounts SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1",
                &[&id, &ms(now)],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn staff_account_by_token(&self, token_hash: &[u8; 32]) -> Result<Option<StaffAccount>> {
        let client = self.client().await?;
        let sql = format!("{STAFF_COLUMNS} WHERE token_hash = $1");
        client
            .query_opt(sql.as_str(), &[&&token_hash[..]])
            .await?
            .as_ref()
            .map(staff_account)
            .transpose()
    }

    async fn set_staff_token(&self, id: Uuid, token_hash: &[u8; 32]) -> Result<bool> {
        let client = self.client().await?;
        let changed = client
            .execute(
                "UPDATE staff_accounts SET token_hash = $2 WHERE id = $1",
                &[&id, &&token_hash[..]],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn staff_device(&self) -> Result<DeviceId> {
        let client = self.client().await?;
        staff_device_id(&client).await
    }

    async fn reference(&self, year: i32) -> Result<Vec<ReferenceRow>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT region_code, working_population, baseline, target_bp, category_denominators
                 FROM reference_values WHERE year = $1 ORDER BY region_code",
                &[&year],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let working_population: Option<i64> = row.try_get(1)?;
                let baseline: Option<i64> = row.try_get(2)?;
                let target_bp: Option<i32> = row.try_get(3)?;
                let denominators: String = row.try_get(4)?;
                Ok(ReferenceRow {
                    year,
                    region_code: row.try_get(0)?,
                    working_population: working_population.map(to_seq),
                    baseline: baseline.map(to_seq),
                    target_bp: target_bp.and_then(|bp| u32::try_from(bp).ok()),
                    category_denominators: from_json(&denominators)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use lindung_shared::protocol::Outcome;

    use super::*;
    use crate::storage::conformance::{self, NOW, create, enrol, nik, registration};

    const URL_VARIABLE: &str = "LINDUNG_TEST_POSTGRES_URL";

    /// The server `LINDUNG_TEST_POSTGRES_URL` names, and the databases the
    /// test made on it (`lindung_test_<random>`, one per store), dropped when
    /// this is dropped, even after a failed assertion.
    struct TestServer {
        admin: tokio_postgres::Config,
        created: Mutex<Vec<String>>,
    }

    impl TestServer {
        /// None (after saying so) when the variable is not set.
        fn from_env() -> Option<TestServer> {
            let Some(url) = std::env::var(URL_VARIABLE)
                .ok()
                .filter(|url| !url.trim().is_empty())
            else {
                println!("skipped: {URL_VARIABLE} is not set");
                return None;
            };
            let admin = tokio_postgres::Config::from_str(&url)
                .unwrap_or_else(|e| panic!("{URL_VARIABLE} is not a PostgreSQL URL: {e}"));
            Some(TestServer {
                admin,
                created: Mutex::new(Vec::new()),
            })
        }

        /// A new, empty database's connection settings.
        async fn fresh_config(&self) -> tokio_postgres::Config {
            let name = format!("lindung_test_{}", Uuid::new_v4().simple());
            let client = admin_client(&self.admin).await;
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create a test database");
            self.created
                .lock()
                .expect("not poisoned")
                .push(name.clone());
            let mut config = self.admin.clone();
            config.dbname(&name);
            config
        }

        async fn fresh(&self) -> PostgresStorage {
            PostgresStorage::with_config(self.fresh_config().await, "test database".into())
                .await
                .expect("connects and migrates")
        }
    }

    async fn admin_client(config: &tokio_postgres::Config) -> tokio_postgres::Client {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VARIABLE}: {}", chain(&e)));
        tokio::spawn(connection);
        client
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            let names = std::mem::take(self.created.get_mut().unwrap_or_else(|e| e.into_inner()));
            if names.is_empty() {
                return;
            }
            let admin = self.admin.clone();
            // Best effort, on a runtime of its own: the test's may be gone.
            let _ = std::thread::spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    let Ok((client, connection)) = admin.connect(NoTls).await else {
                        return;
                    };
                    tokio::spawn(connection);
                    for name in names {
                        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        if let Err(e) = client.batch_execute(&drop).await {
                            eprintln!("could not drop the test database {name}: {}", chain(&e));
                        }
                    }
                });
            })
            .join();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_conforms() {
        let Some(server) = TestServer::from_env() else {
            return;
        };
        conformance::run_all(|| async { Box::new(server.fresh().await) as Box<dyn Storage> }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reconnecting_keeps_the_store_and_refuses_a_newer_schema() {
        let Some(server) = TestServer::from_env() else {
            return;
        };
        let config = server.fresh_config().await;
        // Two servers starting at once on an empty database: one migrates,
        // the other waits for it and finds the schema in place.
        let (first, second) = tokio::join!(
            PostgresStorage::with_config(config.clone(), "first".into()),
            PostgresStorage::with_config(config.clone(), "second".into()),
        );
        let (first, second) = (first.expect("first"), second.expect("second"));
        let id = first.store_id().await.expect("id");
        assert_eq!(second.store_id().await.expect("id"), id);
        drop(second);
        let again = PostgresStorage::with_config(config.clone(), "again".into())
            .await
            .expect("reconnects");
        assert_eq!(again.store_id().await.expect("id"), id);
        again
            .client()
            .await
            .expect("client")
            .execute("INSERT INTO schema_migrations (version) VALUES (99)", &[])
            .await
            .expect("bumped");
        drop((first, again));
        let error = PostgresStorage::with_config(config, "newer".into())
            .await
            .expect_err("too new");
        assert!(
            matches!(
                error,
                StorageError::SchemaTooNew { found: 99, supported } if supported == MIGRATIONS.len() as i64
            ),
            "{error}"
        );
    }

    /// Group commit: queued pushes applied in one transaction each get their
    /// own answers (a retry queued behind its first copy is all duplicates),
    /// a push that fails is rolled back alone, and the group's count changes,
    /// written once, are those of a recompute.
    #[tokio::test]
    async fn queued_pushes_share_one_transaction_and_get_their_own_answers() {
        let Some(server) = TestServer::from_env() else {
            return;
        };
        let storage = server.fresh().await;
        let rina = enrol(&storage, "Rina", &["1311"]).await;
        let budi = enrol(&storage, "Budi", &["1311"]).await;
        let rina_batch = conformance::five_registrations(&rina.scope, 1, "1311012001", 0);
        // Budi registers Rina's five persons again, elsewhere: same NIKs.
        let budi_batch = conformance::five_registrations(&budi.scope, 1, "1311012002", 0);
        let mut ghost = rina.scope.clone();
        ghost.device_id = DeviceId(Uuid::new_v4());
        let jobs = [
            (rina.scope.clone(), rina_batch.clone()),
            // A device the store does not know: its push fails, alone.
            (
                ghost.clone(),
                conformance::five_registrations(&ghost, 3, "1311012001", 0),
            ),
            (budi.scope.clone(), budi_batch),
            // Rina's batch again (a retry queued behind the first).
            (rina.scope.clone(), rina_batch),
        ];
        let mut answers = Vec::new();
        let queued: Vec<QueuedPush> = jobs
            .into_iter()
            .map(|(device, operations)| {
                let (answer, answered) = tokio::sync::oneshot::channel();
                answers.push(answered);
                let prepared = crate::ingest::prepare(
                    &device,
                    &operations,
                    BatchClock {
                        now: NOW,
                        regions: lindung_shared::region::regions(),
                    },
                );
                QueuedPush {
                    device,
                    operations,
                    prepared,
                    now: NOW,
                    answer,
                }
            })
            .collect();
        storage.apply_pushes(queued).await;
        let mut outcomes = Vec::new();
        for answered in answers {
            match answered.await.expect("answered") {
                Ok(result) => {
                    assert_eq!(result.acknowledged_seq, 5);
                    outcomes.push(result.receipts.into_iter().map(|r| r.outcome).collect());
                }
                Err(_) => outcomes.push(Vec::new()),
            }
        }
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
        conformance::assert_group_stored(&storage, 10, 5).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_pushes_never_let_a_pull_cursor_skip_a_change() {
        let Some(server) = TestServer::from_env() else {
            return;
        };
        let storage = Arc::new(server.fresh().await);
        let reader = enrol(storage.as_ref(), "Reader", &["13"]).await;
        const DEVICES: u64 = 4;
        const BATCHES: u64 = 6;
        const PER_BATCH: u64 = 25;
        let mut pushers = Vec::new();
        for d in 0..DEVICES {
            let storage = Arc::clone(&storage);
            let officer = enrol(storage.as_ref(), &format!("Officer {d}"), &["1311"]).await;
            pushers.push(tokio::spawn(async move {
                for b in 0..BATCHES {
                    let ops: Vec<Operation> = (1..=PER_BATCH)
                        .map(|i| {
                            let seq = b * PER_BATCH + i;
                            let serial = u16::try_from(d * 1000 + seq).expect("small");
                            let person = registration(
                                &nik(1, serial),
                                "Siti Aminah",
                                "1311012001",
                                &officer.scope,
                            );
                            create(&officer.scope, seq, conformance::base_ms() + seq, &person)
                        })
                        .collect();
                    let result = storage.push(&officer.scope, &ops, NOW).await.expect("push");
                    assert!(
                        result
                            .receipts
                            .iter()
                            .all(|r| matches!(r.outcome, Outcome::Accepted { .. }))
                    );
                }
            }));
        }
        // A reader pulls small pages while the pushes commit.
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut finished = false;
        loop {
            let page = storage.pull(&reader.scope, cursor, 7).await.expect("pull");
            for op in &page.operations {
                assert!(seen.insert(op.op_id()), "received twice: {:?}", op.op_id());
            }
            assert!(page.next_cursor >= cursor);
            cursor = page.next_cursor;
            if finished && !page.has_more {
                break;
            }
            if !page.has_more && pushers.iter().all(|p| p.is_finished()) {
                finished = true;
            }
        }
        for pusher in pushers {
            pusher.await.expect("pusher");
        }
        let total = DEVICES * BATCHES * PER_BATCH;
        assert_eq!(seen.len() as u64, total, "every change pulled exactly once");
        assert_eq!(cursor, total, "server sequence numbers are dense");
    }

    /// Not a check: prints how fast one device's initial push goes
    /// (`cargo test -p lindung-server --release push_throughput -- --ignored --nocapture`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "timing; run by hand with --ignored --nocapture"]
    async fn push_throughput() {
        let Some(server) = TestServer::from_env() else {
            return;
        };
        let storage = server.fresh().await;
        let rina = enrol(&storage, "Rina", &["1311"]).await;
        const BATCH: u64 = 5_000;
        const BATCHES: u64 = 10;
        let batches: Vec<Vec<Operation>> = (0..BATCHES)
            .map(|b| {
                (1..=BATCH)
                    .map(|i| {
                        let seq = b * BATCH + i;
                        let day = u8::try_from(seq % 28 + 1).expect("small");
                        let serial = u16::try_from(seq / 28 + 1).expect("small");
                        let person = registration(
                            &nik(day, serial),
                            "Siti Aminah",
                            "1311012001",
                            &rina.scope,
                        );
                        create(&rina.scope, seq, conformance::base_ms() + seq, &person)
                    })
                    .collect()
            })
            .collect();
        let planning = std::time::Instant::now();
        for batch in &batches {
            let _ = plan_batch(
                &rina.scope,
                batch,
                BatchContext::default(),
                BatchClock {
                    now: NOW,
                    regions: lindung_shared::region::regions(),
                },
            );
        }
        let planning = planning.elapsed();
        let started = std::time::Instant::now();
        for batch in &batches {
            let result = storage.push(&rina.scope, batch, NOW).await.expect("push");
            assert_eq!(result.acknowledged_seq, batch.last().map_or(0, |o| o.seq));
        }
        let elapsed = started.elapsed();
        let total = (BATCH * BATCHES) as f64;
        println!(
            "pushed {total} registrations in batches of {BATCH}: {:.2} s, {:.0} registrations/s \
             (planning alone: {:.2} s, {:.0}/s)",
            elapsed.as_secs_f64(),
            total / elapsed.as_secs_f64(),
            planning.as_secs_f64(),
            total / planning.as_secs_f64(),
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_clear_error() {
        // Port 1 on loopback: nothing listens there.
        let url = "postgres://lindung:secret@127.0.0.1:1/lindung";
        let error = PostgresStorage::connect(url)
            .await
            .expect_err("unreachable");
        let message = error.to_string();
        assert!(matches!(error, StorageError::Connect(_)), "{message}");
        assert!(
            message.contains("cannot connect to PostgreSQL"),
            "{message}"
        );
        assert!(message.contains("refused"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        let through_open = crate::storage::open(&DatabaseUrl::parse(url).expect("parses"))
            .await
            .expect_err("unreachable");
        assert!(matches!(through_open, StorageError::Connect(_)));
        let unusable = PostgresStorage::connect("postgres://lindung:secret@127.0.0.1:notaport/x")
            .await
            .expect_err("bad port");
        assert!(!unusable.to_string().contains("secret"), "{unusable}");
    }

    #[test]
    fn like_patterns_match_prefixes_only() {
        assert_eq!(prefix_pattern("1311"), "1311%");
        assert_eq!(prefix_pattern("a_b%c\\"), "a\\_b\\%c\\\\%");
        let hlc = Hlc::from_u64(u64::MAX - 5);
        assert_eq!(hlc_from_db(hlc_to_db(hlc)), hlc);
    }
}
