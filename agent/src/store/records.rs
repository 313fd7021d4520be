//! Registrations in the local store: materialising the merge state, finding
//! duplicates before a save, listing, status and village progress.

use std::collections::BTreeMap;

use lindung_shared::ids::RecordId;
use lindung_shared::merge::{Operation, RecordState};
use lindung_shared::nik::Nik;
use lindung_shared::person_name::NameKey;
use lindung_shared::registration::{Category, Change, Registration, Status};
use lindung_shared::validation::ValidRegistration;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, StoreError, replay, rfc3339};

/// Where a record stands with the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Some of its changes are waiting to be sent.
    Pending,
    /// The server refused one of its changes, and no change of it was
    /// accepted since (a later accepted change is the officer's fix); see `status`.
    Rejected,
    /// Everything about it is on the server (or it came from there).
    Synced,
}

impl SyncState {
    fn from_code(code: &str) -> SyncState {
        match code {
            "pending" => SyncState::Pending,
            "rejected" => SyncState::Rejected,
            _ => SyncState::Synced,
        }
    }
}

/// One registration as listed: its current values and sync state.
#[derive(Clone, Debug, Serialize)]
pub struct ListedRegistration {
    /// The registration.
    #[serde(flatten)]
    pub registration: Registration,
    /// Where it stands with the server.
    pub sync: SyncState,
}

/// The same NIK is already registered on this laptop.
#[derive(Clone, Debug)]
pub struct DuplicateNik {
    /// The existing registrations with that NIK.
    pub existing: Vec<ListedRegistration>,
}

/// Registrations that are probably the same person (same village and birth
/// date, similar name).
#[derive(Clone, Debug)]
pub struct ProbableDuplicate {
    /// The similar registrations.
    pub candidates: Vec<ListedRegistration>,
}

/// Filters of `list`; all optional, combined with AND.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Only this village (10 digits).
    pub village_code: Option<String>,
    /// Only villages inside this region code (district, regency or province).
    pub region_prefix: Option<String>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only active (`Some(true)`) or only withdrawn (`Some(false)`).
    pub active: Option<bool>,
    /// Name contains this text (case-insensitive), or the NIK starts with it.
    pub text: Option<String>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// A local change that the server refused.
#[derive(Clone, Debug, Serialize)]
pub struct OutboxEntry {
    /// Sequence number on this device.
    pub seq: u64,
    /// The record it changed.
    pub record_id: RecordId,
    /// The server's error code.
    pub error_code: Option<String>,
    /// The server's reason, in English.
    pub error_message: Option<String>,
    /// The server's reason, in Bahasa Indonesia.
    pub error_message_id: Option<String>,
    /// The field at fault, when there is one.
    pub error_field: Option<String>,
}

impl OutboxEntry {
    /// The reason in the officer's language (English when no Indonesian text came).
    pub fn reason(&self, lang: lindung_shared::lang::Lang) -> &str {
        match (lang, &self.error_message_id) {
            (lindung_shared::lang::Lang::Id, Some(text)) => text,
            _ => self.error_message.as_deref().unwrap_or(""),
        }
    }
}

/// Counts for `status`.
#[derive(Clone, Debug, Serialize)]
pub struct StoreStatus {
    /// Registrations, active and withdrawn.
    pub registrations: u64,
    /// Active registrations.
    pub active: u64,
    /// Withdrawn registrations.
    pub withdrawn: u64,
    /// Local changes not yet accepted by the server.
    pub pending_changes: u64,
    /// When the last sync finished, if ever.
    pub last_sync_at: Option<String>,
    /// Changes the server refused, with its reasons.
    pub rejected: Vec<OutboxEntry>,
}

/// Village progress: active registrations by category, against counted positions.
#[derive(Clone, Debug, Serialize)]
pub struct VillageProgress {
    /// The village.
    pub village_code: String,
    /// Active registrations per category code.
    pub by_category: BTreeMap<String, u64>,
    /// Active registrations in total.
    pub active: u64,
    /// Number of RT in the village, when the officer recorded it.
    pub rt_positions: Option<u64>,
    /// Number of RW in the village, when the officer recorded it.
    pub rw_positions: Option<u64>,
    /// Whether the figures include changes not yet on the server.
    pub provisional: bool,
}

