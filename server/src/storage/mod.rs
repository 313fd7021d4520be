//! Where the server keeps its data: one [`Storage`] trait, one implementation
//! per backend.
//!
//! - [`sqlite`]: the embedded default (`sqlite://PATH`), one file, no server.
//! - [`postgres`]: PostgreSQL at scale (`postgres://…`), through
//!   tokio-postgres and a deadpool pool.
//!
//! Both run a push the same way — load a [`BatchContext`], call
//! [`plan_batch`], write the plan — inside one transaction that also
//! serialises pushes, so server sequence numbers are assigned in commit order
//! and a pull cursor never skips a change that commits later. Each backend has
//! its own migrations. The conformance suite in `conformance` runs against
//! both (PostgreSQL when `LINDUNG_TEST_POSTGRES_URL` is set).
//!
//! [`BatchContext`]: crate::ingest::BatchContext
//! [`plan_batch`]: crate::ingest::plan_batch

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use lindung_shared::hlc::Hlc;
use lindung_shared::ids::{DeviceId, OfficerId, RecordId, StoreId};
use lindung_shared::merge::{OpId, Operation, RecordState};
use lindung_shared::protocol::{DuplicateNotice, Receipt};
use serde::Serialize;
use time::OffsetDateTime;

use crate::ingest::{DeviceScope, StaffEdit, StoredRecord};
use crate::reference::ReferenceRow;
use lindung_shared::merge::Version;
use lindung_shared::nik::Nik;
use lindung_shared::protocol::WireError;
use lindung_shared::registration::Field;

/// The officer that owns the server's staff device. Not a field officer:
/// listings leave it out and no enrolment code can name it.
pub const STAFF_OFFICER_ID: uuid::Uuid = uuid::Uuid::nil();

/// A central staff member who may use the staff API (`/api/v1/staff/…`)
/// and, with a login and password, the web dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StaffAccount {
    /// Id.
    pub id: uuid::Uuid,
    /// Name, as recorded in the audit log.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The dashboard login name (accounts made before roles have none).
    pub login: Option<String>,
    /// What the account may do.
    pub role: Role,
    /// For a supervisor: the region code (digits) they are limited to.
    pub region: Option<String>,
}

impl StaffAccount {
    /// The region code prefix the account may see ("" for everything).
    pub fn scope(&self) -> &str {
        match self.role {
            Role::Supervisor => self.region.as_deref().unwrap_or(""),
            Role::Staff | Role::Viewer => "",
        }
    }

    /// Whether the account may see the region with this code ("" is the
    /// whole country): inside its scope.
    pub fn sees(&self, code: &str) -> bool {
        code.starts_with(self.scope())
    }

    /// Whether the account may change anything (merge, resolve, import, revoke…).
    pub fn may_change(&self) -> bool {
        self.role != Role::Viewer
    }
}

/// What a staff account may do. **Invariant:** every dashboard handler and
/// every staff API route checks it on the server, whatever the page shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Staff,
    /// Everything, but only inside one region (sees and acts only there).
    Supervisor,
    /// Reads everything; changes nothing (no merges, resolutions, imports, revocations).
    Viewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Staff, Role::Supervisor, Role::Viewer];

    /// Its stored and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Supervisor => "supervisor",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `text` (`staff`, `supervisor`, `viewer`).
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// A dashboard session as stored: only the SHA-256 of its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewStaffSession {
    /// SHA-256 of the session id the browser holds in its cookie.
    pub id_hash: [u8; 32],
    /// The account.
    pub account_id: uuid::Uuid,
    /// The session's CSRF token (put in every form, checked on every POST).
    pub csrf_token: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

/// A stored dashboard session with its account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSession {
    /// The account (revoked ones included: the caller refuses them).
    pub account: StaffAccount,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// When it was made (absolute expiry counts from here).
    pub created_at: OffsetDateTime,
    /// Its last request (idle expiry counts from here).
    pub last_seen_at: OffsetDateTime,
}

/// What staff decided; stored in the same transaction as its operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaffAction {
    /// Resolve an open conflict (`how`: `kept`, `other` or `new`).
    ResolveConflict {
        /// The conflict.
        conflict_id: i64,
        /// How it was resolved.
        how: String,
    },
    /// Merge duplicate records: `survivor` stays, the other `members` are
    /// withdrawn as merged into it.
    Merge {
        /// The record that stays.
        survivor: RecordId,
        /// Every record of the group, the survivor included.
        members: Vec<RecordId>,
    },
    /// Undo a merge.
    Unmerge {
        /// The merge.
        merge_id: i64,
    },
}

/// A staff decision and the record changes it makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffRequest {
    /// Who decided (the audit actor).
    pub actor: String,
    /// The changes, made as operations of the staff device.
    pub edits: Vec<StaffEdit>,
    /// What to record about the decision.
    pub action: StaffAction,
}

