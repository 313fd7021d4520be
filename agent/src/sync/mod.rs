//! Sync with the server: enrolment, one sync run (push then pull), and the
//! background loop with exponential backoff.
//!
//! A run pushes the outbox in batches of up to [`PUSH_BATCH`] operations (one
//! HTTP request each, compressed), records every receipt in the store in one
//! transaction per batch, then pulls pages until the server has nothing more.
//! Whatever fails in between, the store stays consistent: an unanswered batch
//! stays `pending` and is sent again next time; the server drops what it
//! already has.
//!
//! A run talks to the server through a [`Transport`]: the HTTP [`Client`] in
//! the program, an in-process network with injected faults in the
//! convergence simulation (`tests/tests/simulation.rs`), which drives the
//! very same [`sync_with`].
//!
//! **Token rotation.** A run first replaces the device token when it is
//! older than [`token_max_age`] (30 days; `LINDUNG_TOKEN_MAX_AGE_DAYS`):
//! the server answers a new token and keeps the old one working until the
//! new one is first used, which the same run then does. If the answer is
//! lost, the laptop still holds the old token, which still works, and the
//! next run rotates again: no lost answer can lock the laptop out.
//! `lindung-agent token rotate` does the same on demand ([`rotate_token`]).

pub mod backoff;
pub mod client;
pub mod tls;

use lindung_shared::ids::StoreId;
use lindung_shared::lang::Lang;
use lindung_shared::protocol::{
    BundleKeysRequest, EnrollRequest, MAX_PULL_LIMIT, MAX_PUSH_OPERATIONS, PROTOCOL_VERSION,
    PullPage, PushRequest, PushResponse,
};
use serde::Serialize;
use time::OffsetDateTime;

pub use backoff::Backoff;
pub use client::{Client, SyncError};
pub use tls::{Pin, Trust};

use crate::store::{Enrollment, ServerTrust, Store};

/// Most operations per push request.
pub const PUSH_BATCH: usize = MAX_PUSH_OPERATIONS;
/// Operations in a run's first push request, before the link's speed is known.
pub const FIRST_BATCH: usize = 500;
/// Fewest operations per push request.
pub const MIN_BATCH: usize = 50;
/// How long one push request should take on the link: on 2G a batch of
/// [`PUSH_BATCH`] would take close to a minute, and a cut connection loses
/// the whole unacknowledged batch; on a good link batches grow to the most.
pub const BATCH_TARGET: std::time::Duration = std::time::Duration::from_secs(4);

/// The next batch size after `size` operations took `took` to push.
pub fn next_batch(size: usize, took: std::time::Duration) -> usize {
    let per_second = size as f64 / took.as_secs_f64().max(0.001);
    ((per_second * BATCH_TARGET.as_secs_f64()) as usize).clamp(MIN_BATCH, PUSH_BATCH)
}

/// How a sync run reaches the server: the two requests of protocol v1.
pub trait Transport {
    /// Sends one batch of the outbox.
    fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError>;

    /// Asks for the changes after `cursor` in the server store `store`;
    /// `None` when there are none (`204`).
    fn pull(
        &self,
        cursor: u64,
        limit: u32,
        store: Option<StoreId>,
    ) -> Result<Option<PullPage>, SyncError>;

    /// This transport as one that carries requests from several threads at
    /// once (so a run keeps two pushes in flight), if it can.
    fn concurrent(&self) -> Option<&(dyn Transport + Sync)> {
        None
    }
}

impl Transport for Client {
    fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError> {
        Client::push(self, request)
    }

    fn pull(
        &self,
        cursor: u64,
        limit: u32,
        store: Option<StoreId>,
    ) -> Result<Option<PullPage>, SyncError> {
        Client::pull(self, cursor, limit, store)
    }

    fn concurrent(&self) -> Option<&(dyn Transport + Sync)> {
        Some(self)
    }
}

