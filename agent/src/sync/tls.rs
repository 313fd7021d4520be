//! Which server certificates the agent accepts, and the TLS connection
//! that enforces it (rustls with the ring provider, plugged into ureq).
//!
//! - By default an `https://` server must present a certificate chaining
//!   to the Mozilla roots (`webpki-roots`), valid now and for its host name.
//! - With a private CA (`enroll --ca-file`), to that CA instead.
//! - With a pin (`enroll --pin-certificate`), the server's own certificate
//!   must be exactly the one seen at enrolment: its SHA-256 is stored with
//!   the enrolment and every later connection presenting another one is
//!   refused before a byte of the request is sent. With a CA as well, the
//!   chain, validity and name are also checked; with a pin alone (a
//!   self-signed certificate) the pin is the whole trust.
//!
//! ureq 3 takes no ready-made rustls configuration, so [`connector`]
//! builds its connector chain (proxy, TCP, then [`PinnedTls`]) with ureq's
//! `unversioned` transport API, which is not covered by semver: ureq is
//! pinned to 3.5 in the workspace for that reason.

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned,
};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    TcpConnector, Transport, TransportAdapter,
};

/// The SHA-256 of a certificate's DER bytes.
pub type Fingerprint = [u8; 32];

/// How the server's certificate is checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// A private CA (PEM) trusted instead of the usual roots.
    pub ca_pem: Option<String>,
    /// What to do with the server's own certificate.
    pub pin: Pin,
}

/// Pinning of the server's own (leaf) certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pin {
    /// No pin: the roots decide.
    #[default]
    None,
    /// Only this certificate is accepted.
    Expect(Fingerprint),
    /// Enrolment without a known fingerprint: accept the certificate the
    /// server presents (after the CA check, when there is a CA) and
    /// remember it; every later connection must present the same one.
    FirstUse,
}

/// Why a TLS setting cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file holds no usable certificate.
    #[error("the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----): {0}")]
    BadCa(String),
    /// A fingerprint that is not 64 hexadecimal digits.
    #[error(
        "a certificate fingerprint is 64 hexadecimal digits (SHA-256, colons allowed), e.g. as `lindung-server serve` prints it"
    )]
    BadFingerprint,
}

/// The certificates of a PEM text (a CA file).
pub fn parse_ca(pem: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetupError::BadCa(e.to_string()))?;
    if certificates.is_empty() {
        return Err(TlsSetupError::BadCa("none found".into()));
    }
    Ok(certificates)
}

/// Reads a fingerprint: 64 hexadecimal digits, colons and spaces ignored,
/// any case (`AB:CD:…` as openssl and `lindung-server serve` print it).
pub fn parse_fingerprint(text: &str) -> Result<Fingerprint, TlsSetupError> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b':' | b' ' | b'-'))
        .collect();
    if digits.len() != 64 {
        return Err(TlsSetupError::BadFingerprint);
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let text = std::str::from_utf8(pair).map_err(|_| TlsSetupError::BadFingerprint)?;
        *slot = u8::from_str_radix(text, 16).map_err(|_| TlsSetupError::BadFingerprint)?;
    }
    Ok(out)
}

/// A fingerprint as people compare it: `AB:CD:…`.
pub fn fingerprint_text(fingerprint: &Fingerprint) -> String {
    fingerprint
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The SHA-256 of a certificate.
pub fn fingerprint_of(certificate: &[u8]) -> Fingerprint {
    let digest = ring::digest::digest(&ring::digest::SHA256, certificate);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// What the last TLS handshake saw: the server's certificate, and whether
/// the pin refused it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// SHA-256 of the certificate the server presented last.
    pub presented: Option<Fingerprint>,
    /// It differed from the pin.
    pub refused_by_pin: bool,
}

/// The certificate check of every handshake: the pin, then the chain.
#[derive(Debug)]
struct Verifier {
    /// Chain, validity and host name against the CA or the usual roots;
    /// `None` when the pin alone decides (a pinned self-signed certificate,
    /// or its first use at enrolment).
    chain: Option<Arc<WebPkiServerVerifier>>,
    pin: Pin,
    provider: Arc<CryptoProvider>,
    seen: Arc<Mutex<Seen>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = fingerprint_of(end_entity.as_ref());
        let refused_by_pin = matches!(self.pin, Pin::Expect(pin) if pin != presented);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Seen {
                presented: Some(presented),
                refused_by_pin,
            };
        }
        if refused_by_pin {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        match &self.chain {
            Some(chain) => {
                chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls client configuration for `trust`, recording each handshake in `seen`.
pub fn client_config(
    trust: &Trust,
    seen: Arc<Mutex<Seen>>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &trust.ca_pem {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(parse_ca(pem)?);
            if added == 0 {
                return Err(TlsSetupError::BadCa("no usable CA certificate".into()));
            }
            roots
        }
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    // A pin without a CA is the whole trust (self-signed certificates);
    // with a CA, or without a pin, the chain is checked too.
    let pin_alone = trust.ca_pem.is_none() && trust.pin != Pin::None;
    let chain = if pin_alone {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsSetupError::BadCa(e.to_string()))?,
        )
    };
    let verifier = Arc::new(Verifier {
        chain,
        pin: trust.pin,
        provider: provider.clone(),
        seen,
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::BadCa(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// ureq's connector chain with our TLS: an HTTP proxy if one is set
/// (`CONNECT`), TCP, then [`PinnedTls`] for `https://`.
pub fn connector(config: Arc<ClientConfig>) -> impl Connector {
    ().chain(ConnectProxyConnector::default())
        .chain(TcpConnector::default())
        .chain(PinnedTls { config })
}

/// Wraps the connection in TLS with our rustls configuration when the URL
/// is `https://`.
pub struct PinnedTls {
    config: Arc<ClientConfig>,
}

impl fmt::Debug for PinnedTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedTls").finish()
    }
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let name =
            ServerName::try_from(host).map_err(|_| ureq::Error::Tls("invalid server name"))?;
        let mut connection = ClientConnection::new(self.config.clone(), name)?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);
        connection.complete_io(&mut socket)?;
        Ok(Some(Either::B(TlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: StreamOwned::new(connection, socket),
        })))
    }
}

/// A TLS connection as a ureq transport.
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// The certificate problem behind a failed request, if that is what failed.
pub fn certificate_problem(error: &ureq::Error) -> Option<rustls::CertificateError> {
    let rustls_error = match error {
        ureq::Error::Rustls(error) => Some(error),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    }?;
    match rustls_error {
        rustls::Error::InvalidCertificate(problem) => Some(problem.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fingerprints_read_with_or_without_colons_in_any_case() {
        let text = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";
        let parsed = parse_fingerprint(text).unwrap();
        assert_eq!(parsed[0], 0xab);
        assert_eq!(fingerprint_text(&parsed), text);
        assert_eq!(
            parse_fingerprint(&text.replace(':', "").to_lowercase()).unwrap(),
            parsed
        );
        assert!(parse_fingerprint("AB:CD").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn the_fingerprint_is_the_sha256_of_the_certificate_bytes() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            fingerprint_text(&fingerprint_of(b"abc")),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        assert!(parse_ca("not a certificate").is_err());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let trust = Trust {
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into()),
            pin: Pin::None,
        };
        assert!(client_config(&trust, seen).is_err());
    }
}
