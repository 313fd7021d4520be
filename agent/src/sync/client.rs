//! The HTTP side of sync: one keep-alive connection (ureq), zstd-compressed
//! JSON both ways, the server's certificate checked as [`super::tls`]
//! says, every error turned into a [`SyncError`] that says whether trying
//! again can help.

use std::io::Read;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lindung_shared::ids::StoreId;
use lindung_shared::protocol::{
    BundleKeysRequest, BundleKeysResponse, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode,
    MAX_PULL_LIMIT, PROTOCOL_VERSION, PullPage, PushRequest, PushResponse, TokenRotation,
    WireError,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::tls::{self, Fingerprint, Pin, Seen, TlsSetupError, Trust, fingerprint_text};

/// zstd level for request bodies over a slow link, or one not measured yet:
/// registrations compress about 14× at 7, at some 30 ms per 5,000 (see
/// BENCHMARKS.md). Field links are mostly slow, so a client starts here.
pub const REQUEST_COMPRESSION_LEVEL: i32 = 7;
/// zstd level for request bodies once the link has proved fast
/// ([`FAST_LINK_BYTES_PER_S`]): about three times quicker to compress, for
/// some 12 % more bytes.
pub const FAST_LINK_COMPRESSION_LEVEL: i32 = 3;
/// A link that carried a push at this many compressed bytes per second or
/// more is fast: on it, the time level 7 spends compressing (some 19 ms
/// more per 5,000 registrations) exceeds the time its smaller body (some
/// 45 kB less) saves on the wire. EDGE, 3G and most rural 4G are far
/// below. The measure includes the link's latency (and, for a run's first
/// push, the connection's setup), so it errs towards the smaller body.
pub const FAST_LINK_BYTES_PER_S: f64 = 2_500_000.0;

/// The zstd level for the next request, after a push of `sent` compressed
/// bytes came back after `round_trip`, of which the server said it spent
/// `handled` working (`None` from servers that do not say: the level stays
/// the one for slow links).
pub fn compression_level_for(sent: usize, round_trip: Duration, handled: Option<Duration>) -> i32 {
    let Some(handled) = handled else {
        return REQUEST_COMPRESSION_LEVEL;
    };
    // The time on the wire, both ways; at least a millisecond, so that a
    // tiny push on a quick link does not divide by almost nothing.
    let on_the_wire = round_trip
        .saturating_sub(handled)
        .max(Duration::from_millis(1));
    if sent as f64 / on_the_wire.as_secs_f64() >= FAST_LINK_BYTES_PER_S {
        FAST_LINK_COMPRESSION_LEVEL
    } else {
        REQUEST_COMPRESSION_LEVEL
    }
}
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
    /// The server presented another certificate than the one pinned at
    /// enrolment: nothing was sent.
    #[error(
        "the server's certificate changed since this laptop enrolled (pinned {}, now {}); nothing was sent, in case this is not the real server. The data stays on this laptop. If staff did replace the certificate, enrol again with a new code (lindung-agent enroll)",
        short(pinned),
        short(presented)
    )]
    CertificateChanged {
        /// The pin stored at enrolment.
        pinned: Fingerprint,
        /// What the server presented.
        presented: Fingerprint,
    },
    /// At enrolment, the server presented another certificate than the
    /// fingerprint given: nothing was sent (not even the code).
    #[error(
        "the server's certificate is not the one given to pin (expected {}, the server presented {}); nothing was sent. Check the address and the fingerprint with staff",
        short(expected),
        short(presented)
    )]
    UnexpectedCertificate {
        /// The fingerprint given at enrolment.
        expected: Fingerprint,
        /// What the server presented.
        presented: Fingerprint,
    },
    /// The server's certificate is not trusted (unknown issuer, expired,
    /// made for another name): nothing was sent.
    #[error(
        "the server's certificate is not trusted ({english}); nothing was sent. A server with its own certificate needs enrolment with --ca-file (the CA file from staff) or --pin-certificate (the fingerprint from staff)"
    )]
    UntrustedCertificate {
        /// Why, in English.
        english: String,
        /// Why, in Bahasa Indonesia.
        indonesian: String,
    },
    /// The TLS settings cannot be used (a damaged CA or pin).
    #[error("TLS settings: {0}")]
    TlsSetup(#[from] TlsSetupError),
}

/// The first and last bytes of a fingerprint, enough to compare by eye.
fn short(fingerprint: &Fingerprint) -> String {
    let text = fingerprint_text(fingerprint);
    format!("{}…{}", &text[..11], &text[text.len() - 11..])
}