/// What a sync run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncSummary {
    /// Operations sent (retries included).
    pub sent: u64,
    /// Accepted by the server now.
    pub accepted: u64,
    /// The server had them already.
    pub duplicates: u64,
    /// Refused by the server (see `status` for the reasons).
    pub rejected: u64,
    /// Timestamps the server bounded because the laptop clock ran ahead.
    pub bounded: u64,
    /// Changes received from other devices.
    pub received: u64,
    /// Duplicate-person notices received.
    pub duplicate_notices: u64,
    /// The server was reset or restored since the last sync; everything was sent again.
    pub server_changed: bool,
    /// HTTP requests made.
    pub requests: u64,
    /// Changes still waiting (0 after a complete run).
    pub pending_after: u64,
    /// How far this laptop's clock was from the server's during the run, in
    /// seconds (positive: the laptop runs ahead; `None`: the server did not
    /// say, e.g. nothing to send and nothing to receive).
    pub clock_offset_s: Option<i64>,
    /// The device token was replaced at the start of the run (it was older
    /// than [`token_max_age`]).
    pub token_rotated: bool,
}

/// Environment variable: the age in days after which a sync run replaces
/// the device token (default [`DEFAULT_TOKEN_MAX_AGE_DAYS`]; 0: never).
pub const TOKEN_MAX_AGE_ENV: &str = "LINDUNG_TOKEN_MAX_AGE_DAYS";
/// See [`TOKEN_MAX_AGE_ENV`].
pub const DEFAULT_TOKEN_MAX_AGE_DAYS: i64 = 30;

/// The age after which a sync run replaces the device token (`None`: never).
pub fn token_max_age() -> Option<time::Duration> {
    let days = std::env::var(TOKEN_MAX_AGE_ENV)
        .ok()
        .and_then(|value| value.trim().parse::<i64>().ok())
        .unwrap_or(DEFAULT_TOKEN_MAX_AGE_DAYS);
    (days > 0).then(|| time::Duration::days(days))
}

/// Whether the enrolment's token is older than `max_age` at `now`.
fn token_due(enrollment: &Enrollment, now: OffsetDateTime, max_age: time::Duration) -> bool {
    let issued = OffsetDateTime::parse(
        &enrollment.token_issued_at,
        &time::format_description::well_known::Rfc3339,
    );
    // An unreadable date: better a rotation too many than a token forever.
    issued.map_or(true, |issued| now - issued >= max_age)
}

/// A laptop clock further than this from the server's gets a warning.
pub const CLOCK_WARNING_S: i64 = 10 * 60;

impl SyncSummary {
    /// The clock offset worth telling the officer about (beyond [`CLOCK_WARNING_S`]).
    pub fn clock_warning(&self) -> Option<i64> {
        self.clock_offset_s
            .filter(|offset| offset.abs() > CLOCK_WARNING_S)
    }

    /// The warning about a wrong laptop clock, if the run found one: how far and
    /// which way, from the server's clock (or from bounded timestamps when the
    /// server's clock was not seen).
    pub fn clock_warning_text(&self, lang: Lang) -> Option<String> {
        let Some(offset) = self.clock_warning() else {
            return (self.bounded > 0).then(|| {
                match lang {
                    Lang::Id => "Jam laptop ini terlalu maju; periksa tanggal dan jam laptop.",
                    Lang::En => "This laptop's clock runs ahead; check its date and time.",
                }
                .to_owned()
            });
        };
        let amount = offset.unsigned_abs();
        let (count, unit_id, unit_en) = if amount >= 2 * 86_400 {
            ((amount + 86_400 / 2) / 86_400, "hari", "days")
        } else if amount >= 2 * 3_600 {
            ((amount + 3_600 / 2) / 3_600, "jam", "hours")
        } else {
            ((amount + 60 / 2) / 60, "menit", "minutes")
        };
        Some(match (lang, offset > 0) {
            (Lang::Id, true) => format!(
                "Jam laptop ini terlalu maju sekitar {count} {unit_id} dari jam server; periksa tanggal dan jam laptop."
            ),
            (Lang::Id, false) => format!(
                "Jam laptop ini terlalu mundur sekitar {count} {unit_id} dari jam server; periksa tanggal dan jam laptop."
            ),
            (Lang::En, true) => format!(
                "This laptop's clock runs about {count} {unit_en} ahead of the server's; check its date and time."
            ),
            (Lang::En, false) => format!(
                "This laptop's clock runs about {count} {unit_en} behind the server's; check its date and time."
            ),
        })
    }
}

/// Seconds from `server_ms` to the laptop's `device` time.
fn offset_s(device: OffsetDateTime, server_ms: u64) -> i64 {
    let device_ms = i128::from(crate::output::unix_ms(device));
    let offset = (device_ms - i128::from(server_ms)) / 1000;
    i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX })
}

