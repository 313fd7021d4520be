//! The staff API: what central staff (and the dashboard) use, under
//! `/api/v1/staff/`, with a staff bearer token (`lindung-server staff add`).
//! Every route is described in the OpenAPI document served at
//! `/api/v1/openapi.json` ([`crate::openapi`]).
//!
//! The handlers call the same functions as the CLI ([`crate::report`],
//! [`crate::reconcile`], [`crate::reference`], [`crate::audit`]), so both
//! give the same answers and record the same audit entries (the actor is
//! the staff account's name).
//!
//! A token obeys its account's role ([`crate::access`]): a viewer's token
//! cannot change anything (every `POST`/`PUT` is 403), a supervisor's sees
//! and acts only inside its region (lists default to it; anything outside
//! is 403), and the audit log and reference imports are for `staff` only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use lindung_shared::ids::RecordId;
use lindung_shared::protocol::{ErrorCode, WireError};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api::{ApiError, ApiPath, ApiQuery, AppState, body_bytes};
use crate::reconcile::{How, ReconcileError};
use crate::secrets::token_hash;
use crate::storage::StaffAccount;

/// The staff routes, merged into [`crate::api::router`].
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/staff/coverage", get(coverage))
        .route(
            "/api/v1/staff/reference",
            get(reference).put(import_reference),
        )
        .route("/api/v1/staff/duplicates", get(duplicates))
        .route("/api/v1/staff/duplicates/merge", post(merge))
        .route("/api/v1/staff/merges", get(merges))
        .route("/api/v1/staff/merges/{id}/undo", post(undo_merge))
        .route("/api/v1/staff/conflicts", get(conflicts))
        .route("/api/v1/staff/conflicts/{id}/resolve", post(resolve))
        .route("/api/v1/staff/audit", get(audit))
}

/// The staff account of the request's bearer token.
pub(crate) async fn staff(state: &AppState, headers: &HeaderMap) -> Result<StaffAccount, ApiError> {
    let token = crate::api::bearer(headers).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "missing staff bearer token (lindung-server staff add)",
            "token staf tidak ada (lindung-server staff add)",
        )
    })?;
    match state
        .storage
        .staff_account_by_token(&token_hash(token))
        .await?
    {
        Some(account) if account.revoked_at.is_none() => Ok(account),
        Some(_) => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this staff account was revoked",
            "akun staf ini sudah dicabut",
        )),
        None => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "unknown staff token",
            "token staf tidak dikenal",
        )),
    }
}

impl From<crate::access::Denied> for ApiError {
    fn from(denied: crate::access::Denied) -> Self {
        ApiError::new(
            ErrorCode::Forbidden,
            denied.to_string(),
            denied.indonesian(),
        )
    }
}

/// A region query parameter, normalised (`13.11` → `1311`), limited to the
/// account's scope.
fn scoped_region(account: &StaffAccount, region: Option<&str>) -> Result<String, ApiError> {
    // A well-formed code that names no region is a thing that does not exist.
    let code = crate::reconcile::region_prefix(region).map_err(|e| {
        let mut error = ApiError::from(e);
        if error.0.code == ErrorCode::InvalidValue {
            error.0.code = ErrorCode::NotFound;
        }
        error.0.field = Some("region".into());
        error
    })?;
    Ok(crate::access::scoped(account, Some(&code))?)
}

impl From<ReconcileError> for ApiError {
    fn from(error: ReconcileError) -> Self {
        let (code, text) = match error {
            ReconcileError::NotFound(text) => (ErrorCode::NotFound, text),
            ReconcileError::Stale(text) => (ErrorCode::AlreadyDone, text),
            ReconcileError::Invalid(text) => (ErrorCode::InvalidValue, text),
            ReconcileError::Refused { ref problems, .. } => {
                let text = error.to_string();
                let mut refused = ApiError::new(ErrorCode::InvalidValue, text.clone(), text);
                refused.0.field = Some("value".into());
                refused.0.details = problems.clone();
                return refused;
            }
            ReconcileError::Storage(error) => return ApiError::from(error),
        };
        // The messages carry both languages ("Indonesian / English").
        ApiError::new(code, text.clone(), text)
    }
}

fn bad_request(english: &str, indonesian: &str) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, english, indonesian)
}

