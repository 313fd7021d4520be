//! `lindung-agent serve`: the officer's web UI on this laptop, opened in its
//! browser (like Syncthing's GUI).
//!
//! A small synchronous HTTP server (tiny_http, a few threads) on a loopback
//! address only, pages rendered with maud (every value escaped), and every
//! asset (CSS, one small script) compiled into the binary, so the UI works
//! with no network at all. The background sync runs beside it
//! ([`worker`]) on its own store connection.
//!
//! Security rules (see ARCHITECTURE.md):
//! - listens on loopback only; a request whose `Host` is not 127.0.0.1,
//!   localhost or [::1] is refused (DNS rebinding);
//! - a session cookie (random, HttpOnly, SameSite=Strict) and a per-session
//!   CSRF token that every POST must carry; unlocking replaces the session;
//! - auto-lock after `--lock-after` minutes without a request;
//! - `Content-Security-Policy: default-src 'self'` (no inline script or
//!   style), `X-Frame-Options: DENY`, `nosniff`, `no-referrer`, and
//!   `Cache-Control: no-store` on every page and JSON answer;
//! - NIKs are masked everywhere but on a record's own page, and never logged.
//!
//! Module map: [`http`] (requests, replies, parsers), [`session`] (sessions,
//! CSRF, auto-lock), [`pages`] (the HTML), [`routes`] (what each URL does),
//! [`worker`] (background sync).

pub mod http;
pub mod pages;
pub mod routes;
pub mod session;
pub mod worker;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use lindung_shared::lang::Lang;

use crate::store::{KdfCost, Store};
use http::{Reply, Request};
use session::Sessions;
use worker::SyncShared;

/// Largest request body read (a spreadsheet upload).
const MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// Threads answering requests.
const THREADS: usize = 4;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; loopback only (127.0.0.1 or [::1]). Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Lock the screen after this many minutes without activity.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub lock_after: u64,
    /// Lock after this many seconds instead (tests and demonstrations).
    #[arg(long, hide = true, env = "LINDUNG_UI_LOCK_AFTER_SECONDS")]
    pub lock_after_seconds: Option<u64>,
    /// Seconds between background syncs while they work.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub sync_interval: u64,
    /// Cheap key derivation at first-run setup, for automated tests only.
    #[arg(long, hide = true)]
    pub insecure_fast_kdf: bool,
}

/// Everything the request threads share.
#[derive(Debug)]
pub struct App {
    /// The data directory.
    pub dir: PathBuf,
    /// Language when the browser chose none (`--lang`).
    pub default_lang: Lang,
    /// Key derivation cost for a store set up from the UI.
    pub cost: KdfCost,
    /// Browser sessions.
    pub sessions: Mutex<Sessions>,
    /// The UI's connection to the store, once unlocked (it then stays open).
    pub store: Mutex<Option<Store>>,
    /// The background sync's state.
    pub sync: Arc<SyncShared>,
    /// Interval between background syncs.
    pub sync_interval: Duration,
}

impl App {
    /// A UI over the data directory `dir`.
    pub fn new(
        dir: PathBuf,
        default_lang: Lang,
        lock_after: Duration,
        cost: KdfCost,
        sync_interval: Duration,
    ) -> App {
        App {
            dir,
            default_lang,
            cost,
            sessions: Mutex::new(Sessions::new(lock_after)),
            store: Mutex::new(None),
            sync: Arc::new(SyncShared::default()),
            sync_interval,
        }
    }

    /// Whether a store exists in the data directory.
    pub fn initialised(&self) -> bool {
        self.dir.join(crate::store::DATABASE_FILE).exists()
    }

    /// The UI's store connection.
    pub fn store(&self) -> std::sync::MutexGuard<'_, Option<Store>> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sessions.
    pub fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers one request at `now`.
    pub fn handle(&self, request: &Request, now: Instant) -> Reply {
        routes::handle(self, request, now)
    }
}

/// Runs `serve`: listens, prints `lindung-agent UI: http://ADDR/`, and serves
/// until the process is stopped (Ctrl-C or SIGTERM end it; every change is
/// already committed, so there is nothing to flush).
pub fn serve(args: &ServeArgs, dir: PathBuf, lang: Lang) -> anyhow::Result<()> {
    if !args.listen.ip().is_loopback() {
        match lang {
            Lang::Id => bail!(
                "alamat {} bukan loopback: antarmuka ini hanya untuk laptop ini; gunakan 127.0.0.1:PORT",
                args.listen
            ),
            Lang::En => bail!(
                "{} is not a loopback address: this UI is for this laptop only; use 127.0.0.1:PORT",
                args.listen
            ),
        }
    }
    let lock_after = args
        .lock_after_seconds
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(args.lock_after * 60));
    let cost = if args.insecure_fast_kdf {
        KdfCost::InsecureFast
    } else {
        KdfCost::Standard
    };
    let app = Arc::new(App::new(
        dir,
        lang,
        lock_after,
        cost,
        Duration::from_secs(args.sync_interval),
    ));
    let server = tiny_http::Server::http(args.listen)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let address = server
        .server_addr()
        .to_ip()
        .context("the server has no IP address")?;
    println!("lindung-agent UI: http://{address}/");
    let server = Arc::new(server);
    let mut threads = Vec::new();
    for n in 0..THREADS {
        let server = Arc::clone(&server);
        let app = Arc::clone(&app);
        threads.push(
            std::thread::Builder::new()
                .name(format!("lindung-ui-{n}"))
                .spawn(move || answer_requests(&server, &app))
                .context("cannot start a UI thread")?,
        );
    }
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

fn answer_requests(server: &tiny_http::Server, app: &App) {
    loop {
        let mut request = match server.recv() {
            Ok(request) => request,
            Err(error) => {
                eprintln!("lindung-agent UI: receiving a request failed: {error}");
                continue;
            }
        };
        let reply = match read_request(&mut request) {
            Ok(ours) => app.handle(&ours, Instant::now()),
            Err(reply) => reply,
        };
        let status = reply.status;
        if let Err(error) = request.respond(to_tiny(reply)) {
            eprintln!("lindung-agent UI: answering ({status}) failed: {error}");
        }
    }
}

/// Our view of a tiny_http request: headers copied, body read up to the limit.
fn read_request(request: &mut tiny_http::Request) -> Result<Request, Reply> {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_owned(),
                h.value.as_str().to_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    if request
        .body_length()
        .is_some_and(|length| length as u64 > MAX_BODY_BYTES)
    {
        return Err(Reply::text(413, "request body too large"));
    }
    request
        .as_reader()
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|_| Reply::text(400, "cannot read the request body"))?;
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(Reply::text(413, "request body too large"));
    }
    Ok(Request::new(
        request.method().as_str(),
        request.url(),
        headers,
        body,
    ))
}

fn to_tiny(reply: Reply) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    let security = Reply::security_headers()
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()));
    for (name, value) in reply.headers.into_iter().chain(security) {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}