/// Progress of a run, for a progress line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// `done` of `total` operations sent so far.
    Pushing {
        /// Sent so far.
        done: u64,
        /// To send in this run.
        total: u64,
    },
    /// Pulled so far.
    Pulling {
        /// Received so far.
        received: u64,
    },
}

/// Enrols the store with a server using a code from staff (the server's
/// certificate, if any, checked against the usual roots).
pub fn enroll(
    store: &mut Store,
    server_url: &str,
    code: &str,
    device_name: &str,
    now: OffsetDateTime,
) -> Result<Enrollment, SyncError> {
    enroll_with(store, server_url, code, device_name, &Trust::default(), now)
}

/// Enrols the store with a server using a code from staff, checking its
/// certificate as `trust` says; the trust (the CA, the pinned certificate:
/// with [`Pin::FirstUse`], the one the server presented) is stored with the
/// enrolment and applies to every later request.
pub fn enroll_with(
    store: &mut Store,
    server_url: &str,
    code: &str,
    device_name: &str,
    trust: &Trust,
    now: OffsetDateTime,
) -> Result<Enrollment, SyncError> {
    let client = Client::new(server_url, None, trust)?;
    let response = client
        .enroll(&EnrollRequest {
            protocol: PROTOCOL_VERSION,
            code: code.to_owned(),
            device_id: store.device_id(),
            device_name: device_name.to_owned(),
        })
        .map_err(|error| match error {
            // Nothing was pinned yet: the fingerprint given was not the server's.
            SyncError::CertificateChanged { pinned, presented } => {
                SyncError::UnexpectedCertificate {
                    expected: pinned,
                    presented,
                }
            }
            other => other,
        })?;
    let pinned = match trust.pin {
        Pin::None => None,
        Pin::Expect(fingerprint) => Some(fingerprint),
        Pin::FirstUse => Some(client.presented_certificate().ok_or_else(|| {
            SyncError::Protocol("no server certificate to pin (not https?)".into())
        })?),
    };
    let stored = ServerTrust {
        ca_pem: trust.ca_pem.clone(),
        private_ca: trust.ca_pem.is_some(),
        pinned_certificate: pinned.as_ref().map(tls::fingerprint_text),
    };
    store.save_enrollment(server_url.trim_end_matches('/'), &response, &stored, now)?;
    let mut client = client;
    client.set_token(response.token.clone());
    // Enrolled either way: a server without bundles, or a connection lost
    // just now, leaves the key to the next sync.
    let _ = register_bundle_key(store, &client);
    store.enrollment()?.ok_or(SyncError::NotEnrolled)
}

/// Registers this laptop's bundle signing key with the server and keeps
/// the secret and receipt key it answers with (see [`crate::bundle`]).
pub fn register_bundle_key(store: &mut Store, client: &Client) -> Result<(), SyncError> {
    let signing = store.bundle_signing_key()?;
    let answer = client.bundle_keys(&BundleKeysRequest {
        protocol: PROTOCOL_VERSION,
        public_key: lindung_shared::bundle::hex(&signing.public_key()),
    })?;
    let parse = |text: &str| {
        lindung_shared::bundle::parse_key(text)
            .map_err(|e| SyncError::Protocol(format!("bundle keys: {e}")))
    };
    store.save_bundle_secret(
        &parse(&answer.device_secret)?,
        &parse(&answer.server_public_key)?,
    )?;
    Ok(())
}

/// At the start of a run: a laptop enrolled before bundles existed (or
/// whose registration failed) registers its bundle key. Only a failure that
/// retrying cannot fix ends the run; anything else waits for the next run.
fn register_bundle_key_if_missing(
    store: &mut Store,
    client: &Client,
    summary: &mut SyncSummary,
) -> Result<(), SyncError> {
    if store.bundle_keys()?.is_some() {
        return Ok(());
    }
    summary.requests += 1;
    match register_bundle_key(store, client) {
        Ok(()) => Ok(()),
        Err(SyncError::Refused { code: 404, .. }) => Ok(()),
        Err(error) if error.is_transient() => Ok(()),
        Err(error) => Err(error),
    }
}

/// What `lindung-agent token rotate` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenRotated {
    /// The server has taken the new token into use (the old one no longer
    /// works); false when the confirming request failed, in which case the
    /// next sync does it.
    pub confirmed: bool,
}

