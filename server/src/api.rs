//! The HTTP API agents talk to (axum).
//!
//! | route | auth | what |
//! |---|---|---|
//! | `GET /health` | none | liveness |
//! | `GET /ready` | none | readiness: the database answers (`503` otherwise) |
//! | `GET /metrics` | staff bearer token | Prometheus metrics ([`crate::metrics`]) |
//! | `POST /api/v1/enroll` | enrolment code in the body | device joins, gets its token |
//! | `POST /api/v1/sync/push` | device token | a batch of the device's outbox |
//! | `GET /api/v1/sync/pull?cursor=N&limit=M&store=ID` | device token | changes in scope after `cursor`; `204` when there are none |
//! | `POST /api/v1/token/rotate` | device token | the device's next token ([`TokenRotation`]) |
//! | `GET /api/v1/openapi.json` | device or staff token | the OpenAPI document |
//! | `/api/v1/staff/…` | staff token | the staff API ([`crate::staff_api`]) |
//! | dashboard pages and forms | session cookie (+ CSRF token on POST) | [`crate::dashboard`] |
//!
//! **Invariant: everything needs a credential except** `GET /health`, the
//! dashboard's login page and form (`GET`/`POST /login`, the latter with its
//! own pre-session CSRF token), its language switch (`GET /lang/{id,en}`, a
//! cookie and a redirect), its stylesheet and script (`GET /assets/{name}`),
//! `GET /` (a redirect), and enrolment (which authenticates with its
//! one-time code). `tests/tests/tls.rs` calls every other route without one.
//!
//! **Token rotation.** `POST /api/v1/token/rotate` answers a new token and
//! keeps the current one working until the new one is first used (then
//! the new one replaces it in one statement, [`Storage::authenticate`]). So
//! an answer lost on the way locks nobody out: the device still holds a
//! token that works, and rotates again later; the token it never received
//! is replaced by that next rotation.
//!
//! Bodies are JSON, optionally compressed with zstd (`Content-Encoding:
//! zstd`); responses are compressed with zstd when the client accepts it.
//! Every error is an [`ErrorBody`] with a stable [`ErrorCode`] and messages in
//! English and Bahasa Indonesia. Limits: [`MAX_BODY_BYTES`] on the wire,
//! [`MAX_DECODED_BYTES`] after decompression (a small body that inflates to
//! gigabytes is refused before it does).

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lindung_shared::hlc::{Hlc, HlcClock};
use lindung_shared::ids::{DeviceId, StoreId};
use lindung_shared::protocol::{
    BundleKeysRequest, BundleKeysResponse, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode,
    MAX_PULL_LIMIT, MAX_PUSH_OPERATIONS, OfficerInfo, Outcome, PROTOCOL_VERSION, PullPage,
    PushRequest, PushResponse, TokenRotation, WireError, is_supported,
};
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::ingest::{DeviceScope, unix_ms};
use crate::secrets::{enrollment_code_hash, new_token, token_hash};
use crate::storage::{EnrollRefusal, Enrollment, Storage, StorageError};

/// Largest request body accepted as sent (compressed or not).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Largest request body accepted after decompression.
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;
/// Responses smaller than this are sent uncompressed.
const COMPRESS_ABOVE: usize = 512;

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The storage backend.
    pub storage: Arc<dyn Storage>,
    /// The store's identity, read once at start-up.
    pub store_id: StoreId,
    /// The server's hybrid logical clock.
    pub clock: Mutex<HlcClock>,
    /// What `/metrics` reports.
    pub metrics: crate::metrics::Metrics,
    /// The keys that open outbox bundles and sign their receipts.
    pub bundle_keys: crate::bundle::ServerKeys,
    /// Which batches each device's pushes have reached (`after_seq`).
    pub push_order: PushOrder,
}