/// What became of a [`StaffRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaffOutcome {
    /// Stored: this many operations, and the merge's id for a merge.
    Applied {
        /// Operations stored.
        operations: usize,
        /// The new merge, for [`StaffAction::Merge`].
        merge_id: Option<i64>,
    },
    /// A change failed validation; nothing was stored.
    Refused(Vec<(RecordId, WireError)>),
    /// The conflict is already resolved, the merge already undone, or either
    /// does not exist; nothing was stored.
    Stale(String),
}

/// An entry of the conflict log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictEntry {
    /// Its number.
    pub id: i64,
    /// The record.
    pub record_id: RecordId,
    /// The field.
    pub field: Field,
    /// The record's village when the conflict was found.
    pub village_code: String,
    /// The value that became current.
    pub kept: Version,
    /// The value that lost.
    pub overwritten: Version,
    /// The server sequence of the operation that revealed it.
    pub server_seq: u64,
    /// When it was found.
    pub detected_at: OffsetDateTime,
    /// When, by whom and how it was resolved.
    pub resolved: Option<Resolution>,
}

/// How and when staff closed a conflict or undid a merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// When.
    pub at: OffsetDateTime,
    /// Who.
    pub by: String,
    /// How (`kept`, `other`, `new`; `undone` for a merge).
    pub how: String,
}

/// A merge of duplicate records, with what undoing it writes back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeEntry {
    /// Its number.
    pub id: i64,
    /// When.
    pub created_at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// The record that stayed.
    pub survivor: RecordId,
    /// Every record of the group.
    pub members: Vec<RecordId>,
    /// The values the merge overwrote, as edits that restore them.
    pub undo: Vec<StaffEdit>,
    /// When it was undone, and by whom.
    pub undone: Option<Resolution>,
}

/// A record as the duplicate search sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateCandidate {
    /// The record.
    pub record_id: RecordId,
    /// Its current NIK.
    pub nik: Option<Nik>,
    /// Its birth date, `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// Its name's comparison key.
    pub name_key: Option<String>,
    /// Its village.
    pub village_code: String,
    /// Whether it is active.
    pub active: bool,
}

/// Which duplicates to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DuplicateKind {
    /// Records with the same NIK.
    Certain,
    /// Active records with a birth date in the region (the caller compares names).
    Probable,
}

#[cfg(test)]
pub(crate) mod conformance;
pub mod postgres;
pub mod sqlite;

/// A failure of the storage itself (not a refusal of the request).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database URL names no supported backend.
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH (the embedded default) or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    /// SQLite failed.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// No PostgreSQL connection could be had from the pool.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// The database holds a schema from a newer server.
    #[error(
        "the database schema is version {found}, newer than this server understands ({supported}); run a newer lindung-server"
    )]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// Something stored could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The system's random source failed.
    #[error("no random numbers from the system: {0}")]
    Random(String),
    /// A file could not be created or opened.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The transaction that held a push (with others queued beside it) failed.
    #[error("the transaction holding this push could not be committed: {0}")]
    Commit(String),
    /// The blocking task running the query died.
    #[error("database task failed: {0}")]
    Task(String),
}

/// One queued push and where its answer goes (`A`: the backend's channel).
pub(crate) struct QueuedPush<A> {
    pub(crate) device: crate::ingest::DeviceScope,
    pub(crate) operations: Vec<Operation>,
    pub(crate) prepared: Vec<crate::ingest::PreparedOperation>,
    pub(crate) now: OffsetDateTime,
    pub(crate) answer: A,
}

impl<A> QueuedPush<A> {
    /// Where the answer goes, and the push without it.
    pub(crate) fn into_answer(self) -> (A, QueuedPush<()>) {
        let QueuedPush {
            device,
            operations,
            prepared,
            now,
            answer,
        } = self;
        let push = QueuedPush {
            device,
            operations,
            prepared,
            now,
            answer: (),
        };
        (answer, push)
    }
}

impl StorageError {
    /// This error for each push of a group that it undid: a busy pool stays
    /// "busy" (the agents retry later), anything else says the group's
    /// transaction failed.
    pub(crate) fn for_each_push(&self) -> StorageError {
        match self {
            StorageError::Pool(message) => StorageError::Pool(message.clone()),
            other => StorageError::Commit(other.to_string()),
        }
    }
}

/// Pushes waiting to be applied together (group commit, both backends):
/// each push queues itself, and whichever gets to write next takes every
/// push waiting.
pub(crate) struct PushQueue<T> {
    waiting: std::sync::Mutex<Vec<T>>,
}

impl<T> Default for PushQueue<T> {
    fn default() -> Self {
        PushQueue {
            waiting: std::sync::Mutex::new(Vec::new()),
        }
    }
}