/// Replaces the device token now: asks the server for the next token,
/// keeps it, and makes one request with it so that the server forgets the
/// old one (see the module doc).
pub fn rotate_token(store: &mut Store, now: OffsetDateTime) -> Result<TokenRotated, SyncError> {
    let mut client = client_for(store)?;
    let rotation = client.rotate_token()?;
    store.replace_token(&rotation.token, now)?;
    client.set_token(rotation.token);
    // Any authenticated request completes the rotation; a one-operation
    // page is the smallest (what it holds is fetched again by the next sync).
    let (cursor, store_id) = store.pull_position()?;
    let confirmed = client.pull(cursor, 1, store_id).is_ok();
    Ok(TokenRotated { confirmed })
}

/// At the start of a run: replaces the token if it is due. A failure that
/// retrying can fix (or a server without rotation) leaves the old token,
/// which still works; one that it cannot (a revoked device, a certificate
/// refused) ends the run.
fn rotate_if_due(
    store: &mut Store,
    client: &mut Client,
    summary: &mut SyncSummary,
    now: OffsetDateTime,
) -> Result<(), SyncError> {
    let Some(max_age) = token_max_age() else {
        return Ok(());
    };
    let enrollment = store.enrollment()?.ok_or(SyncError::NotEnrolled)?;
    if !token_due(&enrollment, now, max_age) {
        return Ok(());
    }
    summary.requests += 1;
    match client.rotate_token() {
        Ok(rotation) => {
            store.replace_token(&rotation.token, now)?;
            client.set_token(rotation.token);
            summary.token_rotated = true;
            Ok(())
        }
        // An older server without the route: keep the token.
        Err(SyncError::Refused { code: 404, .. }) => Ok(()),
        Err(error) if error.is_transient() => Ok(()),
        Err(error) => Err(error),
    }
}

/// One sync run: push everything pending, then pull everything new, over
/// HTTP to the server the store is enrolled with.
pub fn sync_once(
    store: &mut Store,
    progress: &mut dyn FnMut(Progress),
    now: impl Fn() -> OffsetDateTime,
) -> Result<SyncSummary, SyncError> {
    let mut client = client_for(store)?;
    let mut summary = SyncSummary::default();
    rotate_if_due(store, &mut client, &mut summary, now())?;
    register_bundle_key_if_missing(store, &client, &mut summary)?;
    let summary = run(store, &client, summary, progress, &now)?;
    if summary.server_changed {
        // A restored or replaced server may hold other bundle keys, or not
        // this laptop's: register again. The old secret is forgotten first,
        // so that if this fails the next run registers (and a bundle is not
        // sealed for keys the server no longer has meanwhile).
        store.forget_bundle_secret()?;
        let _ = register_bundle_key(store, &client);
    }
    Ok(summary)
}

/// One sync run over `transport`: push everything pending, then pull
/// everything new.
pub fn sync_with(
    store: &mut Store,
    transport: &dyn Transport,
    progress: &mut dyn FnMut(Progress),
    now: impl Fn() -> OffsetDateTime,
) -> Result<SyncSummary, SyncError> {
    run(store, transport, SyncSummary::default(), progress, &now)
}

fn run(
    store: &mut Store,
    transport: &dyn Transport,
    mut summary: SyncSummary,
    progress: &mut dyn FnMut(Progress),
    now: &dyn Fn() -> OffsetDateTime,
) -> Result<SyncSummary, SyncError> {
    push_all(store, transport, &mut summary, progress, now)?;
    if pull_all(store, transport, &mut summary, progress, now)? {
        // The pull found a reset or restored server: send it what it lacks.
        push_all(store, transport, &mut summary, progress, now)?;
        pull_all(store, transport, &mut summary, progress, now)?;
    }
    store.mark_synced(now())?;
    summary.pending_after = store.pending_count()?;
    Ok(summary)
}

/// Only the push half of a run (what a laptop sends; used by the benchmark
/// to compare with push-only replication).
pub fn push_once(
    store: &mut Store,
    now: impl Fn() -> OffsetDateTime,
) -> Result<SyncSummary, SyncError> {
    let client = client_for(store)?;
    let mut summary = SyncSummary::default();
    push_all(store, &client, &mut summary, &mut |_| {}, &now)?;
    summary.pending_after = store.pending_count()?;
    Ok(summary)
}

