//! Staff reconciliation from the command line: the duplicate-person queue
//! (`lindung-server duplicates list|merge|unmerge|merges`) and the conflict
//! log (`lindung-server conflicts list|resolve`).
//!
//! Every decision becomes operations of the server's staff device
//! ([`Storage::staff_edit`]), so the agents receive it on their next pull and
//! coverage follows in the same transaction. NIKs are masked in every list.

use std::collections::HashMap;

use anyhow::{Context, bail};
use clap::{ArgGroup, Subcommand};
use lindung_shared::ids::{DeviceId, OfficerId, RecordId};
use lindung_shared::merge::Version;
use lindung_shared::protocol::WireError;
use lindung_shared::region::regions;
use lindung_shared::registration::{Change, Field, Registration, Status};
use lindung_shared::validation::{RegistrationInput, ValidationContext, validate_registration};
use serde_json::json;
use time::OffsetDateTime;

use crate::cli::say;
use crate::duplicates::{DuplicateGroup, certain_groups, merge_edits, probable_groups};
use crate::storage::{
    DuplicateKind, StaffAction, StaffOutcome, StaffRequest, Storage, StorageError,
};

/// `lindung-server duplicates …`
#[derive(Debug, Subcommand)]
pub enum DuplicatesCommand {
    /// Groups of records of the same person: the same NIK (certain) or, with
    /// `--probable`, a similar name and the same birth date in one district.
    List {
        /// Only records in this region (code of a province, regency, district or village).
        #[arg(long)]
        region: Option<String>,
        /// Look for probable duplicates (different NIKs) instead of certain ones.
        #[arg(long)]
        probable: bool,
        /// At most this many groups.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Merge records of one person: keep one, copy chosen values from the
    /// others onto it, withdraw the others. Syncs to the laptops.
    Merge {
        /// The record that stays.
        #[arg(long)]
        keep: RecordId,
        /// The records merged into it.
        #[arg(long = "with", required = true, num_args = 1..)]
        others: Vec<RecordId>,
        /// Take a field's value from another record: `FIELD=RECORD` (for
        /// example `phone=0190…`); repeatable. Fields: see `conflicts list`.
        #[arg(long = "take", value_name = "FIELD=RECORD")]
        take: Vec<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Undo a merge: the merged records become active again and the kept
    /// record gets back the values the merge replaced.
    Unmerge {
        /// The merge's number (from `duplicates merges`).
        id: i64,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Merges made, newest first.
    Merges {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `lindung-server conflicts …`
#[derive(Debug, Subcommand)]
pub enum ConflictsCommand {
    /// Values the merge rule overwrote with a change made without seeing
    /// them: both values, who wrote them and when. Open ones unless `--all`.
    List {
        /// Only records in this region.
        #[arg(long)]
        region: Option<String>,
        /// Resolved ones too.
        #[arg(long)]
        all: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resolve a conflict: keep the current value, take the overwritten one,
    /// or enter a new one. The decision syncs to the laptops.
    #[command(group(ArgGroup::new("how").required(true).args(["keep", "take_other", "value"])))]
    Resolve {
        /// The conflict's number.
        id: i64,
        /// Keep the value that won.
        #[arg(long)]
        keep: bool,
        /// Take the value that was overwritten.
        #[arg(long)]
        take_other: bool,
        /// Enter a new value, as an officer would type it.
        #[arg(long)]
        value: Option<String>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `duplicates` command.
pub async fn duplicates(
    storage: &dyn Storage,
    command: DuplicatesCommand,
    actor: &str,
) -> anyhow::Result<()> {
    match command {
        DuplicatesCommand::List {
            region,
            probable,
            limit,
            json,
        } => list_duplicates(storage, region.as_deref(), probable, limit, json).await,
        DuplicatesCommand::Merge {
            keep,
            others,
            take,
            json,
        } => merge(storage, keep, others, &take, actor, json).await,
        DuplicatesCommand::Unmerge { id, json } => unmerge(storage, id, actor, json).await,
        DuplicatesCommand::Merges { limit, json } => list_merges(storage, limit, json).await,
    }
}

/// Runs a `conflicts` command.
pub async fn conflicts(
    storage: &dyn Storage,
    command: ConflictsCommand,
    actor: &str,
) -> anyhow::Result<()> {
    match command {
        ConflictsCommand::List {
            region,
            all,
            limit,
            json,
        } => list_conflicts(storage, region.as_deref(), all, limit, json).await,
        ConflictsCommand::Resolve {
            id,
            keep,
            take_other,
            value,
            json,
        } => {
            let how = match (keep, take_other, value) {
                (true, _, _) => How::Keep,
                (_, true, _) => How::TakeOther,
                (_, _, Some(value)) => How::New(value),
                _ => bail!("say how: --keep, --take-other or --value"),
            };
            resolve(storage, id, how, actor, json).await
        }
    }
}

/// Why a reconciliation request cannot be done (the API maps these to
/// HTTP statuses: 404, 409, 422; the CLI prints them).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The conflict, merge or record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// It was already resolved or undone.
    #[error("{0}")]
    Stale(String),
    /// The request or the values it would write are not valid.
    #[error("{0}")]
    Invalid(String),
    /// A value staff typed is refused by the registration rules; every
    /// problem names its field, in both languages.
    #[error("value {value:?} ditolak / refused:\n{}", problem_lines(.problems))]
    Refused {
        /// What was typed.
        value: String,
        /// Why, each naming its field.
        problems: Vec<lindung_shared::lang::Message>,
    },
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

fn problem_lines(problems: &[lindung_shared::lang::Message]) -> String {
    problems
        .iter()
        .map(|m| format!("  - {} / {}", m.message_id, m.message_en))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A region code as a code prefix ("" for the whole country).
pub fn region_prefix(region: Option<&str>) -> Result<String, ReconcileError> {
    let Some(region) = region.filter(|r| !r.trim().is_empty()) else {
        return Ok(String::new());
    };
    match regions().get(region) {
        Some(found) => Ok(found.code.to_owned()),
        None => Err(ReconcileError::Invalid(format!(
            "region {region:?}: kode wilayah tidak dikenal / unknown region code \
             (see `lindung-server regions`)"
        ))),
    }
}

/// Names of officers and devices, to say who wrote a value.
struct Names {
    officers: HashMap<OfficerId, String>,
    devices: HashMap<DeviceId, (String, String)>,
    staff: DeviceId,
}

impl Names {
    async fn load(storage: &dyn Storage) -> Result<Names, StorageError> {
        let officers = storage
            .officers()
            .await?
            .into_iter()
            .map(|o| (o.id, o.name))
            .collect();
        let devices = storage
            .devices()
            .await?
            .into_iter()
            .map(|d| (d.id, (d.officer_name, d.name)))
            .collect();
        Ok(Names {
            officers,
            devices,
            staff: storage.staff_device().await?,
        })
    }

    fn officer(&self, id: Option<OfficerId>) -> String {
        id.and_then(|id| self.officers.get(&id).cloned())
            .unwrap_or_else(|| "?".into())
    }

    /// "officer (device)" or "staf pusat / central staff".
    fn writer(&self, device: DeviceId) -> String {
        if device == self.staff {
            return "staf pusat / central staff".into();
        }
        match self.devices.get(&device) {
            Some((officer, name)) => format!("{officer} ({name})"),
            None => format!("device {device}"),
        }
    }
}

/// A field's value as staff read it: NIKs masked, empty as "-".
fn value_text(change: &Change) -> String {
    match change {
        Change::Nik(nik) => nik.masked(),
        Change::Phone(Some(phone)) => phone.masked(),
        Change::Status(Status::Active) => "aktif / active".into(),
        Change::Status(Status::Withdrawn { reason }) => format!("ditarik / withdrawn: {reason}"),
        other => match serde_json::to_value(other) {
            Ok(serde_json::Value::Object(map)) => match map.get("value") {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(serde_json::Value::Null) | None => "-".into(),
                Some(value) => value.to_string(),
            },
            _ => "?".into(),
        },
    }
}

fn time_text(time: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute()
    )
}

fn stamp_time(version: &Version) -> String {
    let ms = i128::from(version.stamp.hlc.wall_ms());
    OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)
        .map(time_text)
        .unwrap_or_else(|_| "?".into())
}

fn village_text(code: &str) -> String {
    match regions().get(code) {
        Some(village) => format!("{code} {}", village.name),
        None => code.to_owned(),
    }
}

/// A member of a group, as listed.
struct Member {
    record_id: RecordId,
    registration: Option<Registration>,
    officer: String,
    active: bool,
}

async fn load_members(
    storage: &dyn Storage,
    group: &DuplicateGroup,
    names: &Names,
) -> Result<Vec<Member>, StorageError> {
    let mut members = Vec::with_capacity(group.members.len());
    for candidate in &group.members {
        let stored = storage.record(candidate.record_id).await?;
        let registration = stored
            .as_ref()
            .and_then(|r| r.state.to_registration(candidate.record_id).ok());
        members.push(Member {
            record_id: candidate.record_id,
            officer: names.officer(stored.as_ref().and_then(|r| r.officer_id)),
            registration,
            active: candidate.active,
        });
    }
    Ok(members)
}

/// The rows of the side-by-side view: label and one value per member.
fn member_rows(members: &[Member]) -> Vec<(&'static str, Vec<String>)> {
    let cell = |f: &dyn Fn(&Registration) -> String| -> Vec<String> {
        members
            .iter()
            .map(|m| m.registration.as_ref().map_or_else(|| "?".into(), f))
            .collect()
    };
    vec![
        ("Nama / Name", cell(&|r| r.full_name.clone())),
        ("NIK", cell(&|r| r.nik.masked())),
        ("Tgl lahir / Born", cell(&|r| r.birth_date.to_string())),
        ("Desa / Village", cell(&|r| village_text(&r.village_code))),
        (
            "RT/RW",
            cell(&|r| {
                format!(
                    "{}/{}",
                    r.rt.map_or("-".into(), |n| n.to_string()),
                    r.rw.map_or("-".into(), |n| n.to_string())
                )
            }),
        ),
        (
            "Telepon / Phone",
            cell(&|r| r.phone.as_ref().map_or("-".into(), |p| p.masked())),
        ),
        ("Kategori / Category", cell(&|r| r.category.code().into())),
        ("Penanggung / Payer", cell(&|r| r.payer.kind.code().into())),
        (
            "Status",
            members
                .iter()
                .map(|m| if m.active { "aktif" } else { "ditarik" }.into())
                .collect(),
        ),
        (
            "Petugas / Officer",
            members.iter().map(|m| m.officer.clone()).collect(),
        ),
        (
            "Didaftarkan / Registered",
            cell(&|r| time_text(r.origin.registered_at)),
        ),
    ]
}

fn member_json(member: &Member) -> serde_json::Value {
    let r = member.registration.as_ref();
    json!({
        "record_id": member.record_id,
        "active": member.active,
        "officer": member.officer,
        "nik_masked": r.map(|r| r.nik.masked()),
        "full_name": r.map(|r| r.full_name.clone()),
        "birth_date": r.map(|r| r.birth_date.to_string()),
        "village_code": r.map(|r| r.village_code.clone()),
        "rt": r.and_then(|r| r.rt),
        "rw": r.and_then(|r| r.rw),
        "category": r.map(|r| r.category.code()),
        "payer": r.map(|r| r.payer.kind.code()),
        "consent": r.map(|r| r.consent.method.code()),
        "registered_at": r.map(|r| time_text(r.origin.registered_at)),
    })
}

/// Duplicate groups in a region, as JSON (what `duplicates list --json` and
/// `GET /api/v1/staff/duplicates` return): `{"total", "groups": [{"kind",
/// "records": [...]}]}`, NIKs masked.
pub async fn duplicate_groups_json(
    storage: &dyn Storage,
    region: Option<&str>,
    probable: bool,
    limit: usize,
) -> Result<serde_json::Value, ReconcileError> {
    let (groups, names) = find_groups(storage, region, probable).await?;
    let kind = if probable { "probable" } else { "certain" };
    let mut listed = Vec::new();
    for group in groups.iter().take(limit) {
        let members = load_members(storage, group, &names).await?;
        listed.push(json!({
            "kind": kind,
            "records": members.iter().map(member_json).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({ "total": groups.len(), "groups": listed }))
}

async fn find_groups(
    storage: &dyn Storage,
    region: Option<&str>,
    probable: bool,
) -> Result<(Vec<DuplicateGroup>, Names), ReconcileError> {
    let prefix = region_prefix(region)?;
    let groups = if probable {
        probable_groups(
            storage
                .duplicate_candidates(&prefix, DuplicateKind::Probable)
                .await?,
        )
    } else {
        certain_groups(
            storage
                .duplicate_candidates(&prefix, DuplicateKind::Certain)
                .await?,
        )
    };
    Ok((groups, Names::load(storage).await?))
}

async fn list_duplicates(
    storage: &dyn Storage,
    region: Option<&str>,
    probable: bool,
    limit: usize,
    as_json: bool,
) -> anyhow::Result<()> {
    if as_json {
        let listed = duplicate_groups_json(storage, region, probable, limit).await?;
        say!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    let (groups, names) = find_groups(storage, region, probable).await?;
    let total = groups.len();
    let kind = if probable { "probable" } else { "certain" };
    if groups.is_empty() {
        say!(
            "Tidak ada kelompok ganda {}. / No {kind} duplicate groups.",
            if probable {
                "yang mungkin"
            } else {
                "yang pasti"
            }
        );
        return Ok(());
    }
    say!(
        "{total} kelompok {} / {kind} duplicate groups{}",
        if probable {
            "mungkin ganda"
        } else {
            "ganda (NIK sama)"
        },
        if total > limit {
            format!(" (showing {limit}; --limit)")
        } else {
            String::new()
        }
    );
    for (index, group) in groups.iter().take(limit).enumerate() {
        let members = load_members(storage, group, &names).await?;
        say!("");
        say!(
            "[{}] {}",
            index + 1,
            if probable {
                "nama mirip, tanggal lahir & kecamatan sama / similar name, same birth date & district"
            } else {
                "NIK sama / same NIK"
            }
        );
        for (letter, member) in ('A'..).zip(&members) {
            say!("    {letter} = {}", member.record_id);
        }
        let header: Vec<String> = ('A'..)
            .take(members.len())
            .map(|l| format!("{l:<26}"))
            .collect();
        say!("    {:<26} {}", "", header.join(" "));
        for (label, values) in member_rows(&members) {
            let cells: Vec<String> = values
                .iter()
                .map(|v| format!("{:<26}", truncate(v, 26)))
                .collect();
            say!("    {label:<26} {}", cells.join(" "));
        }
    }
    say!("");
    say!(
        "Gabungkan / merge: lindung-server duplicates merge --keep RECORD --with RECORD [--take FIELD=RECORD]"
    );
    Ok(())
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

/// What a refused staff change said, both languages.
fn refusal_text(refused: &[(RecordId, WireError)]) -> String {
    refused
        .iter()
        .map(|(record, error)| {
            let mut text = format!("{record}: {}", error.message);
            if let Some(id) = &error.message_id {
                text.push_str(&format!(" / {id}"));
            }
            for detail in &error.details {
                text.push_str(&format!(
                    "\n  - {} / {}",
                    detail.message_id, detail.message_en
                ));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A merge made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MergeDone {
    /// Its number (to undo it).
    pub merge_id: i64,
    /// The record kept.
    pub kept: RecordId,
    /// The records merged into it.
    pub merged: Vec<RecordId>,
    /// Operations written.
    pub operations: usize,
}

/// Merges `others` into `keep`, taking the named fields' values from the
/// named records (`take`: field name and record); audited.
pub async fn merge_duplicates(
    storage: &dyn Storage,
    actor: &str,
    keep: RecordId,
    others: &[RecordId],
    take: &[(String, RecordId)],
) -> Result<MergeDone, ReconcileError> {
    let mut members = vec![keep];
    for other in others {
        if !members.contains(other) {
            members.push(*other);
        }
    }
    let mut records = HashMap::new();
    for member in &members {
        let stored = storage.record(*member).await?.ok_or_else(|| {
            ReconcileError::NotFound(format!("tidak ada data {member} / no record {member}"))
        })?;
        records.insert(*member, stored);
    }
    let mut taken = Vec::new();
    for (field_name, record) in take {
        let field = Field::from_name(field_name.trim()).ok_or_else(|| {
            ReconcileError::Invalid(format!(
                "take {field_name:?}: kolom tidak dikenal / unknown field"
            ))
        })?;
        let stored = records.get(record).ok_or_else(|| {
            ReconcileError::Invalid(format!(
                "take {field_name}={record}: bukan bagian penggabungan / is not one of the records merged"
            ))
        })?;
        let value = stored.state.current(field).cloned().ok_or_else(|| {
            ReconcileError::Invalid(format!(
                "take {field_name}={record}: tidak punya nilai / has no value"
            ))
        })?;
        taken.push(value);
    }
    let edits = merge_edits(keep, &members, taken)
        .map_err(|problem| ReconcileError::Invalid(problem.to_string()))?;
    let outcome = storage
        .staff_edit(
            StaffRequest {
                actor: actor.to_owned(),
                edits,
                action: StaffAction::Merge {
                    survivor: keep,
                    members: members.clone(),
                },
            },
            OffsetDateTime::now_utc(),
        )
        .await?;
    match outcome {
        StaffOutcome::Applied {
            merge_id: Some(id),
            operations,
        } => {
            tracing::info!(
                merge = id,
                records = members.len(),
                actor,
                "duplicates merged"
            );
            let taken: Vec<String> = take.iter().map(|(f, r)| format!("{f}={r}")).collect();
            audit_or_log(
                storage,
                actor,
                crate::audit::action::DUPLICATES_MERGE,
                &format!("merge {id}"),
                json!({ "kept": keep, "records": &members, "taken": taken }),
            )
            .await;
            Ok(MergeDone {
                merge_id: id,
                kept: keep,
                merged: members[1..].to_vec(),
                operations,
            })
        }
        StaffOutcome::Applied { merge_id: None, .. } => Err(ReconcileError::Storage(
            StorageError::Corrupt("the merge was not recorded".into()),
        )),
        StaffOutcome::Refused(refused) => Err(ReconcileError::Invalid(format!(
            "penggabungan ditolak / merge refused:\n{}",
            refusal_text(&refused)
        ))),
        StaffOutcome::Stale(why) => Err(ReconcileError::Stale(why)),
    }
}

/// Records a decision in the audit log; the decision is already stored, so
/// a failure to audit is logged rather than reported as a failed decision.
async fn audit_or_log(
    storage: &dyn Storage,
    actor: &str,
    action: &str,
    subject: &str,
    details: serde_json::Value,
) {
    if let Err(error) = crate::audit::audit(storage, actor, action, subject, details).await {
        tracing::error!(%action, %subject, error = %format!("{error:#}"), "audit entry not written");
    }
}

async fn merge(
    storage: &dyn Storage,
    keep: RecordId,
    others: Vec<RecordId>,
    take: &[String],
    actor: &str,
    as_json: bool,
) -> anyhow::Result<()> {
    let mut pairs = Vec::new();
    for item in take {
        let (field, record) = item
            .split_once('=')
            .with_context(|| format!("--take {item:?}: tulis FIELD=RECORD / write FIELD=RECORD"))?;
        let record: RecordId = record
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("--take {item:?}: {record:?} is not a record id"))?;
        pairs.push((field.trim().to_owned(), record));
    }
    let done = merge_duplicates(storage, actor, keep, &others, &pairs).await?;
    if as_json {
        say!("{}", serde_json::to_string(&done)?);
    } else {
        let n = done.merged.len();
        say!(
            "Digabung (penggabungan #{id}): {n} data ke {keep}. / Merged (merge #{id}): {n} records into {keep}.",
            id = done.merge_id
        );
        say!(
            "Batalkan / undo: lindung-server duplicates unmerge {}",
            done.merge_id
        );
    }
    Ok(())
}

/// Undoes merge `id`; audited. Returns how many records are active again.
pub async fn undo_merge(
    storage: &dyn Storage,
    actor: &str,
    id: i64,
) -> Result<usize, ReconcileError> {
    let merge = storage.merge(id).await?.ok_or_else(|| {
        ReconcileError::NotFound(format!(
            "tidak ada penggabungan #{id} / no merge #{id} (see `duplicates merges`)"
        ))
    })?;
    if merge.undone.is_some() {
        return Err(ReconcileError::Stale(format!(
            "penggabungan #{id} sudah dibatalkan / merge #{id} was already undone"
        )));
    }
    let outcome = storage
        .staff_edit(
            StaffRequest {
                actor: actor.to_owned(),
                edits: merge.undo.clone(),
                action: StaffAction::Unmerge { merge_id: id },
            },
            OffsetDateTime::now_utc(),
        )
        .await?;
    match outcome {
        StaffOutcome::Applied { .. } => {
            tracing::info!(merge = id, actor, "merge undone");
            audit_or_log(
                storage,
                actor,
                crate::audit::action::DUPLICATES_UNMERGE,
                &format!("merge {id}"),
                json!({ "kept": merge.survivor, "records": merge.members }),
            )
            .await;
            Ok(merge.members.len().saturating_sub(1))
        }
        StaffOutcome::Refused(refused) => Err(ReconcileError::Invalid(format!(
            "pembatalan ditolak / undo refused:\n{}",
            refusal_text(&refused)
        ))),
        StaffOutcome::Stale(why) => Err(ReconcileError::Stale(why)),
    }
}

async fn unmerge(storage: &dyn Storage, id: i64, actor: &str, as_json: bool) -> anyhow::Result<()> {
    let active_again = undo_merge(storage, actor, id).await?;
    if as_json {
        say!(
            "{}",
            json!({ "merge_id": id, "undone": true, "active_again": active_again })
        );
    } else {
        say!(
            "Penggabungan #{id} dibatalkan: {active_again} data aktif kembali. / Merge #{id} undone: {active_again} records active again."
        );
    }
    Ok(())
}

/// Merges as JSON, newest first.
pub async fn merges_json(
    storage: &dyn Storage,
    limit: u32,
) -> Result<serde_json::Value, ReconcileError> {
    let merges = storage.merges(limit).await?;
    Ok(merges
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "created_at": time_text(m.created_at),
                "actor": m.actor,
                "kept": m.survivor,
                "records": m.members,
                "undone_at": m.undone.as_ref().map(|u| time_text(u.at)),
                "undone_by": m.undone.as_ref().map(|u| u.by.clone()),
            })
        })
        .collect())
}

async fn list_merges(storage: &dyn Storage, limit: u32, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        say!(
            "{}",
            serde_json::to_string_pretty(&merges_json(storage, limit).await?)?
        );
        return Ok(());
    }
    let merges = storage.merges(limit).await?;
    if merges.is_empty() {
        say!("Belum ada penggabungan. / No merges yet.");
    }
    for m in merges {
        say!(
            "#{:<5} {}  {:<12} kept {}  +{} record(s){}",
            m.id,
            time_text(m.created_at),
            m.actor,
            m.survivor,
            m.members.len().saturating_sub(1),
            m.undone
                .map(|u| format!("  dibatalkan/undone {} by {}", time_text(u.at), u.by))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// Conflict-log entries as JSON (what `conflicts list --json` and
/// `GET /api/v1/staff/conflicts` return), newest first.
pub async fn conflicts_json(
    storage: &dyn Storage,
    region: Option<&str>,
    all: bool,
    limit: u32,
) -> Result<serde_json::Value, ReconcileError> {
    conflicts_listed(storage, region, all, limit, &value_text).await
}

/// Conflict-log entries as [`conflicts_json`] lists them, each value written
/// by `value` (the dashboard: labels in the reader's language, NIK masked).
pub async fn conflicts_listed(
    storage: &dyn Storage,
    region: Option<&str>,
    all: bool,
    limit: u32,
    value: &(dyn Fn(&Change) -> String + Sync),
) -> Result<serde_json::Value, ReconcileError> {
    let prefix = region_prefix(region)?;
    let entries = storage.conflicts(&prefix, all, limit).await?;
    let names = Names::load(storage).await?;
    Ok(entries
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "record_id": c.record_id,
                "field": c.field.as_str(),
                "village_code": c.village_code,
                "kept": {
                    "value": value(&c.kept.change),
                    "by": names.writer(c.kept.stamp.device_id),
                    "at": stamp_time(&c.kept),
                },
                "overwritten": {
                    "value": value(&c.overwritten.change),
                    "by": names.writer(c.overwritten.stamp.device_id),
                    "at": stamp_time(&c.overwritten),
                },
                "detected_at": time_text(c.detected_at),
                "resolved": c.resolved.as_ref().map(|r| json!({
                    "at": time_text(r.at), "by": r.by, "how": r.how,
                })),
            })
        })
        .collect())
}

async fn list_conflicts(
    storage: &dyn Storage,
    region: Option<&str>,
    all: bool,
    limit: u32,
    as_json: bool,
) -> anyhow::Result<()> {
    if as_json {
        let listed = conflicts_json(storage, region, all, limit).await?;
        say!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    let prefix = region_prefix(region)?;
    let entries = storage.conflicts(&prefix, all, limit).await?;
    let names = Names::load(storage).await?;
    if entries.is_empty() {
        say!(
            "Tidak ada konflik{}. / No {}conflicts.",
            if all { "" } else { " yang terbuka" },
            if all { "" } else { "open " }
        );
        return Ok(());
    }
    for c in entries {
        say!(
            "#{} {} {} — {} ({})",
            c.id,
            c.record_id,
            village_text(&c.village_code),
            c.field.label(lindung_shared::lang::Lang::Id),
            c.field.as_str()
        );
        say!(
            "    berlaku / kept:        {:<30} {} {}",
            truncate(&value_text(&c.kept.change), 30),
            names.writer(c.kept.stamp.device_id),
            stamp_time(&c.kept)
        );
        say!(
            "    tertimpa / overwritten: {:<30} {} {}",
            truncate(&value_text(&c.overwritten.change), 30),
            names.writer(c.overwritten.stamp.device_id),
            stamp_time(&c.overwritten)
        );
        match &c.resolved {
            Some(r) => say!(
                "    selesai / resolved {} by {} ({})",
                time_text(r.at),
                r.by,
                r.how
            ),
            None => say!(
                "    selesaikan / resolve: lindung-server conflicts resolve {} --keep | --take-other | --value TEXT",
                c.id
            ),
        }
    }
    Ok(())
}

/// How staff resolve a conflict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum How {
    /// Keep the value that won.
    Keep,
    /// Take the value that was overwritten.
    TakeOther,
    /// A new value, as an officer would type it.
    New(String),
}

/// A conflict resolved.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Resolved {
    /// The conflict.
    pub conflict_id: i64,
    /// `kept`, `other` or `new`.
    pub resolved: &'static str,
    /// The field.
    pub field: &'static str,
    /// The value now in force (NIK masked).
    pub value: String,
}

/// Resolves conflict `id`; audited.
pub async fn resolve_conflict(
    storage: &dyn Storage,
    actor: &str,
    id: i64,
    how: How,
) -> Result<Resolved, ReconcileError> {
    let conflict = storage.conflict(id).await?.ok_or_else(|| {
        ReconcileError::NotFound(format!(
            "tidak ada konflik #{id} / no conflict #{id} (see `conflicts list`)"
        ))
    })?;
    if conflict.resolved.is_some() {
        return Err(ReconcileError::Stale(format!(
            "konflik #{id} sudah diselesaikan / conflict #{id} is already resolved"
        )));
    }
    let (change, how_code) = match how {
        How::Keep => (conflict.kept.change.clone(), "kept"),
        How::TakeOther => (conflict.overwritten.change.clone(), "other"),
        How::New(text) => (
            typed_value(storage, conflict.record_id, conflict.field, &text).await?,
            "new",
        ),
    };
    let outcome = storage
        .staff_edit(
            StaffRequest {
                actor: actor.to_owned(),
                edits: vec![crate::ingest::StaffEdit {
                    record_id: conflict.record_id,
                    changes: vec![change.clone()],
                }],
                action: StaffAction::ResolveConflict {
                    conflict_id: id,
                    how: how_code.to_owned(),
                },
            },
            OffsetDateTime::now_utc(),
        )
        .await?;
    match outcome {
        StaffOutcome::Applied { .. } => {
            tracing::info!(conflict = id, how = how_code, actor, "conflict resolved");
            audit_or_log(
                storage,
                actor,
                crate::audit::action::CONFLICT_RESOLVE,
                &format!("conflict {id}"),
                json!({
                    "record_id": conflict.record_id,
                    "field": conflict.field.as_str(),
                    "how": how_code,
                }),
            )
            .await;
            Ok(Resolved {
                conflict_id: id,
                resolved: how_code,
                field: conflict.field.as_str(),
                value: value_text(&change),
            })
        }
        StaffOutcome::Refused(refused) => Err(ReconcileError::Invalid(format!(
            "penyelesaian ditolak / resolution refused:\n{}",
            refusal_text(&refused)
        ))),
        StaffOutcome::Stale(why) => Err(ReconcileError::Stale(why)),
    }
}

async fn resolve(
    storage: &dyn Storage,
    id: i64,
    how: How,
    actor: &str,
    as_json: bool,
) -> anyhow::Result<()> {
    let done = resolve_conflict(storage, actor, id, how).await?;
    if as_json {
        say!("{}", serde_json::to_string(&done)?);
    } else {
        let label = Field::from_name(done.field)
            .map_or(done.field, |f| f.label(lindung_shared::lang::Lang::Id));
        say!(
            "Konflik #{id} selesai: {label} = {}. / Conflict #{id} resolved ({}).",
            done.value,
            done.resolved
        );
    }
    Ok(())
}

/// The change a typed value makes to `field` of the record, validated as an
/// officer's edit would be (the whole registration with the new value).
async fn typed_value(
    storage: &dyn Storage,
    record_id: RecordId,
    field: Field,
    text: &str,
) -> Result<Change, ReconcileError> {
    let stored = storage.record(record_id).await?.ok_or_else(|| {
        StorageError::Corrupt(format!("conflict names unknown record {record_id}"))
    })?;
    let current = stored.state.to_registration(record_id).map_err(|_| {
        ReconcileError::Invalid(format!("record {record_id} is incomplete on the server"))
    })?;
    let mut input = RegistrationInput::from_registration(&current);
    let Some(slot) = input.text_mut(field) else {
        return Err(ReconcileError::Invalid(format!(
            "value: kolom {} tidak bisa diisi langsung / field {} cannot be typed; keep or take the other value",
            field.label(lindung_shared::lang::Lang::Id),
            field.as_str()
        )));
    };
    *slot = text.to_owned();
    let now = OffsetDateTime::now_utc();
    let context = ValidationContext {
        regions: regions(),
        today: now.date(),
        now,
    };
    let valid =
        validate_registration(&input, &context).map_err(|invalid| ReconcileError::Refused {
            value: text.to_owned(),
            problems: invalid.messages(),
        })?;
    valid
        .into_registration(record_id, current.origin)
        .to_changes()
        .into_iter()
        .find(|change| change.field() == field)
        .ok_or_else(|| ReconcileError::Invalid(format!("no value for {}", field.as_str())))
}