/// How long a batch sent with `after_seq` waits for the batch before it.
const PUSH_ORDER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How often a waiting batch asks the store whether another server process
/// (sharing the database behind a load balancer) applied the one before it.
const PUSH_ORDER_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits until the batch of `device` reaching `after` is applied: by this
/// process (which says so at once, [`PushOrder`]) or by another one sharing
/// the database (seen in the device's acknowledged sequence, asked every
/// [`PUSH_ORDER_POLL`]). False if neither by `deadline`.
pub(crate) async fn applied_before(
    state: &AppState,
    device: DeviceId,
    after: u64,
    deadline: tokio::time::Instant,
) -> bool {
    // Not even checked here: it is likely another process's to apply.
    let mut ask_store = state.push_order.reached_by(device, PushStage::Checked) < after;
    loop {
        if ask_store {
            let stored = state.storage.devices().await.ok().and_then(|devices| {
                devices
                    .iter()
                    .find(|stored| stored.id == device)
                    .map(|stored| stored.acknowledged_seq)
            });
            if stored.is_some_and(|acknowledged| acknowledged >= after) {
                return true;
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        let slice = (tokio::time::Instant::now() + PUSH_ORDER_POLL).min(deadline);
        if state
            .push_order
            .wait(device, PushStage::Applied, after, slice)
            .await
        {
            return true;
        }
        ask_store = true;
    }
}

/// Per device, how far this process has taken its batches: a batch sent
/// with `after_seq` (two in flight from one laptop, on two connections)
/// is checked only once the batch before it is (the two would otherwise
/// share the cores and both finish later), and applied only once that
/// batch is applied, so the server applies a device's operations in the
/// order they were made whatever order the requests arrive in.
#[derive(Debug, Default)]
pub struct PushOrder {
    /// Per device: the greatest last sequence of a batch checked, and of one applied.
    reached: Mutex<HashMap<DeviceId, [u64; 2]>>,
    changed: tokio::sync::Notify,
}

/// How far a batch has been taken ([`PushOrder`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushStage {
    /// Its operations are checked; it waits for its turn or is being applied.
    Checked = 0,
    /// It is applied and committed.
    Applied = 1,
}

impl PushOrder {
    /// Notes that a batch of `device` ending at `last_seq` reached `stage`
    /// (an applied batch was checked too).
    pub fn reached(&self, device: DeviceId, stage: PushStage, last_seq: u64) {
        if let Ok(mut reached) = self.reached.lock() {
            let stages = reached.entry(device).or_default();
            for passed in &mut stages[..=stage as usize] {
                *passed = (*passed).max(last_seq);
            }
        }
        self.changed.notify_waiters();
    }

    pub(crate) fn reached_by(&self, device: DeviceId, stage: PushStage) -> u64 {
        self.reached
            .lock()
            .map(|reached| {
                reached
                    .get(&device)
                    .map_or(0, |stages| stages[stage as usize])
            })
            .unwrap_or_default()
    }

    /// Waits until a batch of `device` reaching `seq` has reached `stage`;
    /// false if none has by `deadline`.
    pub async fn wait(
        &self,
        device: DeviceId,
        stage: PushStage,
        seq: u64,
        deadline: tokio::time::Instant,
    ) -> bool {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change in between still wakes us.
            changed.as_mut().enable();
            if self.reached_by(device, stage) >= seq {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return false;
            }
        }
    }
}

impl AppState {
    /// Reads the store identity and resumes the clock after every stored timestamp.
    pub async fn new(storage: Arc<dyn Storage>) -> Result<AppState, StorageError> {
        let store_id = storage.store_id().await?;
        let last = storage.last_hlc().await?;
        let bundle_keys = crate::bundle::ServerKeys::load(storage.as_ref()).await?;
        Ok(AppState {
            bundle_keys,
            storage,
            store_id,
            clock: Mutex::new(HlcClock::resume(last)),
            metrics: crate::metrics::Metrics::new(),
            push_order: PushOrder::default(),
        })
    }

    pub(crate) fn tick(&self, now: OffsetDateTime, seen: impl IntoIterator<Item = Hlc>) -> Hlc {
        match self.clock.lock() {
            Ok(mut clock) => {
                for hlc in seen {
                    clock.observe(hlc);
                }
                clock.tick(unix_ms(now))
            }
            Err(poisoned) => poisoned.into_inner().tick(unix_ms(now)),
        }
    }
}

/// The API's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/api/v1/enroll", post(enroll))
        .route("/api/v1/sync/push", post(push))
        .route("/api/v1/sync/pull", get(pull))
        .route("/api/v1/token/rotate", post(rotate_token))
        .route("/api/v1/bundle/keys", post(bundle_keys))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(crate::staff_api::routes())
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// An API error: a wire error and its HTTP status.
#[derive(Debug)]
pub struct ApiError(pub WireError);

impl ApiError {
    pub(crate) fn new(
        code: ErrorCode,
        english: impl Into<String>,
        indonesian: impl Into<String>,
    ) -> Self {
        ApiError(WireError::new(code, english, indonesian))
    }

    fn internal(error: &StorageError) -> Self {
        tracing::error!(%error, "storage failure");
        ApiError::new(
            ErrorCode::Internal,
            "the server could not complete the request; try again later",
            "server gagal memproses permintaan; coba lagi nanti",
        )
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match error {
            // No connection free in time: busy, not broken; the agent retries later.
            StorageError::Pool(_) => {
                tracing::warn!(%error, "no database connection free");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the server is busy; try again shortly",
                    "server sedang sibuk; coba lagi sebentar lagi",
                )
            }
            error => ApiError::internal(&error),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ErrorBody { error: self.0 })).into_response()
    }
}

