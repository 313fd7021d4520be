//! The server of the simulation: the real API router over a real SQLite
//! storage in a temporary directory, called in-process (no socket) on a
//! current-thread tokio runtime. Requests are the bytes the agent's HTTP
//! client sends: JSON compressed with zstd, the device's bearer token.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use lindung_server::api::{AppState, router};
use lindung_server::storage::{DatabaseUrl, Storage, open};
use tower::ServiceExt;

/// One HTTP request as it travels: kept whole so that the network can
/// deliver it twice or late.
#[derive(Clone, Debug)]
pub struct WireRequest {
    /// `GET` or `POST`.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// The device token, when enrolled.
    pub token: Option<String>,
    /// The zstd-compressed JSON body of a `POST`.
    pub body: Option<Vec<u8>>,
}

impl WireRequest {
    /// A `POST` of `value` as the agent's client sends it.
    pub fn post<T: serde::Serialize>(uri: &str, token: Option<&str>, value: &T) -> WireRequest {
        let json = serde_json::to_vec(value).expect("serialisable");
        let body = zstd::bulk::compress(
            &json,
            lindung_agent::sync::client::REQUEST_COMPRESSION_LEVEL,
        )
        .expect("zstd");
        WireRequest {
            method: Method::POST,
            uri: uri.to_owned(),
            token: token.map(str::to_owned),
            body: Some(body),
        }
    }

    /// A `GET`.
    pub fn get(uri: String, token: &str) -> WireRequest {
        WireRequest {
            method: Method::GET,
            uri,
            token: Some(token.to_owned()),
            body: None,
        }
    }

    /// Whether this is a push.
    pub fn is_push(&self) -> bool {
        self.uri.starts_with("/api/v1/sync/push")
    }
}

/// The server's answer, body already decompressed.
#[derive(Clone, Debug)]
pub struct WireResponse {
    /// HTTP status.
    pub status: u16,
    /// The body (JSON, or empty for 204).
    pub body: Vec<u8>,
}

#[derive(Debug)]
struct Live {
    storage: Arc<dyn Storage>,
    state: Arc<AppState>,
    router: Router,
}

/// The central server of one simulated run.
#[derive(Debug)]
pub struct SimServer {
    runtime: tokio::runtime::Runtime,
    database: PathBuf,
    live: Option<Live>,
    /// Requests that reached the handlers.
    pub requests: u64,
}

impl SimServer {
    /// A new server with an empty database at `database`.
    pub fn start(database: PathBuf) -> SimServer {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let mut server = SimServer {
            runtime,
            database,
            live: None,
            requests: 0,
        };
        server.open();
        server
    }

    fn open(&mut self) {
        let url = DatabaseUrl::parse(&format!("sqlite://{}", self.database.display()))
            .expect("database url");
        let live = self.runtime.block_on(async {
            let storage = open(&url).await.expect("storage opens");
            let state = Arc::new(AppState::new(storage.clone()).await.expect("state"));
            Live {
                storage,
                router: router(state.clone()),
                state,
            }
        });
        self.live = Some(live);
    }

    /// Stops the server (everything it held is dropped: connections,
    /// clock, router) and starts it again from the same database file.
    pub fn restart(&mut self) {
        self.live = None;
        self.open();
    }

    /// The storage, as staff commands use it.
    pub fn storage(&self) -> &dyn Storage {
        self.live
            .as_ref()
            .expect("server is running")
            .storage
            .as_ref()
    }

    /// Runs a future (a storage or staff call) on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Applies an outbox bundle carried in on a USB stick, as staff do
    /// (`lindung-server bundle import`): the receipt, and whether the
    /// bundle had been applied before.
    pub fn import_bundle(&mut self, bytes: &[u8]) -> Result<(Vec<u8>, bool), String> {
        let state = self.live.as_ref().expect("server is running").state.clone();
        self.runtime
            .block_on(lindung_server::bundle::import(&state, bytes, "simulasi"))
            .map(|imported| (imported.import.receipt, imported.again))
            .map_err(|error| error.to_string())
    }

    /// Delivers one request to the router and returns its answer.
    pub fn send(&mut self, request: &WireRequest) -> WireResponse {
        self.requests += 1;
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(&request.uri)
            .header(header::ACCEPT_ENCODING, "zstd");
        if let Some(token) = &request.token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match &request.body {
            Some(bytes) => {
                builder = builder
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::CONTENT_ENCODING, "zstd");
                Body::from(bytes.clone())
            }
            None => Body::empty(),
        };
        let http = builder.body(body).expect("request");
        let router = self
            .live
            .as_ref()
            .expect("server is running")
            .router
            .clone();
        self.runtime.block_on(async move {
            let response = router.oneshot(http).await.expect("infallible");
            let status = response.status().as_u16();
            let zstd = response
                .headers()
                .get(header::CONTENT_ENCODING)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"zstd"));
            let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            let body = if zstd {
                zstd::stream::decode_all(&raw[..]).expect("zstd answer")
            } else {
                raw.to_vec()
            };
            WireResponse { status, body }
        })
    }
}