fn client_for(store: &Store) -> Result<Client, SyncError> {
    let enrollment = store.enrollment()?.ok_or(SyncError::NotEnrolled)?;
    let pin = match &enrollment.trust.pinned_certificate {
        Some(text) => Pin::Expect(tls::parse_fingerprint(text)?),
        None => Pin::None,
    };
    let trust = Trust {
        ca_pem: enrollment.trust.ca_pem.clone(),
        pin,
    };
    Client::new(
        &enrollment.server_url,
        Some(enrollment.token.clone()),
        &trust,
    )
}

/// The push of `operations` (pending entries of the outbox, in order) as
/// sent now: over HTTP, or sealed in a USB bundle ([`crate::bundle`]).
pub fn push_request(
    store: &Store,
    operations: Vec<lindung_shared::merge::Operation>,
    now: OffsetDateTime,
) -> Result<PushRequest, crate::store::StoreError> {
    let (pulled_upto, known_store_id) = store.pull_position()?;
    Ok(PushRequest {
        protocol: PROTOCOL_VERSION,
        device_id: store.device_id(),
        pulled_upto: known_store_id.map(|_| pulled_upto),
        known_store_id,
        device_time_ms: crate::output::unix_ms(now),
        after_seq: None,
        operations,
    })
}

/// Pushes the outbox in batches until nothing is pending.
///
/// Each request goes out from a thread of its own while this one works the
/// store: it records the answer to the previous batch and reads the next.
/// On a link fast enough for the largest batches ([`largest_batch`]), and with a transport
/// that can carry two requests at once, two batches are in flight: the
/// second names the first's last sequence number (`after_seq`), and the
/// server applies it only after the first, so it decodes and checks the
/// second while it stores the first. Answers are recorded in the order the
/// batches were sent. Recording an answer late is safe: until it is
/// recorded those operations are still pending, and a run that stops in
/// between sends them again, which the server answers as duplicates.
fn push_all(
    store: &mut Store,
    transport: &dyn Transport,
    summary: &mut SyncSummary,
    progress: &mut dyn FnMut(Progress),
    now: &dyn Fn() -> OffsetDateTime,
) -> Result<(), SyncError> {
    let concurrent = transport.concurrent();
    let largest = largest_batch();
    std::thread::scope(|scope| {
        let mut total = store.pending_count()?;
        let mut batch_size = FIRST_BATCH.min(largest);
        // The last sequence number read for sending (`None`: from the start).
        let mut read_upto: Option<u64> = None;
        // Pending operations after `read_upto`, read while batches travel.
        let mut ahead: Option<Vec<lindung_shared::merge::Operation>> = None;
        let mut in_flight: std::collections::VecDeque<InFlight<'_>> = Default::default();
        // The oldest batch's answer, recorded once the next batches are off.
        let mut to_record: Option<(std::sync::Arc<PushRequest>, PushResponse)> = None;
        // Times the outbox was found pending again (a reset server).
        let mut restarts = 0;
        loop {
            // Fill the pipeline.
            let depth = match concurrent {
                Some(_) if batch_size >= largest => PIPELINE_DEPTH,
                _ => 1,
            };
            while in_flight.len() < depth {
                let mut batch = match (ahead.take(), read_upto) {
                    (Some(read), _) => read,
                    (None, None) => store.pending_operations(batch_size)?,
                    (None, Some(after)) => store.pending_operations_after(after, batch_size)?,
                };
                batch.truncate(if depth > 1 {
                    batch_size.min(PIPELINED_BATCH)
                } else {
                    batch_size
                });
                let Some(last) = batch.last().map(|op| op.seq) else {
                    break;
                };
                read_upto = Some(last);
                progress(Progress::Pushing {
                    done: summary.sent,
                    total,
                });
                let mut request = push_request(store, batch, now())?;
                request.after_seq = in_flight.back().map(InFlight::last_seq);
                summary.requests += 1;
                in_flight.push_back(InFlight::send(scope, transport, concurrent, request));
            }
            if let Some((request, response)) = to_record.take() {
                let tally = store.apply_push_response(&request.operations, &response)?;
                if count(summary, request.operations.len(), &tally) && restarts < MAX_RESTARTS {
                    // Another server store: everything is pending again.
                    // Take the answers still coming, then send from the start.
                    restarts += 1;
                    for later in in_flight.drain(..) {
                        let (request, answer, _) = later.wait();
                        let response = answer.and_then(|r| checked(&request, r))?;
                        let tally = store.apply_push_response(&request.operations, &response)?;
                        count(summary, request.operations.len(), &tally);
                    }
                    (read_upto, ahead) = (None, None);
                    total = summary.sent + store.pending_count()?;
                    continue;
                }
            }
            let Some(oldest) = in_flight.pop_front() else {
                break;
            };
            if ahead.is_none() && matches!(oldest.answer, Answer::Coming(_)) {
                // Read the next batch while this one travels.
                let after = read_upto.unwrap_or(oldest.last_seq());
                ahead = Some(store.pending_operations_after(after, PUSH_BATCH)?);
            }
            let (request, answer, took) = oldest.wait();
            match answer.and_then(|response| checked(&request, response)) {
                Ok(response) => {
                    batch_size = next_batch(request.operations.len(), took).min(largest);
                    summary.clock_offset_s = Some(offset_s(now(), response.server_time_ms));
                    to_record = Some((request, response));
                }
                Err(error) => {
                    // Later batches may have gone through: keep their answers.
                    for later in in_flight.drain(..) {
                        let (request, answer, _) = later.wait();
                        if let Ok(response) = answer.and_then(|r| checked(&request, r)) {
                            let tally =
                                store.apply_push_response(&request.operations, &response)?;
                            count(summary, request.operations.len(), &tally);
                        }
                    }
                    return Err(error);
                }
            }
        }
        progress(Progress::Pushing {
            done: summary.sent,
            total: total.max(summary.sent),
        });
        Ok(())
    })
}

