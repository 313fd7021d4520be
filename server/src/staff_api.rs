//! The staff API: what central staff (and the dashboard) use, under
//! `/api/v1/staff/`, with a staff bearer token (`lindung-server staff add`).
//! Every route is described in the OpenAPI document served at
//! `/api/v1/openapi.json` ([`crate::openapi`]).
//!
//! The handlers call the same functions as the CLI ([`crate::report`],
//! [`crate::reconcile`], [`crate::reference`], [`crate::audit`]), so both
//! give the same answers and record the same audit entries (the actor is
//! the staff account's name).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use lindung_shared::ids::RecordId;
use lindung_shared::protocol::{ErrorCode, WireError};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api::{ApiError, AppState};
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
async fn staff(state: &AppState, headers: &HeaderMap) -> Result<StaffAccount, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
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

impl From<ReconcileError> for ApiError {
    fn from(error: ReconcileError) -> Self {
        let (code, text) = match error {
            ReconcileError::NotFound(text) => (ErrorCode::NotFound, text),
            ReconcileError::Stale(text) => (ErrorCode::AlreadyDone, text),
            ReconcileError::Invalid(text) => (ErrorCode::InvalidValue, text),
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
    Query(query): Query<CoverageQuery>,
) -> Result<Json<Value>, ApiError> {
    staff(&state, &headers).await?;
    let code = crate::reconcile::region_prefix(query.region.as_deref())?;
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
    Query(query): Query<YearQuery>,
) -> Result<Json<Value>, ApiError> {
    staff(&state, &headers).await?;
    let year = query.year.unwrap_or(OffsetDateTime::now_utc().year());
    let rows = state.storage.reference(year).await?;
    Ok(Json(json!({ "year": year, "rows": rows })))
}

/// `PUT /api/v1/staff/reference`: a reference CSV (docs/reference.md) as the
/// body; stored only when every row is valid, replacing each year it holds.
async fn import_reference(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
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
    limit: Option<usize>,
}

async fn duplicates(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<DuplicatesQuery>,
) -> Result<Json<Value>, ApiError> {
    staff(&state, &headers).await?;
    Ok(Json(
        crate::reconcile::duplicate_groups_json(
            state.storage.as_ref(),
            query.region.as_deref(),
            query.probable.unwrap_or(false),
            query.limit.unwrap_or(50).min(1000),
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
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
    let body: MergeBody = serde_json::from_slice(&body).map_err(|e| {
        bad_request(
            &format!(
                "the body must be {{\"keep\", \"with\": [...], \"take\": {{field: record}}}}: {e}"
            ),
            "isi permintaan tidak sesuai",
        )
    })?;
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
    Query(query): Query<LimitQuery>,
) -> Result<Json<Value>, ApiError> {
    staff(&state, &headers).await?;
    Ok(Json(
        crate::reconcile::merges_json(state.storage.as_ref(), query.limit.unwrap_or(50).min(1000))
            .await?,
    ))
}

async fn undo_merge(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
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
    Query(query): Query<ConflictsQuery>,
) -> Result<Json<Value>, ApiError> {
    staff(&state, &headers).await?;
    Ok(Json(
        crate::reconcile::conflicts_json(
            state.storage.as_ref(),
            query.region.as_deref(),
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
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let account = staff(&state, &headers).await?;
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
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    staff(&state, &headers).await?;
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