#[derive(Debug, Deserialize)]
struct CoverageQuery {
    region: Option<String>,
    level: Option<String>,
    year: Option<i32>,
    baseline: Option<bool>,
}

async fn coverage(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CoverageQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let code = scoped_region(&account, query.region.as_deref())?;
    let now = OffsetDateTime::now_utc();
    let year = query.year.unwrap_or(now.year());
    let baseline = query.baseline.unwrap_or(true);
    let storage = state.storage.as_ref();
    let body = match query.level.as_deref() {
        Some(level) => {
            let level = crate::cli::parse_level(level)
                .map_err(|e| bad_request(&e.to_string(), "tingkat wilayah tidak dikenal"))?;
            if level.code_len() <= code.len() {
                return Err(bad_request(
                    "level must be below the region",
                    "tingkat harus di bawah wilayah",
                ));
            }
            let rows =
                crate::report::regions_coverage(storage, &code, level, year, baseline, now).await?;
            crate::report::listing_json(&rows)
        }
        None => {
            let report =
                crate::report::region_coverage(storage, &code, year, baseline, now).await?;
            crate::report::report_json(&code, year, baseline, &report)
        }
    };
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

async fn reference(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<YearQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let year = query.year.unwrap_or(OffsetDateTime::now_utc().year());
    let mut rows = state.storage.reference(year).await?;
    rows.retain(|row| account.sees(&row.region_code));
    Ok(Json(json!({ "year": year, "rows": rows })))
}

/// `PUT /api/v1/staff/reference`: a reference CSV (docs/reference.md) as the
/// body; stored only when every row is valid, replacing each year it holds.
async fn import_reference(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let body = body_bytes(body)?;
    crate::access::may_change(&account)?;
    crate::access::staff_only(&account)?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        bad_request(
            "the body must be a UTF-8 CSV file",
            "isi permintaan harus berkas CSV UTF-8",
        )
    })?;
    let outcome = crate::reference::import(state.storage.as_ref(), &account.name, text, "api")
        .await
        .map_err(|e| match e {
            crate::reference::ImportError::File(e) => {
                bad_request(&e.to_string(), "berkas data acuan tidak bisa dibaca")
            }
            crate::reference::ImportError::Storage(e) => ApiError::from(e),
        })?;
    match outcome {
        Ok(replaced) => Ok(Json(json!({ "imported": true, "result": replaced }))),
        Err(problems) => {
            let mut error = WireError::new(
                ErrorCode::InvalidValue,
                format!("{} row problem(s): nothing was imported", problems.len()),
                format!(
                    "{} baris bermasalah: tidak ada yang disimpan",
                    problems.len()
                ),
            );
            error.details = problems
                .iter()
                .map(|p| lindung_shared::lang::Message {
                    code: "reference_row".into(),
                    severity: lindung_shared::lang::Severity::Error,
                    field: Some(p.column.clone()),
                    message_id: format!("baris {}: {}", p.line, p.message_id),
                    message_en: format!("line {}: {}", p.line, p.message),
                })
                .collect();
            Err(ApiError(error))
        }
    }
}

#[derive(Debug, Deserialize)]
struct DuplicatesQuery {
    region: Option<String>,
    probable: Option<bool>,
    limit: Option<u32>,
}