/// The columns of a record's `registrations` row: what lists, filters and
/// duplicate checks read. All `None` while the record is incomplete (edits
/// that arrived before its creation: kept, not listed).
#[derive(Debug, PartialEq, Eq)]
struct RowColumns {
    complete: bool,
    nik: Option<String>,
    full_name: Option<String>,
    birth_date: Option<String>,
    village_code: Option<String>,
    category: Option<String>,
    status: Option<String>,
    registered_at: Option<String>,
}

impl RowColumns {
    /// The columns for a record whose merge state gives `registration`.
    fn of(registration: Option<&Registration>) -> RowColumns {
        match registration {
            Some(registration) => RowColumns {
                complete: true,
                nik: Some(registration.nik.as_str().to_owned()),
                full_name: Some(registration.full_name.clone()),
                birth_date: Some(registration.birth_date.to_string()),
                village_code: Some(registration.village_code.clone()),
                category: Some(registration.category.code().to_owned()),
                status: Some(
                    if registration.is_active() {
                        "active"
                    } else {
                        "withdrawn"
                    }
                    .to_owned(),
                ),
                registered_at: Some(rfc3339(registration.origin.registered_at)),
            },
            None => RowColumns {
                complete: false,
                nik: None,
                full_name: None,
                birth_date: None,
                village_code: None,
                category: None,
                status: None,
                registered_at: None,
            },
        }
    }

    /// The columns as stored, from `complete` onwards in the order of [`ROW_COLUMNS`].
    fn read(row: &Row<'_>, first: usize) -> rusqlite::Result<RowColumns> {
        Ok(RowColumns {
            complete: row.get::<_, i64>(first)? == 1,
            nik: row.get(first + 1)?,
            full_name: row.get(first + 2)?,
            birth_date: row.get(first + 3)?,
            village_code: row.get(first + 4)?,
            category: row.get(first + 5)?,
            status: row.get(first + 6)?,
            registered_at: row.get(first + 7)?,
        })
    }
}

/// The stored columns [`RowColumns::read`] expects, in its order.
const ROW_COLUMNS: &str =
    "complete, nik, full_name, birth_date, village_code, category, status, registered_at";

/// Rewrites the `registrations` row of a record by replaying every stored
/// operation on it (after pulled operations were inserted).
pub(super) fn rematerialise(tx: &Transaction<'_>, record_id: RecordId) -> Result<(), StoreError> {
    let state = replay(tx, record_id)?;
    materialise(tx, record_id, &state)
}

/// Rewrites the `registrations` row of a record from its merge state (all of
/// its stored operations, replayed).
pub(super) fn materialise(
    tx: &Transaction<'_>,
    record_id: RecordId,
    state: &RecordState,
) -> Result<(), StoreError> {
    let registration = state.to_registration(record_id).ok();
    let c = RowColumns::of(registration.as_ref());
    tx.prepare_cached(
        "INSERT INTO registrations
             (id, complete, nik, full_name, birth_date, village_code, category, status, registered_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO UPDATE SET complete = ?2, nik = ?3, full_name = ?4, birth_date = ?5,
             village_code = ?6, category = ?7, status = ?8, registered_at = ?9",
    )?
    .execute(params![
        record_id.0.as_bytes().as_slice(),
        c.complete,
        c.nik,
        c.full_name,
        c.birth_date,
        c.village_code,
        c.category,
        c.status,
        c.registered_at
    ])?;
    Ok(())
}

/// The full registration of a record listed as complete, rebuilt from its operations.
fn rebuild(conn: &Connection, record_id: RecordId) -> Result<Registration, StoreError> {
    replay(conn, record_id)?
        .to_registration(record_id)
        .map_err(|e| StoreError::Damaged(format!("listed as complete, but {e}")))
}

const LISTED_COLUMNS: &str = "r.id, CASE
        WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id AND o.state = 'rejected'
                     AND NOT EXISTS (SELECT 1 FROM outbox a
                                     WHERE a.record_id = r.id AND a.state = 'acked' AND a.seq > o.seq))
            THEN 'rejected'
        WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id AND o.state = 'pending') THEN 'pending'
        ELSE 'synced' END";

fn listed(row: &Row<'_>) -> rusqlite::Result<(Vec<u8>, String)> {
    Ok((row.get(0)?, row.get(1)?))
}