impl<T> std::fmt::Debug for PushQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.waiting.lock().map_or(0, |queue| queue.len());
        f.debug_struct("PushQueue")
            .field("waiting", &waiting)
            .finish()
    }
}

impl<T> PushQueue<T> {
    /// Queues a push.
    pub(crate) fn add(&self, push: T) {
        match self.waiting.lock() {
            Ok(mut queue) => queue.push(push),
            Err(poisoned) => poisoned.into_inner().push(push),
        }
    }

    /// Every push waiting, in the order they queued.
    pub(crate) fn take(&self) -> Vec<T> {
        match self.waiting.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }
}

/// Prepares a push's operations ([`crate::ingest::prepare`]) on a blocking
/// thread, before the backend's push lock. At most one push per core
/// prepares at a time: a crowd of laptops pushing at once would otherwise
/// spread the work over as many threads (and allocator arenas, each grown
/// and trimmed again) without finishing any sooner.
pub(crate) async fn prepare_push(
    device: DeviceScope,
    operations: Vec<Operation>,
    now: OffsetDateTime,
) -> Result<(
    DeviceScope,
    Vec<Operation>,
    Vec<crate::ingest::PreparedOperation>,
)> {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    let _slot = slots
        .acquire()
        .await
        .map_err(|e| StorageError::Task(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let prepared = crate::ingest::prepare(
            &device,
            &operations,
            crate::ingest::BatchClock {
                now,
                regions: lindung_shared::region::regions(),
            },
        );
        (device, operations, prepared)
    })
    .await
    .map_err(|e| StorageError::Task(e.to_string()))
}

/// Shorthand for storage results.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Which backend a URL selects, parsed but not opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` (also `sqlite:PATH`) or `postgres://…`; anything
    /// else is an error, never a silently created empty database.
    pub fn parse(url: &str) -> Result<DatabaseUrl> {
        let url = url.trim();
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StorageError::UnsupportedUrl(url.to_owned()));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(StorageError::UnsupportedUrl(url.to_owned()))
    }

    /// The URL with any password hidden, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => redact_password(url),
        }
    }
}

fn redact_password(url: &str) -> String {
    // postgres://user:password@host/db → postgres://user:***@host/db, and a
    // `password=` query parameter (which libpq also accepts) likewise.
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let mut redacted = match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => format!("{scheme}://{rest}"),
    };
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => parameter.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&parameters.join("&"));
    }
    redacted
}

/// Opens (creating and migrating where needed) the storage a URL names.
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Storage>> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStorage::open(path).await?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(postgres::PostgresStorage::connect(url).await?)),
    }
}

// Value mappings shared by the backends, so both store the same numbers:
// times as Unix milliseconds, sequence numbers as signed 64-bit integers,
// hashes as 32 bytes, bodies and record states as JSON text.

/// Unix milliseconds of a time.
pub(crate) fn ms(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The time of stored Unix milliseconds.
pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StorageError::Corrupt(format!("timestamp {ms}: {e}")))
}

/// A stored 32-byte hash.
pub(crate) fn parse_hash(bytes: Vec<u8>) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StorageError::Corrupt("a stored hash is not 32 bytes".into()))
}

/// A stored ISO date (`YYYY-MM-DD`).
pub(crate) fn parse_date(text: &str) -> Result<time::Date> {
    time::Date::parse(text, &time::format_description::well_known::Iso8601::DATE)
        .map_err(|e| StorageError::Corrupt(format!("date {text:?}: {e}")))
}