/// The OpenAPI document, for an enrolled device or a staff account (it
/// maps the whole API: not for anyone who can reach the port).
async fn openapi(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(token) = bearer(&headers) else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "missing bearer token: the API document needs a device token or a staff token (lindung-server staff add)",
            "token tidak ada: dokumen API memerlukan token perangkat atau token staf (lindung-server staff add)",
        ));
    };
    let hash = token_hash(token);
    let staff = state.storage.staff_account_by_token(&hash).await?;
    let allowed = match staff {
        Some(account) => account.revoked_at.is_none(),
        None => state
            .storage
            .authenticate(&hash)
            .await?
            .is_some_and(|device| device.revoked_at.is_none()),
    };
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "unknown or revoked token",
            "token tidak dikenal atau sudah dicabut",
        ));
    }
    Ok(Json(crate::openapi::document()))
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready to serve: the database answers. `503` otherwise (a load balancer
/// takes the process out of rotation until it answers again).
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    match state.storage.store_id().await {
        Ok(_) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

/// Prometheus metrics ([`crate::metrics`]), for a staff bearer token.
async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::staff_api::staff(&state, &headers).await?;
    let last_recompute = state
        .storage
        .audit_entries(&crate::storage::AuditFilter {
            limit: 1,
            action: Some(crate::audit::action::COVERAGE_RECOMPUTE.to_owned()),
            since_ms: None,
        })
        .await?
        .first()
        .and_then(|entry| entry.details["seconds"].as_f64());
    let text = state
        .metrics
        .render(state.storage.pool_status(), last_recompute)
        .map_err(|_| {
            ApiError::new(
                ErrorCode::Internal,
                "the metrics could not be rendered",
                "metrik gagal disusun",
            )
        })?;
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        "no such endpoint",
        "alamat tidak dikenal",
    )
}

/// Reads the request body, then decodes it with [`decode_body`].
fn decode<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    decode_body(headers, &body_bytes(body)?)
}

/// The client's address (the TCP peer; a proxy in front should pass its
/// own limits): the key of the failed-login and failed-enrolment limits.
#[derive(Clone, Debug)]
pub struct ClientAddress(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<axum::extract::connect_info::ConnectInfo<std::net::SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string()),
        ))
    }
}

/// [`Query`], refused with a structured 400 `bad_request` naming the
/// problem (axum's own rejection is plain text).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("bad query: {}", rejection.body_text()),
                "parameter permintaan tidak sah",
            )),
        }
    }
}

/// [`Path`], refused with a structured 400 `bad_request` (e.g. an id that
/// is not a 64-bit integer).
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => {
                let mut error = ApiError::new(
                    ErrorCode::BadRequest,
                    format!("bad path: {}", rejection.body_text()),
                    "alamat permintaan tidak sah (id harus bilangan bulat)",
                );
                error.0.field = Some("id".into());
                Err(error)
            }
        }
    }
}

/// The request body, or the structured error for one too large or unreadable.
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("could not read the request body: {rejection}"),
                "isi permintaan tidak terbaca",
            )
        }
    })
}

/// The body of `POST /api/v1/sync/push` as a [`PushRequest`]: what
/// [`decode_body`] makes of it. Any bytes give a request or a client error
/// (`bad_request` or `payload_too_large`), never a server error.
pub fn decode_push_body(headers: &HeaderMap, body: &[u8]) -> Result<PushRequest, ApiError> {
    decode_body(headers, body)
}

/// Decompresses a request body (`Content-Encoding: zstd`, or none) within
/// [`MAX_DECODED_BYTES`] and parses it as JSON. Every failure is a client
/// error: `bad_request`, or `payload_too_large` past the limit.
pub fn decode_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let decoded;
    let bytes: &[u8] = match encoding.as_str() {
        "identity" | "" => body,
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(body).map_err(|e| {
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("bad zstd body: {e}"),
                    "isi permintaan terkompresi rusak",
                )
            })?;
            // Grow as the data comes: a small body that claims to inflate a lot
            // must not make the server reserve that memory up front.
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(8 * 1024 * 1024));
            decoder
                .take(MAX_DECODED_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    ApiError::new(
                        ErrorCode::BadRequest,
                        format!("bad zstd body: {e}"),
                        "isi permintaan terkompresi rusak",
                    )
                })?;
            if out.len() > MAX_DECODED_BYTES {
                return Err(too_large());
            }
            decoded = out;
            &decoded
        }
        other => {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("unsupported Content-Encoding {other:?}; use zstd or none"),
                "pengodean isi permintaan tidak didukung",
            ));
        }
    };
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("invalid JSON body: {e}"),
            "isi permintaan bukan JSON yang sah",
        )
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "request body too large (at most {MAX_BODY_BYTES} bytes sent, {MAX_DECODED_BYTES} decompressed)"
        ),
        "isi permintaan terlalu besar",
    )
}