/// Caps the operations per push request (from [`MIN_BATCH`] to
/// [`PUSH_BATCH`], the default): smaller batches lose less to a cut
/// connection on a link that drops often.
pub const PUSH_BATCH_ENV: &str = "LINDUNG_PUSH_BATCH";

/// The largest batch a run sends ([`PUSH_BATCH_ENV`]). A link that carries
/// batches of this size within [`BATCH_TARGET`] gets two in flight.
fn largest_batch() -> usize {
    std::env::var(PUSH_BATCH_ENV)
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .map_or(PUSH_BATCH, |size| size.clamp(MIN_BATCH, PUSH_BATCH))
}

/// Most operations per batch while two are in flight: the server checks
/// one while it stores the other, so smaller batches keep both cores busy
/// for more of the run.
const PIPELINED_BATCH: usize = 2500;

/// Batches in flight at once on a fast link.
const PIPELINE_DEPTH: usize = 2;

/// Times one run starts the outbox over because the server store changed.
const MAX_RESTARTS: u32 = 2;

/// A push request sent, its answer coming.
struct InFlight<'scope> {
    request: std::sync::Arc<PushRequest>,
    answer: Answer<'scope>,
}

type Answered = (Result<PushResponse, SyncError>, std::time::Duration);

enum Answer<'scope> {
    /// Sent from this thread (a transport that carries one request at a time).
    Ready(Answered),
    /// Sent from a thread of its own.
    Coming(std::thread::ScopedJoinHandle<'scope, Answered>),
}

impl<'scope> InFlight<'scope> {
    fn send<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        transport: &dyn Transport,
        concurrent: Option<&'env (dyn Transport + Sync)>,
        request: PushRequest,
    ) -> InFlight<'scope> {
        let request = std::sync::Arc::new(request);
        let timed = |transport: &dyn Transport, request: &PushRequest| {
            let sending = std::time::Instant::now();
            let answer = transport.push(request);
            (answer, sending.elapsed())
        };
        let answer = match concurrent {
            Some(transport) => {
                let request = std::sync::Arc::clone(&request);
                Answer::Coming(scope.spawn(move || timed(transport, &request)))
            }
            None => Answer::Ready(timed(transport, &request)),
        };
        InFlight { request, answer }
    }

    /// The sequence number of the batch's last operation.
    fn last_seq(&self) -> u64 {
        self.request.operations.last().map_or(0, |op| op.seq)
    }

    /// The request, its answer and how long the answer took.
    fn wait(
        self,
    ) -> (
        std::sync::Arc<PushRequest>,
        Result<PushResponse, SyncError>,
        std::time::Duration,
    ) {
        let (answer, took) = match self.answer {
            Answer::Ready(answered) => answered,
            Answer::Coming(handle) => handle.join().unwrap_or_else(|_| {
                (
                    Err(SyncError::Protocol("the push thread failed".into())),
                    std::time::Duration::ZERO,
                )
            }),
        };
        (self.request, answer, took)
    }
}