/// A date as stored: `YYYY-MM-DD`, which sorts and compares as text.
pub(crate) fn date_text(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A stored sequence number (never negative; a negative one reads as 0).
pub(crate) fn to_seq(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A sequence number as stored.
pub(crate) fn from_seq(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// JSON text of a value.
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A page of records in a region as loaded by a backend: (id, state, creating
/// operation body) rows → the complete active registrations.
pub(crate) fn records_page(
    rows: Vec<(RecordId, Option<String>, Option<String>)>,
) -> Result<RecordsPage> {
    let mut page = RecordsPage {
        last_id: rows.last().map(|row| row.0),
        ..RecordsPage::default()
    };
    for (id, state, creating_body) in rows {
        let state = record_state(state.as_deref(), creating_body.as_deref())?;
        match state.to_registration(id) {
            Ok(registration) if registration.is_active() => page.registrations.push(registration),
            Ok(_) => {}
            // Only the id: the state may hold a NIK.
            Err(_) => tracing::debug!(record = %id, "incomplete record left out of a page"),
        }
    }
    Ok(page)
}

/// A value from stored JSON text.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// The stored JSON body of an accepted operation: the same text
/// `serde_json` writes for the operation (fields in declaration order,
/// `changes` last), with the changes' JSON reused from the fingerprint
/// rather than encoded a second time.
pub(crate) fn operation_body(accepted: &crate::ingest::AcceptedOperation) -> Result<String> {
    #[derive(Serialize)]
    struct Head<'a> {
        device_id: &'a lindung_shared::ids::DeviceId,
        seq: u64,
        record_id: &'a RecordId,
        hlc: &'a Hlc,
    }
    let operation = &accepted.operation;
    if accepted.changes_json.is_empty() {
        return json(operation);
    }
    let mut body = json(&Head {
        device_id: &operation.device_id,
        seq: operation.seq,
        record_id: &operation.record_id,
        hlc: &operation.hlc,
    })?;
    if body.pop() != Some('}') {
        return json(operation);
    }
    body.reserve(accepted.changes_json.len() + 13);
    body.push_str(",\"changes\":");
    body.push_str(&accepted.changes_json);
    body.push('}');
    Ok(body)
}

/// A stored record's state: its own JSON, or — when that is absent — the
/// one operation that created it (`single_operation` in
/// [`crate::ingest::RecordUpdate`]), replayed onto an empty state.
pub(crate) fn record_state(
    state: Option<&str>,
    creating_body: Option<&str>,
) -> Result<RecordState> {
    match (state, creating_body) {
        (Some(state), _) => from_json(state),
        (None, Some(body)) => {
            let mut state = RecordState::default();
            state.apply(&from_json::<Operation>(body)?);
            Ok(state)
        }
        (None, None) => Err(StorageError::Corrupt(
            "a record without a state has no creating operation".into(),
        )),
    }
}

/// Whether an operation moved its record into the device's regions from a
/// village outside them. The device was not sent the record's earlier
/// operations (out of its scope then), so a pull sends them with this one
/// (see [`Storage::pull`]).
pub(crate) fn entered_scope(
    device: &DeviceScope,
    village_code: &str,
    previous_village_code: Option<&str>,
) -> bool {
    previous_village_code.is_some_and(|before| !device.covers(before))
        && device.covers(village_code)
}

/// The operations that wrote a record's versions, other than `device`'s own.
pub(crate) fn written_by_others(state: &RecordState, device: DeviceId) -> BTreeSet<OpId> {
    Field::ALL
        .iter()
        .flat_map(|field| state.history(*field))
        .map(|version| version.stamp.op_id())
        .filter(|op| op.device_id != device)
        .collect()
}

/// A field officer, created by staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Officer {
    /// Id.
    pub id: OfficerId,
    /// Name.
    pub name: String,
    /// Region codes (digits only) the officer may register in.
    pub regions: Vec<String>,
    /// When staff created the officer.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A one-time enrolment code, as stored (only its hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEnrollmentCode {
    /// SHA-256 of the normalised code.
    pub code_hash: [u8; 32],
    /// The officer the enrolled device will belong to.
    pub officer_id: OfficerId,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// A device asking to enrol with a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrollment {
    /// SHA-256 of the normalised code.
    pub code_hash: [u8; 32],
    /// The device.
    pub device_id: DeviceId,
    /// Its name, for staff.
    pub device_name: String,
    /// SHA-256 of the token the device will use.
    pub token_hash: [u8; 32],
    /// Now.
    pub now: OffsetDateTime,
}

/// Why an enrolment was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollRefusal {
    /// No such code.
    UnknownCode,
    /// The code expired.
    Expired,
    /// The code was used already.
    AlreadyUsed,
    /// The device was revoked; it cannot enrol again.
    DeviceRevoked,
}

/// A device as staff see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Id.
    pub id: DeviceId,
    /// Name given at enrolment.
    pub name: String,
    /// Its officer.
    pub officer_id: OfficerId,
    /// The officer's name.
    pub officer_name: String,
    /// When it enrolled.
    #[serde(with = "time::serde::rfc3339")]
    pub enrolled_at: OffsetDateTime,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Its last push or pull.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen_at: Option<OffsetDateTime>,
    /// The server holds all its operations up to this sequence number.
    pub acknowledged_seq: u64,
}

/// A device as a sneakernet bundle import needs it: found by its id (a
/// bundle carries no token), with the key that checks its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleDevice {
    /// Who it is and where it may work.
    pub scope: DeviceScope,
    /// Its name, for the import's result.
    pub name: String,
    /// Set when staff revoked it.
    pub revoked_at: Option<OffsetDateTime>,
    /// The Ed25519 public key it registered (`None`: enrolled before
    /// bundles existed and not synced since).
    pub public_key: Option<[u8; 32]>,
}

/// The server's own bundle keys, made once per store.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerBundleKeys {
    /// Seed of the Ed25519 key that signs receipts.
    pub signing_seed: [u8; 32],
    /// The secret each device's bundle secret is derived from.
    pub device_secret_root: [u8; 32],
}

impl std::fmt::Debug for ServerBundleKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerBundleKeys(..)")
    }
}