/// Why a certificate was refused: (Bahasa Indonesia, English).
fn certificate_reason(problem: &rustls::CertificateError) -> (String, String) {
    use rustls::CertificateError as E;
    let (id, en) = match problem {
        E::UnknownIssuer => (
            "diterbitkan oleh pihak yang tidak dikenal",
            "issued by an unknown authority",
        ),
        E::Expired | E::ExpiredContext { .. } => ("sudah kedaluwarsa", "expired"),
        E::NotValidYet | E::NotValidYetContext { .. } => ("belum berlaku", "not valid yet"),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            ("dibuat untuk alamat lain", "made for another address")
        }
        E::Revoked => ("sudah dicabut", "revoked"),
        // openssl's `req -x509` makes CA certificates, which cannot serve
        // as a server's own; pinning accepts them.
        E::Other(other) if other.to_string().contains("CaUsedAsEndEntity") => (
            "sertifikat CA dipakai sebagai sertifikat server; sematkan dengan --pin-certificate",
            "a CA certificate used as the server's own; pin it with --pin-certificate",
        ),
        E::Other(other) => {
            return (format!("tidak sah: {other}"), format!("invalid: {other}"));
        }
        other => {
            let name = format!("{other:?}");
            let name = name
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned();
            return (format!("tidak sah: {name}"), format!("invalid: {name}"));
        }
    };
    (id.to_owned(), en.to_owned())
}

impl SyncError {
    /// Whether trying again later can help (network trouble, a busy or
    /// failing server); false for refusals such as a revoked device.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Unreachable(_) | SyncError::Protocol(_) => true,
            SyncError::Refused { error, .. } => !error.code.is_permanent(),
            // Certificate refusals stop the loop: someone may be posing as
            // the server, and the officer (or staff) must look.
            SyncError::Store(_)
            | SyncError::NotEnrolled
            | SyncError::CertificateChanged { .. }
            | SyncError::UnexpectedCertificate { .. }
            | SyncError::UntrustedCertificate { .. }
            | SyncError::TlsSetup(_) => false,
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
            (SyncError::CertificateChanged { pinned, presented }, Lang::Id) => format!(
                "sertifikat server berubah sejak laptop ini didaftarkan (disematkan {}, sekarang {}); tidak ada yang dikirim, karena mungkin ini bukan server yang asli. Data tetap aman di laptop. Jika staf memang mengganti sertifikat, daftarkan ulang laptop ini dengan kode baru (lindung-agent enroll)",
                short(pinned),
                short(presented)
            ),
            (SyncError::UnexpectedCertificate { expected, presented }, Lang::Id) => format!(
                "sertifikat server bukan yang diberikan untuk disematkan (seharusnya {}, server menunjukkan {}); tidak ada yang dikirim. Periksa alamat dan sidik jari dengan staf",
                short(expected),
                short(presented)
            ),
            (SyncError::UntrustedCertificate { indonesian, .. }, Lang::Id) => format!(
                "sertifikat server tidak dipercaya ({indonesian}); tidak ada yang dikirim. Server dengan sertifikat sendiri memerlukan pendaftaran dengan --ca-file (berkas CA dari staf) atau --pin-certificate (sidik jari dari staf)"
            ),
            (SyncError::TlsSetup(error), Lang::Id) => {
                format!("pengaturan TLS tidak dapat dipakai: {error}")
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
    pin: Pin,
    seen: Arc<Mutex<Seen>>,
    /// zstd level of the next request body ([`compression_level_for`]).
    level: AtomicI32,
}

impl Client {
    /// A client for `server_url` (`http://host:port` or `https://…`), with
    /// the device token once enrolled, checking the server's certificate as
    /// `trust` says.
    pub fn new(
        server_url: &str,
        token: Option<String>,
        trust: &Trust,
    ) -> Result<Client, SyncError> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(concat!("lindung/", env!("CARGO_PKG_VERSION")))
            .build();
        let tls = tls::client_config(trust, seen.clone())?;
        let agent = ureq::Agent::with_parts(
            config,
            tls::connector(tls),
            ureq::unversioned::resolver::DefaultResolver::default(),
        );
        Ok(Client {
            agent,
            base: server_url.trim_end_matches('/').to_owned(),
            token,
            pin: trust.pin,
            seen,
            level: AtomicI32::new(REQUEST_COMPRESSION_LEVEL),
        })
    }

    /// The SHA-256 of the certificate the server presented on the last
    /// TLS connection (`None` over plain HTTP).
    pub fn presented_certificate(&self) -> Option<Fingerprint> {
        self.seen.lock().ok().and_then(|seen| seen.presented)
    }

    /// Uses `token` for the requests from now on (after a rotation).
    pub fn set_token(&mut self, token: String) {
        self.token = Some(token);
    }

    /// Enrols this device with a code from staff.
    pub fn enroll(&self, request: &EnrollRequest) -> Result<EnrollResponse, SyncError> {
        self.post("/api/v1/enroll", request)
    }

    /// Asks for the device's next token (`POST /api/v1/token/rotate`).
    pub fn rotate_token(&self) -> Result<TokenRotation, SyncError> {
        let mut request = self
            .agent
            .post(&format!("{}/api/v1/token/rotate", self.base))
            .header("Accept-Encoding", "zstd");
        if let Some(token) = &self.token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        let response = request.send_empty().map_err(|e| self.failed(e))?;
        read(response)
    }