/// Serialises a response, compressed with zstd when the client accepts it.
fn encode<T: Serialize>(headers: &HeaderMap, value: &T) -> Response {
    let body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "response serialisation failed");
            return ApiError::new(ErrorCode::Internal, "internal error", "kesalahan server")
                .into_response();
        }
    };
    let accepts_zstd = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("zstd")));
    let json = HeaderValue::from_static("application/json");
    if accepts_zstd
        && body.len() > COMPRESS_ABOVE
        && let Ok(compressed) = zstd::bulk::compress(&body, 3)
    {
        return (
            [
                (header::CONTENT_TYPE, json),
                (header::CONTENT_ENCODING, HeaderValue::from_static("zstd")),
            ],
            compressed,
        )
            .into_response();
    }
    ([(header::CONTENT_TYPE, json)], body).into_response()
}

fn check_protocol(version: u16) -> Result<(), ApiError> {
    if is_supported(version) {
        return Ok(());
    }
    // Whoever is behind must change: an old agent is updated by its
    // officer, a server older than its agents by staff.
    let (en, id) = if version > PROTOCOL_VERSION {
        (
            format!(
                "this agent speaks sync protocol {version}, newer than the server's {PROTOCOL_VERSION}: the server must be updated (ask central staff); nothing on the laptop is lost meanwhile"
            ),
            format!(
                "agen ini memakai protokol sinkronisasi {version}, lebih baru dari server ({PROTOCOL_VERSION}): server perlu diperbarui (hubungi staf pusat); data di laptop tetap aman"
            ),
        )
    } else {
        (
            format!(
                "this agent speaks sync protocol {version}; the server speaks {PROTOCOL_VERSION}: update lindung-agent"
            ),
            format!(
                "agen ini memakai protokol sinkronisasi {version}, server memakai {PROTOCOL_VERSION}: perbarui lindung-agent"
            ),
        )
    };
    Err(ApiError::new(ErrorCode::UnsupportedProtocol, en, id))
}

/// The bearer token of a request, if it carries one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<DeviceScope, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unauthorized,
            "missing bearer token; enrol the device first",
            "token tidak ada; daftarkan perangkat ini terlebih dahulu (lindung-agent enroll)",
        )
    })?;
    let found = state.storage.authenticate(&token_hash(token)).await?;
    let Some(device) = found else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "unknown token; enrol the device again",
            "token tidak dikenal; daftarkan ulang perangkat ini",
        ));
    };
    if device.revoked_at.is_some() {
        return Err(revoked());
    }
    Ok(device.scope)
}

fn revoked() -> ApiError {
    ApiError::new(
        ErrorCode::DeviceRevoked,
        "this device was revoked by staff; its unsynced data stays on the laptop; ask staff to enrol it again",
        "perangkat ini sudah dicabut oleh staf; data yang belum terkirim tetap tersimpan di laptop; minta staf untuk mendaftarkannya kembali",
    )
}

/// Failed enrolments from one address within [`ENROLL_FAILURE_WINDOW`]
/// after which it is refused for the rest of the window. Codes are 60 random
/// bits, so guessing is hopeless anyway; the limit keeps the attempts (and
/// the log) small.
pub const MAX_ENROLL_FAILURES: u64 = 10;
/// See [`MAX_ENROLL_FAILURES`].
pub const ENROLL_FAILURE_WINDOW: time::Duration = time::Duration::minutes(15);