/// The answer to `request`, if it has a receipt for every operation.
fn checked(request: &PushRequest, response: PushResponse) -> Result<PushResponse, SyncError> {
    if response.receipts.len() != request.operations.len() {
        return Err(SyncError::Protocol(format!(
            "{} receipts for {} operations",
            response.receipts.len(),
            request.operations.len()
        )));
    }
    Ok(response)
}

/// Adds a recorded answer to the summary; true when it came from another
/// server store than the last (everything is pending again).
fn count(summary: &mut SyncSummary, sent: usize, tally: &crate::store::PushTally) -> bool {
    summary.sent += sent as u64;
    summary.accepted += tally.accepted;
    summary.duplicates += tally.duplicates;
    summary.rejected += tally.rejected;
    summary.bounded += tally.bounded;
    if tally.server_changed {
        summary.server_changed = true;
    }
    tally.server_changed
}

/// Pulls pages until the server has nothing more; true when a page came
/// from another store than the last answer (a reset or restored server:
/// the outbox is pending again and must be pushed).
fn pull_all(
    store: &mut Store,
    transport: &dyn Transport,
    summary: &mut SyncSummary,
    progress: &mut dyn FnMut(Progress),
    now: &dyn Fn() -> OffsetDateTime,
) -> Result<bool, SyncError> {
    let mut server_changed = false;
    loop {
        let (cursor, store_id) = store.pull_position()?;
        summary.requests += 1;
        let Some(page) = transport.pull(cursor, MAX_PULL_LIMIT, store_id)? else {
            break;
        };
        // The page carries the server's clock; its wall time is the server's
        // own time (or at most a few minutes ahead of it, see `MAX_CLOCK_AHEAD_MS`).
        if summary.clock_offset_s.is_none() {
            summary.clock_offset_s = Some(offset_s(now(), page.server_hlc.wall_ms()));
        }
        let tally = store.apply_pull_page(&page, now())?;
        if tally.server_changed {
            summary.server_changed = true;
            server_changed = true;
        }
        summary.received += tally.received;
        summary.duplicate_notices += tally.duplicate_notices;
        progress(Progress::Pulling {
            received: summary.received,
        });
        if !page.has_more {
            break;
        }
    }
    Ok(server_changed)
}

/// What the loop reports after each round: the result, and the wait before
/// the next round (`None` when it stops).
pub type RoundReport<'a> =
    &'a mut dyn FnMut(&Result<SyncSummary, SyncError>, Option<std::time::Duration>);

/// The rhythm of the background loop: after a round that worked, the next
/// comes after `interval`; after a failure worth retrying, after a growing
/// wait with jitter ([`Backoff`]); after a failure that retrying cannot fix
/// (a revoked device, a refused token), not at all until the officer acts.
#[derive(Debug)]
pub struct Rounds {
    backoff: Backoff,
    interval: std::time::Duration,
}

impl Rounds {
    /// Rounds `interval` apart while they work.
    pub fn new(interval: std::time::Duration) -> Rounds {
        Rounds {
            backoff: Backoff::new(
                std::time::Duration::from_secs(2),
                std::time::Duration::from_secs(300),
            ),
            interval,
        }
    }

    /// Runs one round and says how long to wait before the next (`None`:
    /// do not retry by yourself).
    pub fn round(
        &mut self,
        store: &mut Store,
    ) -> (Result<SyncSummary, SyncError>, Option<std::time::Duration>) {
        let result = sync_once(store, &mut |_| {}, crate::output::now);
        let wait = match &result {
            Ok(_) => {
                self.backoff.succeed();
                Some(self.interval)
            }
            Err(error) if error.is_transient() => Some(self.backoff.fail(backoff::jitter())),
            Err(_) => None,
        };
        (result, wait)
    }
}