/// An outbox bundle the server applied, and the receipt it answered with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BundleImport {
    /// The outbox bundle's id.
    pub bundle_id: uuid::Uuid,
    /// The laptop it came from.
    pub device_id: DeviceId,
    /// When it was applied.
    #[serde(with = "time::serde::rfc3339")]
    pub imported_at: OffsetDateTime,
    /// Who applied it: a staff login, or `cli` for `lindung-server bundle import`.
    pub imported_by: String,
    /// Operations it carried.
    pub operations: u64,
    /// Of those: stored now.
    pub accepted: u64,
    /// Already held (synced before, or in an earlier bundle).
    pub duplicates: u64,
    /// Refused for good (each with its reason in the receipt).
    pub rejected: u64,
    /// The receipt bundle, to hand back to the laptop.
    #[serde(skip)]
    pub receipt: Vec<u8>,
}

/// A device identified by its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// Who it is and where it may work.
    pub scope: DeviceScope,
    /// Set when staff revoked it.
    pub revoked_at: Option<OffsetDateTime>,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushResult {
    /// One receipt per operation, in the order sent.
    pub receipts: Vec<Receipt>,
    /// The server holds every operation of the device up to this sequence number.
    pub acknowledged_seq: u64,
}

/// One page of changes for a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullResult {
    /// Operations in server order.
    pub operations: Vec<Operation>,
    /// Duplicate-group changes in the page's range.
    pub duplicates: Vec<DuplicateNotice>,
    /// Where the next page starts.
    pub next_cursor: u64,
    /// Whether more pages follow.
    pub has_more: bool,
}

/// Persons registered through Lindung in a region (distinct NIKs of active
/// records: the same person registered twice counts once).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CoverageCounts {
    /// Distinct persons.
    pub persons: u64,
    /// Distinct persons first counted (their representative record first
    /// stored) on or after the UTC day of the given moment: the pace.
    pub persons_since: u64,
    /// Distinct persons per category code.
    pub by_category: std::collections::BTreeMap<String, u64>,
    /// Distinct persons per payer code.
    pub by_payer: std::collections::BTreeMap<String, u64>,
}

/// The maintained coverage tables (see `persons`), each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageTables {
    /// Persons per village, category and payer (`person_counts`).
    pub villages: Vec<(crate::persons::Place, u64)>,
    /// Persons per rolled-up region, category and payer (`region_counts`;
    /// the place's code is the region's).
    pub regions: Vec<(crate::persons::Place, u64)>,
    /// Persons first counted per rolled-up region and day (`region_days`).
    pub days: Vec<((String, i64), u64)>,
}

/// What replacing reference data did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReferenceReplaced {
    /// The years whose values were replaced.
    pub years: Vec<i32>,
    /// Rows that were there before, in those years.
    pub removed: u64,
    /// Rows stored now.
    pub stored: u64,
}

/// Totals for the operator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Records held.
    pub records: u64,
    /// Active records.
    pub active_records: u64,
    /// Operations accepted.
    pub operations: u64,
    /// Operations refused.
    pub rejections: u64,
    /// Records that share their NIK with another record.
    pub records_in_duplicate_groups: u64,
    /// Officers.
    pub officers: u64,
    /// Enrolled devices (revoked included).
    pub devices: u64,
}

/// One entry for the audit log: who did what, to what, when. Build it with
/// [`crate::audit::audit`], which masks NIKs; never store a secret in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// When it happened.
    pub at: OffsetDateTime,
    /// The staff member (`--staff`, `LINDUNG_STAFF`, or the OS user name).
    pub actor: String,
    /// What was done, e.g. `officer.add` (see [`crate::audit::action`]).
    pub action: String,
    /// What it was done to: an officer or device id, a region code, a file name.
    pub subject: String,
    /// Further details, as a JSON value.
    pub details: serde_json::Value,
}

/// Which audit entries to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFilter {
    /// At most this many (the newest).
    pub limit: u32,
    /// Only this action.
    pub action: Option<String>,
    /// Only entries at or after this moment (Unix milliseconds).
    pub since_ms: Option<i64>,
}

/// A stored audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Its number, increasing in the order entries were stored.
    pub id: i64,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Details.
    pub details: serde_json::Value,
}

/// One page of the active registrations in a region, in record-id order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordsPage {
    /// The complete, active registrations of the page (a record still
    /// missing fields is left out).
    pub registrations: Vec<lindung_shared::registration::Registration>,
    /// The last record id the page read: pass it as `after` for the next
    /// page. `None` when the page read nothing (the end).
    pub last_id: Option<RecordId>,
}

/// What a push waits for before it is applied ([`Storage::push_in_turn`]):
/// true when its turn has come, false when it never will.
pub type Turn<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>>;