fn record_id_of(bytes: &[u8]) -> Result<RecordId, StoreError> {
    Uuid::from_slice(bytes)
        .map(RecordId)
        .map_err(|e| StoreError::Damaged(format!("record id: {e}")))
}

fn query_listed(
    conn: &Connection,
    sql_where: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ListedRegistration>, StoreError> {
    let sql = format!(
        "SELECT {LISTED_COLUMNS} FROM registrations r WHERE r.complete = 1 AND {sql_where}"
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params, listed)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, sync) = row?;
        out.push(ListedRegistration {
            registration: rebuild(conn, record_id_of(&id)?)?,
            sync: SyncState::from_code(&sync),
        });
    }
    Ok(out)
}

impl Store {
    /// Saves a new registration, unless its NIK is already registered here.
    /// A probable duplicate must have been confirmed (warning code
    /// `possible_duplicate` in `confirmed_warnings`).
    pub fn register(
        &mut self,
        valid: ValidRegistration,
        now: OffsetDateTime,
    ) -> Result<Result<Registration, Refusal>, StoreError> {
        let same_nik = self.find_by_nik(&valid.nik)?;
        if !same_nik.is_empty() {
            return Ok(Err(Refusal::DuplicateNik(DuplicateNik {
                existing: same_nik,
            })));
        }
        let confirmed = valid
            .confirmed_warnings
            .iter()
            .any(|c| c == POSSIBLE_DUPLICATE);
        let candidates = self.probable_duplicates(&valid)?;
        if !candidates.is_empty() && !confirmed {
            return Ok(Err(Refusal::ProbableDuplicate(ProbableDuplicate {
                candidates,
            })));
        }
        let registration = self.new_registration(valid, !candidates.is_empty(), now);
        self.apply_local(registration.id, registration.to_changes(), now)?;
        Ok(Ok(registration))
    }

    /// A new registration from validated fields, created by this officer on
    /// this device. `possible_duplicate` stays among the confirmed warnings
    /// only when there was a probable duplicate to confirm.
    pub fn new_registration(
        &self,
        valid: ValidRegistration,
        had_candidates: bool,
        now: OffsetDateTime,
    ) -> Registration {
        let mut valid = valid;
        if !had_candidates {
            valid.confirmed_warnings.retain(|c| c != POSSIBLE_DUPLICATE);
        }
        valid.into_registration(
            RecordId(Uuid::now_v7()),
            lindung_shared::registration::Origin {
                officer_id: self.officer_id,
                device_id: self.device_id,
                registered_at: now,
            },
        )
    }

    /// Every complete registration with this NIK.
    pub fn find_by_nik(&self, nik: &Nik) -> Result<Vec<ListedRegistration>, StoreError> {
        query_listed(&self.conn, "r.nik = ?1", &[&nik.as_str()])
    }

    /// Active registrations in the same village with the same birth date and a similar name.
    pub fn probable_duplicates(
        &self,
        valid: &ValidRegistration,
    ) -> Result<Vec<ListedRegistration>, StoreError> {
        self.similar_persons(
            &valid.nik,
            &valid.full_name,
            &valid.village_code,
            valid.birth_date,
        )
    }

    /// Active registrations of another NIK in `village_code` with this birth
    /// date and a name that is probably the same person's (what
    /// [`Store::probable_duplicates`] checks, from the parts of a form).
    pub fn similar_persons(
        &self,
        nik: &Nik,
        full_name: &str,
        village_code: &str,
        birth_date: time::Date,
    ) -> Result<Vec<ListedRegistration>, StoreError> {
        // Compared on the stored columns; only the (rare) matches are rebuilt
        // in full. An import runs this for every new row.
        let key = NameKey::new(full_name);
        let mut similar = Vec::new();
        {
            let mut statement = self.conn.prepare_cached(
                "SELECT id, nik, full_name FROM registrations
                 WHERE complete = 1 AND village_code = ?1 AND birth_date = ?2 AND status = 'active'",
            )?;
            let mut rows = statement.query(params![village_code, birth_date.to_string()])?;
            while let Some(row) = rows.next()? {
                let (Some(other_nik), Some(name)) = (
                    row.get_ref(1)?
                        .as_str_or_null()
                        .map_err(rusqlite::Error::from)?,
                    row.get_ref(2)?
                        .as_str_or_null()
                        .map_err(rusqlite::Error::from)?,
                ) else {
                    continue;
                };
                if other_nik != nik.as_str() && NameKey::new(name).is_probable_match(&key) {
                    similar.push(row.get::<_, Vec<u8>>(0)?);
                }
            }
        }
        let mut candidates = Vec::with_capacity(similar.len());
        for id in similar {
            candidates.extend(query_listed(&self.conn, "r.id = ?1", &[&id])?);
        }
        Ok(candidates)
    }