async fn enroll(
    State(state): State<Arc<AppState>>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.metrics.request(crate::metrics::Endpoint::Enroll);
    let request: EnrollRequest = decode(&headers, body)?;
    check_protocol(request.protocol)?;
    let failures_key = format!("enroll:{address}");
    let now = OffsetDateTime::now_utc();
    if state
        .storage
        .login_failures(&failures_key, now - ENROLL_FAILURE_WINDOW)
        .await?
        >= MAX_ENROLL_FAILURES
    {
        tracing::info!(%address, "enrolment refused: too many failed attempts");
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many failed enrolment attempts from this address; wait 15 minutes and check the code with staff",
            "terlalu banyak percobaan pendaftaran yang gagal dari alamat ini; tunggu 15 menit dan periksa kode dengan staf",
        ));
    }
    let token = new_token().map_err(|e| {
        tracing::error!(error = %e, "no randomness for a token");
        ApiError::new(ErrorCode::Internal, "internal error", "kesalahan server")
    })?;
    let name: String = request.device_name.chars().take(100).collect();
    let enrolled = state
        .storage
        .enroll(&Enrollment {
            code_hash: enrollment_code_hash(&request.code),
            device_id: request.device_id,
            device_name: name,
            token_hash: token_hash(&token),
            now,
        })
        .await?;
    let officer = match enrolled {
        Ok(officer) => officer,
        Err(refusal) => {
            tracing::info!(device = %request.device_id, ?refusal, "enrolment refused");
            if !matches!(refusal, EnrollRefusal::DeviceRevoked) {
                state
                    .storage
                    .record_login_failure(std::slice::from_ref(&failures_key), now)
                    .await?;
            }
            return Err(match refusal {
                EnrollRefusal::UnknownCode => ApiError::new(
                    ErrorCode::Unauthorized,
                    "unknown enrolment code; check it or ask staff for a new one",
                    "kode pendaftaran tidak dikenal; periksa kembali atau minta kode baru ke staf",
                ),
                EnrollRefusal::Expired => ApiError::new(
                    ErrorCode::Unauthorized,
                    "this enrolment code has expired; ask staff for a new one",
                    "kode pendaftaran sudah kedaluwarsa; minta kode baru ke staf",
                ),
                EnrollRefusal::AlreadyUsed => ApiError::new(
                    ErrorCode::Unauthorized,
                    "this enrolment code was already used; ask staff for a new one",
                    "kode pendaftaran sudah pernah dipakai; minta kode baru ke staf",
                ),
                EnrollRefusal::DeviceRevoked => revoked(),
            });
        }
    };
    tracing::info!(device = %request.device_id, officer = %officer.id, "device enrolled");
    Ok(encode(
        &headers,
        &EnrollResponse {
            protocol: PROTOCOL_VERSION,
            store_id: state.store_id,
            token,
            officer: OfficerInfo {
                id: officer.id,
                name: officer.name,
                regions: officer.regions,
            },
            server_time_ms: unix_ms(now),
        },
    ))
}

/// `POST /api/v1/token/rotate`: the device's next token. The current one
/// keeps working until the next one is first used (see the module doc).
async fn rotate_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let device = authenticate(&state, &headers).await?;
    let current = bearer(&headers).map(token_hash).unwrap_or_default();
    let next = new_token().map_err(|e| {
        tracing::error!(error = %e, "no randomness for a token");
        ApiError::new(ErrorCode::Internal, "internal error", "kesalahan server")
    })?;
    if !state
        .storage
        .rotate_device_token(device.device_id, &current, &token_hash(&next))
        .await?
    {
        // Another request rotated or revoked it in between.
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "this token was replaced or revoked meanwhile",
            "token ini baru saja diganti atau dicabut",
        ));
    }
    tracing::info!(device = %device.device_id, "device token rotated");
    Ok(encode(
        &headers,
        &TokenRotation {
            protocol: PROTOCOL_VERSION,
            token: next,
            server_time_ms: unix_ms(OffsetDateTime::now_utc()),
        },
    ))
}

/// `POST /api/v1/bundle/keys`: keeps the device's bundle signing key and
/// answers with its bundle secret and the server's receipt key.
async fn bundle_keys(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let device = authenticate(&state, &headers).await?;
    let request: BundleKeysRequest = decode(&headers, body)?;
    check_protocol(request.protocol)?;
    let public_key = lindung_shared::bundle::parse_key(&request.public_key).map_err(|_| {
        let mut error = WireError::new(
            ErrorCode::InvalidValue,
            "public_key must be 64 hexadecimal digits",
            "public_key harus 64 digit heksadesimal",
        );
        error.field = Some("public_key".into());
        ApiError(error)
    })?;
    state
        .storage
        .set_bundle_public_key(device.device_id, &public_key)
        .await?;
    tracing::info!(device = %device.device_id, "bundle key registered");
    Ok(encode(
        &headers,
        &BundleKeysResponse {
            protocol: PROTOCOL_VERSION,
            device_secret: lindung_shared::bundle::hex(
                &state.bundle_keys.device_secret(device.device_id),
            ),
            server_public_key: lindung_shared::bundle::hex(&state.bundle_keys.public_key()),
        },
    ))
}

