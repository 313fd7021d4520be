//! The HTTP side of sync: one keep-alive connection (ureq), zstd-compressed
//! JSON both ways, every error turned into a [`SyncError`] that says whether
//! trying again can help.

use std::io::Read;
use std::time::Duration;

use lindung_shared::ids::StoreId;
use lindung_shared::protocol::{
    EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, MAX_PULL_LIMIT, PROTOCOL_VERSION,
    PullPage, PushRequest, PushResponse, WireError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// zstd level for request bodies: registrations compress about 14× at 7
/// while costing a few milliseconds per 5,000 (see BENCHMARKS.md).
pub const REQUEST_COMPRESSION_LEVEL: i32 = 7;
/// Largest response body read.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server answered with an error.
    #[error("server refused ({code}): {}", error.message)]
    Refused {
        /// HTTP status.
        code: u16,
        /// What the server said.
        error: WireError,
    },
    /// The server's answer made no sense.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The agent is not enrolled.
    #[error(
        "this laptop is not enrolled with a server; run lindung-agent enroll --server URL --code CODE"
    )]
    NotEnrolled,
}

impl SyncError {
    /// Whether trying again later can help (network trouble, a busy or
    /// failing server); false for refusals such as a revoked device.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Unreachable(_) | SyncError::Protocol(_) => true,
            SyncError::Refused { error, .. } => !error.code.is_permanent(),
            SyncError::Store(_) | SyncError::NotEnrolled => false,
        }
    }

    /// The message for the officer.
    pub fn text(&self, lang: lindung_shared::lang::Lang) -> String {
        use lindung_shared::lang::Lang;
        match (self, lang) {
            (SyncError::Refused { error, .. }, lang) => error.text(lang).to_owned(),
            (SyncError::Unreachable(detail), Lang::Id) => {
                format!("server tidak dapat dihubungi ({detail}); data tetap aman di laptop, coba lagi saat ada sinyal")
            }
            (SyncError::NotEnrolled, Lang::Id) => {
                "laptop ini belum terdaftar ke server; jalankan lindung-agent enroll --server URL --code KODE".to_owned()
            }
            (SyncError::Protocol(detail), Lang::Id) => {
                format!("jawaban server tidak dikenali ({detail}); coba lagi nanti")
            }
            (other, _) => other.to_string(),
        }
    }
}

/// A connection to one server.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client for `server_url` (`http://host:port`), with the device token once enrolled.
    pub fn new(server_url: &str, token: Option<String>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(concat!("lindung/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            base: server_url.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// Enrols this device with a code from staff.
    pub fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, SyncError> {
        self.post("/api/v1/enroll", request)
    }

    /// Sends one batch of the outbox.
    pub fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError> {
        self.post("/api/v1/sync/push", request)
    }

    /// Asks for the changes after `cursor`; `None` when there are none.
    pub fn pull(
        &self,
        cursor: u64,
        limit: u32,
        store: Option<StoreId>,
    ) -> Result<Option<PullPage>, SyncError> {
        // The server's default page is the largest; say so only when asking for less.
        let mut url = format!("{}/api/v1/sync/pull?cursor={cursor}", self.base);
        if limit != MAX_PULL_LIMIT {
            url.push_str(&format!("&limit={limit}"));
        }
        if PROTOCOL_VERSION != 1 {
            url.push_str(&format!("&protocol={PROTOCOL_VERSION}"));
        }
        if let Some(store) = store {
            url.push_str(&format!("&store={store}"));
        }
        let mut request = self.agent.get(&url).header("Accept-Encoding", "zstd");
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let response = request.call().map_err(unreachable)?;
        if response.status().as_u16() == 204 {
            return Ok(None);
        }
        read(response).map(Some)
    }

    fn post<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<R, SyncError> {
        let json = serde_json::to_vec(body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        let compressed = zstd::bulk::compress(&json, REQUEST_COMPRESSION_LEVEL)
            .map_err(|e| SyncError::Protocol(format!("compression: {e}")))?;
        let mut request = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "zstd")
            .header("Accept-Encoding", "zstd");
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let response = request.send(&compressed[..]).map_err(unreachable)?;
        read(response)
    }
}

fn unreachable(error: ureq::Error) -> SyncError {
    SyncError::Unreachable(error.to_string())
}

fn read<R: DeserializeOwned>(
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<R, SyncError> {
    let status = response.status().as_u16();
    let zstd = response
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("zstd"));
    let raw = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(unreachable)?;
    let bytes = if zstd {
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(&raw[..])
            .and_then(|decoder| decoder.take(MAX_RESPONSE_BYTES).read_to_end(&mut out))
            .map_err(|e| SyncError::Protocol(format!("bad zstd answer: {e}")))?;
        out
    } else {
        raw
    };
    if (200..300).contains(&status) {
        return serde_json::from_slice(&bytes).map_err(|e| SyncError::Protocol(e.to_string()));
    }
    let error = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => body.error,
        Err(_) => WireError::new(
            if status >= 500 {
                ErrorCode::Unavailable
            } else {
                ErrorCode::Unknown
            },
            format!("HTTP {status}"),
            format!("server menjawab HTTP {status}"),
        ),
    };
    Err(SyncError::Refused {
        code: status,
        error,
    })
}