/// The background loop: syncs now, then every `interval` while it works, and
/// after failures with exponential backoff and jitter ([`Rounds`]). Returns when
/// `should_stop` says so (`Ok`) or on a failure that retrying cannot fix
/// (`Err`: a revoked device, a refused token): the officer must act.
pub fn run_loop(
    store: &mut Store,
    interval: std::time::Duration,
    should_stop: &dyn Fn() -> bool,
    report: RoundReport<'_>,
) -> Result<(), SyncError> {
    let mut rounds = Rounds::new(interval);
    while !should_stop() {
        let (result, wait) = rounds.round(store);
        report(&result, wait);
        let Some(wait) = wait else {
            return result.map(|_| ());
        };
        let deadline = std::time::Instant::now() + wait;
        while !should_stop() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100).min(wait));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_offset(offset: Option<i64>) -> SyncSummary {
        SyncSummary {
            clock_offset_s: offset,
            ..SyncSummary::default()
        }
    }

    #[test]
    fn a_clock_off_by_minutes_says_nothing_and_beyond_says_how_far_and_which_way() {
        assert_eq!(with_offset(Some(CLOCK_WARNING_S)).clock_warning(), None);
        assert_eq!(with_offset(None).clock_warning_text(Lang::Id), None);
        assert_eq!(
            with_offset(Some(-365 * 86_400))
                .clock_warning_text(Lang::Id)
                .as_deref(),
            Some(
                "Jam laptop ini terlalu mundur sekitar 365 hari dari jam server; periksa tanggal dan jam laptop."
            )
        );
        assert_eq!(
            with_offset(Some(3 * 3_600 + 59))
                .clock_warning_text(Lang::En)
                .as_deref(),
            Some(
                "This laptop's clock runs about 3 hours ahead of the server's; check its date and time."
            )
        );
        assert_eq!(
            with_offset(Some(-(CLOCK_WARNING_S + 60)))
                .clock_warning_text(Lang::En)
                .as_deref(),
            Some(
                "This laptop's clock runs about 11 minutes behind the server's; check its date and time."
            )
        );
        // Without the server's clock, bounded timestamps still say "ahead".
        let bounded = SyncSummary {
            bounded: 2,
            ..SyncSummary::default()
        };
        assert!(
            bounded
                .clock_warning_text(Lang::Id)
                .is_some_and(|text| text.contains("terlalu maju"))
        );
    }

    #[test]
    fn batches_grow_on_a_fast_link_and_shrink_on_a_slow_one() {
        use std::time::Duration;
        // Loopback: 500 in 30 ms → the most.
        assert_eq!(next_batch(500, Duration::from_millis(30)), PUSH_BATCH);
        // EDGE: 500 registrations (about 37 KB) in about 5 s → about 400.
        assert_eq!(next_batch(500, Duration::from_secs(5)), 400);
        // Worse still: never below the least.
        assert_eq!(next_batch(50, Duration::from_secs(60)), MIN_BATCH);
    }

    #[test]
    fn a_token_is_due_once_it_is_as_old_as_the_limit() {
        use lindung_shared::ids::OfficerId;
        use lindung_shared::protocol::OfficerInfo;
        let issued = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid");
        let enrollment = |issued_at: String| Enrollment {
            server_url: "https://server".into(),
            token: "t".into(),
            token_issued_at: issued_at,
            store_id: None,
            officer: OfficerInfo {
                id: OfficerId(uuid::Uuid::nil()),
                name: "Rina".into(),
                regions: Vec::new(),
            },
            enrolled_at: String::new(),
            trust: ServerTrust::default(),
        };
        let stored = enrollment(crate::store::rfc3339(issued));
        let month = time::Duration::days(30);
        assert!(!token_due(
            &stored,
            issued + month - time::Duration::seconds(1),
            month
        ));
        assert!(token_due(&stored, issued + month, month));
        // A clock set back after the rotation: not due.
        assert!(!token_due(&stored, issued - month, month));
        // An unreadable date: rotate rather than keep a token forever.
        assert!(token_due(&enrollment("?".into()), issued, month));
    }

    #[test]
    fn offsets_are_device_minus_server_in_whole_seconds() {
        let device = OffsetDateTime::from_unix_timestamp(1_000).expect("valid");
        assert_eq!(offset_s(device, 1_000_000), 0);
        assert_eq!(offset_s(device, 400_000), 600);
        assert_eq!(offset_s(device, 1_700_000), -700);
    }
}