    /// Registers the device's bundle signing key (`POST /api/v1/bundle/keys`).
    pub fn bundle_keys(
        &self,
        request: &BundleKeysRequest,
    ) -> Result<BundleKeysResponse, SyncError> {
        self.post("/api/v1/bundle/keys", request)
    }

    /// Sends one batch of the outbox, and sets the compression of the
    /// next request from how fast this one travelled.
    pub fn push(&self, request: &PushRequest) -> Result<PushResponse, SyncError> {
        let (response, sent, round_trip): (PushResponse, _, _) =
            self.post_timed("/api/v1/sync/push", request)?;
        let handled = response.handled_us.map(Duration::from_micros);
        self.level.store(
            compression_level_for(sent, round_trip, handled),
            Ordering::Relaxed,
        );
        Ok(response)
    }

    /// The zstd level the next request body gets.
    fn compression_level(&self) -> i32 {
        self.level.load(Ordering::Relaxed)
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
        let response = request.call().map_err(|e| self.failed(e))?;
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
        self.post_timed(path, body).map(|(response, _, _)| response)
    }

    /// [`Client::post`], with the compressed body's size and the time from
    /// sending it to having read the answer.
    fn post_timed<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<(R, usize, Duration), SyncError> {
        let json = serde_json::to_vec(body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        let compressed = zstd::bulk::compress(&json, self.compression_level())
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
        let sending = std::time::Instant::now();
        let response = request.send(&compressed[..]).map_err(|e| self.failed(e))?;
        // The round trip ends when the answer's body is in: decoding it is
        // this laptop's work, not the link's.
        let (status, body) = receive(response)?;
        let round_trip = sending.elapsed();
        Ok((answer(status, &body)?, compressed.len(), round_trip))
    }

    /// What a failed request means: a certificate refused by the pin or
    /// by the roots, else an unreachable server.
    fn failed(&self, error: ureq::Error) -> SyncError {
        let seen = self.seen.lock().map(|seen| *seen).unwrap_or_default();
        if let (true, Pin::Expect(pinned), Some(presented)) =
            (seen.refused_by_pin, self.pin, seen.presented)
        {
            return SyncError::CertificateChanged { pinned, presented };
        }
        if let Some(problem) = tls::certificate_problem(&error) {
            let (indonesian, english) = certificate_reason(&problem);
            return SyncError::UntrustedCertificate {
                english,
                indonesian,
            };
        }
        unreachable(error)
    }
}

fn unreachable(error: ureq::Error) -> SyncError {
    SyncError::Unreachable(error.to_string())
}

fn read<R: DeserializeOwned>(response: ureq::http::Response<ureq::Body>) -> Result<R, SyncError> {
    let (status, body) = receive(response)?;
    answer(status, &body)
}

/// An answer's status and its body, uncompressed.
fn receive(mut response: ureq::http::Response<ureq::Body>) -> Result<(u16, Vec<u8>), SyncError> {
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
    Ok((status, bytes))
}

/// The answer in `bytes`, or the error the server sent with `status`.
fn answer<R: DeserializeOwned>(status: u16, bytes: &[u8]) -> Result<R, SyncError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(bytes).map_err(|e| SyncError::Protocol(e.to_string()));
    }
    let error = match serde_json::from_slice::<ErrorBody>(bytes) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_link_gets_the_quicker_compression_and_a_slow_or_unknown_one_the_smaller() {
        let ms = Duration::from_millis;
        // 365 kB pushed on loopback: 180 ms round trip, 179 of them the
        // server's own work.
        assert_eq!(
            compression_level_for(365_000, ms(180), Some(ms(179))),
            FAST_LINK_COMPRESSION_LEVEL
        );
        // The same body over EDGE (about 20 kB/s): 18 s on the wire.
        assert_eq!(
            compression_level_for(365_000, ms(18_180), Some(ms(179))),
            REQUEST_COMPRESSION_LEVEL
        );
        // 4G at 1 MB/s is still slow enough for level 7 to pay.
        assert_eq!(
            compression_level_for(365_000, ms(545), Some(ms(180))),
            REQUEST_COMPRESSION_LEVEL
        );
        // A server that does not say how long it worked: stay small.
        assert_eq!(
            compression_level_for(365_000, ms(180), None),
            REQUEST_COMPRESSION_LEVEL
        );
        // A server that claims more than the round trip: the wire counts as
        // a millisecond, not as nothing.
        assert_eq!(
            compression_level_for(1_000, ms(10), Some(ms(50))),
            REQUEST_COMPRESSION_LEVEL
        );
        assert_eq!(
            compression_level_for(5_000, ms(10), Some(ms(50))),
            FAST_LINK_COMPRESSION_LEVEL
        );
    }
}