async fn duplicates(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<DuplicatesQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let region = scoped_region(&account, query.region.as_deref())?;
    Ok(Json(
        crate::reconcile::duplicate_groups_json(
            state.storage.as_ref(),
            Some(&region),
            query.probable.unwrap_or(false),
            query.limit.unwrap_or(50).min(1000) as usize,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct MergeBody {
    keep: RecordId,
    with: Vec<RecordId>,
    #[serde(default)]
    take: std::collections::BTreeMap<String, RecordId>,
}

async fn merge(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let body = body_bytes(body)?;
    let body: MergeBody = serde_json::from_slice(&body).map_err(|e| {
        bad_request(
            &format!(
                "the body must be {{\"keep\", \"with\": [...], \"take\": {{field: record}}}}: {e}"
            ),
            "isi permintaan tidak sesuai",
        )
    })?;
    crate::access::may_change(&account)?;
    let mut touched = body.with.clone();
    touched.push(body.keep);
    crate::access::may_touch_records(state.storage.as_ref(), &account, &touched).await??;
    let take: Vec<(String, RecordId)> = body.take.into_iter().collect();
    let done = crate::reconcile::merge_duplicates(
        state.storage.as_ref(),
        &account.name,
        body.keep,
        &body.with,
        &take,
    )
    .await?;
    Ok(Json(json!(done)))
}

#[derive(Debug, Deserialize)]
struct LimitQuery {
    limit: Option<u32>,
}

async fn merges(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<LimitQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let listed =
        crate::reconcile::merges_json(state.storage.as_ref(), query.limit.unwrap_or(50).min(1000))
            .await?;
    Ok(Json(
        visible_merges(state.storage.as_ref(), &account, listed).await?,
    ))
}

async fn undo_merge(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    crate::access::may_change(&account)?;
    if let Some(merge) = state.storage.merge(id).await? {
        crate::access::may_touch_records(state.storage.as_ref(), &account, &merge.members)
            .await??;
    }
    let active_again =
        crate::reconcile::undo_merge(state.storage.as_ref(), &account.name, id).await?;
    Ok(Json(
        json!({ "merge_id": id, "undone": true, "active_again": active_again }),
    ))
}

#[derive(Debug, Deserialize)]
struct ConflictsQuery {
    region: Option<String>,
    all: Option<bool>,
    limit: Option<u32>,
}

async fn conflicts(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ConflictsQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let region = scoped_region(&account, query.region.as_deref())?;
    Ok(Json(
        crate::reconcile::conflicts_json(
            state.storage.as_ref(),
            Some(&region),
            query.all.unwrap_or(false),
            query.limit.unwrap_or(50).min(1000),
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct ResolveBody {
    /// `keep`, `other` or `new`.
    how: String,
    value: Option<String>,
}

async fn resolve(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let body = body_bytes(body)?;
    crate::access::may_change(&account)?;
    if let Some(conflict) = state.storage.conflict(id).await? {
        crate::access::may_see(&account, &conflict.village_code)?;
    }
    let body: ResolveBody = serde_json::from_slice(&body).map_err(|e| {
        bad_request(
            &format!("the body must be {{\"how\": \"keep\"|\"other\"|\"new\", \"value\"}}: {e}"),
            "isi permintaan tidak sesuai",
        )
    })?;
    let how = match (body.how.as_str(), body.value) {
        ("keep", _) => How::Keep,
        ("other", _) => How::TakeOther,
        ("new", Some(value)) => How::New(value),
        ("new", None) => {
            return Err(bad_request(
                "how \"new\" needs a value",
                "penyelesaian \"new\" memerlukan nilai (value)",
            ));
        }
        _ => {
            return Err(bad_request(
                "how must be keep, other or new",
                "how harus keep, other atau new",
            ));
        }
    };
    let done =
        crate::reconcile::resolve_conflict(state.storage.as_ref(), &account.name, id, how).await?;
    Ok(Json(json!(done)))
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    limit: Option<u32>,
    action: Option<String>,
}

async fn audit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    if account.role == crate::storage::Role::Supervisor {
        crate::access::staff_only(&account)?;
    }
    let entries = state
        .storage
        .audit_entries(&crate::storage::AuditFilter {
            limit: query.limit.unwrap_or(50).min(1000),
            action: query.action,
            since_ms: None,
        })
        .await?;
    Ok(Json(json!(entries)))
}

/// The merges of a [`crate::reconcile::merges_json`] listing the account
/// may see (a supervisor: those whose kept record is in their region).
pub(crate) async fn visible_merges(
    storage: &dyn crate::storage::Storage,
    account: &StaffAccount,
    listed: Value,
) -> Result<Value, crate::storage::StorageError> {
    if account.scope().is_empty() {
        return Ok(listed);
    }
    let mut visible = Vec::new();
    for merge in listed.as_array().into_iter().flatten() {
        let kept = merge["kept"]
            .as_str()
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .map(RecordId);
        if let Some(kept) = kept
            && let Some(village) = crate::access::record_village(storage, kept).await?
            && account.sees(&village)
        {
            visible.push(merge.clone());
        }
    }
    Ok(Value::Array(visible))
}