async fn push(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.metrics.request(crate::metrics::Endpoint::Push);
    let received = std::time::Instant::now();
    let mut device = authenticate(&state, &headers).await?;
    let request = decode_push_body(&headers, &body_bytes(body)?)?;
    // A cursor into another store (before a reset) says nothing about this one.
    if request.known_store_id == Some(state.store_id) {
        device.pulled_upto = request.pulled_upto.unwrap_or(0);
    }
    check_protocol(request.protocol)?;
    if request.device_id != device.device_id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the batch names another device than the token's",
            "kiriman ini atas nama perangkat lain",
        ));
    }
    if request.operations.len() > MAX_PUSH_OPERATIONS {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("at most {MAX_PUSH_OPERATIONS} operations per batch"),
            format!("paling banyak {MAX_PUSH_OPERATIONS} perubahan per kiriman"),
        ));
    }
    let device_id = device.device_id;
    let deadline = tokio::time::Instant::now() + PUSH_ORDER_WAIT;
    if let Some(after) = request.after_seq {
        // Briefly (it may be another server process's to check); whether or
        // not it comes, `applied_before` decides.
        let briefly = (tokio::time::Instant::now() + PUSH_ORDER_POLL).min(deadline);
        let _ = state
            .push_order
            .wait(device_id, PushStage::Checked, after, briefly)
            .await;
    }
    let last_seq = request.operations.last().map(|op| op.seq);
    // Awaited once the operations are checked, before they are applied.
    let turn = async {
        if let Some(last) = last_seq {
            state
                .push_order
                .reached(device_id, PushStage::Checked, last);
        }
        match request.after_seq {
            Some(after) => applied_before(&state, device_id, after, deadline).await,
            None => true,
        }
    };
    let Some(mut response) =
        apply_push_in_turn(&state, &device, &request.operations, Box::pin(turn)).await?
    else {
        let after = request.after_seq.unwrap_or_default();
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "the batch before this one (up to sequence {after}) has not arrived; send again"
            ),
            format!("kiriman sebelum ini (sampai nomor {after}) belum tiba; kirim ulang"),
        ));
    };
    if let Some(last) = last_seq {
        state
            .push_order
            .reached(device_id, PushStage::Applied, last);
    }
    response.handled_us = Some(u64::try_from(received.elapsed().as_micros()).unwrap_or(u64::MAX));
    Ok(encode(&headers, &response))
}

/// Stores a batch of a device's operations and makes the answer: what a
/// push does once the request is checked. Sneakernet bundles go through
/// here too (`crate::bundle`), so both are applied alike.
pub(crate) async fn apply_push(
    state: &AppState,
    device: &DeviceScope,
    operations: &[lindung_shared::merge::Operation],
) -> Result<PushResponse, StorageError> {
    apply_push_in_turn(state, device, operations, crate::storage::at_once())
        .await?
        .ok_or_else(crate::storage::not_applied)
}

/// [`apply_push`] once `turn` gives true (the batch before it from the
/// same device is in); `None` if it gives false.
pub(crate) async fn apply_push_in_turn(
    state: &AppState,
    device: &DeviceScope,
    operations: &[lindung_shared::merge::Operation],
    turn: crate::storage::Turn<'_>,
) -> Result<Option<PushResponse>, StorageError> {
    let now = OffsetDateTime::now_utc();
    let started = std::time::Instant::now();
    let Some(result) = state
        .storage
        .push_in_turn(device, operations, now, turn)
        .await?
    else {
        return Ok(None);
    };
    let (mut accepted, mut duplicates, mut rejected) = (0usize, 0usize, 0usize);
    let mut seen = Vec::new();
    for (receipt, op) in result.receipts.iter().zip(operations) {
        match &receipt.outcome {
            Outcome::Accepted { bounded_hlc } => {
                accepted += 1;
                seen.push(bounded_hlc.unwrap_or(op.hlc));
            }
            Outcome::Duplicate { .. } => duplicates += 1,
            Outcome::Rejected { error } => {
                rejected += 1;
                state.metrics.operations("rejected", error.code.as_str(), 1);
            }
        }
    }
    state.metrics.operations("accepted", "", accepted as u64);
    state.metrics.operations("duplicate", "", duplicates as u64);
    state.metrics.push_took(started.elapsed().as_secs_f64());
    tracing::info!(
        device = %device.device_id,
        operations = operations.len(),
        accepted,
        duplicates,
        rejected,
        acknowledged_seq = result.acknowledged_seq,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "push"
    );
    let server_hlc = state.tick(now, seen);
    Ok(Some(PushResponse {
        protocol: PROTOCOL_VERSION,
        store_id: state.store_id,
        server_time_ms: unix_ms(now),
        server_hlc,
        acknowledged_seq: result.acknowledged_seq,
        receipts: result.receipts,
        handled_us: None,
    }))
}

/// Query of a pull.
#[derive(Debug, Deserialize)]
struct PullQuery {
    #[serde(default = "current_protocol")]
    protocol: u16,
    #[serde(default)]
    cursor: u64,
    #[serde(default = "default_limit")]
    limit: u32,
    /// The store the cursor belongs to.
    #[serde(default)]
    store: Option<StoreId>,
}

fn current_protocol() -> u16 {
    PROTOCOL_VERSION
}

fn default_limit() -> u32 {
    MAX_PULL_LIMIT
}