    /// The villages with registrations on this laptop, with their number of
    /// active registrations, by code.
    pub fn villages(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT village_code, sum(status = 'active') FROM registrations
             WHERE complete = 1 AND village_code IS NOT NULL
             GROUP BY village_code ORDER BY village_code",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (code, active) = row?;
            out.push((code, u64::try_from(active).unwrap_or(0)));
        }
        Ok(out)
    }

    /// A registration by its id, or by an unambiguous prefix of its id (at least 8 characters).
    pub fn find(&self, id_or_prefix: &str) -> Result<Option<ListedRegistration>, StoreError> {
        let text = id_or_prefix.trim().to_ascii_lowercase();
        if let Ok(uuid) = Uuid::parse_str(&text) {
            return Ok(
                query_listed(&self.conn, "r.id = ?1", &[&uuid.as_bytes().as_slice()])?
                    .into_iter()
                    .next(),
            );
        }
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        if hex.len() < 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let all = query_listed(
            &self.conn,
            "hex(r.id) LIKE ?1",
            &[&format!("{}%", hex.to_ascii_uppercase())],
        )?;
        Ok(if all.len() == 1 {
            all.into_iter().next()
        } else {
            None
        })
    }

    /// Registrations matching a filter, newest first.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<ListedRegistration>, StoreError> {
        let mut clauses = vec!["1 = 1".to_owned()];
        let mut values: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        if let Some(village) = &filter.village_code {
            values.push(Box::new(village.clone()));
            clauses.push(format!("r.village_code = ?{}", values.len()));
        }
        if let Some(prefix) = &filter.region_prefix {
            values.push(Box::new(format!("{prefix}%")));
            clauses.push(format!("r.village_code LIKE ?{}", values.len()));
        }
        if let Some(category) = filter.category {
            values.push(Box::new(category.code()));
            clauses.push(format!("r.category = ?{}", values.len()));
        }
        if let Some(active) = filter.active {
            values.push(Box::new(if active { "active" } else { "withdrawn" }));
            clauses.push(format!("r.status = ?{}", values.len()));
        }
        if let Some(text) = filter
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let escaped = text
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            values.push(Box::new(format!("%{escaped}%")));
            let name = values.len();
            values.push(Box::new(format!("{escaped}%")));
            clauses.push(format!(
                "(r.full_name LIKE ?{name} ESCAPE '\\' OR r.nik LIKE ?{} ESCAPE '\\')",
                values.len()
            ));
        }
        let mut sql_where = clauses.join(" AND ");
        sql_where.push_str(" ORDER BY r.registered_at DESC, r.id DESC");
        if let Some(limit) = filter.limit {
            sql_where.push_str(&format!(" LIMIT {limit}"));
        }
        let params: Vec<&dyn rusqlite::ToSql> = values.iter().map(|v| v.as_ref()).collect();
        query_listed(&self.conn, &sql_where, &params)
    }

    /// Counts, pending changes and refused changes.
    pub fn status(&self) -> Result<StoreStatus, StoreError> {
        let count = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = self.conn.query_row(sql, [], |row| row.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let last_sync_at = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'last_sync_at'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        let mut statement = self.conn.prepare(
            "SELECT seq, record_id, error_code, error_message, error_message_id, error_field
             FROM outbox WHERE state = 'rejected' ORDER BY seq",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })?;
        let mut rejected = Vec::new();
        for row in rows {
            let (seq, record, error_code, error_message, error_message_id, error_field) = row?;
            let record_id =
                Uuid::from_slice(&record).map_err(|e| StoreError::Damaged(e.to_string()))?;
            rejected.push(OutboxEntry {
                seq: u64::try_from(seq).unwrap_or(0),
                record_id: RecordId(record_id),
                error_code,
                error_message,
                error_message_id,
                error_field,
            });
        }
        Ok(StoreStatus {
            registrations: count("SELECT count(*) FROM registrations WHERE complete = 1")?,
            active: count(
                "SELECT count(*) FROM registrations WHERE complete = 1 AND status = 'active'",
            )?,
            withdrawn: count(
                "SELECT count(*) FROM registrations WHERE complete = 1 AND status = 'withdrawn'",
            )?,
            pending_changes: count("SELECT count(*) FROM outbox WHERE state = 'pending'")?,
            last_sync_at,
            rejected,
        })
    }

    /// Records how many RT and RW a village has.
    pub fn set_positions(
        &mut self,
        village_code: &str,
        rt: u32,
        rw: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO village_positions (village_code, rt_count, rw_count, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (village_code) DO UPDATE SET rt_count = ?2, rw_count = ?3, updated_at = ?4",
            params![village_code, rt, rw, rfc3339(now)],
        )?;
        Ok(())
    }

    /// Active registrations in a village by category, and the recorded positions.
    pub fn progress(&self, village_code: &str) -> Result<VillageProgress, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT category, count(*) FROM registrations
             WHERE complete = 1 AND status = 'active' AND village_code = ?1 GROUP BY category",
        )?;
        let rows = statement.query_map([village_code], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut by_category = BTreeMap::new();
        for row in rows {
            let (category, n) = row?;
            by_category.insert(category, u64::try_from(n).unwrap_or(0));
        }
        let positions: Option<(i64, i64)> = self
            .conn
            .query_row(
                "SELECT rt_count, rw_count FROM village_positions WHERE village_code = ?1",
                [village_code],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let provisional: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox o JOIN registrations r ON r.id = o.record_id
                            WHERE o.state = 'pending' AND r.village_code = ?1)",
            [village_code],
            |row| row.get(0),
        )?;
        Ok(VillageProgress {
            village_code: village_code.to_owned(),
            active: by_category.values().sum(),
            by_category,
            rt_positions: positions.map(|(rt, _)| u64::try_from(rt).unwrap_or(0)),
            rw_positions: positions.map(|(_, rw)| u64::try_from(rw).unwrap_or(0)),
            provisional,
        })
    }
}

