//! Running the service: logging, listening (plain HTTP, or TLS with rustls
//! from certificate files), graceful shutdown.
//!
//! With `--tls-cert`/`--tls-key` the server terminates TLS itself
//! ([`TlsFiles::load`]: PEM files, rustls with the ring provider). Each
//! connection's handshake runs in a task of its own, bounded by
//! [`HANDSHAKE_TIMEOUT`], so a slow or silent client never holds up the
//! others; finished handshakes are handed to axum through [`TlsListener`].
//! Without them it serves plain HTTP (the loopback quick start) and warns
//! when the address is not a loopback one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::serve::ListenerExt as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::api::{AppState, router};
use crate::storage::Storage;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for journald, Loki, Elasticsearch …).
    Json,
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The longest a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Certificate and private key files (PEM) for serving TLS.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// A TLS configuration ready to serve, and the SHA-256 of the server's
/// own certificate (what an agent pins).
#[derive(Debug)]
pub struct LoadedTls {
    /// rustls' server configuration.
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the DER bytes of the leaf certificate.
    pub fingerprint: [u8; 32],
}

impl TlsFiles {
    /// Reads and checks both files: every failure names the file and why
    /// (unreadable, no PEM certificate or key in it, a key that does not
    /// belong to the certificate).
    pub fn load(&self) -> anyhow::Result<LoadedTls> {
        let cert_pem = read(&self.cert, "--tls-cert")?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                anyhow::anyhow!(
                    "--tls-cert {}: not a readable PEM certificate file ({e})",
                    self.cert.display()
                )
            })?;
        let Some(leaf) = chain.first() else {
            bail!(
                "--tls-cert {}: no certificate in it (expected a PEM block \"-----BEGIN CERTIFICATE-----\")",
                self.cert.display()
            );
        };
        let fingerprint: [u8; 32] = Sha256::digest(leaf.as_ref()).into();
        let key_pem = read(&self.key, "--tls-key")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => anyhow::anyhow!(
                "--tls-key {}: no private key in it (expected a PEM block such as \"-----BEGIN PRIVATE KEY-----\")",
                self.key.display()
            ),
            other => anyhow::anyhow!(
                "--tls-key {}: not a readable PEM private key ({other})",
                self.key.display()
            ),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => anyhow::anyhow!(
                    "--tls-key {} does not belong to the certificate in --tls-cert {} (the key and the certificate must be a pair)",
                    self.key.display(),
                    self.cert.display()
                ),
                other => anyhow::anyhow!(
                    "--tls-cert {} / --tls-key {}: unusable ({other})",
                    self.cert.display(),
                    self.key.display()
                ),
            })?;
        let mut config = config;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(LoadedTls {
            config: Arc::new(config),
            fingerprint,
        })
    }
}

fn read(path: &Path, option: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{option} {}: cannot read it ({e})", path.display()))
}

/// A fingerprint as `openssl x509 -fingerprint -sha256` prints it
/// (`AB:CD:…`), which is also what `lindung-agent enroll --pin-certificate`
/// takes.
pub fn fingerprint_text(fingerprint: &[u8; 32]) -> String {
    fingerprint
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Serves the API until Ctrl-C or SIGTERM; the requests in flight finish
/// first. With `tls`, over TLS only.
pub async fn serve(
    storage: Arc<dyn Storage>,
    listen: SocketAddr,
    tls: Option<TlsFiles>,
) -> anyhow::Result<()> {
    // Certificate problems are reported before anything else happens.
    let tls = tls.map(|files| files.load()).transpose()?;
    let described = storage.describe();
    let state = Arc::new(
        AppState::new(storage)
            .await
            .context("cannot read the store")?,
    );
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr().context("no local address")?;
    // Parse the embedded region table now rather than inside the first push
    // (it takes tens of milliseconds, under the push lock).
    let regions = lindung_shared::region::regions();
    tracing::debug!(counts = ?regions.counts(), "region table loaded");
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%address, scheme, database = %described, store_id = %state.store_id, "serving");
    if tls.is_none() && !address.ip().is_loopback() {
        tracing::warn!(
            %address,
            "serving plain HTTP on a non-loopback address: device tokens and personal data cross the network unencrypted; give --tls-cert and --tls-key (or put a TLS proxy in front)"
        );
    }
    // One line on stdout that scripts and tests wait for.
    println!("lindung-server listening on {scheme}://{address}");
    // The peer address reaches handlers (login and enrolment rate limits per address).
    match tls {
        None => {
            axum::serve(
                listener,
                router(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
        }
        Some(tls) => {
            let fingerprint = fingerprint_text(&tls.fingerprint);
            tracing::info!(certificate_sha256 = %fingerprint, "serving TLS");
            // For staff to hand to officers who pin the certificate.
            println!("certificate SHA-256: {fingerprint}");
            crate::dashboard::auth::serving_tls();
            let listener = TlsListener::start(listener, TlsAcceptor::from(tls.config));
            // `tap_io` gives the listener axum's `ConnectInfo<SocketAddr>`.
            axum::serve(
                listener.tap_io(|_| {}),
                router(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown_signal())
            .await
        }
    }
    .context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Connections whose TLS handshake has completed, for `axum::serve`. A task
/// accepts TCP connections and runs each handshake in a task of its own
/// (at most [`HANDSHAKE_TIMEOUT`]); it stops when the listener is dropped.
#[derive(Debug)]
pub struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`.
    pub fn start(tcp: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        let local = tcp
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (sender, ready) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = sender.closed() => break,
                    accepted = tcp.accept() => accepted,
                };
                let (stream, peer) = match accepted {
                    Ok(connection) => connection,
                    Err(error) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        // A client that does not trust the certificate, a
                        // plain-HTTP request, a scanner: nothing to serve.
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        TlsListener { ready, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accepting task ended (it cannot while the listener lives).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fingerprints_print_like_openssl() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x01;
        let text = fingerprint_text(&bytes);
        assert!(text.starts_with("AB:00:"), "{text}");
        assert!(text.ends_with(":01"), "{text}");
        assert_eq!(text.len(), 32 * 3 - 1);
    }

    #[test]
    fn missing_and_wrong_files_are_named_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let missing = TlsFiles {
            cert: dir.path().join("nope.pem"),
            key: dir.path().join("nope.key"),
        };
        let error = missing.load().unwrap_err().to_string();
        assert!(
            error.contains("--tls-cert") && error.contains("nope.pem"),
            "{error}"
        );
        assert!(error.contains("cannot read"), "{error}");

        let not_pem = dir.path().join("cert.pem");
        std::fs::write(&not_pem, "hello").unwrap();
        let files = TlsFiles {
            cert: not_pem.clone(),
            key: dir.path().join("nope.key"),
        };
        let error = files.load().unwrap_err().to_string();
        assert!(error.contains("no certificate"), "{error}");
    }
}