async fn pull(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<PullQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    state.metrics.request(crate::metrics::Endpoint::Pull);
    let device = authenticate(&state, &headers).await?;
    let Query(query) = query.map_err(|e| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("bad query: {e}"),
            "parameter permintaan tidak sah",
        )
    })?;
    check_protocol(query.protocol)?;
    let same_store = query.store == Some(state.store_id);
    // A cursor from another store (the server was reset or restored) means nothing here.
    let cursor = if same_store { query.cursor } else { 0 };
    let limit = query.limit.clamp(1, MAX_PULL_LIMIT);
    let page = state.storage.pull(&device, cursor, limit).await?;
    if same_store
        && page.operations.is_empty()
        && page.duplicates.is_empty()
        && page.next_cursor == cursor
    {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let now = OffsetDateTime::now_utc();
    let server_hlc = state.tick(now, page.operations.iter().map(|op| op.hlc));
    Ok(encode(
        &headers,
        &PullPage {
            protocol: PROTOCOL_VERSION,
            store_id: state.store_id,
            server_hlc,
            operations: page.operations,
            next_cursor: page.next_cursor,
            has_more: page.has_more,
            duplicates: page.duplicates,
        },
    ))
}

#[cfg(test)]
mod tests {
    //! Arbitrary request bodies against the push decoder: whatever arrives,
    //! the answer is a request or a stable client error, never a panic or a 5xx.

    use lindung_shared::hlc::Hlc;
    use lindung_shared::ids::{DeviceId, RecordId};
    use lindung_shared::merge::Operation;
    use lindung_shared::registration::Change;
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    /// Headers with this `Content-Encoding`, or none.
    fn headers(encoding: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = encoding.and_then(|e| HeaderValue::from_str(e).ok()) {
            headers.insert(header::CONTENT_ENCODING, value);
        }
        headers
    }

    /// What an agent sends: a push of one operation, as JSON.
    fn sample_push() -> Vec<u8> {
        serde_json::to_vec(&PushRequest {
            protocol: PROTOCOL_VERSION,
            device_id: DeviceId(Uuid::from_u128(1)),
            known_store_id: None,
            device_time_ms: 1_763_797_620_000,
            pulled_upto: Some(3),
            after_seq: None,
            operations: vec![Operation {
                device_id: DeviceId(Uuid::from_u128(1)),
                seq: 4,
                record_id: RecordId(Uuid::from_u128(2)),
                hlc: Hlc::new(1_763_797_620_123, 0).unwrap(),
                changes: vec![
                    Change::FullName("Siti Aminah".into()),
                    Change::Nik("1311014506900001".parse().unwrap()),
                ],
            }],
        })
        .unwrap()
    }

    /// A refusal is a client error the agent can act on: `bad_request` or
    /// `payload_too_large`, a 4xx status, and a message in both languages.
    fn is_client_error(error: &ApiError) -> Result<(), TestCaseError> {
        let wire = &error.0;
        prop_assert!(
            matches!(
                wire.code,
                ErrorCode::BadRequest | ErrorCode::PayloadTooLarge
            ),
            "{:?}",
            wire
        );
        prop_assert!(!wire.message.trim().is_empty());
        prop_assert!(
            wire.message_id
                .as_deref()
                .is_some_and(|m| !m.trim().is_empty())
        );
        let status = ApiError(wire.clone()).into_response().status();
        prop_assert!(status.is_client_error(), "{} for {:?}", status, wire);
        Ok(())
    }

    fn decodes_or_refuses(headers: &HeaderMap, body: &[u8]) -> Result<(), TestCaseError> {
        match decode_push_body(headers, body) {
            Ok(request) => {
                // What parsed is what the agent would have sent.
                let again = serde_json::to_vec(&request).unwrap();
                let back = decode_push_body(&HeaderMap::new(), &again);
                prop_assert_eq!(back.ok(), Some(request));
            }
            Err(error) => is_client_error(&error)?,
        }
        Ok(())
    }

    fn encoding() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            Just(Some("zstd".to_owned())),
            Just(Some(" ZSTD ".to_owned())),
            Just(Some("identity".to_owned())),
            Just(Some("gzip".to_owned())),
            any::<String>().prop_map(Some),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_are_a_request_or_a_client_error(
            body in prop::collection::vec(any::<u8>(), 0..512),
            encoding in encoding(),
        ) {
            decodes_or_refuses(&headers(encoding.as_deref()), &body)?;
        }