/// The turn of a push that waits for nothing.
pub fn at_once() -> Turn<'static> {
    Box::pin(std::future::ready(true))
}

/// Why a push that waits for nothing ([`at_once`]) was not applied: never.
pub(crate) fn not_applied() -> StorageError {
    StorageError::Task("a push without a turn to wait for was not applied".into())
}

/// Everything the server stores. Implemented once per backend; the
/// conformance suite checks that both behave the same.
#[async_trait]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Which backend and where, password hidden.
    fn describe(&self) -> String;

    /// The connection pool's state, for the metrics (`None`: no pool).
    fn pool_status(&self) -> Option<crate::metrics::PoolStatus> {
        None
    }

    /// The store's random identity, created with the database.
    async fn store_id(&self) -> Result<StoreId>;

    /// Gives the store a new random identity and returns it: after a restore
    /// from a backup, agents see another store, turn what they had delivered
    /// back to pending and send it again; the server keeps what it has.
    async fn renew_store_id(&self) -> Result<StoreId>;

    /// The greatest timestamp of any stored operation (the server clock resumes after it).
    async fn last_hlc(&self) -> Result<Hlc>;

    /// Creates an officer.
    async fn add_officer(&self, officer: &Officer) -> Result<()>;

    /// Every officer, by name.
    async fn officers(&self) -> Result<Vec<Officer>>;

    /// One officer.
    async fn officer(&self, id: OfficerId) -> Result<Option<Officer>>;

    /// Stores a new enrolment code.
    async fn add_enrollment_code(&self, code: &NewEnrollmentCode) -> Result<()>;

    /// Uses an enrolment code: registers (or re-registers) the device with
    /// the token, marks the code used, and returns the officer.
    async fn enroll(&self, enrollment: &Enrollment) -> Result<Result<Officer, EnrollRefusal>>;

    /// Every device, newest first.
    async fn devices(&self) -> Result<Vec<Device>>;

    /// A device by its id, for a bundle import; `None` when unknown.
    async fn bundle_device(&self, id: DeviceId) -> Result<Option<BundleDevice>>;

    /// Keeps the Ed25519 public key a device signs bundles with (replacing
    /// an earlier one).
    async fn set_bundle_public_key(&self, id: DeviceId, public_key: &[u8; 32]) -> Result<()>;

    /// The store's bundle keys: `candidate` (fresh random keys) is kept the
    /// first time; afterwards the kept ones are returned.
    async fn server_bundle_keys(&self, candidate: &ServerBundleKeys) -> Result<ServerBundleKeys>;

    /// The import of an outbox bundle, if it was applied before.
    async fn bundle_import(&self, bundle_id: uuid::Uuid) -> Result<Option<BundleImport>>;

    /// Records an applied outbox bundle; a second record of the same bundle
    /// is ignored (the first receipt stays).
    async fn record_bundle_import(&self, import: &BundleImport) -> Result<()>;

    /// The latest `limit` bundle imports, newest first, without their
    /// receipts (`receipt` empty: [`Storage::bundle_import`] has it).
    async fn bundle_imports(&self, limit: u32) -> Result<Vec<BundleImport>>;

    /// Revokes a device; false when there is no such device.
    async fn revoke_device(&self, id: DeviceId, at: OffsetDateTime) -> Result<bool>;

    /// The device a token belongs to: its current token, or the one a
    /// rotation issued ([`Storage::rotate_device_token`]), which becomes the
    /// current token at this first use, in one statement: from then on the
    /// previous token is unknown.
    async fn authenticate(&self, token_hash: &[u8; 32]) -> Result<Option<Authenticated>>;

    /// Issues the next token of a device whose current token hashes to
    /// `current`: `next` is accepted alongside it until it is first used
    /// (then it replaces it, see [`Storage::authenticate`]); a later
    /// rotation replaces a next token never used. False when `current` is
    /// no longer the device's token or the device is revoked.
    async fn rotate_device_token(
        &self,
        device: DeviceId,
        current: &[u8; 32],
        next: &[u8; 32],
    ) -> Result<bool>;

    /// Applies a batch of the device's operations in one transaction (see
    /// [`crate::ingest`] for the rules).
    async fn push(
        &self,
        device: &DeviceScope,
        operations: &[Operation],
        now: OffsetDateTime,
    ) -> Result<PushResult> {
        self.push_in_turn(device, operations, now, at_once())
            .await?
            .ok_or_else(not_applied)
    }

    /// [`Storage::push`] of a batch that must wait its turn (the batch
    /// before it from the same device): the operations are checked first,
    /// then `turn` is awaited, and they are applied only if it gives true
    /// (else `None`, nothing applied).
    async fn push_in_turn<'a>(
        &'a self,
        device: &'a DeviceScope,
        operations: &'a [Operation],
        now: OffsetDateTime,
        turn: Turn<'a>,
    ) -> Result<Option<PushResult>>;

    /// The changes in the device's scope after `cursor`, made by other
    /// devices. An operation that moves a record into the device's regions
    /// from outside them comes after the record's earlier operations (by
    /// other devices), which the device was not sent then.
    async fn pull(&self, device: &DeviceScope, cursor: u64, limit: u32) -> Result<PullResult>;

    /// One record, with every version of every field.
    async fn record(&self, id: RecordId) -> Result<Option<StoredRecord>>;

    /// Totals.
    async fn counts(&self) -> Result<Counts>;

    /// Replaces, for every year that occurs in `rows`, all of that year's
    /// reference values with `rows` (one transaction; other years untouched).
    async fn replace_reference(&self, rows: &[ReferenceRow]) -> Result<ReferenceReplaced>;

    /// The reference values of a year, by region code.
    async fn reference(&self, year: i32) -> Result<Vec<ReferenceRow>>;

    /// Persons registered in the region whose code starts with `region_prefix`
    /// ("" for the whole country); `persons_since` counts the persons first
    /// counted on or after the UTC day of `since_ms` (Unix milliseconds).
    async fn coverage_counts(&self, region_prefix: &str, since_ms: i64) -> Result<CoverageCounts>;

    /// Persons per region of code length `length` under `region_prefix`
    /// (region code → persons; regions with none are absent).
    async fn persons_by_region(
        &self,
        region_prefix: &str,
        length: usize,
    ) -> Result<std::collections::BTreeMap<String, u64>>;

    /// The pace per region of code length `length` under `region_prefix`:
    /// region code → persons counted in that region and first counted on or
    /// after the UTC day of `since_ms` (Unix milliseconds), the figure
    /// `coverage_counts` gives one region as `persons_since`, grouped
    /// (regions with none are absent).
    async fn pace_by_region(
        &self,
        region_prefix: &str,
        length: usize,
        since_ms: i64,
    ) -> Result<std::collections::BTreeMap<String, u64>>;

    /// Every contribution-rate entry, oldest first (empty: the built-in defaults apply).
    async fn contribution_rates(&self) -> Result<Vec<lindung_shared::coverage::ContributionRates>>;

    /// Adds the rates that apply from `rates.effective_from`, or replaces the entry for that date.
    async fn set_contribution_rates(
        &self,
        rates: &lindung_shared::coverage::ContributionRates,
    ) -> Result<()>;

    /// Rebuilds the coverage tables (persons and their counts per place)
    /// from the records, in one transaction; returns the number of persons.
    async fn recompute_coverage(&self) -> Result<u64>;

    /// The coverage tables as maintained, in a fixed order (to compare
    /// them with a recompute).
    async fn coverage_tables(&self) -> Result<CoverageTables>;

    /// Applies a staff decision: its edits become operations of the staff
    /// device (planned like any push, so validated, merged and pulled by the
    /// agents) and the decision is recorded, all in one transaction.
    async fn staff_edit(&self, request: StaffRequest, now: OffsetDateTime) -> Result<StaffOutcome>;

    /// Conflict-log entries whose village lies in `region` (every region when
    /// empty), newest first; open ones only unless `include_resolved`.
    async fn conflicts(
        &self,
        region: &str,
        include_resolved: bool,
        limit: u32,
    ) -> Result<Vec<ConflictEntry>>;

    /// One conflict-log entry.
    async fn conflict(&self, id: i64) -> Result<Option<ConflictEntry>>;

    /// Merges, newest first.
    async fn merges(&self, limit: u32) -> Result<Vec<MergeEntry>>;

    /// One merge.
    async fn merge(&self, id: i64) -> Result<Option<MergeEntry>>;

    /// Records in `region` for the duplicate search: for
    /// [`DuplicateKind::Certain`], every record that shares its NIK with
    /// another (and those others, wherever they are); for
    /// [`DuplicateKind::Probable`], every active record with a birth date.
    async fn duplicate_candidates(
        &self,
        region: &str,
        kind: DuplicateKind,
    ) -> Result<Vec<DuplicateCandidate>>;

    /// The staff device's id (the author of staff operations).
    async fn staff_device(&self) -> Result<DeviceId>;

    /// Adds a staff account whose API token hashes to `token_hash`, with
    /// its dashboard password hash (argon2id, PHC-like text) if it has one.
    /// A login already taken is refused by the database (an error).
    async fn add_staff_account(
        &self,
        account: &StaffAccount,
        token_hash: &[u8; 32],
        password_hash: Option<&str>,
    ) -> Result<()>;

    /// The staff account with this login (case as stored: logins are kept
    /// lower-case) and its password hash.
    async fn staff_account_by_login(
        &self,
        login: &str,
    ) -> Result<Option<(StaffAccount, Option<String>)>>;

    /// Sets an account's password hash and ends its sessions; false when
    /// there is no such account.
    async fn set_staff_password(&self, id: uuid::Uuid, password_hash: &str) -> Result<bool>;

    /// Stores a new dashboard session.
    async fn create_staff_session(&self, session: &NewStaffSession) -> Result<()>;

    /// The session whose id hashes to `id_hash`, with its account.
    async fn staff_session(&self, id_hash: &[u8; 32]) -> Result<Option<StaffSession>>;

    /// Records a request of the session (moves its idle expiry).
    async fn touch_staff_session(&self, id_hash: &[u8; 32], now: OffsetDateTime) -> Result<()>;

    /// Ends a session; false when there was none.
    async fn delete_staff_session(&self, id_hash: &[u8; 32]) -> Result<bool>;

    /// Deletes sessions created before `created_before` or idle since before
    /// `idle_before`; returns how many.
    async fn delete_expired_staff_sessions(
        &self,
        created_before: OffsetDateTime,
        idle_before: OffsetDateTime,
    ) -> Result<u64>;

    /// Records a failed login under each key (`login:NAME`, `ip:ADDRESS`).
    async fn record_login_failure(&self, keys: &[String], at: OffsetDateTime) -> Result<()>;

    /// Failed logins recorded under `key` at or after `since`.
    async fn login_failures(&self, key: &str, since: OffsetDateTime) -> Result<u64>;

    /// Forgets the failed logins under `key` (after a successful login), and
    /// every failure older than `before` under any key.
    async fn clear_login_failures(&self, key: &str, before: OffsetDateTime) -> Result<()>;

    /// Every staff account, oldest first.
    async fn staff_accounts(&self) -> Result<Vec<StaffAccount>>;

    /// Revokes a staff account; false when there is none with that id.
    async fn revoke_staff_account(&self, id: uuid::Uuid, now: OffsetDateTime) -> Result<bool>;

    /// The staff account a token belongs to (revoked ones included: the
    /// caller refuses them with a clear message).
    async fn staff_account_by_token(&self, token_hash: &[u8; 32]) -> Result<Option<StaffAccount>>;

    /// Replaces a staff account's API token (the old one stops working at
    /// once); false when there is no such account.
    async fn set_staff_token(&self, id: uuid::Uuid, token_hash: &[u8; 32]) -> Result<bool>;

    /// Appends an entry to the audit log.
    async fn record_audit(&self, entry: &AuditEntry) -> Result<()>;

    /// Audit entries, newest first.
    async fn audit_entries(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;

    /// Up to `limit` active records whose village code starts with
    /// `region_prefix`, with ids greater than `after`, in id order (a page of
    /// an export: memory stays bounded however many records there are).
    async fn records_in_region(
        &self,
        region_prefix: &str,
        after: Option<RecordId>,
        limit: u32,
    ) -> Result<RecordsPage>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_body_is_what_serde_writes() {
        use crate::ingest::{AcceptedOperation, fingerprint};
        use lindung_shared::registration::Change;
        let operation = Operation {
            device_id: DeviceId(uuid::Uuid::from_u128(7)),
            seq: 42,
            record_id: RecordId(uuid::Uuid::from_u128(9)),
            hlc: Hlc::new(1_700_000_000_000, 3).expect("small"),
            changes: vec![
                Change::FullName("Siti \"Aminah\" Lubis".into()),
                Change::Rt(Some(4)),
                Change::Phone(None),
            ],
        };
        let accepted = AcceptedOperation {
            server_seq: 1,
            fingerprint: fingerprint(&operation),
            changes_json: serde_json::to_string(&operation.changes).expect("encodes"),
            operation: operation.clone(),
            original_hlc: operation.hlc,
            village_code: "1311012001".into(),
            previous_village_code: None,
        };
        let body = operation_body(&accepted).expect("encodes");
        assert_eq!(body, serde_json::to_string(&operation).expect("encodes"));
        assert_eq!(from_json::<Operation>(&body).expect("decodes"), operation);
    }

    #[test]
    fn urls_select_a_backend_and_print_without_passwords() {
        let postgres = DatabaseUrl::parse("postgres://lindung:rahasia@db.example:5432/lindung")
            .expect("parses");
        assert_eq!(
            postgres.redacted(),
            "postgres://lindung:***@db.example:5432/lindung"
        );
        let query = DatabaseUrl::parse("postgresql://db/lindung?user=a&password=rahasia&x=1")
            .expect("parses");
        assert_eq!(
            query.redacted(),
            "postgresql://db/lindung?user=a&password=***&x=1"
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://lindung@127.0.0.1/lindung")
                .expect("parses")
                .redacted(),
            "postgres://lindung@127.0.0.1/lindung"
        );
        assert!(matches!(
            DatabaseUrl::parse("mysql://x"),
            Err(StorageError::UnsupportedUrl(_))
        ));
    }
}