/// The changes that turn `current` into the validated values `edited`: only
/// fields whose value differs. Consent keeps its original moment unless its
/// method or reference changed.
pub fn changes_between(current: &Registration, edited: &ValidRegistration) -> Vec<Change> {
    let consent = if (edited.consent.method, &edited.consent.reference)
        == (current.consent.method, &current.consent.reference)
    {
        current.consent.clone()
    } else {
        edited.consent.clone()
    };
    let proposed = [
        Change::Nik(edited.nik),
        Change::FullName(edited.full_name.clone()),
        Change::BirthDate(edited.birth_date),
        Change::Sex(edited.sex),
        Change::Phone(edited.phone.clone()),
        Change::VillageCode(edited.village_code.clone()),
        Change::Rt(edited.rt),
        Change::Rw(edited.rw),
        Change::Address(edited.address.clone()),
        Change::Category(edited.category),
        Change::Programmes(edited.programmes),
        Change::MonthlyIncome(edited.monthly_income),
        Change::Payer(edited.payer.clone()),
        Change::Consent(consent),
        Change::ConfirmedWarnings(edited.confirmed_warnings.clone()),
    ];
    let existing = current.to_changes();
    proposed
        .into_iter()
        .filter(|change| !existing.contains(change))
        .collect()
}

impl Store {
    /// Saves an edit of a registration: the fields that changed, as one
    /// operation. `None` when nothing changed. Refuses a NIK that another
    /// registration on this laptop already has.
    pub fn edit(
        &mut self,
        current: &Registration,
        edited: &ValidRegistration,
        now: OffsetDateTime,
    ) -> Result<Result<Option<Operation>, Refusal>, StoreError> {
        if edited.nik != current.nik {
            let others: Vec<_> = self
                .find_by_nik(&edited.nik)?
                .into_iter()
                .filter(|r| r.registration.id != current.id)
                .collect();
            if !others.is_empty() {
                return Ok(Err(Refusal::DuplicateNik(DuplicateNik {
                    existing: others,
                })));
            }
        }
        let mut changes = changes_between(current, edited);
        if changes.is_empty() {
            return Ok(Ok(None));
        }
        if self.refused_unseen(current.id)? {
            // The server refused the record's creation and holds nothing of
            // it: a fix must carry every field, or the server refuses it too
            // (an edit of a record it does not know).
            let mut whole = current.clone();
            for change in &changes {
                whole.set(change);
            }
            changes = whole.to_changes();
        }
        Ok(Ok(Some(self.apply_local(current.id, changes, now)?)))
    }