        #[test]
        fn compressing_a_body_changes_nothing(body in prop::collection::vec(any::<u8>(), 0..512)) {
            let plain = decode_push_body(&HeaderMap::new(), &body);
            let compressed = zstd::bulk::compress(&body, 3).unwrap();
            let zstd = decode_push_body(&headers(Some("zstd")), &compressed);
            match (plain, zstd) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => prop_assert_eq!(a.0.code, b.0.code),
                (a, b) => prop_assert!(false, "plain {:?}, zstd {:?}", a, b),
            }
        }

        #[test]
        fn a_damaged_push_is_a_request_or_a_client_error(
            at in any::<prop::sample::Index>(),
            splice in prop::collection::vec(any::<u8>(), 0..6),
            removed in 0usize..6,
            compress in any::<bool>(),
        ) {
            let mut body = sample_push();
            let start = at.index(body.len());
            body.splice(start..(start + removed).min(body.len()), splice);
            if compress {
                let compressed = zstd::bulk::compress(&body, 3).unwrap();
                decodes_or_refuses(&headers(Some("zstd")), &compressed)?;
            } else {
                decodes_or_refuses(&HeaderMap::new(), &body)?;
            }
        }

        #[test]
        fn a_damaged_zstd_frame_is_a_request_or_a_client_error(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut frame = zstd::bulk::compress(&sample_push(), 3).unwrap();
            let position = at.index(frame.len());
            frame[position] = byte;
            frame.truncate(cut.index(frame.len() + 1).max(1));
            decodes_or_refuses(&headers(Some("zstd")), &frame)?;
        }
    }

    #[test]
    fn the_sample_push_decodes_plain_and_compressed() {
        let body = sample_push();
        let plain = decode_push_body(&HeaderMap::new(), &body).unwrap();
        let compressed = zstd::bulk::compress(&body, 3).unwrap();
        let zstd = decode_push_body(&headers(Some("zstd")), &compressed).unwrap();
        assert_eq!(plain, zstd);
        assert_eq!(plain.operations.len(), 1);
        let refused = decode_push_body(&headers(Some("br")), &body).unwrap_err();
        assert_eq!(refused.0.code, ErrorCode::BadRequest);
        assert!(
            refused.0.message.contains("Content-Encoding"),
            "{:?}",
            refused
        );
    }
}

#[cfg(test)]
mod push_order_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use lindung_shared::ids::DeviceId;
    use uuid::Uuid;

    use super::PushOrder;
    use super::PushStage::{Applied, Checked};

    #[tokio::test]
    async fn a_batch_waits_for_the_one_before_it_and_no_longer() {
        let order = Arc::new(PushOrder::default());
        let laptop = DeviceId(Uuid::from_u128(1));
        let other = DeviceId(Uuid::from_u128(2));
        let soon = |ms| tokio::time::Instant::now() + Duration::from_millis(ms);
        // The second batch (after sequence 500) arrives first and waits.
        let waiting = tokio::spawn({
            let order = Arc::clone(&order);
            async move { order.wait(laptop, Applied, 500, soon(30_000)).await }
        });
        tokio::task::yield_now().await;
        // Another laptop's batch, an earlier one of this laptop, or the one
        // before it merely checked, is not it.
        order.reached(other, Applied, 900);
        order.reached(laptop, Applied, 499);
        order.reached(laptop, Checked, 500);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "let through before its turn");
        assert!(order.wait(laptop, Checked, 500, soon(0)).await);
        order.reached(laptop, Applied, 500);
        assert!(waiting.await.expect("joined"), "its turn came");
        // Once applied, later waits for it return at once; applied is checked too.
        assert!(order.wait(laptop, Applied, 120, soon(0)).await);
        order.reached(laptop, Applied, 700);
        assert!(order.wait(laptop, Checked, 700, soon(0)).await);
        // A batch whose predecessor never comes is refused after the wait.
        assert!(!order.wait(laptop, Applied, 701, soon(20)).await);
    }

    #[tokio::test]
    async fn a_batch_applied_by_another_server_process_is_seen_in_the_store() {
        use crate::storage::conformance::{create, enrol, registration};
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = crate::storage::sqlite::SqliteStorage::open(&dir.path().join("s.sqlite"))
            .await
            .expect("opens");
        let storage: Arc<dyn crate::storage::Storage> = Arc::new(storage);
        let rina = enrol(storage.as_ref(), "Rina", &["131101"]).await;
        let state = super::AppState::new(Arc::clone(&storage))
            .await
            .expect("state");
        // Another process (same database) applied operations 1 and 2; this
        // one never saw them.
        let operations: Vec<_> = (1..=2)
            .map(|seq| {
                let nik = crate::storage::conformance::nik(1, seq as u16);
                let worker = registration(&nik, "Siti Aminah", "1311012001", &rina.scope);
                create(
                    &rina.scope,
                    seq,
                    crate::storage::conformance::base_ms(),
                    &worker,
                )
            })
            .collect();
        let now = time::OffsetDateTime::now_utc();
        storage
            .push(&rina.scope, &operations, now)
            .await
            .expect("pushed");
        let soon = |ms| tokio::time::Instant::now() + Duration::from_millis(ms);
        let device = rina.scope.device_id;
        assert!(super::applied_before(&state, device, 2, soon(30_000)).await);
        assert!(!super::applied_before(&state, device, 3, soon(50)).await);
    }
}