    /// Whether the server refused a change of this record and has none of
    /// it: no change of it was acknowledged and no other device wrote it.
    pub fn refused_unseen(&self, id: RecordId) -> Result<bool, StoreError> {
        let refused: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?1 AND state = 'rejected')
                AND NOT EXISTS (SELECT 1 FROM outbox WHERE record_id = ?1 AND state = 'acked')
                AND NOT EXISTS (SELECT 1 FROM operations WHERE record_id = ?1 AND device_id <> ?2)",
            params![
                id.0.as_bytes().as_slice(),
                self.device_id.0.as_bytes().as_slice()
            ],
            |row| row.get(0),
        )?;
        Ok(refused)
    }

    /// Sets a registration's status: withdrawn with a reason (it stays, but no
    /// longer counts), or active again.
    pub fn set_status(
        &mut self,
        id: RecordId,
        status: Status,
        now: OffsetDateTime,
    ) -> Result<Operation, StoreError> {
        self.apply_local(id, vec![Change::Status(status)], now)
    }
}

/// The warning code an officer confirms to save a probable duplicate.
pub const POSSIBLE_DUPLICATE: &str = "possible_duplicate";

/// Why a registration was not saved although it was valid.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// The NIK is already registered on this laptop.
    DuplicateNik(DuplicateNik),
    /// A similar person is registered in the same village with the same birth date.
    ProbableDuplicate(ProbableDuplicate),
}

/// What `check` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    /// Operations this device made.
    pub own_operations: u64,
    /// Complete registrations.
    pub registrations: u64,
    /// Everything wrong, in English (empty when the store is sound).
    pub problems: Vec<String>,
}

impl Store {
    /// Verifies the store: SQLite's own integrity check, a dense outbox and
    /// operation sequence with no gap, and every registration row equal to
    /// what the merge rule computes from the stored operations.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport::default();
        let integrity: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        if integrity != "ok" {
            report
                .problems
                .push(format!("integrity_check: {integrity}"));
        }
        let device = self.device_id.0.as_bytes().as_slice();
        let (count, max): (i64, i64) = self.conn.query_row(
            "SELECT count(*), COALESCE(MAX(seq), 0) FROM operations WHERE device_id = ?1",
            [device],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        report.own_operations = u64::try_from(count).unwrap_or(0);
        // Operations removed by compaction (`store::compact`) leave gaps on purpose.
        let compacted: i64 = super::sync::meta(&self.conn, "compacted_own")?
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if count + compacted != max {
            report.problems.push(format!(
                "own operations 1..={max} have gaps: {count} present"
            ));
        }
        let (outbox_count, outbox_max): (i64, i64) = self.conn.query_row(
            "SELECT count(*), COALESCE(MAX(seq), 0) FROM outbox",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        if (outbox_count, outbox_max) != (count, max) {
            report.problems.push(format!(
                "outbox holds {outbox_count} entries up to {outbox_max}, operations {count} up to {max}"
            ));
        }
        let orphans: i64 = self.conn.query_row(
            "SELECT count(*) FROM outbox o WHERE NOT EXISTS
                 (SELECT 1 FROM operations p WHERE p.device_id = ?1 AND p.seq = o.seq)",
            [device],
            |row| row.get(0),
        )?;
        if orphans > 0 {
            report
                .problems
                .push(format!("{orphans} outbox entries have no operation"));
        }
        let mut statement = self
            .conn
            .prepare(&format!("SELECT id, {ROW_COLUMNS} FROM registrations"))?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, RowColumns::read(row, 1)?))
        })?;
        for row in rows {
            let (id, stored) = row?;
            let record_id = record_id_of(&id)?;
            let computed = replay(&self.conn, record_id)?
                .to_registration(record_id)
                .ok();
            if stored.complete {
                report.registrations += 1;
            }
            if RowColumns::of(computed.as_ref()) != stored {
                report.problems.push(format!(
                    "registration {record_id} differs from its operations"
                ));
            }
        }
        Ok(report)
    }
}
